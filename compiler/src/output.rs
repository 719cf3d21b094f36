//! Writing `svcc build`'s output: only what changed, atomically, never a
//! file svcc did not write.
//!
//! A manifest, `<out>/.svcc-manifest.json`, lists every file svcc wrote and
//! the target it belongs to. A build then:
//! - writes a file only when its bytes differ (an unchanged file keeps its
//!   mtime, so cargo and editors do not rebuild);
//! - writes through a new temporary file with a random name (created with
//!   `O_EXCL`: an existing name, a planted link say, is never followed)
//!   and a rename, so an interrupted build never leaves a half-written file;
//! - removes files it wrote before and no longer produces (for the targets
//!   it builds), and nothing else;
//! - refuses to replace a file it never wrote;
//! - writes a seed (`handlers.rs`, `main.rs`) only when it is missing: from
//!   then on the file is the user's, never replaced and never removed.
//!
//! `--check` computes the same plan and writes nothing.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use svcc_core::emit::{Artifact, safe_path};

/// The manifest's file name inside the output folder.
pub const MANIFEST: &str = ".svcc-manifest.json";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// Fingerprint of everything the build read (see [`fingerprint`]).
    #[serde(default)]
    inputs: String,
    /// Generated path -> target.
    files: BTreeMap<String, String>,
    /// Generated path -> size in bytes, to notice a deleted or edited output.
    #[serde(default)]
    sizes: BTreeMap<String, u64>,
    /// Seeds the build expects to exist (the user's files; never removed).
    #[serde(default)]
    seeds: Vec<String>,
    /// The warnings the build printed (without colour), printed again by
    /// a no-op rebuild, as cargo replays a cached crate's warnings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    warnings: String,
}

/// What a build would do.
#[derive(Debug, Default)]
pub struct Plan {
    /// Files to create or replace.
    pub write: Vec<String>,
    /// Files already up to date.
    pub unchanged: Vec<String>,
    /// Files svcc wrote before and no longer produces.
    pub remove: Vec<String>,
    /// Files in the way that svcc never wrote.
    pub foreign: Vec<String>,
    /// Seeds that exist already: the user's, left alone.
    pub kept: Vec<String>,
    manifest: Manifest,
}

impl Plan {
    /// Whether the output folder already is what the build would write.
    pub fn is_clean(&self) -> bool {
        self.write.is_empty() && self.remove.is_empty() && self.foreign.is_empty()
    }
}

