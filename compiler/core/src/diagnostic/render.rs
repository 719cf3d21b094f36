//! Rendering diagnostics for people (rustc style) and for tools (JSON lines).
//!
//! Pure: both renderers return strings; the CLI decides where they go and
//! whether the terminal gets colour.

use super::{Diagnostic, Severity};
use crate::source::{FileId, SourceMap};
use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::{Error as FilesError, Files};
use codespan_reporting::term::{self, Config};
use serde::Serialize;

impl<'a> Files<'a> for SourceMap {
    type FileId = FileId;
    type Name = &'a str;
    type Source = &'a str;

    fn name(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        self.get(id)
            .map(|f| f.name.as_str())
            .ok_or(FilesError::FileMissing)
    }

    fn source(&'a self, id: FileId) -> Result<&'a str, FilesError> {
        self.get(id)
            .map(|f| f.text.as_str())
            .ok_or(FilesError::FileMissing)
    }

    fn line_index(&'a self, id: FileId, byte_index: usize) -> Result<usize, FilesError> {
        let file = self.get(id).ok_or(FilesError::FileMissing)?;
        let offset = u32::try_from(byte_index).unwrap_or(u32::MAX);
        Ok(file.line_col(offset).line - 1)
    }

    fn line_range(
        &'a self,
        id: FileId,
        line_index: usize,
    ) -> Result<std::ops::Range<usize>, FilesError> {
        let file = self.get(id).ok_or(FilesError::FileMissing)?;
        let text = file.text.as_str();
        let mut start = 0usize;
        for _ in 0..line_index {
            match text[start..].find('\n') {
                Some(i) => start += i + 1,
                None => {
                    return Err(FilesError::LineTooLarge {
                        given: line_index,
                        max: 0,
                    });
                }
            }
        }
        let end = text[start..]
            .find('\n')
            .map_or(text.len(), |i| start + i + 1);
        Ok(start..end)
    }
}

fn to_codespan(d: &Diagnostic) -> cs::Diagnostic<FileId> {
    let base = match d.severity {
        Severity::Error => cs::Diagnostic::error(),
        Severity::Warning => cs::Diagnostic::warning(),
    };
    let mut labels = vec![
        cs::Label::primary(d.primary.span.file, d.primary.span.range())
            .with_message(d.primary.message.clone()),
    ];
    labels.extend(d.secondary.iter().map(|l| {
        cs::Label::secondary(l.span.file, l.span.range()).with_message(l.message.clone())
    }));
    let mut notes: Vec<String> = d.notes.iter().map(|n| format!("note: {n}")).collect();
    if let Some(help) = &d.help {
        notes.push(format!("help: {help}"));
    }
    base.with_code(d.code.as_str())
        .with_message(d.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

/// Renders diagnostics like rustc does, with ANSI colour when `colour` is set,
/// followed by a summary line.
pub fn human(sources: &SourceMap, diagnostics: &[Diagnostic], colour: bool) -> String {
    let config = Config::default();
    let mut out = String::new();
    for d in diagnostics {
        let rendered = if colour {
            let mut ansi = term::termcolor::Ansi::new(Vec::new());
            match term::emit_to_write_style(&mut ansi, &config, sources, &to_codespan(d)) {
                Ok(()) => String::from_utf8_lossy(&ansi.into_inner()).into_owned(),
                Err(_) => fallback(sources, d),
            }
        } else {
            term::emit_into_string(&config, sources, &to_codespan(d))
                .unwrap_or_else(|_| fallback(sources, d))
        };
        out.push_str(&rendered);
    }
    out.push_str(&summary(diagnostics));
    out
}

/// One line per diagnostic, for the rare case codespan cannot render one.
fn fallback(sources: &SourceMap, d: &Diagnostic) -> String {
    let (start, _) = sources.position(d.primary.span);
    format!(
        "{}[{}]: {}\n  --> {}:{}:{}\n\n",
        severity_word(d.severity),
        d.code,
        d.message,
        sources.name(d.primary.span.file),
        start.line,
        start.column
    )
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// `error: 3 errors and 1 warning found` or `no problems found`.
pub fn summary(diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;
    let plural = |n: usize, word: &str| {
        if n == 1 {
            format!("1 {word}")
        } else {
            format!("{n} {word}s")
        }
    };
    match (errors, warnings) {
        (0, 0) => "no problems found\n".to_string(),
        (0, w) => format!("{} found\n", plural(w, "warning")),
        (e, 0) => format!("{} found\n", plural(e, "error")),
        (e, w) => format!(
            "{} and {} found\n",
            plural(e, "error"),
            plural(w, "warning")
        ),
    }
}

/// A diagnostic as one JSON object (see MANIFESTS.md section 7).
#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
    notes: &'a [String],
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    primary: bool,
    message: &'a str,
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
}

fn json_label<'a>(sources: &'a SourceMap, l: &'a super::Label, primary: bool) -> JsonLabel<'a> {
    let (start, end) = sources.position(l.span);
    JsonLabel {
        primary,
        message: &l.message,
        file: sources.name(l.span.file),
        line: start.line,
        column: start.column,
        end_line: end.line,
        end_column: end.column,
    }
}

/// One JSON object per line per diagnostic.
pub fn json_lines(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let (start, end) = sources.position(d.primary.span);
        let mut labels = vec![json_label(sources, &d.primary, true)];
        labels.extend(d.secondary.iter().map(|l| json_label(sources, l, false)));
        let record = JsonDiagnostic {
            code: d.code.as_str(),
            severity: d.severity,
            message: &d.message,
            file: sources.name(d.primary.span.file),
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            labels,
            help: d.help.as_deref(),
            notes: &d.notes,
        };
        if let Ok(line) = serde_json::to_string(&record) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
