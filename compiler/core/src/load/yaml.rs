//! YAML 1.2 to spanned trees, from saphyr-parser's event stream.
//!
//! We build the tree ourselves instead of using a serde loader so that:
//! scalars resolve by the YAML 1.2 core schema (`yes`, `no`, `on` stay
//! strings), duplicate keys are reported with both places, alias expansion
//! is bounded by node count (a billion-laughs file fails in microseconds),
//! nesting depth is bounded, and every node keeps its exact byte span.

// A parse error ends the file, so the large `Err` is built at most once per
// file; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use super::node::{Document, Entry, Node, NodeKind};
use super::scalar::resolve_plain;
use super::{Loaded, MAX_ALIAS_EXPANSION, MAX_DEPTH, duplicate_key};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::source::{FileId, Span, Spanned};
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Tag};
use std::collections::HashMap;

/// Parses every document of a YAML file: the plain ones on the fast path,
/// the others (and every error) through saphyr-parser.
pub(super) fn load(file: FileId, text: &str, diagnostics: &mut Diagnostics) -> Loaded {
    if let Some(documents) = super::fast::parse(file, text) {
        return Loaded {
            documents,
            incomplete: false,
        };
    }
    load_with_saphyr(file, text, diagnostics)
}

/// Parses every document of a YAML file through saphyr-parser's events.
pub(super) fn load_with_saphyr(file: FileId, text: &str, diagnostics: &mut Diagnostics) -> Loaded {
    let mut builder = Builder::new(file, text);
    let mut loaded = Loaded::default();
    for item in Parser::new_from_str(text) {
        let step = match item {
            Ok((event, span)) => builder.event(event, span),
            Err(err) => Err(builder.scan_error(&err)),
        };
        match step {
            Ok(Some(root)) => loaded.documents.push(Document { root }),
            Ok(None) => {}
            Err(diagnostic) => {
                diagnostics.push(diagnostic);
                loaded.incomplete = true;
                return loaded;
            }
        }
        diagnostics_from(&mut builder, diagnostics);
    }
    diagnostics_from(&mut builder, diagnostics);
    loaded
}

fn diagnostics_from(builder: &mut Builder<'_>, diagnostics: &mut Diagnostics) {
    for d in builder.pending.drain(..) {
        diagnostics.push(d);
    }
}

/// A collection being built.
enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<Node>,
        seen: HashMap<String, Span>,
    },
}

struct Builder<'t> {
    file: FileId,
    text: &'t str,
    /// Byte offset of each character index, when the text is not ASCII.
    char_bytes: Option<Vec<usize>>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    expanded: usize,
    /// Problems that do not stop parsing (duplicate keys).
    pending: Vec<Diagnostic>,
}

impl<'t> Builder<'t> {
    fn new(file: FileId, text: &'t str) -> Self {
        let char_bytes = (!text.is_ascii()).then(|| {
            let mut offsets: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
            offsets.push(text.len());
            offsets
        });
        Builder {
            file,
            text,
            char_bytes,
            stack: Vec::new(),
            anchors: HashMap::new(),
            expanded: 0,
            pending: Vec::new(),
        }
    }

    /// Byte offset of a character index.
    fn byte(&self, char_index: usize) -> usize {
        match &self.char_bytes {
            None => char_index.min(self.text.len()),
            Some(offsets) => offsets.get(char_index).copied().unwrap_or(self.text.len()),
        }
    }

    fn span(&self, span: saphyr_parser::Span) -> Span {
        Span::new(
            self.file,
            self.byte(span.start.index()),
            self.byte(span.end.index()),
        )
    }

    /// saphyr's spans of quoted scalars in flow collections take in the
    /// whitespace after the closing quote; carets must not.
    fn trim_end(&self, span: Span) -> Span {
        let raw = self.text.get(span.range()).unwrap_or("");
        let trimmed = raw.trim_end_matches([' ', '\t', '\r', '\n']);
        Span::new(
            self.file,
            span.start as usize,
            span.start as usize + trimmed.len(),
        )
    }

