//! Writing `svcc build`'s output: only what changed, atomically, never a
//! file svcc did not write, never anything outside the output folder.
//!
//! A manifest, `<out>/.svcc-manifest.json`, lists every file svcc wrote and
//! the target it belongs to. A build then:
//! - looks at every path it will write or remove without following links
//!   ([`spot`]): a link, a folder or a special file in the way is reported
//!   before anything is written, and a stale file is removed only when
//!   every folder on its way is a real one;
//! - writes a file only when its bytes differ (an unchanged file keeps its
//!   mtime, so cargo and editors do not rebuild);
//! - writes through a new temporary file with a random name (created with
//!   `O_EXCL`: an existing name, a planted link say, is never followed)
//!   and a rename, so an interrupted build never leaves a half-written file;
//! - records what it is about to write in the manifest first, so a build
//!   that fails half-way (a name the file system refuses, a full disk) or
//!   is killed leaves files the next build knows as its own (and the
//!   temporary files a killed build left are removed by the next);
//! - removes files it wrote before and no longer produces (for the targets
//!   it builds), and nothing else;
//! - refuses to replace a file it never wrote;
//! - writes a seed (`handlers.rs`, `main.rs`) only when it is missing: from
//!   then on the file is the user's, never replaced and never removed;
//! - writes programs (`deploy.sh`) executable, and sets the execute bits
//!   again on an unchanged one that lost them.
//!
//! `--check` computes the same plan and writes nothing.

mod spot;
mod write;

use serde::{Deserialize, Serialize};
use spot::{Spot, Spots};
use std::collections::BTreeMap;
use std::path::Path;
use svcc_core::emit::{Artifact, safe_path};

pub use spot::check_folder;
pub use write::TEMP_PREFIX;

/// The manifest's file name inside the output folder.
pub const MANIFEST: &str = ".svcc-manifest.json";

/// The largest manifest read: anything bigger is not one svcc wrote.
const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Manifest {
    /// Fingerprint of everything the build read (see [`fingerprint`]);
    /// empty while a build is writing.
    #[serde(default)]
    inputs: String,
    /// Generated path -> target.
    files: BTreeMap<String, String>,
    /// Generated path -> size in bytes, to notice a deleted or edited output.
    #[serde(default)]
    sizes: BTreeMap<String, u64>,
    /// Generated files that are programs, written with their execute bits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    executable: Vec<String>,
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
    /// Unchanged programs whose execute bits are to be set again.
    pub modes: Vec<String>,
    /// Files svcc wrote before and no longer produces.
    pub remove: Vec<String>,
    /// Files in the way that svcc never wrote.
    pub foreign: Vec<String>,
    /// Why some paths cannot be written: a link, a folder or a special
    /// file in the way (one line each, sorted, no repeats).
    pub blocked: Vec<String>,
    /// Seeds that exist already: the user's, left alone.
    pub kept: Vec<String>,
    manifest: Manifest,
    /// Every file svcc knew as its own before this build.
    previous: BTreeMap<String, String>,
    /// Temporary files a killed build left behind: removed.
    temps: Vec<String>,
}

impl Plan {
    /// Whether the output folder already is what the build would write.
    pub fn is_clean(&self) -> bool {
        self.write.is_empty()
            && self.remove.is_empty()
            && self.foreign.is_empty()
            && self.blocked.is_empty()
            && self.modes.is_empty()
    }
}

