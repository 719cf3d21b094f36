//! Generated Rust formatted exactly as `cargo fmt` would format it.
//!
//! The core prints Rust with prettyplease (pure and deterministic, but not
//! rustfmt's layout). At this edge, when `rustfmt` is on the PATH, every
//! generated `.rs` file goes through it once more, with an empty
//! configuration (edition 2024), so that `cargo fmt --check` in a
//! generated crate passes. Without rustfmt the prettyplease text is kept.
//!
//! Files go to rustfmt in batches, one process for many files: starting
//! rustfmt costs about as much as formatting a generated crate's four files,
//! and a project of 1,250 services has 5,000 of them (121 s of CPU with a
//! process each). A batch is the files one after the other on stdin (so
//! rustfmt does not follow `mod` declarations), each after a marker item of
//! its own, and the output is cut at the markers. Formatting a top-level
//! item does not depend on the items around it, so each piece is what
//! rustfmt prints for that file alone; the leading `//!` lines (which
//! only a file's start may hold, and which rustfmt leaves as they are) are
//! kept aside and put back. Anything unexpected (rustfmt failing on the
//! batch, markers missing or out of order) formats that batch's files one
//! by one, as before.

use std::path::{Path, PathBuf};
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

/// Most bytes of source in one batch: rustfmt holds a whole input's syntax
/// tree, and a batch should not wait long for its slowest file.
const BATCH_BYTES: usize = 2 << 20;

