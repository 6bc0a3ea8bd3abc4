//! Tells the test suite whether a PostgreSQL server was named, so that the PostgreSQL half
//! of each test is reported as ignored, never as passed, when none was.

fn main() {
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    // New migration directories are embedded only when the crate is rebuilt.
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
