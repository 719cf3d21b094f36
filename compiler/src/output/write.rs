//! The writes themselves: each file through a temporary file of its own
//! and a rename, in parallel; removals; execute bits.
//!
//! A temporary file is created new (`O_EXCL`) under a random name by the
//! `tempfile` crate, so no existing name, such as a link planted where a
//! temporary file would go, is ever opened; a rename replaces the target
//! entry itself and never follows a link there. A temporary file whose
//! write or rename fails is deleted. The folders on the way were checked
//! to be real folders when the build was planned ([`super::spot`]).

use std::io::Write;
use std::path::Path;
use svcc_core::emit::Artifact;

/// What a temporary file is called: short, so that it fits wherever the
/// file it stands for does.
pub const TEMP_PREFIX: &str = ".svcc-tmp-";

/// Writes the files on all cores (each write is atomic on its own), their
/// folders made first, once each. Stops at the first failure, naming it.
pub fn files(out: &Path, files: &[&Artifact]) -> Result<(), String> {
    let folders: std::collections::BTreeSet<&Path> = files
        .iter()
        .filter_map(|a| Path::new(&a.path).parent())
        .collect();
    for folder in folders {
        let path = out.join(folder);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("could not create `{}`: {e}", path.display()))?;
    }
    let one = |a: &&Artifact| {
        let path = out.join(&a.path);
        atomic(&path, &a.contents, a.executable).inspect_err(|_| remove_empty_folders(out, &path))
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || files.len() < 32 {
        return files.iter().try_for_each(one);
    }
    let size = files.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(size)
            .map(|chunk| scope.spawn(move || chunk.iter().try_for_each(one)))
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
    })
}

/// Writes `bytes` to a new temporary file beside `path` (whose folder
/// exists), then renames it to `path`.
pub fn atomic(path: &Path, bytes: &[u8], executable: bool) -> Result<(), String> {
    let failed = |e: std::io::Error| format!("could not write `{}`: {e}", path.display());
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX).rand_bytes(8);
    set_mode(&mut builder, executable);
    let mut tmp = builder.tempfile_in(folder).map_err(failed)?;
    tmp.write_all(bytes).map_err(failed)?;
    tmp.persist(path).map(drop).map_err(|e| failed(e.error))
}

/// New files get the mode `std::fs::write` gives (0o666, or 0o777 for a
/// program, less the umask) instead of the temporary file's 0o600.
#[cfg(unix)]
fn set_mode(builder: &mut tempfile::Builder<'_, '_>, executable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o777 } else { 0o666 };
    builder.permissions(std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn set_mode(_: &mut tempfile::Builder<'_, '_>, _: bool) {}

/// Whether a file's execute bits are set (always, where there are none).
pub fn is_executable(meta: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        true
    }
}

/// Sets the execute bits of an unchanged program wherever its read bits
/// are (`chmod +x` as the umask would leave it).
pub fn set_executable(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let failed =
            |e: std::io::Error| format!("could not set the mode of `{}`: {e}", path.display());
        let mode = std::fs::symlink_metadata(path)
            .map_err(failed)?
            .permissions()
            .mode();
        let mode = mode | ((mode & 0o444) >> 2);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(failed)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Removes the stale file `rel` (a plain file below real folders, as the
/// plan found), then the folders it leaves empty, up to `out`.
pub fn remove(out: &Path, rel: &str) -> Result<(), String> {
    let path = out.join(rel);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("could not remove `{}`: {e}", path.display())),
    }
    remove_empty_folders(out, &path);
    Ok(())
}

/// Removes the folders above `path` that are empty, up to `out`.
fn remove_empty_folders(out: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == out || !d.starts_with(out) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}
