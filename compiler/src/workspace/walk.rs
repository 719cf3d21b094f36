//! Listing the manifests folder without leaving the project.
//!
//! svcc reads manifests only inside the project folder (the one holding
//! `svcc.toml`). A symbolic link below the manifests folder is followed
//! when it resolves inside the project to a file or a folder that is not
//! one of the folders being listed (a loop); any other link, and any entry
//! that is neither a file nor a folder (a named pipe, a device), is left
//! out and reported, so that the core warns about it (W0011) instead of
//! svcc reading `/dev/zero` or another machine's files, or hanging.

use std::path::{Path, PathBuf};
use svcc_core::load::Format;

/// One entry found below the manifests folder.
#[derive(Debug)]
pub enum Found {
    /// A manifest to read: its name (from the project root,
    /// `/`-separated) and its path.
    File(String, PathBuf),
    /// An entry left out, with the reason.
    LeftOut(String, String),
}

impl Found {
    /// The entry's name, from the project root.
    pub fn name(&self) -> &str {
        match self {
            Found::File(name, _) | Found::LeftOut(name, _) => name,
        }
    }
}

/// What a symbolic link resolves to.
enum Target {
    File(PathBuf),
    Folder(PathBuf),
    Other(PathBuf),
    Nowhere(String),
}

/// A listing of the manifests folder.
pub struct Walk<'a> {
    /// The project folder, resolved (no links, absolute).
    root: &'a Path,
    /// The resolved folders being listed, outermost first: a link to one
    /// of them, or to a folder holding one, is a loop.
    open: Vec<PathBuf>,
    /// What was found.
    pub found: Vec<Found>,
}

impl<'a> Walk<'a> {
    /// A walk inside the project `root` (resolved).
    pub fn new(root: &'a Path) -> Self {
        Walk {
            root,
            open: Vec::new(),
            found: Vec::new(),
        }
    }

    /// Lists `dir` (shown as `name`), whose resolved path is `real`.
    pub fn folder(&mut self, dir: &Path, name: &str, real: PathBuf) -> std::io::Result<()> {
        self.open.push(real);
        let result = self.entries(dir, name);
        self.open.pop();
        result
    }

    fn entries(&mut self, dir: &Path, name: &str) -> std::io::Result<()> {
        let real = self.open.last().cloned().unwrap_or_default();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let file = entry.file_name().to_string_lossy().into_owned();
            let shown = format!("{name}/{file}");
            let kind = entry.file_type()?;
            if kind.is_dir() {
                self.folder(&entry.path(), &shown, real.join(&file))?;
            } else if kind.is_file() {
                self.file(shown, entry.path());
            } else if kind.is_symlink() {
                self.link(&entry.path(), shown)?;
            } else if is_manifest(&shown) {
                self.left_out(
                    shown,
                    "it is not a regular file but a named pipe, a socket or a device".to_string(),
                );
            }
        }
        Ok(())
    }

    fn file(&mut self, shown: String, path: PathBuf) {
        if is_manifest(&shown) {
            self.found.push(Found::File(shown, path));
        }
    }

    fn left_out(&mut self, shown: String, reason: String) {
        self.found.push(Found::LeftOut(shown, reason));
    }

    /// A link: followed when it stays inside the project and is not a loop.
    fn link(&mut self, path: &Path, shown: String) -> std::io::Result<()> {
        match resolve(path) {
            Target::Nowhere(why) => self.left_out(shown, why),
            Target::File(_) if !is_manifest(&shown) => {}
            Target::File(real) if real.starts_with(self.root) => self.file(shown, path.into()),
            Target::Folder(real) if self.open.iter().any(|f| f.starts_with(&real)) => self
                .left_out(
                    shown,
                    format!(
                        "it is a symbolic link to `{}`, a folder that holds the link itself (a loop)",
                        real.display()
                    ),
                ),
            Target::Folder(real) if real.starts_with(self.root) => {
                self.folder(path, &shown, real)?;
            }
            Target::File(real) | Target::Folder(real) => self.left_out(
                shown,
                format!(
                    "it is a symbolic link to `{}`, outside the project",
                    real.display()
                ),
            ),
            Target::Other(real) if is_manifest(&shown) => self.left_out(
                shown,
                format!(
                    "it is a symbolic link to `{}`, which is not a regular file",
                    real.display()
                ),
            ),
            Target::Other(_) => {}
        }
        Ok(())
    }
}

/// A name svcc reads as a manifest.
fn is_manifest(name: &str) -> bool {
    Format::from_name(name).is_some()
}

fn resolve(path: &Path) -> Target {
    let real = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let to = std::fs::read_link(path)
                .map(|t| format!(" `{}`", t.display()))
                .unwrap_or_default();
            return Target::Nowhere(format!(
                "it is a symbolic link whose target{to} does not exist"
            ));
        }
        // a loop of links, or a folder on the way that cannot be read
        Err(e) => {
            return Target::Nowhere(format!(
                "it is a symbolic link that cannot be resolved ({e})"
            ));
        }
    };
    match std::fs::metadata(&real) {
        Ok(m) if m.is_file() => Target::File(real),
        Ok(m) if m.is_dir() => Target::Folder(real),
        Ok(_) => Target::Other(real),
        Err(e) => Target::Nowhere(format!(
            "it is a symbolic link that cannot be resolved ({e})"
        )),
    }
}
