//! Helpers shared by the tests that run the `svcc` binary.

// Each test binary uses a different part of these helpers.
#![allow(dead_code)]

pub mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `svcc ARGS` in `dir` (with `NO_COLOR` unset, as on a fresh shell).
pub fn svcc(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_svcc"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

/// Writes `content` to `dir/rel`, creating folders.
pub fn write(dir: &Path, rel: &str, content: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Copies a project folder, leaving out its `gen/`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "gen" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A copy of an example whose crates use this repository's runtime, built
/// by `svcc build`, with the workspace's lockfile in `gen/rust` (it pins
/// the runtime's dependencies).
pub fn generated(source: &Path) -> tempfile::TempDir {
    generated_with(source, |_| {})
}

/// [`generated`], with `edit` applied to the copy before `svcc build`
/// (a test that shortens a retry delay, say).
pub fn generated_with(source: &Path, edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(source, dir.path());
    edit(dir.path());
    let toml = dir.path().join("svcc.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let runtime = repo().join("runtime").canonicalize().unwrap();
    let text: Vec<String> = text
        .lines()
        .map(|line| {
            if line.starts_with("runtime = ") {
                format!("runtime = {{ path = {:?} }}", runtime.display().to_string())
            } else {
                line.to_string()
            }
        })
        .collect();
    std::fs::write(&toml, text.join("\n") + "\n").unwrap();
    let out = svcc(dir.path(), &["build"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::copy(
        repo().join("Cargo.lock"),
        dir.path().join("gen/rust/Cargo.lock"),
    )
    .unwrap();
    dir
}

/// The target folder generated crates share, so that the runtime's
/// dependencies compile once per machine.
pub fn crates_target() -> PathBuf {
    repo().join("target").join("generated-crates")
}