/// The formatted text of each file of a batch, by artifact index.
type Formatted = Result<Vec<(usize, Vec<u8>)>, String>;

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
    let batches = batches(artifacts, &indexes);
    // the batches spread over the cores, largest first
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(batches.len());
    let mut shares: Vec<Vec<&Vec<usize>>> = vec![Vec::new(); threads.max(1)];
    let mut loads = vec![0usize; shares.len()];
    for batch in &batches {
        let size: usize = batch.iter().map(|&i| artifacts[i].contents.len()).sum();
        let least = (0..loads.len()).min_by_key(|&t| loads[t]).unwrap_or(0);
        loads[least] += size;
        shares[least].push(batch);
    }
    let results: Vec<Formatted> = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| {
                let artifacts = &*artifacts;
                let rustfmt = Rustfmt {
                    config: &config,
                    dir: &dir.0,
                };
                scope.spawn(move || {
                    share
                        .iter()
                        .map(|batch| rustfmt.batch(artifacts, batch))
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
    let mut formatted = Vec::with_capacity(indexes.len());
    for r in results {
        match r {
            Ok(pairs) => formatted.extend(pairs),
            Err(e) => return Outcome::Skipped(e),
        }
    }
    for (i, bytes) in formatted {
        artifacts[i].contents = bytes;
    }
    Outcome::Formatted
}

/// The `.rs` artifacts in batches of at most [`BATCH_BYTES`] (a larger file
/// alone), in their order.
fn batches(artifacts: &[Artifact], indexes: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut size = 0;
    for &i in indexes {
        let len = artifacts[i].contents.len();
        match out.last_mut() {
            Some(batch) if size + len <= BATCH_BYTES => {
                batch.push(i);
                size += len;
            }
            _ => {
                out.push(vec![i]);
                size = len;
            }
        }
    }
    out
}

/// How rustfmt is run.
#[derive(Clone, Copy)]
struct Rustfmt<'a> {
    config: &'a Path,
    dir: &'a Path,
}

impl Rustfmt<'_> {
    /// The formatted text of each file of `batch`.
    fn batch(&self, artifacts: &[Artifact], batch: &[usize]) -> Formatted {
        if batch.len() > 1
            && let Some(texts) = batch
                .iter()
                .map(|&i| std::str::from_utf8(&artifacts[i].contents).ok())
                .collect::<Option<Vec<&str>>>()
            && let Some(formatted) = self.together(&texts)
        {
            return Ok(batch.iter().copied().zip(formatted).collect());
        }
        batch
            .iter()
            .map(|&i| self.one(&artifacts[i].contents).map(|b| (i, b)))
            .collect()
    }

    /// The files formatted by one rustfmt, or `None` when that cannot be
    /// done here (see the module's doc).
    fn together(&self, texts: &[&str]) -> Option<Vec<Vec<u8>>> {
        let tag = format!("__SVCC_RUSTFMT_FILE_{}_", std::process::id());
        let mut input = String::with_capacity(texts.iter().map(|t| t.len() + 64).sum());
        let mut heads = Vec::with_capacity(texts.len());
        for (k, text) in texts.iter().enumerate() {
            let (head, body) = split_head(text)?;
            if body.trim().is_empty() || text.contains(&tag) {
                return None;
            }
            heads.push(head);
            input.push_str(&marker(&tag, k));
            input.push_str(body);
            if !body.ends_with('\n') {
                input.push('\n');
            }
        }
        let output = String::from_utf8(self.one(input.as_bytes()).ok()?).ok()?;
        let pieces = cut(&output, &tag, texts.len())?;
        Some(
            heads
                .into_iter()
                .zip(pieces)
                .map(|(head, piece)| {
                    let mut file = head.to_string();
                    file.push_str(piece.trim_matches('\n'));
                    file.push('\n');
                    file.into_bytes()
                })
                .collect(),
        )
    }

    /// One input through one rustfmt, on stdin.
    fn one(&self, source: &[u8]) -> Result<Vec<u8>, String> {
        use std::io::Write;
        let mut child = Command::new("rustfmt")
            .arg("--config-path")
            .arg(self.config)
            .arg("--edition")
            .arg("2024")
            .arg("--emit")
            .arg("stdout")
            .current_dir(self.dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("rustfmt is not available ({e})"))?;
        // written from a thread of its own: rustfmt may fill its output
        // pipe before it has read all of a large input
        let stdin = child.stdin.take();
        let source = source.to_vec();
        let writer =
            std::thread::spawn(move || stdin.map_or(Ok(()), |mut stdin| stdin.write_all(&source)));
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        let written = writer
            .join()
            .map_err(|_| "writing to rustfmt failed".to_string())?;
        if !out.status.success() || out.stdout.is_empty() {
            return Err(format!(
                "rustfmt failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        written.map_err(|e| e.to_string())?;
        Ok(out.stdout)
    }
}

/// The marker item before file `k` of a batch.
fn marker(tag: &str, k: usize) -> String {
    format!("const {tag}{k}: () = ();\n")
}

/// A file's leading `//!` lines with the blank line after them (kept as
/// they are, as rustfmt keeps them), and the rest. `None` when the head is
/// anything rustfmt might change: trailing spaces, tabs, or more than one
/// blank line after it.
fn split_head(text: &str) -> Option<(&str, &str)> {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        if !line.starts_with("//!") {
            break;
        }
        let content = line.trim_end_matches('\n');
        if content.ends_with([' ', '\t']) || content.contains('\r') {
            return None;
        }
        end += line.len();
    }
    if end == 0 {
        return Some(("", text));
    }
    let rest = &text[end..];
    if rest.starts_with("\n\n") {
        return None;
    }
    if rest.starts_with('\n') {
        end += 1;
    }
    Some(text.split_at(end))
}

/// The pieces of a formatted batch between its markers, which must all be
/// there, each once, in order, on lines of their own.
fn cut<'a>(output: &'a str, tag: &str, count: usize) -> Option<Vec<&'a str>> {
    let mut pieces = Vec::with_capacity(count);
    let mut rest = output;
    for k in 0..count {
        let m = marker(tag, k);
        let at = rest.find(&m)?;
        if k == 0 {
            rest[..at].trim().is_empty().then_some(())?;
        } else {
            pieces.push(&rest[..at]);
        }
        if at > 0 && !rest[..at].ends_with('\n') {
            return None;
        }
        rest = &rest[at + m.len()..];
    }
    if rest.contains(tag) {
        return None;
    }
    pieces.push(rest);
    Some(pieces)
}

