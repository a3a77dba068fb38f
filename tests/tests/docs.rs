//! The book in `docs/` stays whole: every page the table of contents names exists, and
//! every relative link between pages points at a page that exists.

use std::path::Path;

fn relative_links(markdown: &str) -> Vec<String> {
    markdown
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .map(|target| target.split('#').next().unwrap_or_default().to_owned())
        .filter(|target| !target.is_empty() && !target.contains("://"))
        .collect()
}

#[test]
fn every_page_and_relative_link_of_the_book_exists() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/src");
    let summary = std::fs::read_to_string(source.join("SUMMARY.md")).expect("SUMMARY.md");
    let pages = relative_links(&summary);
    for required in ["file-format.md", "flush-modes.md"] {
        assert!(
            pages.iter().any(|page| page == required),
            "SUMMARY.md lacks {required}"
        );
    }
    for page in &pages {
        let text = std::fs::read_to_string(source.join(page))
            .unwrap_or_else(|error| panic!("SUMMARY.md names {page}: {error}"));
        for link in relative_links(&text) {
            assert!(
                source.join(&link).exists(),
                "{page} links to missing {link}"
            );
        }
    }
}
