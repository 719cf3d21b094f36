//! A fast path for the plain YAML that manifests are made of.
//!
//! saphyr-parser reads YAML a character at a time through a token queue;
//! with our tree builder on top, it was about half of `svcc check`. Most
//! manifests use a small part of YAML: block mappings and sequences, flow
//! collections on one line, plain and quoted scalars on one line, comments.
//! This reads exactly that part, byte by byte, straight into [`Node`]s.
//!
//! It never decides anything on its own: at the first thing outside that
//! part (a tab, an anchor, a tag, a block scalar, a multi-line scalar or
//! flow collection, an escape, an empty value, a duplicate key, anything
//! odd about indentation, any syntax error) it gives up and the caller
//! parses the file with saphyr, which reports every error as before. When
//! it does finish, its documents are the ones saphyr's path builds, spans
//! included, with no diagnostics: a unit test compares the two on the
//! example manifests and on random YAML-like text.

use super::node::{Document, Entry, Node, NodeKind};
use super::scalar::resolve_plain;
use crate::source::{FileId, Span, Spanned};

/// Deepest nesting this path handles; deeper files go to saphyr (which
/// reports anything past `MAX_DEPTH`).
const DEPTH: usize = 64;

/// Longest key this path handles (saphyr refuses implicit keys over 1,024
/// characters).
const KEY_LEN: usize = 1000;

/// The documents of `text`, or `None` when saphyr's path must read it.
pub(super) fn parse(file: FileId, text: &str) -> Option<Vec<Document>> {
    if !plain_characters(text) {
        return None;
    }
    let mut p = Parser {
        file,
        text,
        b: text.as_bytes(),
        pos: 0,
        depth: 0,
        entries: Vec::new(),
        items: Vec::new(),
    };
    let mut documents = Vec::new();
    let (mut line, mut indent) = p.next_content()?;
    loop {
        // `---` on a line of its own (perhaps with a comment) starts a
        // document; it may be left out before the first
        if indent == 0 && p.marker(line) {
            p.pos = line + 3;
            p.end_of_line()?;
            (line, indent) = p.next_content()?;
            if indent == 0 && p.marker(line) {
                // an empty document
                return None;
            }
        } else if !documents.is_empty() {
            return None;
        }
        p.pos = line + indent;
        documents.push(Document {
            root: p.block(indent)?,
        });
        match p.next_content() {
            None => return Some(documents),
            Some(next) => (line, indent) = next,
        }
    }
}

/// Printable characters and line feeds only: no tabs, carriage returns,
/// control characters, byte order marks or Unicode line separators.
fn plain_characters(text: &str) -> bool {
    let ascii_ok = |b: u8| (b.wrapping_sub(0x20) < 0x5f) | (b == b'\n');
    // whole chunks at a time, which the compiler turns into vector code
    if text
        .as_bytes()
        .chunks(64)
        .all(|chunk| chunk.iter().fold(true, |ok, &b| ok & ascii_ok(b)))
    {
        return true;
    }
    text.chars().all(|c| {
        if c.is_ascii() {
            ascii_ok(c as u8)
        } else {
            matches!(c, '\u{a0}'..='\u{fffd}' | '\u{10000}'..)
                && !matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}')
        }
    })
}

/// A key read from its line, not yet consumed.
struct Key {
    node: Node,
    /// Just after the `:`.
    after: usize,
}

