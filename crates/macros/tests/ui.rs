//! Misuse of `#[measured]` is a pointed compiler error: each `ui/*.rs` must fail to compile
//! with exactly the messages in its `.stderr` (regenerate with `TRYBUILD=overwrite` after a
//! deliberate change, then review the diff).

#[test]
fn misuse_is_a_compile_error() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
