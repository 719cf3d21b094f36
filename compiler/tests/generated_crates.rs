//! The crates `svcc build` generates for every example build, pass
//! `cargo clippy -- -D warnings` and `cargo fmt --check`, and a second
//! build never touches the user's `handlers.rs` and `main.rs`.
//!
//! Each example is copied to a temporary folder (so tests running at the
//! same time never share a `gen/`), pointed at this repository's runtime,
//! and built with one shared target folder (`target/generated-crates`) so
//! the runtime's dependencies compile once per machine.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod common;

use common::{crates_target, generated, repo, svcc};
use std::path::Path;
use std::process::Command;

fn cargo(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", crates_target())
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn build_example(example: &str) {
    build_project(&repo().join("examples").join(example), example);
}

fn build_project(source: &Path, example: &str) {
    let dir = generated(source);
    let crates = dir.path().join("gen/rust");
    let (ok, log) = cargo(&crates, &["build", "--workspace"]);
    assert!(ok, "{example}: cargo build failed:\n{log}");
    let (ok, log) = cargo(
        &crates,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    );
    assert!(ok, "{example}: cargo clippy found problems:\n{log}");
    // Not `--all`: that also checks local path dependencies (the
    // runtime, this repository), which `cargo fmt` of the repository does.
    let (ok, log) = cargo(&crates, &["fmt", "--check"]);
    assert!(
        ok,
        "{example}: generated code is not rustfmt-formatted:\n{log}"
    );

    // the user's files survive a rebuild; svcc's are restored
    let mut seeds = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let path = entry.unwrap().path();
        for seed in ["src/handlers.rs", "src/main.rs"] {
            if path.join(seed).exists() {
                seeds.push(path.join(seed));
            }
        }
    }
    assert!(!seeds.is_empty());
    for s in &seeds {
        let mut text = std::fs::read_to_string(s).unwrap();
        text.push_str("\n// the user's edit\n");
        std::fs::write(s, text).unwrap();
    }
    let generated = crates.join(format!(
        "{}/src/generated.rs",
        std::fs::read_dir(&crates)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.path().join("src/generated.rs").exists())
            .unwrap()
            .file_name()
            .to_string_lossy()
    ));
    std::fs::write(&generated, "// tampered\n").unwrap();
    // a manifest edit forces a real rebuild (not the no-op fast path)
    let manifests = dir.path().join("manifests");
    let first = std::fs::read_dir(&manifests)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut text = std::fs::read_to_string(&first).unwrap();
    text.push_str("\n# touched\n");
    std::fs::write(&first, text).unwrap();
    let out = svcc(dir.path(), &["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for s in &seeds {
        assert!(
            std::fs::read_to_string(s)
                .unwrap()
                .ends_with("// the user's edit\n"),
            "{} was overwritten",
            s.display()
        );
    }
    assert_ne!(
        std::fs::read_to_string(&generated).unwrap(),
        "// tampered\n"
    );
}

#[test]
fn shop_crates_build_and_pass_clippy() {
    build_example("shop");
}

#[test]
fn email_verification_crates_build_and_pass_clippy() {
    build_example("email-verification");
}

/// Keywords as names, enum values that collide once in PascalCase,
/// recursion, unions, maps, sets, defaults, every primitive, and project
/// types named like the generated modules' own items (`Input`, `Error`).
#[test]
fn awkward_names_and_shapes_compile() {
    build_project(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rust-edges"),
        "rust-edges",
    );
}
