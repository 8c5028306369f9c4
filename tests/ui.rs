//! What the macros accept and refuse at compile time, through the facade: every diagnostic
//! (`ui/fail`, each with the exact `.stderr` it must produce) and clean expansions in user
//! crates that deny warnings and missing docs (`ui/pass`, built and run).
//!
//! After a deliberate change to a message, regenerate with `TRYBUILD=overwrite` and read the
//! diff of the `.stderr` files.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
