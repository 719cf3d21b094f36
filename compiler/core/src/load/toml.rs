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
    if let Some(at) = too_deep_at(text) {
        diagnostics.push(too_deep(Span::new(file, at, at + 1)));
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
    if let Some(at) = too_deep_value(table.get_ref()) {
        diagnostics.push(too_deep(Span::new(file, at.start, at.end)));
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

fn too_deep(span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0007,
        span,
        format!("nesting deeper than {MAX_DEPTH} levels"),
    )
    .label("too deep")
    .help("manifests never need this much nesting; flatten the structure")
}

/// The span of a key or value nested deeper than [`MAX_DEPTH`] tables
/// and arrays: table headers and dotted keys (`a.b.c = 1`) nest without
/// brackets. Walked without recursion.
fn too_deep_value(root: &DeTable<'_>) -> Option<std::ops::Range<usize>> {
    type Pending<'a, 'i> = Vec<(&'a DeValue<'i>, std::ops::Range<usize>, usize)>;
    fn push_table<'a, 'i>(stack: &mut Pending<'a, 'i>, table: &'a DeTable<'i>, depth: usize) {
        for (key, value) in table.iter() {
            stack.push((value.get_ref(), key.span(), depth));
        }
    }
    let mut stack = Pending::new();
    push_table(&mut stack, root, 1);
    while let Some((value, span, depth)) = stack.pop() {
        let inner = match value {
            DeValue::Table(_) | DeValue::Array(_) => depth + 1,
            _ => continue,
        };
        if inner > MAX_DEPTH {
            return Some(span);
        }
        match value {
            DeValue::Table(table) => push_table(&mut stack, table, inner),
            DeValue::Array(items) => {
                stack.extend(items.iter().map(|i| (i.get_ref(), i.span(), inner)));
            }
            _ => {}
        }
    }
    None
}

/// Reports TOML errors. Duplicate keys name the key and point at its first
/// definition too; keys inside a table whose header is itself a duplicate
/// are not reported again (one mistake, one error).
fn report_errors(file: FileId, text: &str, errors: &[toml::de::Error], out: &mut Diagnostics) {
    let mut skip_until: Option<usize> = None;
    for err in errors {
        let range = err
            .span()
            .or_else(|| long_key(text, err.message()))
            .unwrap_or(0..0);
        if skip_until.is_some_and(|end| range.start < end) {
            continue;
        }
        let span = Span::new(file, range.start, range.end);
        let message = err.message().trim().to_string();
        if message.contains("recursion") {
            // toml's own limits (80 brackets, dotted keys of 80 parts)
            out.push(
                Diagnostic::error(
                    Code::E0007,
                    span,
                    format!("TOML nesting too deep: {message}"),
                )
                .label("too deep")
                .help("manifests never need this much nesting; flatten the structure"),
            );
            continue;
        }
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

/// toml's parser refuses a dotted key of more than 80 parts
/// (`a.b.c...`, in a header too) without saying where: the first such key,
/// found the way [`too_deep_at`] reads the text.
fn long_key(text: &str, message: &str) -> Option<std::ops::Range<usize>> {
    const PARTS: usize = 80;
    if !message.contains("recursion limit") {
        return None;
    }
    let bytes = text.as_bytes();
    let long = |run: Option<(usize, usize)>, end: usize| {
        run.filter(|&(_, dots)| dots >= PARTS)
            .map(|(start, _)| start..text[..end].trim_end().len())
    };
    // a run of key parts, dots and blanks: where it starts, how many dots
    let (mut i, mut run) = (0usize, None::<(usize, usize)>);
    while let Some(&b) = bytes.get(i) {
        if b == b'.'
            || b == b'"'
            || b == b'\''
            || b == b'-'
            || b == b'_'
            || b.is_ascii_alphanumeric()
        {
            run.get_or_insert((i, 0)).1 += usize::from(b == b'.');
            i = if b == b'"' || b == b'\'' {
                string_end(bytes, i)
            } else {
                i + 1
            };
            continue;
        }
        if b != b' ' && b != b'\t' {
            if let Some(span) = long(run.take(), i) {
                return Some(span);
            }
            if b == b'#' {
                i = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len(), |n| i + n);
                continue;
            }
        }
        i += 1;
    }
    long(run, bytes.len())
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

/// Where bracket nesting first goes past [`MAX_DEPTH`], so that neither
/// the parser nor the conversion recurses deeply. Brackets inside strings
/// and comments do not count; this is an upper bound (a table header's
/// brackets count while its line is read).
fn too_deep_at(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while let Some(&b) = bytes.get(i) {
        match b {
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'#' => {
                i = bytes[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(bytes.len(), |n| i + n);
                continue;
            }
            b'"' | b'\'' => {
                i = string_end(bytes, i);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The offset just past the string that opens at `start` (basic or
/// literal, one line or three quotes); an unclosed one-line string ends
/// at its line's end, an unclosed multi-line one at the end of the text.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let fence = [quote; 3];
    let multi = bytes[start..].starts_with(&fence);
    let mut i = start + if multi { 3 } else { 1 };
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' && quote == b'"' {
            i += 2;
            continue;
        }
        if b == b'\n' && !multi {
            return i;
        }
        if b == quote && !multi {
            return i + 1;
        }
        if b == quote && bytes[i..].starts_with(&fence) {
            // up to two quotes more belong to the content: `""""a"""""`
            let extra = bytes[i + 3..].iter().take(2).take_while(|&&c| c == quote);
            return i + 3 + extra.count();
        }
        i += 1;
    }
    bytes.len()
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
