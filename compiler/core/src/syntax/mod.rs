//! The mini-languages written inside manifest strings.
//!
//! Type expressions, route keys, rates, durations, semantic references and
//! `when` conditions have one pest grammar each; job schedules (`cron`) are
//! read by hand, field by field, for their many specific messages, and
//! paths into saga data (`path`) are split on their dots. Every parser
//! works on the string alone and reports errors as byte ranges inside it;
//! lowering calls them, once per value, and maps those ranges back to the
//! source file, so an error points at the offending character, not at the
//! whole value, and nothing after lowering reads these strings again.

pub mod cron;
pub mod duration;
pub mod path;
pub mod rate;
pub mod reference;
pub mod route;
pub mod type_expr;
pub mod when;

use pest::RuleType;
use pest::error::{ErrorVariant, InputLocation};
use std::ops::Range;

/// A problem inside a mini-language string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte range inside the string.
    pub range: Range<usize>,
    /// What is wrong.
    pub message: String,
    /// Label at the range.
    pub label: String,
    /// A fix, where one is known.
    pub help: Option<String>,
}

impl SyntaxError {
    /// An error at `range`.
    pub fn new(range: Range<usize>, message: impl Into<String>, label: impl Into<String>) -> Self {
        SyntaxError {
            range,
            message: message.into(),
            label: label.into(),
            help: None,
        }
    }

    /// With a help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Turns a pest error into a [`SyntaxError`] with friendly rule names.
pub(crate) fn from_pest<R: RuleType>(
    err: &pest::error::Error<R>,
    input: &str,
    what: &str,
    describe: impl Fn(&R) -> Option<&'static str>,
) -> SyntaxError {
    let start = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((a, _)) => a,
    }
    .min(input.len());
    let end = input[start..]
        .chars()
        .next()
        .map_or(start, |c| start + c.len_utf8());
    let mut expected: Vec<&'static str> = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().filter_map(&describe).collect()
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    expected.sort_unstable();
    expected.dedup();
    let found = match input[start..].chars().next() {
        Some(c) => format!("`{c}`"),
        None => "the end".to_string(),
    };
    let label = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}", join_or(&expected))
    };
    let message = if start >= input.len() {
        format!("invalid {what}: `{input}` is incomplete")
    } else {
        format!("invalid {what}: unexpected {found}")
    };
    SyntaxError::new(start..end, message, label)
}

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn join_or(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}
