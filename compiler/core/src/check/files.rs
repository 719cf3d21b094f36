//! Names that no spelling of the generated output can hold: a service or
//! deployment becomes a folder and files named after it (`rust/<name>/`,
//! `openapi/<name>.openapi.yaml`, `wrangler/<name>/`), and a service a Rust
//! crate. Without these checks `svcc check` passed such a project and the
//! build failed half-way, after writing part of it (a 240-character name:
//! "File name too long"), or wrote a crate that cannot compile (a service
//! named `Self` is the package `self`). Collisions between two names are in
//! [`super::naming`]; this is about one name alone (E0111).

use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::lower::validate::{MAX_FILE_NAME, RUST_KEYWORDS, windows_reserved};
use crate::names::{to_kebab, to_snake};
use crate::resolve::Model;
use crate::source::Spanned;

/// What the longest file named after a service adds to its kebab-case
/// name: `openapi/<name>.openapi.yaml` (`.json` is as long).
const SERVICE_SUFFIX: &str = ".openapi.yaml";

/// Crate names that the generated crates cannot have besides keywords:
/// Cargo refuses a binary named like its build folders, and a crate named
/// like Rust's own (or the `rt` alias of the runtime) shadows it in the
/// generated code.
const CRATE_NAMES: [&str; 11] = [
    "build",
    "deps",
    "examples",
    "incremental",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
    "rt",
    "svcc_runtime",
];

/// Runs the checks.
pub fn check(model: &Model, out: &mut Diagnostics) {
    for s in &model.ast.services {
        file_name(&s.name, "service", SERVICE_SUFFIX, out);
        crate_name(&s.name, out);
    }
    for d in &model.ast.deployments {
        file_name(&d.name, "deployment", "", out);
    }
}

/// A name whose files would be reserved or too long.
fn file_name(name: &Spanned<String>, what: &str, suffix: &str, out: &mut Diagnostics) {
    let kebab = to_kebab(&name.value);
    if windows_reserved(&kebab) {
        out.push(
            Diagnostic::error(
                Code::E0111,
                name.span,
                format!(
                    "{what} `{}` becomes files or folders named `{kebab}`, a device name Windows reserves",
                    name.value
                ),
            )
            .label("no file can have this name on Windows")
            .help(format!(
                "rename the {what} (like `{}{}`)",
                name.value,
                if what == "service" { "Service" } else { "Edge" }
            )),
        );
    }
    let longest = kebab.len() + suffix.len();
    if longest > MAX_FILE_NAME {
        out.push(
            Diagnostic::error(
                Code::E0111,
                name.span,
                format!(
                    "{what} `{}…` becomes a file name of {longest} bytes (`{}…{suffix}`), more than the {MAX_FILE_NAME} a file system holds",
                    truncated(&name.value),
                    truncated(&kebab)
                ),
            )
            .label("too long for a file name")
            .help(format!(
                "shorten the name to at most {} characters in kebab-case",
                MAX_FILE_NAME - suffix.len()
            )),
        );
    }
}

/// The first 24 characters of a (long) name, for a message.
fn truncated(text: &str) -> &str {
    text.char_indices()
        .nth(24)
        .map_or(text, |(i, _)| text.get(..i).unwrap_or(text))
}

/// A service whose crate name is a keyword or Rust's or Cargo's own.
fn crate_name(name: &Spanned<String>, out: &mut Diagnostics) {
    let snake = to_snake(&name.value);
    let keyword = RUST_KEYWORDS.contains(&snake.as_str()) || snake == "gen";
    if !keyword && !CRATE_NAMES.contains(&snake.as_str()) {
        return;
    }
    let why = if keyword {
        "a Rust keyword".to_string()
    } else {
        "a name Cargo or Rust keeps for its own".to_string()
    };
    out.push(
        Diagnostic::error(
            Code::E0111,
            name.span,
            format!(
                "service `{}` becomes the crate `{snake}`, {why}",
                name.value
            ),
        )
        .label("no generated crate can have this name")
        .help(format!("rename the service (like `{}Service`)", name.value)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_names_end_on_a_character() {
        assert_eq!(truncated("short"), "short");
        assert_eq!(truncated(&"é".repeat(40)).chars().count(), 24);
    }
}
