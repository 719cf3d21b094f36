//! The spanned document tree that both YAML and TOML load into.
//!
//! Lowering reads only this tree, so YAML and TOML manifests are checked by
//! exactly the same code, and every value keeps the span of the token it was
//! read from.

use crate::source::{Span, Spanned};

/// A value in a manifest document.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What it is.
    pub kind: NodeKind,
    /// Where it was written (quotes included for quoted strings).
    pub span: Span,
    /// For strings whose text appears verbatim in the source: the byte offset
    /// where the content starts. Lets a mini-language error point at the
    /// exact character inside the string.
    pub content_start: Option<u32>,
}

/// The kinds of value.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number, with its source text kept for exact decimals.
    Float(f64, String),
    /// A string (also TOML dates, kept as written).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<Entry>),
}

/// One `key: value` of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key as text.
    pub key: Spanned<String>,
    /// Where the key's text starts in the source, when it is verbatim.
    pub key_content: Option<u32>,
    /// The value.
    pub value: Node,
}

impl Node {
    /// A node with no verbatim string content.
    pub fn new(kind: NodeKind, span: Span) -> Node {
        Node {
            kind,
            span,
            content_start: None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string with its span.
    /// The span is the string's content (without quotes) when it is
    /// verbatim in the source, so carets sit under the text itself.
    pub fn as_spanned_str(&self) -> Option<Spanned<String>> {
        let s = self.as_str()?;
        Some(Spanned::new(s.to_string(), self.sub_span(0..s.len())))
    }

    /// The entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value of `key`, if this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|e| e.key.value == key)
            .map(|e| &e.value)
    }

    /// The entry of `key`, if this is a mapping that has it.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.as_map()?.iter().find(|e| e.key.value == key)
    }

    /// A scalar as text (numbers and booleans as written), for places where
    /// a user may write `version: 1` and mean the string `"1"`.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(i) => Some(i.to_string()),
            NodeKind::Float(_, raw) => Some(raw.clone()),
            NodeKind::Bool(b) => Some(b.to_string()),
            NodeKind::Null | NodeKind::Seq(_) | NodeKind::Map(_) => None,
        }
    }

    /// "a string", "a list", ... for messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(..) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }

    /// The span of bytes `range` of this string's content, or the whole
    /// node's span when the content is not verbatim in the source.
    pub fn sub_span(&self, range: std::ops::Range<usize>) -> Span {
        let Some(start) = self.content_start else {
            return self.span;
        };
        let len = self.as_str().map_or(0, str::len);
        let a = range.start.min(len);
        let b = range.end.clamp(a, len);
        let base = start as usize;
        Span::new(self.span.file, base + a, base + b)
    }

    /// The value as JSON (for validating manifests against the editor schema).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Null => Value::Null,
            NodeKind::Bool(b) => Value::Bool(*b),
            NodeKind::Int(i) => Value::from(*i),
            NodeKind::Float(f, _) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            NodeKind::Str(s) => Value::String(s.clone()),
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.value.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Number of nodes in this subtree (used to bound alias expansion).
    pub fn size(&self) -> usize {
        let mut total = 0;
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            total += 1;
            match &n.kind {
                NodeKind::Seq(items) => stack.extend(items.iter()),
                NodeKind::Map(entries) => stack.extend(entries.iter().map(|e| &e.value)),
                _ => {}
            }
        }
        total
    }
}

impl Entry {
    /// The key as a string node, so mini-language errors in keys (route
    /// keys, event names) point inside them like errors in values do.
    pub fn key_node(&self) -> Node {
        Node {
            kind: NodeKind::Str(self.key.value.clone()),
            span: self.key.span,
            content_start: self.key_content,
        }
    }
}

/// One manifest document: a file may hold several (YAML `---`).
#[derive(Clone, Debug)]
pub struct Document {
    /// Its root value.
    pub root: Node,
}
