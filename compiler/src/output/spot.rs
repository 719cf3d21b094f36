//! What is at a path below the output folder, looked at without following
//! a single symbolic link.
//!
//! Every folder on the way to a file is looked at, not only the file: a
//! link anywhere (`gen/rust -> /elsewhere`, `gen/link/victim.txt`) would
//! let a write or a removal land outside the project. Each folder is listed
//! once (one directory read instead of a stat per file), and what its
//! entries are is taken from the listing, which does not follow links.

use std::collections::HashMap;
use std::fs::DirEntry;
use std::path::{Path, PathBuf};

/// What a path below the output folder holds.
#[derive(Debug)]
pub enum Spot {
    /// Nothing: a file can be written there.
    Missing,
    /// A regular file (its metadata, taken without following links).
    File(std::fs::Metadata),
    /// A symbolic link (at the last segment: the folders on the way are real).
    Link,
    /// Something svcc must not write through or over, and why.
    Blocked(String),
}

/// A folder's state.
enum Folder {
    Missing,
    Blocked(String),
    Listed(HashMap<String, DirEntry>),
}

/// The folders of the output folder looked at so far.
pub struct Spots {
    out: PathBuf,
    /// How `out` is shown in messages (`gen`).
    shown: String,
    folders: HashMap<String, Folder>,
}

impl Spots {
    /// Looks below `out`, shown as `shown`; `out` itself must be a real
    /// folder or missing (`check_folder` makes sure of the folders above).
    pub fn new(out: &Path, shown: &str) -> Self {
        Spots {
            out: out.to_path_buf(),
            shown: shown.to_string(),
            folders: HashMap::new(),
        }
    }

    fn display(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.shown.clone()
        } else {
            format!("{}/{rel}", self.shown)
        }
    }

    /// What `rel` (a `/`-separated path below the output folder) holds.
    pub fn at(&mut self, rel: &str) -> Spot {
        let (folder, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        self.list(folder);
        let shown = self.display(rel);
        let entry = match self.lookup(folder, name) {
            Ok(Some(entry)) => entry,
            Ok(None) => return Spot::Missing,
            Err(why) => return Spot::Blocked(why),
        };
        match entry.file_type() {
            Ok(t) if t.is_symlink() => Spot::Link,
            Ok(t) if t.is_dir() => {
                Spot::Blocked(format!("`{shown}` is a folder, where svcc writes a file"))
            }
            Ok(t) if t.is_file() => match entry.metadata() {
                Ok(meta) => Spot::File(meta),
                Err(e) => Spot::Blocked(format!("`{shown}` cannot be read: {e}")),
            },
            Ok(_) => Spot::Blocked(format!(
                "`{shown}` is not a regular file (a named pipe, a socket or a device)"
            )),
            Err(e) => Spot::Blocked(format!("`{shown}` cannot be read: {e}")),
        }
    }

    /// The temporary files left in the folders looked at (by a build that
    /// was killed, or by an older svcc: `.<name>.svcc-tmp`), as paths
    /// below the output folder, sorted. Links are not listed.
    pub fn temps(&self) -> Vec<String> {
        let mut found: Vec<String> = self
            .folders
            .iter()
            .filter_map(|(folder, state)| match state {
                Folder::Listed(entries) => Some((folder, entries)),
                _ => None,
            })
            .flat_map(|(folder, entries)| {
                entries
                    .iter()
                    .filter(|(name, e)| is_temp(name) && e.file_type().is_ok_and(|t| t.is_file()))
                    .map(move |(name, _)| join(folder, name))
            })
            .collect();
        found.sort();
        found
    }

    /// The entry `name` of `folder` (looked at already): `None` when
    /// there is none, or the folder is missing; the reason when the folder
    /// is blocked.
    fn lookup(&self, folder: &str, name: &str) -> Result<Option<&DirEntry>, String> {
        match self.folders.get(folder) {
            Some(Folder::Listed(entries)) => Ok(entries.get(name)),
            Some(Folder::Blocked(why)) => Err(why.clone()),
            Some(Folder::Missing) | None => Ok(None),
        }
    }

    /// Lists `folder` (and the folders above it) once.
    fn list(&mut self, folder: &str) {
        if self.folders.contains_key(folder) {
            return;
        }
        let state = if folder.is_empty() {
            self.read(&self.out.clone(), folder)
        } else {
            let (parent, name) = folder.rsplit_once('/').unwrap_or(("", folder));
            self.list(parent);
            self.child(parent, name, folder)
        };
        self.folders.insert(folder.to_string(), state);
    }

    /// The state of `folder`, the entry `name` of the listed `parent`.
    fn child(&self, parent: &str, name: &str, folder: &str) -> Folder {
        let shown = self.display(folder);
        let entry = match self.lookup(parent, name) {
            Ok(Some(entry)) => entry,
            Ok(None) => return Folder::Missing,
            Err(why) => return Folder::Blocked(why),
        };
        match entry.file_type() {
            Ok(t) if t.is_dir() => self.read(&entry.path(), folder),
            Ok(t) if t.is_symlink() => Folder::Blocked(format!(
                "`{shown}` is a symbolic link; svcc writes only into real folders (a link could lead outside the project)"
            )),
            Ok(_) => Folder::Blocked(format!("`{shown}` is a file, where svcc needs a folder")),
            Err(e) => Folder::Blocked(format!("`{shown}` cannot be read: {e}")),
        }
    }

    /// Lists a real folder.
    fn read(&self, path: &Path, folder: &str) -> Folder {
        match std::fs::read_dir(path) {
            Ok(entries) => Folder::Listed(
                entries
                    .filter_map(Result::ok)
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e))
                    .collect(),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Folder::Missing,
            Err(e) => Folder::Blocked(format!("`{}` cannot be listed: {e}", self.display(folder))),
        }
    }
}

/// Makes sure that every folder from `root` down to `root/rel` is a real
/// folder or does not exist yet: the output folder, or a folder on its way,
/// that is a link (or a file) is refused before anything is read or written.
pub fn check_folder(root: &Path, rel: &str) -> Result<(), String> {
    let mut path = root.to_path_buf();
    let mut shown = String::new();
    for part in rel.split('/').filter(|p| !p.is_empty() && *p != ".") {
        path.push(part);
        if !shown.is_empty() {
            shown.push('/');
        }
        shown.push_str(part);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(format!("`{shown}` cannot be read: {e}")),
            Ok(m) if m.file_type().is_symlink() => {
                let to = std::fs::read_link(&path)
                    .map(|t| format!(" (to `{}`)", t.display()))
                    .unwrap_or_default();
                return Err(format!(
                    "the output folder `{rel}` goes through `{shown}`, a symbolic link{to}: svcc writes only into real folders inside the project\nhelp: remove the link (svcc creates the folder), or set `[build] out` in svcc.toml to another folder"
                ));
            }
            Ok(m) if !m.is_dir() => {
                return Err(format!(
                    "`{shown}` is a file, where the output folder `{rel}` goes\nhelp: move it away, or set `[build] out` in svcc.toml to another folder"
                ));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// A temporary file's name: this svcc's (`super::write`) or an older one's.
fn is_temp(name: &str) -> bool {
    name.starts_with(super::write::TEMP_PREFIX)
        || (name.starts_with('.') && name.ends_with(".svcc-tmp"))
}

fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    }
}
