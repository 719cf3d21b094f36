//! Stage 1, load: manifest text to spanned document trees.
//!
//! Takes bytes (never paths: reading files is the CLI's job), checks size and
//! encoding, and parses YAML 1.2 or TOML into [`node::Node`] trees. A file
//! that fails to parse yields the documents before the error plus a
//! diagnostic; the caller learns that the project is incomplete so that later
//! stages do not report names as missing when they were in the broken part.

mod fast;
pub mod node;
mod scalar;
mod toml;
mod yaml;

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::source::{SourceMap, Span};
pub use node::{Document, Entry, Node, NodeKind};

/// Files larger than this are refused (MANIFESTS.md section 1).
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Nodes that alias expansion may add to one file before it is refused.
pub const MAX_ALIAS_EXPANSION: usize = 100_000;

/// Deepest nesting accepted (keeps every later stage's recursion bounded).
pub const MAX_DEPTH: usize = 128;

/// The syntax a file is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `.yaml` / `.yml`
    Yaml,
    /// `.toml`
    Toml,
}

impl Format {
    /// The format for a file name, by extension.
    pub fn from_name(name: &str) -> Option<Format> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".yaml") || lower.ends_with(".yml") {
            Some(Format::Yaml)
        } else if lower.ends_with(".toml") {
            Some(Format::Toml)
        } else {
            None
        }
    }
}

/// What loading one file produced.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Documents that parsed completely.
    pub documents: Vec<Document>,
    /// Whether part of the file could not be read.
    pub incomplete: bool,
}

/// Adds `bytes` to `sources` under `name` and parses it.
pub fn load_file(
    sources: &mut SourceMap,
    name: &str,
    bytes: &[u8],
    format: Format,
    diagnostics: &mut Diagnostics,
) -> Loaded {
    if bytes.len() > MAX_FILE_BYTES {
        too_large(sources, name, bytes.len() as u64, diagnostics);
        return Loaded {
            documents: Vec::new(),
            incomplete: true,
        };
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(err) => {
            let valid = err.valid_up_to();
            let file = sources.add(name, printable(&String::from_utf8_lossy(bytes)));
            let bad = err.error_len().unwrap_or(1);
            // the shown text replaces each bad sequence with U+FFFD (3 bytes)
            let at = printable(&String::from_utf8_lossy(&bytes[..valid])).len();
            let utf16 = bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]);
            let help = if utf16 {
                "this file is UTF-16: save it as UTF-8"
            } else {
                "save the file as UTF-8 (it looks like another encoding, such as Latin-1)"
            };
            diagnostics.push(
                Diagnostic::error(
                    Code::E0002,
                    Span::new(file, at, at + '\u{FFFD}'.len_utf8()),
                    format!("invalid UTF-8 at byte {valid}"),
                )
                .label(format!("{bad} invalid byte(s) here"))
                .help(help),
            );
            return Loaded {
                documents: Vec::new(),
                incomplete: true,
            };
        }
    };
    let file = sources.add(name, text);
    let text = sources.get(file).map(|f| f.text.as_str()).unwrap_or("");
    parse(file, text, format, diagnostics)
}

/// Parses a decoded file (already in the source map).
pub fn parse(
    file: crate::source::FileId,
    text: &str,
    format: Format,
    diagnostics: &mut Diagnostics,
) -> Loaded {
    match format {
        Format::Yaml => yaml::load(file, text, diagnostics),
        Format::Toml => toml::load(file, text, diagnostics),
    }
}

/// Adds a file's text to the source map after the size and UTF-8 checks;
/// `None` when it was refused (the reason is reported). `size` is the
/// file's size on disk when `bytes` is only its beginning.
pub fn decode(
    sources: &mut SourceMap,
    name: &str,
    bytes: &[u8],
    size: Option<u64>,
    diagnostics: &mut Diagnostics,
) -> Option<crate::source::FileId> {
    let size = size.unwrap_or(bytes.len() as u64).max(bytes.len() as u64);
    if size > MAX_FILE_BYTES as u64 {
        too_large(sources, name, size, diagnostics);
        return None;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(sources.add(name, text.to_owned())),
        Err(_) => {
            // load_file reports the encoding
            load_file(sources, name, bytes, Format::Yaml, diagnostics);
            None
        }
    }
}

/// Records a file refused for its size (E0004), `size` as on disk.
fn too_large(sources: &mut SourceMap, name: &str, size: u64, diagnostics: &mut Diagnostics) {
    let message = format!("`{name}` is larger than 16 MiB ({size} bytes)");
    diagnostics.push(
        about_file(sources, name, Code::E0004, message)
            .label("file refused")
            .help("split the manifests into several files"),
    );
}

/// A diagnostic about a file as a whole (refused, or not read), at the
/// start of an empty stand-in for its text.
fn about_file(sources: &mut SourceMap, name: &str, code: Code, message: String) -> Diagnostic {
    let file = sources.add(name, "");
    Diagnostic::error(code, Span::new(file, 0, 0), message)
}

/// The text with control characters (but tab and newlines) shown as U+FFFD,
/// so that rendering a file in a wrong encoding prints no raw NULs.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() && !matches!(c, '\n' | '\t' | '\r') {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

/// Why a file of the manifests folder was not read.
#[derive(Clone, Copy, Debug)]
pub enum NotRead<'a> {
    /// It exists but could not be read (E0010), for this reason.
    Unreadable(&'a str),
    /// It was left out (W0011): a symbolic link that leads outside the
    /// project, nowhere, round in a loop or to something that is not a
    /// file or folder, or a named pipe or a device; the reason says which.
    /// The project is checked without it.
    LeftOut(&'a str),
}

/// Records a file of the manifests folder that was not read.
pub fn not_read(sources: &mut SourceMap, name: &str, why: NotRead, diagnostics: &mut Diagnostics) {
    let (code, message, label, help) = match why {
        NotRead::Unreadable(reason) => (
            Code::E0010,
            format!("`{name}` could not be read: {reason}"),
            "unreadable",
            "check the file's permissions",
        ),
        NotRead::LeftOut(reason) => (
            Code::W0011,
            format!("`{name}` is left out: {reason}"),
            "not read",
            "svcc reads only regular files inside the project folder: copy the manifest into the project, or point the link at one inside it",
        ),
    };
    diagnostics.push(
        about_file(sources, name, code, message)
            .label(label)
            .help(help),
    );
}

/// Reports a duplicate key, pointing at both definitions.
pub(crate) fn duplicate_key(key: &str, first: Span, again: Span) -> Diagnostic {
    Diagnostic::error(Code::E0003, again, format!("duplicate key `{key}`"))
        .label("defined again here")
        .secondary(first, "first defined here")
        .help("remove one of them, or merge their contents")
}