/// The manifest of `out`, read without following a link, or an empty one.
fn read_manifest(out: &Path) -> Manifest {
    let path = out.join(MANIFEST);
    let plain = std::fs::symlink_metadata(&path)
        .is_ok_and(|m| m.is_file() && m.len() <= MAX_MANIFEST_BYTES);
    plain
        .then(|| std::fs::read(&path).ok())
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Compares the artifacts with the output folder `out` (shown in
/// messages as `shown`, `gen` say).
pub fn plan(out: &Path, shown: &str, artifacts: &[Artifact], targets: &[String]) -> Plan {
    let previous = read_manifest(out);
    let mut spots = Spots::new(out, shown);
    let mut plan = Plan::default();
    let mut blocked = std::collections::BTreeSet::new();
    for a in artifacts {
        let spot = spots.at(&a.path);
        if let Spot::Blocked(why) = spot {
            blocked.insert(why);
            continue;
        }
        if a.seed {
            seed(&mut plan, a, &spot, &mut blocked);
            continue;
        }
        match compare(&out.join(&a.path), a, &spot) {
            Compared::Same => plan.unchanged.push(a.path.clone()),
            Compared::SameButMode => plan.modes.push(a.path.clone()),
            Compared::Differs if !previous.files.contains_key(&a.path) => {
                plan.foreign.push(a.path.clone());
            }
            Compared::Link => {
                blocked.insert(format!(
                    "`{shown}/{}` is a symbolic link; svcc writes no file through a link",
                    a.path
                ));
            }
            Compared::Differs | Compared::Missing => plan.write.push(a.path.clone()),
        }
        plan.manifest
            .files
            .insert(a.path.clone(), a.target.to_string());
        plan.manifest
            .sizes
            .insert(a.path.clone(), a.contents.len() as u64);
        if a.executable {
            plan.manifest.executable.push(a.path.clone());
        }
    }
    if let Spot::Blocked(why) = manifest_spot(&mut spots, shown) {
        blocked.insert(why);
    }
    stale(&mut plan, &previous, targets, &mut spots);
    plan.blocked = blocked.into_iter().collect();
    plan.previous = previous.files;
    plan.temps = spots.temps();
    plan
}

/// What is at the manifest's own path.
fn manifest_spot(spots: &mut Spots, shown: &str) -> Spot {
    match spots.at(MANIFEST) {
        Spot::Link => Spot::Blocked(format!(
            "`{shown}/{MANIFEST}` is a symbolic link; svcc writes no file through a link"
        )),
        other => other,
    }
}

/// A seed is written only where nothing is; a link there is the user's
/// file too (never written through).
fn seed(
    plan: &mut Plan,
    a: &Artifact,
    spot: &Spot,
    blocked: &mut std::collections::BTreeSet<String>,
) {
    match spot {
        Spot::Missing => plan.write.push(a.path.clone()),
        Spot::File(_) | Spot::Link => plan.kept.push(a.path.clone()),
        Spot::Blocked(why) => {
            blocked.insert(why.clone());
        }
    }
    plan.manifest.seeds.push(a.path.clone());
}

/// How a generated file compares with what is on disk.
enum Compared {
    Missing,
    Same,
    /// Same bytes, but a program without its execute bits.
    SameButMode,
    Differs,
    Link,
}

fn compare(path: &Path, a: &Artifact, spot: &Spot) -> Compared {
    let meta = match spot {
        Spot::File(meta) => meta,
        Spot::Link => return Compared::Link,
        Spot::Missing | Spot::Blocked(_) => return Compared::Missing,
    };
    // a file of another size differs: no need to read it
    if meta.len() != a.contents.len() as u64 {
        return Compared::Differs;
    }
    match std::fs::read(path) {
        Ok(bytes) if bytes == a.contents && a.executable && !write::is_executable(meta) => {
            Compared::SameButMode
        }
        Ok(bytes) if bytes == a.contents => Compared::Same,
        _ => Compared::Differs,
    }
}

/// Files svcc wrote before and no longer produces: removed (for the
/// targets built) when they are still plain files below real folders;
/// anything else there now is not svcc's and is forgotten, not removed.
fn stale(plan: &mut Plan, previous: &Manifest, targets: &[String], spots: &mut Spots) {
    for (path, target) in &previous.files {
        if plan.manifest.files.contains_key(path) {
            continue;
        }
        if targets.iter().any(|t| t == target) {
            if safe_path(path) && matches!(spots.at(path), Spot::File(_)) {
                plan.remove.push(path.clone());
            }
        } else {
            // another target's file: kept, and still svcc's
            plan.manifest.files.insert(path.clone(), target.clone());
            if let Some(size) = previous.sizes.get(path) {
                plan.manifest.sizes.insert(path.clone(), *size);
            }
            if previous.executable.contains(path) {
                plan.manifest.executable.push(path.clone());
            }
        }
    }
    plan.manifest.executable.sort();
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
/// and every file it wrote is still there (a plain file, not a link) with
/// its size and, for a program, its execute bits. `Some` with the
/// warnings that build printed when it is so.
pub fn up_to_date(out: &Path, inputs: &str) -> Option<String> {
    let previous = read_manifest(out);
    let plain = |path: &str| std::fs::symlink_metadata(out.join(path)).ok();
    let fresh = !previous.inputs.is_empty()
        && previous.inputs == inputs
        && !previous.files.is_empty()
        && previous
            .seeds
            .iter()
            .all(|path| std::fs::symlink_metadata(out.join(path)).is_ok())
        && previous.files.keys().all(|path| {
            plain(path)
                .is_some_and(|m| m.is_file() && Some(m.len()) == previous.sizes.get(path).copied())
        })
        && previous
            .executable
            .iter()
            .all(|path| plain(path).is_some_and(|m| write::is_executable(&m)));
    fresh.then_some(previous.warnings)
}

/// Why writing the output stopped half-way.
#[derive(Debug)]
pub struct WriteError {
    /// What failed, with the path.
    pub message: String,
    /// Whether the manifest records what was being written (so that the
    /// next build takes over the files written so far).
    pub recorded: bool,
}

/// Carries the plan out, recording the inputs' fingerprint and the
/// warnings the build printed.
pub fn apply(
    out: &Path,
    plan: &mut Plan,
    artifacts: &[Artifact],
    inputs: &str,
    warnings: &str,
) -> Result<(), WriteError> {
    let wanted: std::collections::HashSet<&str> = plan.write.iter().map(String::as_str).collect();
    let to_write: Vec<&Artifact> = artifacts
        .iter()
        .filter(|a| wanted.contains(a.path.as_str()))
        .collect();
    let fail = |recorded: bool| move |message: String| WriteError { message, recorded };
    std::fs::create_dir_all(out)
        .map_err(|e| fail(false)(format!("could not create `{}`: {e}", out.display())))?;
    if !to_write.is_empty() {
        // first, the record of every file this build may leave behind
        save(out, &journal(plan)).map_err(fail(false))?;
    }
    write::files(out, &to_write).map_err(fail(!to_write.is_empty()))?;
    for path in &plan.modes {
        write::set_executable(&out.join(path)).map_err(fail(!to_write.is_empty()))?;
    }
    for path in plan.remove.iter().chain(&plan.temps) {
        write::remove(out, path).map_err(fail(!to_write.is_empty()))?;
    }
    plan.manifest.inputs = inputs.to_string();
    plan.manifest.warnings = warnings.to_string();
    save(out, &plan.manifest).map_err(fail(!to_write.is_empty()))
}

/// The manifest written before any file: every file svcc knew and every
/// file it is about to write, and no fingerprint, so no later build takes
/// a half-written output folder for an up-to-date one.
fn journal(plan: &Plan) -> Manifest {
    let mut files = plan.previous.clone();
    files.extend(
        plan.manifest
            .files
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    Manifest {
        files,
        seeds: plan.manifest.seeds.clone(),
        ..Manifest::default()
    }
}

/// Writes the manifest, unless it already says exactly this.
fn save(out: &Path, manifest: &Manifest) -> Result<(), String> {
    let mut text = serde_json::to_string_pretty(manifest).unwrap_or_default();
    text.push('\n');
    let path = out.join(MANIFEST);
    let same = std::fs::symlink_metadata(&path).is_ok_and(|m| m.len() == text.len() as u64)
        && std::fs::read(&path).ok().as_deref() == Some(text.as_bytes());
    if same {
        return Ok(());
    }
    write::atomic(&path, text.as_bytes(), false)
}
