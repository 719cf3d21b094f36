//! TOML to spanned trees, from `toml`'s spanned document parser.
//!
//! `parse_recoverable` reports several syntax errors at once, each with a
//! span. TOML datetimes become strings as written; duplicate keys get the
//! same code as in YAML.

use super::node::{Document, Entry, Node, NodeKind};
use super::{Loaded, MAX_DEPTH};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, Span, Spanned};
use toml::de::{DeTable, DeValue};

/// Parses a TOML file: one document.
pub(super) fn load(file: FileId, text: &str, diagnostics: &mut Diagnostics) -> Loaded {
    if nesting_depth(text) > MAX_DEPTH {
        diagnostics.push(
            Diagnostic::error(
                Code::E0007,
                Span::new(file, 0, 0),
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .label("too deep"),
        );
        return Loaded {
            documents: Vec::new(),
            incomplete: true,
        };
    }
    let (table, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        report_errors(file, text, &errors, diagnostics);
        return Loaded {
            documents: Vec::new(),
            incomplete: true,
        };
    }
    let span = table.span();
    let root = convert_table(
        file,
        text,
        table.get_ref(),
        Span::new(file, span.start, span.end),
    );
    Loaded {
        documents: vec![Document { root }],
        incomplete: false,
    }
}

/// Reports TOML errors. Duplicate keys name the key and point at its first
/// definition too; keys inside a table whose header is itself a duplicate
/// are not reported again (one mistake, one error).
fn report_errors(file: FileId, text: &str, errors: &[toml::de::Error], out: &mut Diagnostics) {
    let mut skip_until: Option<usize> = None;
    for err in errors {
        let range = err.span().unwrap_or(0..0);
        if skip_until.is_some_and(|end| range.start < end) {
            continue;
        }
        let span = Span::new(file, range.start, range.end);
        let message = err.message().trim().to_string();
        if !message.contains("duplicate key") {
            out.push(
                Diagnostic::error(Code::E0007, span, format!("TOML syntax error: {message}"))
                    .label("here")
                    .help("check the quotes, brackets and `key = value` pairs on this line"),
            );
            continue;
        }
        let key = text.get(range.clone()).unwrap_or("").to_string();
        let line_start = text[..range.start.min(text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let is_header = text[line_start..].trim_start().starts_with('[');
        let first = if is_header {
            let header = text[line_start..].lines().next().unwrap_or("").trim();
            skip_until = Some(next_header(text, range.end));
            text[..line_start]
                .find(header)
                .map(|i| (i, i + header.len()))
        } else {
            previous_key(text, line_start, &key)
        };
        let mut d = Diagnostic::error(Code::E0003, span, format!("duplicate key `{key}`"))
            .label("defined again here")
            .help("remove one of them, or merge their contents");
        if let Some((a, b)) = first {
            d = d.secondary(Span::new(file, a, b), "first defined here");
        }
        out.push(d);
    }
}

/// Where the next table header starts after `from` (or the end).
fn next_header(text: &str, from: usize) -> usize {
    let mut at = from;
    for line in text.get(from..).unwrap_or("").split_inclusive('\n') {
        if at > from && line.trim_start().starts_with('[') {
            return at;
        }
        at += line.len();
    }
    text.len()
}

/// The earlier `key = ...` line of the same table as `line_start`.
fn previous_key(text: &str, line_start: usize, key: &str) -> Option<(usize, usize)> {
    let before = text.get(..line_start)?;
    let mut end = before.len();
    for line in before.lines().rev() {
        let start = end.saturating_sub(line.len() + 1).min(end);
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            return None;
        }
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            let col = line.len() - trimmed.len();
            let at = before[..end].rfind(line).unwrap_or(start) + col;
            return Some((at, at + key.len()));
        }
        end = start;
    }
    None
}

/// A cheap upper bound on bracket nesting, so conversion never recurses deeply.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => {}
            _ => {}
        }
    }
    max
}

fn convert_table(file: FileId, text: &str, table: &DeTable<'_>, span: Span) -> Node {
    let entries = table
        .iter()
        .map(|(key, value)| {
            let ks = key.span();
            let span = Span::new(file, ks.start, ks.end);
            let raw = text.get(ks.clone()).unwrap_or("");
            let key_content = if raw == key.get_ref().as_ref() {
                Some(span.start)
            } else {
                content_start(raw, key.get_ref(), span)
            };
            Entry {
                key: Spanned::new(key.get_ref().to_string(), span),
                key_content,
                value: convert(file, text, value.get_ref(), value.span()),
            }
        })
        .collect();
    Node::new(NodeKind::Map(entries), span)
}

fn convert(file: FileId, text: &str, value: &DeValue<'_>, range: std::ops::Range<usize>) -> Node {
    let span = Span::new(file, range.start, range.end);
    let raw = text.get(range.clone()).unwrap_or("");
    let kind = match value {
        DeValue::String(s) => {
            let mut node = Node::new(NodeKind::Str(s.to_string()), span);
            node.content_start = content_start(raw, s, span);
            return node;
        }
        DeValue::Integer(i) => integer(i.as_str(), i.radix()),
        DeValue::Float(f) => {
            let raw = f.as_str().replace('_', "");
            NodeKind::Float(raw.parse::<f64>().unwrap_or(f64::NAN), raw)
        }
        DeValue::Boolean(b) => NodeKind::Bool(*b),
        DeValue::Datetime(d) => NodeKind::Str(d.to_string()),
        DeValue::Array(items) => NodeKind::Seq(
            items
                .iter()
                .map(|item| convert(file, text, item.get_ref(), item.span()))
                .collect(),
        ),
        DeValue::Table(table) => return convert_table(file, text, table, span),
    };
    Node::new(kind, span)
}

fn integer(raw: &str, radix: u32) -> NodeKind {
    let clean = raw.replace('_', "");
    let digits = clean
        .trim_start_matches('+')
        .trim_start_matches("0x")
        .trim_start_matches("0o")
        .trim_start_matches("0b");
    match i64::from_str_radix(digits, radix) {
        Ok(i) => NodeKind::Int(i),
        Err(_) => NodeKind::Float(clean.parse::<f64>().unwrap_or(f64::NAN), clean),
    }
}

fn content_start(raw: &str, value: &str, span: Span) -> Option<u32> {
    let inner = raw.get(1..raw.len().saturating_sub(1))?;
    (raw.len() >= 2 && inner == value && !raw.starts_with("\"\"\"") && !raw.starts_with("'''"))
        .then_some(span.start + 1)
}
