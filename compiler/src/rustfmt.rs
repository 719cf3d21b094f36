//! Generated Rust formatted exactly as `cargo fmt` would format it.
//!
//! The core prints Rust with prettyplease (pure and deterministic, but not
//! rustfmt's layout). At this edge, when `rustfmt` is on the PATH, every
//! generated `.rs` file goes through it once more, in one process, with an
//! empty configuration (edition 2024), so that `cargo fmt --check` in a
//! generated crate passes. Without rustfmt the prettyplease text is kept.

use std::path::PathBuf;
use std::process::Command;
use svcc_core::emit::Artifact;

/// Whether the files were formatted by rustfmt.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// rustfmt formatted every `.rs` artifact.
    Formatted,
    /// There was nothing to format.
    Nothing,
    /// rustfmt is not installed or failed; the reason.
    Skipped(String),
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Formats every `.rs` artifact in place.
pub fn format(artifacts: &mut [Artifact]) -> Outcome {
    let indexes: Vec<usize> = artifacts
        .iter()
        .enumerate()
        .filter(|(_, a)| a.path.ends_with(".rs"))
        .map(|(i, _)| i)
        .collect();
    if indexes.is_empty() {
        return Outcome::Nothing;
    }
    let dir = TempDir(std::env::temp_dir().join(format!(
        "svcc-rustfmt-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )));
    if let Err(e) = std::fs::create_dir_all(&dir.0) {
        return Outcome::Skipped(format!("cannot create a temporary folder: {e}"));
    }
    let config = dir.0.join("rustfmt.toml");
    if let Err(e) = std::fs::write(&config, "edition = \"2024\"\n") {
        return Outcome::Skipped(e.to_string());
    }
    // one rustfmt per file, through stdin (so it does not follow `mod`
    // declarations), spread over the cores
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = indexes.len().div_ceil(threads);
    let results: Vec<Result<(usize, Vec<u8>), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = indexes
            .chunks(chunk.max(1))
            .map(|part| {
                let artifacts = &*artifacts;
                let config = &config;
                let dir = &dir.0;
                scope.spawn(move || {
                    part.iter()
                        .map(|i| one(&artifacts[*i].contents, config, dir).map(|b| (*i, b)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("a formatting thread failed".into())])
            })
            .collect()
    });
    let mut formatted = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Ok(pair) => formatted.push(pair),
            Err(e) => return Outcome::Skipped(e),
        }
    }
    for (i, bytes) in formatted {
        artifacts[i].contents = bytes;
    }
    Outcome::Formatted
}

fn one(source: &[u8], config: &std::path::Path, dir: &std::path::Path) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut child = Command::new("rustfmt")
        .arg("--config-path")
        .arg(config)
        .arg("--edition")
        .arg("2024")
        .arg("--emit")
        .arg("stdout")
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("rustfmt is not available ({e})"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(source).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() || out.stdout.is_empty() {
        return Err(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}
