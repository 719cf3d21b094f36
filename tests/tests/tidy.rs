//! House rules that a reviewer would otherwise have to remember.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() && name != "target" && name != "node_modules" && !name.starts_with('.') {
            rust_files(&path, out);
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

fn all_rust_files() -> Vec<PathBuf> {
    let root = svcc_tests::repo_root();
    let mut files = Vec::new();
    for dir in ["compiler", "runtime", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    files
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let missing: Vec<String> = all_rust_files()
        .into_iter()
        .filter(|p| {
            !std::fs::read_to_string(p)
                .unwrap_or_default()
                .starts_with("//!")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` module doc saying why they exist: {missing:#?}"
    );
}

#[test]
fn the_checking_core_does_no_io() {
    let mut files = Vec::new();
    rust_files(
        &svcc_tests::repo_root().join("compiler/core/src"),
        &mut files,
    );
    let forbidden = [
        "std::fs",
        "std::env",
        "std::net",
        "std::process",
        "SystemTime",
        "Instant::now",
    ];
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for word in forbidden {
            assert!(
                !text.contains(word),
                "{} uses `{word}`: the core is pure, IO belongs in the CLI crate",
                f.display()
            );
        }
    }
}

#[test]
fn emitters_read_the_model_not_the_checks() {
    // Facts emitters need (publishers, saga coordinators, pricing, owner
    // fields, success statuses) are the model's (resolve/shared.rs); the
    // checks only report.
    let mut files = Vec::new();
    let root = svcc_tests::repo_root().join("compiler/core/src");
    rust_files(&root.join("emit"), &mut files);
    files.push(root.join("graph.rs"));
    let offenders: Vec<String> = files
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            text.contains("crate::check::") || text.contains("use crate::check")
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "emitters using check/ (move the fact to the model): {offenders:#?}"
    );
}
