//! `when` expressions: `input.total.amount >= 1000 and not input.express`.
//!
//! The parser builds an expression tree whose every node keeps its byte
//! range inside the string; the type checker (in `check::when`) uses those
//! ranges to point at the exact characters at fault.

use super::{SyntaxError, from_pest};
use pest::Parser;
use pest::iterators::Pair;
use pest_derive::Parser;
use std::ops::Range;

#[derive(Parser)]
#[grammar = "syntax/when.pest"]
struct WhenParser;

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// Whether the operator needs an order (`<`, `<=`, `>`, `>=`).
    pub fn is_ordering(self) -> bool {
        matches!(self, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
    }
}

/// An expression with its byte range in the `when` string.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub range: Range<usize>,
}

/// The forms of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `a or b or c`
    Or(Vec<Expr>),
    /// `a and b`
    And(Vec<Expr>),
    /// `not a`
    Not(Box<Expr>),
    /// `a == b`, with the operator's range.
    Compare(Box<Expr>, CmpOp, Range<usize>, Box<Expr>),
    /// `input.total.amount`: segments with their ranges.
    Path(Vec<(String, Range<usize>)>),
    /// `"text"`
    Str(String),
    /// `42`, `0.5`
    Num(f64),
    /// `true`, `false`
    Bool(bool),
    /// `null`
    Null,
}

/// Parses a `when` expression.
pub fn parse(text: &str) -> Result<Expr, SyntaxError> {
    // before the grammar, which recurses once per level
    too_deep(text)?;
    let mut pairs = WhenParser::parse(Rule::when, text).map_err(|e| {
        from_pest(&e, text, "`when` expression", |r| match r {
            Rule::expr | Rule::and_expr | Rule::unary | Rule::comparison | Rule::operand => {
                Some("a value")
            }
            Rule::string => Some("a string"),
            Rule::number => Some("a number"),
            Rule::path | Rule::segment => Some("a field path"),
            Rule::cmp_op => Some("a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)"),
            Rule::and_op | Rule::or_op => Some("`and` or `or`"),
            Rule::close => Some("`)`"),
            Rule::EOI => Some("the end"),
            _ => None,
        })
        .help("write a condition like `input.total.amount >= 1000 and input.country == \"DE\"`")
    })?;
    let expr = pairs
        .next()
        .and_then(|w| w.into_inner().next())
        .ok_or_else(|| {
            SyntaxError::new(
                0..0,
                "invalid `when` expression: empty",
                "no condition here",
            )
        })?;
    Ok(build(expr))
}

/// How deeply parentheses and `not`s may nest in a `when` expression, as
/// type expressions nest at most 32 levels
/// ([`crate::syntax::type_expr::MAX_DEPTH`]): the grammar, the type
/// checker and the emitter each recurse once per level, and about 1,000
/// levels of `((...))` overflowed the stack of `svcc check`.
pub const MAX_DEPTH: usize = 32;

/// Refuses nesting past [`MAX_DEPTH`]: open parentheses plus the `not`s
/// waiting for their operand, outside string literals.
fn too_deep(text: &str) -> Result<(), SyntaxError> {
    let bytes = text.as_bytes();
    let (mut parens, mut nots, mut i) = (0usize, 0usize, 0usize);
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while let Some(&b) = bytes.get(i) {
        let start = i;
        i += 1;
        match b {
            b'"' | b'\'' => {
                // a string literal: skip to its end
                while bytes.get(i).is_some_and(|&c| c != b) {
                    i += 1;
                }
                i += 1;
                nots = 0;
            }
            b'(' => parens += 1,
            b')' => {
                parens = parens.saturating_sub(1);
                nots = 0;
            }
            _ if word(b) => {
                while bytes
                    .get(i)
                    .is_some_and(|&c| word(c) || c == b'.' || c == b'-')
                {
                    i += 1;
                }
                if text.get(start..i) == Some("not") {
                    nots += 1;
                } else if !matches!(text.get(start..i), Some("and" | "or")) {
                    nots = 0;
                }
            }
            _ => {}
        }
        if parens + nots > MAX_DEPTH {
            return Err(SyntaxError::new(
                start..i.min(text.len()),
                format!("`when` expression nested more than {MAX_DEPTH} levels deep"),
                format!("level {} starts here", MAX_DEPTH + 1),
            )
            .help("split the condition: `and`/`or` chains of any length need no parentheses, and `not not x` is `x`"));
        }
    }
    Ok(())
}

fn range(p: &Pair<'_, Rule>) -> Range<usize> {
    let s = p.as_span();
    s.start()..s.end()
}

