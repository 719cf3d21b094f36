//! Paths into a saga's data: `input.total.amount`, `steps.charge.output.id`.
//!
//! Why it exists: a step's `input:` is such a path, and so is every field
//! a `when` condition reads. Both are read into the same [`DataPath`]
//! during lowering, each segment with its span, so that `check::paths`
//! resolves them against the types and the Rust emitter turns them into
//! `rt::sagas::at(...)` without splitting a string again.

use crate::source::{Span, Spanned};
use std::ops::Range;

/// A dotted path of names, each with where it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct DataPath {
    /// `input`, `total`, `amount`.
    pub segments: Vec<Spanned<String>>,
}

impl DataPath {
    /// The path as written: its segments joined by `.`.
    pub fn text(&self) -> String {
        self.names().collect::<Vec<_>>().join(".")
    }

    /// The segments' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.value.as_str())
    }

    /// The span from the first segment to the last.
    pub fn span(&self) -> Option<Span> {
        let first = self.segments.first()?.span;
        let last = self.segments.last()?.span;
        Some(first.to(last))
    }
}

/// Reads `input.a.b` (names of letters, digits, `_` and `-`, not starting
/// with a digit or `-`, joined by single dots); `to_span` maps byte ranges
/// of `text` to source spans. `None` when `text` is not such a path.
pub fn parse(text: &str, to_span: &dyn Fn(Range<usize>) -> Span) -> Option<DataPath> {
    let mut segments = Vec::new();
    let mut start = 0;
    for part in text.split('.') {
        let ok = part
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return None;
        }
        segments.push(Spanned::new(
            part.to_string(),
            to_span(start..start + part.len()),
        ));
        start += part.len() + 1;
    }
    Some(DataPath { segments })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn at(r: Range<usize>) -> Span {
        Span::new(FileId(0), r.start + 10, r.end + 10)
    }

    #[test]
    fn segments_keep_their_spans() {
        let Some(path) = parse("steps.reserve-stock.output.id", &at) else {
            panic!("not read");
        };
        assert_eq!(path.text(), "steps.reserve-stock.output.id");
        let spans: Vec<_> = path.segments.iter().map(|s| s.span.range()).collect();
        assert_eq!(spans, [10..15, 16..29, 30..36, 37..39]);
        assert_eq!(path.span().map(Span::range), Some(10..39));
    }

    #[test]
    fn only_dotted_names_are_paths() {
        for bad in [
            "", "input.", ".input", "input..a", "input a", "1input", "input.-a",
        ] {
            assert!(parse(bad, &at).is_none(), "{bad:?} was read");
        }
    }
}