#[cfg(test)]
mod tests {
    // Test code: a panic is a test failure, which is what we want.
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_files_doc_head_is_kept_aside() {
        assert_eq!(
            split_head("//! a\n//! b\n\nuse x;\n"),
            Some(("//! a\n//! b\n\n", "use x;\n"))
        );
        assert_eq!(split_head("//! a\nuse x;\n"), Some(("//! a\n", "use x;\n")));
        assert_eq!(split_head("use x;\n"), Some(("", "use x;\n")));
        assert_eq!(split_head("//! a \n\nuse x;\n"), None);
        assert_eq!(split_head("//! a\n\n\nuse x;\n"), None);
    }

    #[test]
    fn a_batch_is_cut_at_its_markers_only() {
        let tag = "__T_";
        let out = format!(
            "{}fn a() {{}}\n\n{}fn b() {{}}\n",
            marker(tag, 0),
            marker(tag, 1)
        );
        assert_eq!(
            cut(&out, tag, 2),
            Some(vec!["fn a() {}\n\n", "fn b() {}\n"])
        );
        // a missing or repeated marker: the batch is formatted file by file
        assert_eq!(cut(&out, tag, 3), None);
        let twice = format!("{out}{}", marker(tag, 1));
        assert_eq!(cut(&twice, tag, 2), None);
    }

    /// The `.rs` files `svcc build --target rust` generates for an example
    /// project (as prettyplease prints them, before rustfmt).
    fn example_rust(example: &str) -> Vec<Artifact> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples")
            .join(example);
        let ws = crate::workspace::find(&root).unwrap();
        let settings = ws.settings();
        let manifests = ws.read_manifests(&settings.manifests).unwrap();
        let analysis = crate::workspace::check_read(&ws, &manifests, &mut |_| {});
        assert!(analysis.diagnostics.is_empty(), "{example} has diagnostics");
        let options = svcc_core::emit::Options {
            targets: vec!["rust".into()],
            openapi_format: svcc_core::emit::DocFormat::Yaml,
            wrangler_toml: false,
            handler_files: crate::cli::build::handler_files_in(&ws.root, &settings),
        };
        let mut artifacts = svcc_core::emit::build(&analysis.model, &analysis.config, &options);
        artifacts.retain(|a| a.path.ends_with(".rs"));
        artifacts.sort_by(|a, b| a.path.cmp(&b.path));
        artifacts
    }

    /// Every generated file of both examples in one batch, formatted by one
    /// rustfmt and cut at the markers, is byte for byte what rustfmt prints
    /// for that file alone. The batch path itself is asserted to be taken
    /// (no silent fallback to file by file), so a wrong cut fails here.
    #[test]
    fn a_batch_formats_each_file_exactly_as_rustfmt_alone() {
        if Command::new("rustfmt").arg("--version").output().is_err() {
            eprintln!("rustfmt is not installed: nothing to compare");
            return;
        }
        let dir = std::env::temp_dir().join(format!("svcc-rustfmt-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dir = TempDir(dir);
        let config = dir.0.join("rustfmt.toml");
        std::fs::write(&config, "edition = \"2024\"\n").unwrap();
        let rustfmt = Rustfmt {
            config: &config,
            dir: &dir.0,
        };
        let mut artifacts = example_rust("shop");
        artifacts.extend(example_rust("email-verification"));
        assert!(artifacts.len() >= 8, "too few generated files");
        let texts: Vec<&str> = artifacts
            .iter()
            .map(|a| std::str::from_utf8(&a.contents).unwrap())
            .collect();
        let batched = rustfmt
            .together(&texts)
            .expect("the examples' files are formatted as one batch");
        assert_eq!(batched.len(), artifacts.len());
        let mut changed = 0;
        for (a, got) in artifacts.iter().zip(&batched) {
            let alone = rustfmt.one(&a.contents).unwrap();
            changed += usize::from(alone != a.contents);
            assert!(
                *got == alone,
                "{}: batched rustfmt output differs from rustfmt of the file alone",
                a.path
            );
        }
        // rustfmt must have had something to do, or the comparison proves little
        assert!(changed > 0, "rustfmt changed none of the generated files");
    }
}