struct Parser<'t> {
    file: FileId,
    text: &'t str,
    b: &'t [u8],
    pos: usize,
    depth: usize,
    /// Entries and items of the collections being read, innermost last:
    /// each collection takes its own off the top when it ends, in a vector
    /// of the right size.
    entries: Vec<Entry>,
    items: Vec<Node>,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.b.get(i).copied().unwrap_or(b'\n')
    }

    /// Whether `i` is a line feed or the end of the text.
    fn eol(&self, i: usize) -> bool {
        i >= self.b.len() || self.b[i] == b'\n'
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.file, start, end)
    }

    /// From the start of a line (`self.pos`), skips blank and comment lines;
    /// the start and indentation of the next line with content, `None` at
    /// the end of the text. Leaves `self.pos` at the start of that line.
    fn next_content(&mut self) -> Option<(usize, usize)> {
        loop {
            let line = self.pos;
            if line >= self.b.len() {
                return None;
            }
            let mut i = line;
            while self.b.get(i) == Some(&b' ') {
                i += 1;
            }
            match self.b.get(i) {
                None => {
                    self.pos = i;
                    return None;
                }
                Some(b'\n') => self.pos = i + 1,
                Some(b'#') => self.pos = self.line_end(i),
                Some(_) => return Some((line, i - line)),
            }
        }
    }

    /// Just past the line feed that ends the line holding `i`.
    fn line_end(&self, i: usize) -> usize {
        match self.b[i.min(self.b.len())..]
            .iter()
            .position(|&c| c == b'\n')
        {
            Some(n) => i + n + 1,
            None => self.b.len(),
        }
    }

    /// After a value on its line: spaces, perhaps a comment after a space,
    /// then the end of the line (consumed).
    fn end_of_line(&mut self) -> Option<()> {
        let mut i = self.pos;
        while self.at(i) == b' ' && i < self.b.len() {
            i += 1;
        }
        if self.eol(i) {
            self.pos = (i + 1).min(self.b.len());
            return Some(());
        }
        if self.b[i] == b'#' && i > self.pos {
            self.pos = self.line_end(i);
            return Some(());
        }
        None
    }

    /// Whether `i` starts a block sequence entry (`-` then a space or the
    /// end of the line).
    fn entry_at(&self, i: usize) -> bool {
        self.at(i) == b'-' && matches!(self.at(i + 1), b' ' | b'\n')
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= DEPTH).then_some(())
    }

    /// Whether the line at `line` starts with `---` or `...`: a document
    /// marker, or text too close to one to read here.
    fn dashes_or_dots(&self, line: usize) -> bool {
        let rest = &self.b[line..];
        rest.starts_with(b"---") || rest.starts_with(b"...")
    }

    /// Whether the line at `line` is a document start: `---` then a space
    /// or the end of the line.
    fn marker(&self, line: usize) -> bool {
        self.b[line..].starts_with(b"---") && matches!(self.at(line + 3), b' ' | b'\n')
    }

    /// A block node whose first line starts at `self.pos`, indented by
    /// `indent`.
    fn block(&mut self, indent: usize) -> Option<Node> {
        if indent == 0 && self.dashes_or_dots(self.pos) {
            return None;
        }
        if self.entry_at(self.pos) {
            self.sequence(indent, false)
        } else {
            self.mapping(indent)
        }
    }

    /// A block mapping whose first key is at `self.pos`, in column `indent`.
    fn mapping(&mut self, indent: usize) -> Option<Node> {
        self.nest()?;
        let start = self.pos;
        let base = self.entries.len();
        loop {
            let key = self.key(self.pos)?;
            self.pos = key.after;
            let value = self.value_after_key(indent)?;
            self.entries.push(entry(key.node, value));
            match self.next_content() {
                None => break,
                Some((line, 0)) if self.marker(line) => break,
                Some((line, n)) if n == indent => {
                    let at = line + n;
                    if self.entry_at(at) || (n == 0 && self.dashes_or_dots(at)) {
                        return None;
                    }
                    self.pos = at;
                }
                Some((_, n)) if n < indent => break,
                Some(_) => return None,
            }
        }
        let entries = self.entries.split_off(base);
        if has_duplicates(&entries) {
            return None;
        }
        self.depth -= 1;
        let end = entries
            .last()
            .map_or(start, |e| e.value.span.end.max(e.key.span.end) as usize);
        Some(Node::new(NodeKind::Map(entries), self.span(start, end)))
    }

    /// The value after `key:` (at `self.pos`) of a mapping in column
    /// `indent`: on the same line, or a block node on the lines below.
    /// Leaves `self.pos` at the start of the line after it.
    fn value_after_key(&mut self, indent: usize) -> Option<Node> {
        let mut i = self.pos;
        while self.at(i) == b' ' && i < self.b.len() {
            i += 1;
        }
        if self.eol(i) || self.b[i] == b'#' {
            self.end_of_line()?;
            let (line, n) = self.next_content()?;
            let at = line + n;
            if n > indent {
                self.pos = at;
                return self.block(n);
            }
            if n == indent && self.entry_at(at) {
                self.pos = at;
                return self.sequence(n, true);
            }
            // an empty value
            return None;
        }
        self.pos = i;
        let node = self.inline()?;
        self.end_of_line()?;
        Some(node)
    }

    /// A block sequence whose first `-` is at `self.pos`, in column `indent`.
    /// `indentless`: the value of a key in the same column (`key:` then
    /// `- item`), which saphyr starts after the first `-`, its spaces and a
    /// comment on its line.
    fn sequence(&mut self, indent: usize, indentless: bool) -> Option<Node> {
        self.nest()?;
        let mut start = self.pos;
        if indentless {
            start += 1;
            while self.at(start) == b' ' && start < self.b.len() {
                start += 1;
            }
            if self.at(start) == b'#' && start < self.b.len() {
                start = self.line_end(start);
                if self.b.get(start - 1) == Some(&b'\n') {
                    start -= 1;
                }
            }
        }
        let base = self.items.len();
        loop {
            // at `-`
            let line = self.pos - indent;
            let mut i = self.pos + 1;
            while self.at(i) == b' ' && i < self.b.len() {
                i += 1;
            }
            let item = if self.eol(i) || self.b[i] == b'#' {
                self.pos += 1;
                self.end_of_line()?;
                let (next, n) = self.next_content()?;
                if n <= indent {
                    // an empty item
                    return None;
                }
                self.pos = next + n;
                self.block(n)?
            } else if self.entry_at(i) {
                return None;
            } else if self.key(i).is_some() {
                // `- key: value`: a mapping in the column of its first key
                self.pos = i;
                self.mapping(i - line)?
            } else {
                self.pos = i;
                let node = self.inline()?;
                self.end_of_line()?;
                node
            };
            self.items.push(item);
            match self.next_content() {
                None => break,
                Some((line, n)) if n == indent => {
                    if !self.entry_at(line + n) {
                        // the next key of a mapping in the same column
                        break;
                    }
                    self.pos = line + n;
                }
                Some((_, n)) if n < indent => break,
                Some(_) => return None,
            }
        }
        let items = self.items.split_off(base);
        self.depth -= 1;
        let end = items.last().map_or(start, |n| n.span.end as usize);
        Some(Node::new(NodeKind::Seq(items), self.span(start, end)))
    }

    /// A key at `at` (plain or quoted, on one line) directly followed by
    /// `:` and a space or the end of the line.
    fn key(&self, at: usize) -> Option<Key> {
        let (node, end) = match self.at(at) {
            b'"' | b'\'' => self.quoted(at)?,
            _ => {
                let (end, stop, stop_at) = self.plain_extent(at, false)?;
                if stop != Stop::Colon || stop_at != end {
                    return None;
                }
                (self.plain(at, end), end)
            }
        };
        if end - at > KEY_LEN || self.at(end) != b':' || !matches!(self.at(end + 1), b' ' | b'\n') {
            return None;
        }
        Some(Key {
            node,
            after: end + 1,
        })
    }

    /// A value on the current line in block context: a flow collection, a
    /// quoted or a plain scalar.
    fn inline(&mut self) -> Option<Node> {
        match self.at(self.pos) {
            b'[' | b'{' => self.flow(),
            b'"' | b'\'' => {
                let (node, end) = self.quoted(self.pos)?;
                self.pos = end;
                Some(node)
            }
            _ => {
                let start = self.pos;
                let (end, stop, _) = self.plain_extent(start, false)?;
                if stop == Stop::Colon {
                    return None;
                }
                self.pos = end;
                Some(self.plain(start, end))
            }
        }
    }

    /// A flow collection on one line, at `self.pos`; leaves `self.pos`
    /// after its closing bracket.
    fn flow(&mut self) -> Option<Node> {
        self.nest()?;
        let start = self.pos;
        let close = if self.b[start] == b'[' { b']' } else { b'}' };
        self.pos += 1;
        self.spaces();
        let node = if self.at(self.pos) == close {
            self.pos += 1;
            let kind = if close == b']' {
                NodeKind::Seq(Vec::new())
            } else {
                NodeKind::Map(Vec::new())
            };
            // saphyr ends an empty collection where its closing token
            // ends: after the spaces behind it, and a comment after those
            let mut end = self.pos;
            while self.at(end) == b' ' && end < self.b.len() {
                end += 1;
            }
            if self.at(end) == b'#' && end > self.pos && end < self.b.len() {
                end = self.line_end(end);
                if self.b.get(end - 1) == Some(&b'\n') {
                    end -= 1;
                }
            }
            Node::new(kind, self.span(start, end))
        } else if close == b']' {
            let base = self.items.len();
            loop {
                let item = self.flow_node()?;
                self.items.push(item);
                self.spaces();
                if !self.flow_next(close)? {
                    break;
                }
            }
            let items = self.items.split_off(base);
            let end = items.last().map_or(start, |n| n.span.end as usize);
            Node::new(NodeKind::Seq(items), self.span(start, end))
        } else {
            let base = self.entries.len();
            loop {
                let key = match self.at(self.pos) {
                    b'"' | b'\'' => {
                        let (node, end) = self.quoted(self.pos)?;
                        self.pos = end;
                        node
                    }
                    _ => {
                        let start = self.pos;
                        let (end, stop, stop_at) = self.plain_extent(start, true)?;
                        if stop != Stop::Colon || stop_at != end {
                            return None;
                        }
                        self.pos = end;
                        self.plain(start, end)
                    }
                };
                if self.at(self.pos) != b':' || self.at(self.pos + 1) != b' ' {
                    return None;
                }
                self.pos += 1;
                self.spaces();
                let value = self.flow_node()?;
                self.entries.push(entry(key, value));
                self.spaces();
                if !self.flow_next(close)? {
                    break;
                }
            }
            let entries = self.entries.split_off(base);
            if has_duplicates(&entries) {
                return None;
            }
            let end = entries
                .last()
                .map_or(start, |e| e.value.span.end.max(e.key.span.end) as usize);
            Node::new(NodeKind::Map(entries), self.span(start, end))
        };
        self.depth -= 1;
        Some(node)
    }

    /// After a flow item: `,` and more (true) or the closing bracket
    /// (false); anything else gives up.
    fn flow_next(&mut self, close: u8) -> Option<bool> {
        match self.at(self.pos) {
            b',' => {
                self.pos += 1;
                self.spaces();
                // a trailing comma or an empty entry
                if matches!(self.at(self.pos), b',' | b']' | b'}') {
                    return None;
                }
                Some(true)
            }
            c if c == close => {
                self.pos += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// A value inside a flow collection.
    fn flow_node(&mut self) -> Option<Node> {
        match self.at(self.pos) {
            b'[' | b'{' => self.flow(),
            b'"' | b'\'' => {
                let (node, end) = self.quoted(self.pos)?;
                self.pos = end;
                Some(node)
            }
            _ => {
                let start = self.pos;
                let (end, stop, _) = self.plain_extent(start, true)?;
                if stop == Stop::Colon {
                    return None;
                }
                self.pos = end;
                Some(self.plain(start, end))
            }
        }
    }

    fn spaces(&mut self) {
        while self.pos < self.b.len() && self.b[self.pos] == b' ' {
            self.pos += 1;
        }
    }

    /// A quoted scalar on one line, without escapes, at `at`; the node and
    /// the position after the closing quote.
    fn quoted(&self, at: usize) -> Option<(Node, usize)> {
        let quote = self.b[at];
        let rest = &self.b[at + 1..];
        let n = rest
            .iter()
            .position(|&c| c == quote || c == b'\n' || c == b'\\')?;
        if rest[n] != quote || (quote == b'\'' && rest.get(n + 1) == Some(&b'\'')) {
            return None;
        }
        let end = at + 1 + n + 1;
        let value = self.text.get(at + 1..end - 1)?;
        let mut node = Node::new(NodeKind::Str(value.to_string()), self.span(at, end));
        node.content_start = Some(at as u32 + 1);
        Some((node, end))
    }

    /// A plain scalar starting at `at`: the end of its text (trailing
    /// spaces excluded), what stopped it and where. `flow`: inside a flow
    /// collection, where `,[]{}` end it too.
    fn plain_extent(&self, at: usize, flow: bool) -> Option<(usize, Stop, usize)> {
        let first = self.at(at);
        let next = self.at(at + 1);
        let starts_ok = match first {
            b'-' => next != b' ' && next != b'\n' && !(flow && is_flow(next)),
            b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|'
            | b'>' | b'\'' | b'"' | b'%' | b'@' | b'`' | b' ' | b'\n' => false,
            _ => at < self.b.len(),
        };
        if !starts_ok {
            return None;
        }
        let b = self.b;
        let stops = |c: u8| matches!(c, b'\n' | b' ' | b':') || (flow && is_flow(c));
        let mut end = at + 1;
        let mut i = at + 1;
        loop {
            // the bytes that cannot end the scalar, at full speed
            let word = i;
            while i < b.len() && !stops(b[i]) {
                i += 1;
            }
            if i > word {
                end = i;
            }
            let Some(&c) = b.get(i) else {
                return Some((end, Stop::Eol, i));
            };
            match c {
                b'\n' => return Some((end, Stop::Eol, i)),
                b' ' => {
                    while self.at(i) == b' ' && i < b.len() {
                        i += 1;
                    }
                    if self.at(i) == b'#' && i < b.len() {
                        return Some((end, Stop::Comment, i));
                    }
                    // saphyr refuses `-` then `,[]{}` after a space in flow
                    if flow && self.at(i) == b'-' && is_flow(self.at(i + 1)) {
                        return None;
                    }
                }
                b':' => {
                    let n = self.at(i + 1);
                    if n == b' ' || self.eol(i + 1) || (flow && is_flow(n)) {
                        return Some((end, Stop::Colon, i));
                    }
                    i += 1;
                    end = i;
                }
                _ => return Some((end, Stop::Flow, i)),
            }
        }
    }

    /// A plain scalar node, resolved by the YAML 1.2 core schema.
    fn plain(&self, start: usize, end: usize) -> Node {
        let value = &self.text[start..end];
        let kind = resolve_plain(value);
        let mut node = Node::new(kind, self.span(start, end));
        if node.as_str().is_some() {
            node.content_start = Some(start as u32);
        }
        node
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stop {
    Eol,
    Comment,
    Colon,
    Flow,
}

fn is_flow(c: u8) -> bool {
    matches!(c, b',' | b'[' | b']' | b'{' | b'}')
}

/// The entry for a key node, as the saphyr path makes it.
fn entry(key: Node, value: Node) -> Entry {
    let span = key.span;
    let key_content = key.content_start;
    let text = match key.kind {
        NodeKind::Str(s) => s,
        NodeKind::Null => String::new(),
        NodeKind::Int(i) => i.to_string(),
        NodeKind::Float(_, raw) => raw,
        NodeKind::Bool(b) => b.to_string(),
        NodeKind::Seq(_) | NodeKind::Map(_) => String::new(),
    };
    Entry {
        key: Spanned::new(text, span),
        key_content,
        value,
    }
}

/// Whether two entries have the same key (saphyr's path reports those).
fn has_duplicates(entries: &[Entry]) -> bool {
    if entries.len() <= 16 {
        return entries
            .iter()
            .enumerate()
            .any(|(i, e)| entries[..i].iter().any(|f| f.key.value == e.key.value));
    }
    let mut keys: Vec<&str> = entries.iter().map(|e| e.key.value.as_str()).collect();
    keys.sort_unstable();
    keys.windows(2).any(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostics;
    use proptest::prelude::*;

    /// Checks the fast path against saphyr's on `text`; whether it took it.
    fn agrees(text: &str) -> bool {
        let file = FileId(0);
        let Some(fast) = parse(file, text) else {
            return false;
        };
        let mut diagnostics = Diagnostics::new();
        let slow = super::super::yaml::load_with_saphyr(file, text, &mut diagnostics);
        assert!(
            diagnostics.is_empty(),
            "the fast path took a file with diagnostics:\n{text}"
        );
        assert!(!slow.incomplete, "{text}");
        // Debug text, so that NaN equals NaN
        let fast: Vec<String> = fast.iter().map(|d| format!("{:?}", d.root)).collect();
        let slow: Vec<String> = slow
            .documents
            .iter()
            .map(|d| format!("{:?}", d.root))
            .collect();
        if fast != slow {
            let (f, s) = (fast.join("\n"), slow.join("\n"));
            let at = f
                .bytes()
                .zip(s.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let around = |t: &str| {
                t.get(at.saturating_sub(300)..(at + 100).min(t.len()))
                    .unwrap_or("")
                    .to_string()
            };
            panic!(
                "fast path differs on:\n{text:?}\nfast:   …{}\nsaphyr: …{}",
                around(&f),
                around(&s)
            );
        }
        true
    }

    const EXAMPLES: [&str; 5] = [
        include_str!("../../../../examples/shop/manifests/types.yaml"),
        include_str!("../../../../examples/shop/manifests/deployments.yaml"),
        include_str!("../../../../examples/shop/manifests/pricing.yaml"),
        include_str!("../../../../examples/shop/manifests/emails.yaml"),
        include_str!("../../../../examples/email-verification/manifests/deployment.yaml"),
    ];

    #[test]
    fn example_manifests_take_the_fast_path() {
        for text in EXAMPLES {
            assert!(agrees(text), "{text}");
        }
    }

    #[test]
    fn the_plain_part_of_yaml() {
        let texts = [
            "a: 1\nb: x y\nc: \"q\"\nd: 'q'\n",
            "a:\n  b:\n    - 1\n    - two\n  c: [x, {k: v}, [], {}]\n",
            "a:\n- x\n- y: 1\n  z: 2\nb: 3",
            "- a: 1\n  b: [1, 2]\n-   c: {}\n- d\n",
            "# top\n\na: 1 # after\n  # indented comment\nb: {} # c\nc: []  \n",
            "200: ok\n1.5: f\ntrue: t\n~: n\n0x10: h\n\"q\": q\n'x y': e\n",
            "a: -1\nb: +2\nc: .5\nd: 1e3\ne: .inf\nf: -.NaN\ng: null\nh: No\n",
            "a: x:y\nb: x#y\nc: 'a: b'\nd: \"# x\"\ne: GET /a/{id}\nf: é…\n",
            "---\na: 1\n--- # second\nb: 2\n",
            "  a: 1\n  b:\n    c: 2\n",
            "a: { k: [ a b , c ], j: {} }\nb: [ {}, [ ] ]\n",
        ];
        for text in texts {
            assert!(agrees(text), "{text}");
        }
    }

    #[test]
    fn everything_else_goes_to_saphyr() {
        let texts = [
            "",
            "# only a comment\n",
            "a:\n",
            "a:\nb: 1\n",
            "- \n- x\n",
            "a: 1\na: 2\n",
            "a: {k: 1, k: 2}\n",
            "10: a\n010: b\n",
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: |\n  text\n",
            "a: >-\n  text\n",
            "a: multi\n  line\n",
            "a: \"multi\n  line\"\n",
            "a: [1,\n  2]\n",
            "a: \"esc\\n\"\n",
            "a: 'it''s'\n",
            "a:\tb\n",
            "a: 1\r\n",
            "\u{feff}a: 1\n",
            "a: b: c\n",
            "a : 1\n",
            "? a\n: b\n",
            "- - a\n",
            "a: [b,]\n",
            "a: {b}\n",
            "a: [b: c]\n",
            "a: 1\n  b: 2\n",
            "a:\n    b: 1\n  c: 2\n",
            "a: 1\n---\n---\nb: 2\n",
            "a: 1\n...\n",
            "%YAML 1.2\n---\na: 1\n",
            "scalar\n",
            "[a, b]\n",
            "a: \"x\"y\n",
            "a: []#c\n",
            "a: @x\n",
            "a: `x`\n",
        ];
        for text in texts {
            assert!(!agrees(text), "{text:?} took the fast path");
        }
    }

    /// YAML-like text: lines of keys, entries, values and comments at
    /// random indentation, from pieces near the edges of the fast path.
    fn yamlish() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("a"),
            Just("b c"),
            Just("200"),
            Just("1.0"),
            Just("true"),
            Just("~"),
            Just("0x1F"),
            Just("\"q\""),
            Just("'s'"),
            Just("''"),
            Just("a:b"),
            Just("-x"),
            Just("x#y"),
            Just("GET /a/{id}"),
            Just("é"),
        ];
        let value = prop_oneof![
            Just(""),
            Just("x"),
            Just("1"),
            Just("-1"),
            Just("1e3"),
            Just(".5"),
            Just("null"),
            Just("True"),
            Just("x y  "),
            Just("a # c"),
            Just("a#c"),
            Just("a: b"),
            Just("a:b"),
            Just("\"dq\""),
            Just("'sq'"),
            Just("\"a\\nb\""),
            Just("'it''s'"),
            Just("\"open"),
            Just("[a, b]"),
            Just("[ a , [] ]"),
            Just("{k: v}"),
            Just("{ k: {} }"),
            Just("{}"),
            Just("[]"),
            Just("[] # c"),
            Just("{}  "),
            Just("[{}, [x]]"),
            Just("[a, b,]"),
            Just("{a}"),
            Just("[a: b]"),
            Just("{\"k\": v}"),
            Just("{\"k\":v}"),
            Just("[a,"),
            Just("&x a"),
            Just("*x"),
            Just("!!str a"),
            Just("|"),
            Just(">-"),
            Just("- x"),
            Just("-"),
            Just("é…"),
            Just("\t"),
            Just("@x"),
        ];
        let line = prop_oneof![
            4 => (key.clone(), value.clone()).prop_map(|(k, v)| format!("{k}: {v}")),
            2 => key.clone().prop_map(|k| format!("{k}:")),
            2 => value.clone().prop_map(|v| format!("- {v}")),
            2 => (key, value.clone()).prop_map(|(k, v)| format!("- {k}: {v}")),
            1 => Just("-".to_string()),
            1 => Just("# comment".to_string()),
            1 => Just(String::new()),
            1 => Just("---".to_string()),
            1 => Just("...".to_string()),
            1 => value.prop_map(str::to_string),
        ];
        let indented = (0usize..7, line).prop_map(|(n, l)| format!("{}{l}", " ".repeat(n)));
        (proptest::collection::vec(indented, 1..12), any::<bool>()).prop_map(|(lines, nl)| {
            let mut text = lines.join("\n");
            if nl {
                text.push('\n');
            }
            text
        })
    }

    /// One of the example manifests with a few characters changed.
    fn edited_example() -> impl Strategy<Value = String> {
        let edit = (
            any::<prop::sample::Index>(),
            0u8..3,
            prop::sample::select(
                &[
                    " ", ":", "-", "#", "[", "]", "{", "}", ",", "'", "\"", "\n", "  ", "x", "---",
                ][..],
            ),
        );
        (
            prop::sample::select(&EXAMPLES[..]),
            proptest::collection::vec(edit, 1..4),
        )
            .prop_map(|(text, edits)| {
                let mut text = text.to_string();
                for (at, kind, piece) in edits {
                    let mut i = at.index(text.len() + 1);
                    while !text.is_char_boundary(i) {
                        i -= 1;
                    }
                    match kind {
                        0 => text.insert_str(i, piece),
                        1 => {
                            if let Some(c) = text[i..].chars().next() {
                                text.replace_range(i..i + c.len_utf8(), "");
                            }
                        }
                        _ => {
                            if let Some(c) = text[i..].chars().next() {
                                text.replace_range(i..i + c.len_utf8(), piece);
                            }
                        }
                    }
                }
                text
            })
    }

    /// A random document tree, each collection with a seed for how it is
    /// written.
    #[derive(Clone, Debug)]
    enum Tree {
        Scalar(&'static str),
        Map(u8, Vec<(&'static str, Tree)>),
        Seq(u8, Vec<Tree>),
    }

    const SCALARS: [&str; 34] = [
        "x",
        "a b",
        "1",
        "-1",
        "+2",
        "1e3",
        ".5",
        "0x1F",
        "0o7",
        "null",
        "~",
        "True",
        "false",
        "No",
        "2025-10-10",
        "x:y",
        "x#y",
        "GET /a/{id}",
        "a]b",
        "-x",
        "é…",
        "\"dq\"",
        "'sq'",
        "\"\"",
        "''",
        "\"a: b\"",
        "'# c'",
        "\"x\\ny\"",
        "a # c",
        "a: b",
        "[a,",
        "&x a",
        "|",
        "@x",
    ];
    const KEYS: [&str; 16] = [
        "a", "b", "c", "d e", "200", "1.0", "true", "~", "0x1F", "\"q\"", "'s'", "x:y", "x#y",
        "-k", "é", "a",
    ];

    fn tree() -> impl Strategy<Value = Tree> {
        let leaf = prop::sample::select(&SCALARS[..]).prop_map(Tree::Scalar);
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                (
                    any::<u8>(),
                    proptest::collection::vec(
                        (prop::sample::select(&KEYS[..]), inner.clone()),
                        0..5
                    )
                )
                    .prop_map(|(seed, entries)| Tree::Map(seed, entries)),
                (any::<u8>(), proptest::collection::vec(inner, 0..5))
                    .prop_map(|(seed, items)| Tree::Seq(seed, items)),
            ]
        })
    }

    /// The tree in flow style, on one line.
    fn flow_text(tree: &Tree, out: &mut String) {
        match tree {
            Tree::Scalar(s) => out.push_str(s),
            Tree::Map(seed, entries) => {
                out.push_str(if seed & 1 == 0 { "{" } else { "{ " });
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if seed & 2 == 0 { ", " } else { " ,  " });
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    flow_text(v, out);
                }
                out.push_str(if seed & 4 == 0 { "}" } else { " }" });
            }
            Tree::Seq(seed, items) => {
                out.push_str(if seed & 1 == 0 { "[" } else { "[ " });
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(if seed & 2 == 0 { ", " } else { " , " });
                    }
                    flow_text(v, out);
                }
                out.push_str(if seed & 4 == 0 { "]" } else { " ]" });
            }
        }
    }

    /// End of a line, perhaps with spaces or a comment, perhaps followed by
    /// blank and comment lines.
    fn line_end(seed: u8, out: &mut String) {
        match seed % 7 {
            0 => out.push_str("  "),
            1 => out.push_str(" # note"),
            2 => out.push_str("#x"),
            _ => {}
        }
        out.push('\n');
        match (seed / 7) % 6 {
            0 => out.push('\n'),
            1 => out.push_str("   # between\n"),
            2 => out.push_str("  \n"),
            _ => {}
        }
    }

    /// A value after `key:` or `- ` in block style, at `indent`.
    fn value_text(tree: &Tree, indent: usize, key: bool, out: &mut String) {
        let (seed, empty) = match tree {
            Tree::Scalar(s) => {
                out.push(' ');
                out.push_str(s);
                line_end(s.len() as u8, out);
                return;
            }
            Tree::Map(seed, e) => (*seed, e.is_empty()),
            Tree::Seq(seed, i) => (*seed, i.is_empty()),
        };
        if empty || seed % 5 == 0 {
            out.push(' ');
            flow_text(tree, out);
            line_end(seed / 5, out);
            return;
        }
        let step = 1 + (seed as usize / 5) % 3;
        if !key && seed % 5 == 1 {
            // `- key: value` / `- - x`: the collection on the entry's line
            out.push(' ');
            block_text(tree, indent + 2, true, out);
            return;
        }
        line_end(seed / 3, out);
        let child = if key && matches!(tree, Tree::Seq(..)) && seed % 5 == 2 {
            indent
        } else {
            indent + step
        };
        block_text(tree, child, false, out);
    }

    /// A collection in block style at `indent`; `inline`: its first line
    /// is already indented.
    fn block_text(tree: &Tree, indent: usize, inline: bool, out: &mut String) {
        let pad = " ".repeat(indent);
        match tree {
            Tree::Scalar(s) => {
                out.push_str(&pad);
                out.push_str(s);
                out.push('\n');
            }
            Tree::Map(_, entries) => {
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 || !inline {
                        out.push_str(&pad);
                    }
                    out.push_str(k);
                    out.push(':');
                    value_text(v, indent, true, out);
                }
            }
            Tree::Seq(_, items) => {
                for (i, v) in items.iter().enumerate() {
                    if i > 0 || !inline {
                        out.push_str(&pad);
                    }
                    out.push('-');
                    value_text(v, indent, false, out);
                }
            }
        }
    }

    fn rendered() -> impl Strategy<Value = String> {
        (tree(), 0usize..3, any::<bool>()).prop_map(|(tree, indent, marker)| {
            let mut out = String::new();
            if marker {
                out.push_str("---\n");
            }
            block_text(&tree, indent, false, &mut out);
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn yamlish_text_reads_as_saphyr_reads_it(text in yamlish()) {
            agrees(&text);
        }

        #[test]
        fn rendered_trees_read_as_saphyr_reads_them(text in rendered()) {
            agrees(&text);
        }

        #[test]
        fn edited_examples_read_as_saphyr_reads_them(text in edited_example()) {
            agrees(&text);
        }
    }
}