fn read_manifest(out: &Path) -> Manifest {
    std::fs::read(out.join(MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Compares the artifacts with the output folder.
pub fn plan(out: &Path, artifacts: &[Artifact], targets: &[String]) -> Plan {
    let previous = read_manifest(out);
    let present = existing(out, artifacts);
    let mut plan = Plan::default();
    for a in artifacts {
        let path = out.join(&a.path);
        let exists = present.contains(&path);
        if a.seed {
            if exists {
                plan.kept.push(a.path.clone());
            } else {
                plan.write.push(a.path.clone());
            }
            plan.manifest.seeds.push(a.path.clone());
            continue;
        }
        let on_disk = if exists {
            std::fs::read(&path)
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        };
        match on_disk {
            Ok(existing) if existing == a.contents => plan.unchanged.push(a.path.clone()),
            Ok(_) if !previous.files.contains_key(&a.path) => plan.foreign.push(a.path.clone()),
            _ => plan.write.push(a.path.clone()),
        }
        plan.manifest
            .files
            .insert(a.path.clone(), a.target.to_string());
        plan.manifest
            .sizes
            .insert(a.path.clone(), a.contents.len() as u64);
    }
    for (path, target) in &previous.files {
        if plan.manifest.files.contains_key(path) {
            continue;
        }
        if targets.iter().any(|t| t == target) {
            if out.join(path).exists() && safe_path(path) {
                plan.remove.push(path.clone());
            }
        } else {
            // another target's file: kept, and still svcc's
            plan.manifest.files.insert(path.clone(), target.clone());
            if let Some(size) = previous.sizes.get(path) {
                plan.manifest.sizes.insert(path.clone(), *size);
            }
        }
    }
    plan
}

/// The entries of the folders the artifacts go to, each folder listed once
/// (a missing one lists nothing): one directory read instead of a failed
/// open per new file, which is what a first build would do.
fn existing(out: &Path, artifacts: &[Artifact]) -> std::collections::HashSet<PathBuf> {
    folders(out, artifacts.iter().map(|a| a.path.as_str()))
        .iter()
        .filter_map(|folder| std::fs::read_dir(folder).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect()
}

/// The distinct folders of `paths` under `out`.
fn folders<'a>(
    out: &Path,
    paths: impl Iterator<Item = &'a str>,
) -> std::collections::BTreeSet<PathBuf> {
    paths
        .filter_map(|p| out.join(p).parent().map(Path::to_path_buf))
        .collect()
}

/// A fingerprint of a build's inputs: the svcc binary (its version, and
/// its size and modification time, so that a rebuilt or upgraded svcc with
/// other emitters regenerates instead of saying "up to date"), the
/// options, and every file read. Stable across runs of the same binary.
pub fn fingerprint(options: &str, inputs: &[(&str, &[u8])]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    env!("CARGO_PKG_VERSION").hash(&mut h);
    binary_identity().hash(&mut h);
    options.hash(&mut h);
    for (name, bytes) in inputs {
        name.hash(&mut h);
        bytes.hash(&mut h);
    }
    format!("{:016x}", h.finish())
}

/// The running svcc executable's size and modification time, when the
/// system tells them (if not, the version alone stands for the binary).
fn binary_identity() -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(std::env::current_exe().ok()?).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// The no-op rebuild: nothing was read that the last build did not read,
/// and every file it wrote is still there with its size. `Some` with the
/// warnings that build printed when it is so.
pub fn up_to_date(out: &Path, inputs: &str) -> Option<String> {
    let previous = read_manifest(out);
    let fresh = previous.inputs == inputs
        && !previous.files.is_empty()
        && previous.seeds.iter().all(|path| out.join(path).exists())
        && previous.files.keys().all(|path| {
            let size = std::fs::metadata(out.join(path)).map(|m| m.len()).ok();
            size.is_some() && size == previous.sizes.get(path).copied()
        });
    fresh.then_some(previous.warnings)
}

/// Carries the plan out, recording the inputs' fingerprint and the
/// warnings the build printed.
pub fn apply(
    out: &Path,
    plan: &mut Plan,
    artifacts: &[Artifact],
    inputs: &str,
    warnings: &str,
) -> std::io::Result<()> {
    plan.manifest.inputs = inputs.to_string();
    plan.manifest.warnings = warnings.to_string();
    let wanted: std::collections::HashSet<&str> = plan.write.iter().map(String::as_str).collect();
    let to_write: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| wanted.contains(a.path.as_str()))
        .collect();
    std::fs::create_dir_all(out)?;
    write_all(out, &to_write)?;
    for path in &plan.remove {
        let full = out.join(path);
        std::fs::remove_file(&full)?;
        remove_empty_parents(out, &full);
    }
    let mut text = serde_json::to_string_pretty(&plan.manifest).unwrap_or_default();
    text.push('\n');
    let manifest_path = out.join(MANIFEST);
    if std::fs::read(&manifest_path).ok().as_deref() != Some(text.as_bytes()) {
        write_atomic(&manifest_path, text.as_bytes())?;
    }
    Ok(())
}

/// Writes the files on all cores (each write is atomic on its own), their
/// folders made first, once each.
fn write_all(out: &Path, files: &[&Artifact]) -> std::io::Result<()> {
    folders(out, files.iter().map(|a| a.path.as_str()))
        .iter()
        .try_for_each(std::fs::create_dir_all)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || files.len() < 32 {
        return files
            .iter()
            .try_for_each(|a| write_atomic(&out.join(&a.path), &a.contents));
    }
    let size = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(size)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .try_for_each(|a| write_atomic(&out.join(&a.path), &a.contents))
                })
            })
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}

/// What a temporary file is called: short, so that it fits wherever the
/// file it stands for does.
const TEMP_PREFIX: &str = ".svcc-tmp-";

/// Writes `bytes` to a new temporary file beside `path` (whose folder
/// exists), then renames it. The temporary file is created new (`O_EXCL`)
/// under a random name by the `tempfile` crate, so no existing name, such
/// as a link planted where a temporary file would go, is ever opened; it
/// is deleted when the write or the rename fails.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).rand_bytes(8);
    set_mode(&mut builder);
    let mut tmp = builder.tempfile_in(folder)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

/// New files get the mode `std::fs::write` gives (0o666 less the umask)
/// instead of the temporary file's 0o600.
#[cfg(unix)]
fn set_mode(builder: &mut tempfile::Builder<'_, '_>) {
    use std::os::unix::fs::PermissionsExt;
    builder.permissions(std::fs::Permissions::from_mode(0o666));
}

#[cfg(not(unix))]
fn set_mode(_: &mut tempfile::Builder<'_, '_>) {}

fn remove_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}
