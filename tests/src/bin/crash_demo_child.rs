//! The crash demo's child, for `tests/tests/crash_demo.rs`: `crash_demo_child <pool path>`
//! makes transfers until it is killed, as `cargo run --example crash-demo` runs itself with
//! `--child`.

use std::path::Path;

#[allow(
    dead_code,
    reason = "the demo's parent side and its command line are the example's"
)]
#[path = "../../../examples/crash-demo.rs"]
mod demo;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: crash_demo_child <pool path>");
    if let Err(error) = demo::child(Path::new(&path)) {
        eprintln!("crash_demo_child: {path}: {error}");
        std::process::exit(1);
    }
}
