//! Finding and reading a project from disk.
//!
//! `svcc.toml` is looked up from the current folder through its parents,
//! like cargo does; every `*.yaml`, `*.yml` and `*.toml` under the manifests
//! folder is read in sorted order (paths compared as strings, so the order
//! is the same on every machine). Nothing outside the project folder is
//! read: see [`walk`] for symbolic links.

mod walk;

use std::io::Read;
use std::path::{Path, PathBuf};
use svcc_core::SourceInput;
use svcc_core::load::MAX_FILE_BYTES;

/// The project file's name.
pub const PROJECT_FILE: &str = "svcc.toml";

/// A project on disk.
#[derive(Debug)]
pub struct Workspace {
    /// The folder holding `svcc.toml`.
    pub root: PathBuf,
    /// `svcc.toml` as read.
    pub config: SourceInput,
}

/// Why a project could not be opened (exit status 2).
#[derive(Debug)]
pub struct OpenError(pub String);

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Finds `svcc.toml` in `start` or a parent.
pub fn find(start: &Path) -> Result<Workspace, OpenError> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let candidate = d.join(PROJECT_FILE);
        if candidate.is_file() {
            return open(d);
        }
        dir = d.parent();
    }
    Err(OpenError(format!(
        "could not find `{PROJECT_FILE}` in `{}` or any parent folder\nhelp: run `svcc init <name>` to create a project",
        start.display()
    )))
}

/// Opens the project whose root is `root`.
pub fn open(root: &Path) -> Result<Workspace, OpenError> {
    let path = root.join(PROJECT_FILE);
    let bytes = std::fs::read(&path)
        .map_err(|e| OpenError(format!("could not read `{}`: {e}", path.display())))?;
    Ok(Workspace {
        root: root.to_path_buf(),
        config: SourceInput::new(PROJECT_FILE, bytes),
    })
}

impl Workspace {
    /// The settings of svcc.toml, read quietly: its problems are reported
    /// when the core parses it again as part of the check.
    pub fn settings(&self) -> svcc_core::project::Config {
        let mut scratch = svcc_core::source::SourceMap::new();
        let mut ignored = svcc_core::diagnostic::Diagnostics::new();
        svcc_core::project::parse(&mut scratch, PROJECT_FILE, &self.config.bytes, &mut ignored)
    }

    /// Reads every manifest under `manifests` (relative to the root), and
    /// lists the entries left out (see [`walk`]).
    pub fn read_manifests(&self, manifests: &str) -> Result<Vec<SourceInput>, OpenError> {
        let dir = self.root.join(manifests);
        let root = std::fs::canonicalize(&self.root)
            .map_err(|e| OpenError(format!("could not resolve `{}`: {e}", self.root.display())))?;
        let real = manifests_folder(&root, &dir)?;
        let mut walk = walk::Walk::new(&root);
        walk.folder(&dir, manifests, real)
            .map_err(|e| OpenError(format!("could not list `{}`: {e}", dir.display())))?;
        let mut found = walk.found;
        found.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(found
            .into_iter()
            .map(|f| match f {
                walk::Found::File(name, path) => read_limited(name, &path),
                walk::Found::LeftOut(name, reason) => SourceInput {
                    not_followed: Some(reason),
                    ..SourceInput::new(name, Vec::new())
                },
            })
            .collect())
    }
}

/// The manifests folder `dir`, resolved: it must be a folder inside the
/// project (resolved `root`), also when it, or a folder on its way, is a
/// link.
fn manifests_folder(root: &Path, dir: &Path) -> Result<PathBuf, OpenError> {
    let missing = || {
        OpenError(format!(
            "the manifests folder `{}` does not exist\nhelp: create it, or set `[build] manifests` in svcc.toml",
            dir.display()
        ))
    };
    let real = std::fs::canonicalize(dir).map_err(|_| missing())?;
    if !real.starts_with(root) {
        return Err(OpenError(format!(
            "the manifests folder `{}` is a symbolic link to `{}`, outside the project: svcc reads manifests only inside the project folder\nhelp: move or copy the manifests into the project, or point the link at a folder inside it",
            dir.display(),
            real.display()
        )));
    }
    if !real.is_dir() {
        return Err(missing());
    }
    Ok(real)
}

/// Reads at most one byte more than the limit, so a huge file is refused
/// without reading it all; its size on disk is kept for the diagnostic.
fn read_limited(name: String, path: &Path) -> SourceInput {
    let limit = MAX_FILE_BYTES as u64 + 1;
    let mut size = None;
    let result = std::fs::File::open(path).and_then(|f| {
        // sized from the file's length: `Take` hides it from `read_to_end`,
        // which would otherwise read in a doubling series of small reads
        let len = f.metadata().map_or(0, |m| m.len());
        size = Some(len).filter(|&l| l >= limit);
        let mut bytes = Vec::with_capacity(usize::try_from(len.min(limit)).unwrap_or(0) + 1);
        f.take(limit).read_to_end(&mut bytes).map(|_| bytes)
    });
    match result {
        Ok(bytes) => SourceInput {
            size,
            ..SourceInput::new(name, bytes)
        },
        Err(e) => SourceInput {
            read_error: Some(e.to_string()),
            ..SourceInput::new(name, Vec::new())
        },
    }
}

/// Finds the project from `start`, reads it and checks it.
pub fn check(start: &Path) -> Result<svcc_core::Analysis, OpenError> {
    check_staged(start, &mut |_| {})
}

/// [`check`], calling `stage(name)` as each stage ends (`read`, then the
/// core's stages), for `--timings`.
pub fn check_staged(
    start: &Path,
    stage: &mut dyn FnMut(&'static str),
) -> Result<svcc_core::Analysis, OpenError> {
    let ws = find(start)?;
    let config = ws.settings();
    let manifests = ws.read_manifests(&config.manifests)?;
    stage("read");
    Ok(check_read(&ws, &manifests, stage))
}

/// The check of manifests already read (`svcc build` reads them once, for
/// its fingerprint and its check), calling `stage(name)` as each of the
/// core's stages ends.
pub fn check_read(
    ws: &Workspace,
    manifests: &[SourceInput],
    stage: &mut dyn FnMut(&'static str),
) -> svcc_core::Analysis {
    svcc_core::check_project_staged(Some(&ws.config), manifests, stage)
}
