//! Helpers shared by the tests that run the `svcc` binary.

use std::path::Path;
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
