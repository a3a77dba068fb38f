//! Runs the compile-fail and compile-pass UI tests; see `README.md` in this crate.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("fail/*.rs");
    cases.pass("pass/*.rs");
}