fn build(pair: Pair<'_, Rule>) -> Expr {
    let r = range(&pair);
    match pair.as_rule() {
        Rule::expr => chain(pair, Rule::or_op, ExprKind::Or),
        Rule::and_expr => chain(pair, Rule::and_op, ExprKind::And),
        Rule::unary => {
            let mut inner = pair.into_inner();
            match inner.next() {
                Some(first) if first.as_rule() == Rule::not_op => {
                    let operand = inner.next().map(build).unwrap_or(Expr {
                        kind: ExprKind::Null,
                        range: r.clone(),
                    });
                    Expr {
                        kind: ExprKind::Not(Box::new(operand)),
                        range: r,
                    }
                }
                Some(first) => build(first),
                None => Expr {
                    kind: ExprKind::Null,
                    range: r,
                },
            }
        }
        Rule::comparison => {
            let parts: Vec<Pair<'_, Rule>> = pair
                .into_inner()
                .filter(|p| p.as_rule() != Rule::close)
                .collect();
            match parts.as_slice() {
                [single] => build(single.clone()),
                [lhs, op, rhs] => Expr {
                    kind: ExprKind::Compare(
                        Box::new(build(lhs.clone())),
                        cmp(op.as_str()),
                        range(op),
                        Box::new(build(rhs.clone())),
                    ),
                    range: r,
                },
                _ => Expr {
                    kind: ExprKind::Null,
                    range: r,
                },
            }
        }
        Rule::operand => {
            let inner = pair.into_inner().find(|p| p.as_rule() != Rule::close);
            inner.map(build).unwrap_or(Expr {
                kind: ExprKind::Null,
                range: r,
            })
        }
        Rule::path => Expr {
            kind: ExprKind::Path(
                pair.into_inner()
                    .map(|s| (s.as_str().to_string(), range(&s)))
                    .collect(),
            ),
            range: r,
        },
        Rule::string => Expr {
            kind: ExprKind::Str(
                pair.into_inner()
                    .next()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            ),
            range: r,
        },
        Rule::number => Expr {
            kind: ExprKind::Num(pair.as_str().parse().unwrap_or(0.0)),
            range: r,
        },
        Rule::boolean => Expr {
            kind: ExprKind::Bool(pair.as_str() == "true"),
            range: r,
        },
        _ => Expr {
            kind: ExprKind::Null,
            range: r,
        },
    }
}

/// `a op b op c` into one node (or the single operand).
fn chain(pair: Pair<'_, Rule>, op: Rule, make: fn(Vec<Expr>) -> ExprKind) -> Expr {
    let r = range(&pair);
    let mut items: Vec<Expr> = pair
        .into_inner()
        .filter(|p| p.as_rule() != op && p.as_rule() != Rule::close)
        .map(build)
        .collect();
    if items.len() == 1 {
        return items.remove(0);
    }
    Expr {
        kind: make(items),
        range: r,
    }
}

fn cmp(op: &str) -> CmpOp {
    match op {
        "==" => CmpOp::Eq,
        "!=" => CmpOp::Ne,
        "<" => CmpOp::Lt,
        "<=" => CmpOp::Le,
        ">" => CmpOp::Gt,
        _ => CmpOp::Ge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_stops_at_the_limit() {
        let nested = |n: usize| format!("{}input.x == 1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            parse(&nested(MAX_DEPTH + 1)).unwrap_err().range,
            MAX_DEPTH..MAX_DEPTH + 1
        );
        assert!(parse(&nested(100_000)).is_err());
        let nots = |n: usize| format!("{}input.vip", "not ".repeat(n));
        assert!(parse(&nots(MAX_DEPTH)).is_ok());
        assert!(parse(&nots(MAX_DEPTH + 1)).is_err());
        // flat chains and brackets in strings do not count
        let flat = vec!["not input.a == 1"; 200].join(" and ");
        assert!(parse(&flat).is_ok());
        let quoted = format!("input.s == '{}'", "(".repeat(100));
        assert!(parse(&quoted).is_ok());
    }

    #[test]
    fn parses_precedence_and_ranges() {
        let e = parse("input.total.amount >= 1000 and not input.express or input.vip").unwrap();
        let ExprKind::Or(items) = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(items.len(), 2);
        let ExprKind::And(parts) = &items[0].kind else {
            panic!()
        };
        let ExprKind::Compare(lhs, op, op_range, _) = &parts[0].kind else {
            panic!()
        };
        assert_eq!(*op, CmpOp::Ge);
        assert_eq!(op_range.clone(), 19..21);
        let ExprKind::Path(segments) = &lhs.kind else {
            panic!()
        };
        assert_eq!(segments[2], ("amount".to_string(), 12..18));
        assert!(matches!(parts[1].kind, ExprKind::Not(_)));
    }

    #[test]
    fn literals_and_groups() {
        let e = parse("(input.country == 'DE' or input.country == \"AT\") and input.n != null")
            .unwrap();
        assert!(matches!(e.kind, ExprKind::And(_)));
        assert!(parse("input.a == -1.5").is_ok());
    }

    #[test]
    fn errors_point_at_the_character() {
        assert_eq!(parse("input.total >").unwrap_err().range, 13..13);
        assert_eq!(parse("input.total => 3").unwrap_err().range, 12..13);
        assert_eq!(parse("(input.a == 1").unwrap_err().range, 13..13);
        assert!(parse("input.a = 1").is_err());
    }
}