    fn scan_error(&self, err: &ScanError) -> Diagnostic {
        let mut at = self.byte(err.marker().index());
        // the scanner reports a tab at the token before it; point at the tab
        if err.info().contains("tab")
            && let Some(tab) = self.text.get(at..).and_then(|rest| rest.find('\t'))
        {
            at += tab;
        }
        let end = self.text[at..]
            .chars()
            .next()
            .map_or(at, |c| at + c.len_utf8());
        Diagnostic::error(
            Code::E0001,
            Span::new(self.file, at, end),
            format!("YAML syntax error: {}", err.info()),
        )
        .label("here")
        .help(syntax_help(err.info()))
    }

    /// Handles one event; returns a finished document root.
    fn event(
        &mut self,
        event: Event<'_>,
        span: saphyr_parser::Span,
    ) -> Result<Option<Node>, Diagnostic> {
        let span = self.span(span);
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                let span = self.trim_end(span);
                let node = self.scalar(&value, style, tag.as_deref(), span);
                self.finish(node, anchor)
            }
            Event::Alias(id) => {
                let node = self.alias(id, span)?;
                self.finish(node, 0)
            }
            Event::SequenceStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "seq", span);
                self.open(
                    Frame::Seq {
                        start: span.start as usize,
                        anchor,
                        items: Vec::new(),
                    },
                    span,
                )
            }
            Event::MappingStart(anchor, tag) => {
                self.check_collection_tag(tag.as_deref(), "map", span);
                self.open(
                    Frame::Map {
                        start: span.start as usize,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        seen: HashMap::new(),
                    },
                    span,
                )
            }
            Event::SequenceEnd | Event::MappingEnd => self.close(span),
            _ => Ok(None),
        }
    }

    fn open(&mut self, frame: Frame, span: Span) -> Result<Option<Node>, Diagnostic> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::error(
                Code::E0001,
                span,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .label("too deep")
            .help("manifests never need this much nesting; flatten the structure"));
        }
        self.stack.push(frame);
        Ok(None)
    }

    fn close(&mut self, end_span: Span) -> Result<Option<Node>, Diagnostic> {
        let Some(frame) = self.stack.pop() else {
            return Ok(None);
        };
        let (node, anchor) = match frame {
            Frame::Seq {
                start,
                anchor,
                items,
            } => {
                let end = items
                    .last()
                    .map_or(end_span.end as usize, |n| n.span.end as usize);
                (
                    Node::new(
                        NodeKind::Seq(items),
                        Span::new(self.file, start, end.max(start)),
                    ),
                    anchor,
                )
            }
            Frame::Map {
                start,
                anchor,
                entries,
                ..
            } => {
                let end = entries.last().map_or(end_span.end as usize, |e| {
                    e.value.span.end.max(e.key.span.end) as usize
                });
                (
                    Node::new(
                        NodeKind::Map(entries),
                        Span::new(self.file, start, end.max(start)),
                    ),
                    anchor,
                )
            }
        };
        self.finish(node, anchor)
    }

    /// Places a finished node into its parent, or returns it as a document.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<Option<Node>, Diagnostic> {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => Ok(Some(node)),
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(None)
            }
            Some(Frame::Map {
                entries, key, seen, ..
            }) => {
                let Some(key_node) = key.take() else {
                    *key = Some(node);
                    return Ok(None);
                };
                let Some(text) = key_text(&key_node) else {
                    return Err(Diagnostic::error(
                        Code::E0102,
                        key_node.span,
                        "mapping keys must be plain values",
                    )
                    .label(format!("found {} as a key", key_node.describe()))
                    .help("use a string key"));
                };
                if let Some(first) = seen.get(&text) {
                    self.pending
                        .push(duplicate_key(&text, *first, key_node.span));
                } else {
                    seen.insert(text.clone(), key_node.span);
                    entries.push(Entry {
                        key: Spanned::new(text, key_node.span),
                        key_content: key_node.content_start,
                        value: node,
                    });
                }
                Ok(None)
            }
        }
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<Node, Diagnostic> {
        let Some(target) = self.anchors.get(&id) else {
            return Err(
                Diagnostic::error(Code::E0001, span, "alias to an unknown anchor")
                    .label("no anchor with this name before here"),
            );
        };
        self.expanded += target.size();
        if self.expanded > MAX_ALIAS_EXPANSION {
            return Err(Diagnostic::error(
                Code::E0005,
                span,
                format!("aliases expand to more than {MAX_ALIAS_EXPANSION} values"),
            )
            .label("expansion limit reached here")
            .help(
                "this looks like an alias bomb; write the values out or use fewer nested aliases",
            ));
        }
        let mut node = target.clone();
        node.span = span;
        node.content_start = None;
        Ok(node)
    }

    /// Tags other than the core schema's are reported (every one of them,
    /// parsing goes on) and the tagged value is read as if untagged.
    fn check_collection_tag(&mut self, tag: Option<&Tag>, expected: &str, span: Span) {
        if let Some(t) = tag
            && !(t.is_yaml_core_schema() && t.suffix == expected)
        {
            self.pending.push(unsupported_tag(t, span));
        }
    }

    fn scalar(&mut self, value: &str, style: ScalarStyle, tag: Option<&Tag>, span: Span) -> Node {
        let kind = match tag {
            None if style == ScalarStyle::Plain => resolve_plain(value),
            None => NodeKind::Str(value.to_string()),
            Some(t) => self.tagged(value, t, span),
        };
        let mut node = Node::new(kind, span);
        if node.as_str().is_some() {
            node.content_start = self.content_start(value, span);
        }
        node
    }

    fn tagged(&mut self, value: &str, tag: &Tag, span: Span) -> NodeKind {
        let supported = ["str", "int", "float", "bool", "null"];
        if !tag.is_yaml_core_schema() || !supported.contains(&tag.suffix.as_str()) {
            self.pending.push(unsupported_tag(tag, span));
            return NodeKind::Str(value.to_string());
        }
        let resolved = resolve_plain(value);
        match (tag.suffix.as_str(), resolved) {
            ("str", _) => NodeKind::Str(value.to_string()),
            ("float", NodeKind::Int(i)) => NodeKind::Float(i as f64, value.to_string()),
            (
                "int" | "float" | "bool" | "null",
                r @ (NodeKind::Int(_) | NodeKind::Float(..) | NodeKind::Bool(_) | NodeKind::Null),
            ) if kind_name(&r) == tag.suffix => r,
            (suffix, _) => {
                self.pending.push(
                    Diagnostic::error(
                        Code::E0008,
                        span,
                        format!("`{value}` is not a valid `!!{suffix}`"),
                    )
                    .label(format!("tagged `!!{suffix}`"))
                    .help("remove the tag, or fix the value"),
                );
                NodeKind::Str(value.to_string())
            }
        }
    }

    /// Where the string's content starts in the source, if it is verbatim.
    fn content_start(&self, value: &str, span: Span) -> Option<u32> {
        let raw = self.text.get(span.range())?;
        if raw == value {
            return Some(span.start);
        }
        let inner = raw.get(1..raw.len().saturating_sub(1))?;
        (raw.len() >= 2 && inner == value).then_some(span.start + 1)
    }
}

fn key_text(node: &Node) -> Option<String> {
    match &node.kind {
        NodeKind::Null => Some(String::new()),
        NodeKind::Seq(_) | NodeKind::Map(_) => None,
        _ => node.scalar_text(),
    }
}

fn tag_text(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

fn kind_name(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Int(_) => "int",
        NodeKind::Float(..) => "float",
        NodeKind::Bool(_) => "bool",
        NodeKind::Null => "null",
        _ => "str",
    }
}

fn unsupported_tag(tag: &Tag, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::E0008,
        span,
        format!("unsupported YAML tag `{}`", tag_text(tag)),
    )
    .label("tag not supported")
    .help("svcc reads plain YAML 1.2 core schema: remove the tag (use `!!str` to force a string)")
}

fn syntax_help(info: &str) -> String {
    if info.contains("tab") {
        "YAML indentation must use spaces, not tabs".to_string()
    } else if info.contains("mapping values are not allowed") {
        "a value containing `: ` must be quoted".to_string()
    } else {
        "check the indentation and that quotes and brackets are closed".to_string()
    }
}
