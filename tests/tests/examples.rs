//! Every example project checks clean: no errors and no warnings.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn check_example(name: &str) {
    let dir = svcc_tests::repo_root().join("examples").join(name);
    let analysis = svcc::workspace::check(&dir).unwrap();
    let rendered =
        svcc_core::diagnostic::render::human(&analysis.sources, &analysis.diagnostics, false);
    assert!(
        analysis.diagnostics.is_empty(),
        "example `{name}` is not clean:\n{rendered}"
    );
    assert!(
        !analysis.model.ast.services.is_empty(),
        "example `{name}` has no service"
    );
}

#[test]
fn shop_checks_clean() {
    check_example("shop");
}

#[test]
fn email_verification_checks_clean() {
    check_example("email-verification");
}

#[test]
fn every_example_folder_is_tested() {
    let dir = svcc_tests::repo_root().join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| Path::new(&e.path()).join("svcc.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["email-verification", "shop"],
        "add a test for each new example"
    );
}
