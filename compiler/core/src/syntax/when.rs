//! `when` expressions: `input.total.amount >= 1000 and not input.express`.
//!
//! The parser builds an expression tree whose every node keeps its span in
//! the source file (the caller maps byte ranges of the string to spans), so
//! the type checker (in `check::when`) points at the exact characters at
//! fault and the Rust emitter (`emit/rust/sagas.rs`) compiles the tree
//! without reading the string again. Field paths are [`DataPath`]s, the
//! same type as a step's `input:`.

use super::path::DataPath;
use super::{SyntaxError, from_pest};
use crate::source::{Span, Spanned};
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
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Whether the operator needs an order (`<`, `<=`, `>`, `>=`).
    pub fn is_ordering(self) -> bool {
        matches!(self, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
    }
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where.
    pub span: Span,
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
    /// `a == b`, with the operator's span.
    Compare(Box<Expr>, Spanned<CmpOp>, Box<Expr>),
    /// `input.total.amount`.
    Path(DataPath),
    /// `"text"`
    Str(String),
    /// `42`, `-0.5`, as written (decimals stay exact).
    Num(String),
    /// `true`, `false`
    Bool(bool),
    /// `null`
    Null,
}

/// Parses a `when` expression; `to_span` maps byte ranges of `text` to
/// source spans.
pub fn parse(text: &str, to_span: &dyn Fn(Range<usize>) -> Span) -> Result<Expr, SyntaxError> {
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
    Ok(Builder { to_span }.build(expr))
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

/// Turns pest pairs into [`Expr`]s with source spans.
struct Builder<'a> {
    to_span: &'a dyn Fn(Range<usize>) -> Span,
}

impl Builder<'_> {
    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        let s = p.as_span();
        (self.to_span)(s.start()..s.end())
    }

    fn build(&self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::expr => return self.chain(pair, Rule::or_op, ExprKind::Or),
            Rule::and_expr => return self.chain(pair, Rule::and_op, ExprKind::And),
            Rule::unary => return self.unary(pair, span),
            Rule::comparison => return self.comparison(pair, span),
            Rule::operand => return self.operand(pair, span),
            Rule::path => ExprKind::Path(self.path(pair)),
            Rule::string => ExprKind::Str(
                pair.into_inner()
                    .next()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            ),
            Rule::number => ExprKind::Num(pair.as_str().to_string()),
            Rule::boolean => ExprKind::Bool(pair.as_str() == "true"),
            _ => ExprKind::Null,
        };
        Expr { kind, span }
    }

    /// `not a`, or the comparison it wraps.
    fn unary(&self, pair: Pair<'_, Rule>, span: Span) -> Expr {
        let mut inner = pair.into_inner();
        match inner.next() {
            Some(first) if first.as_rule() == Rule::not_op => {
                let operand = inner.next().map_or_else(|| null(span), |p| self.build(p));
                Expr {
                    kind: ExprKind::Not(Box::new(operand)),
                    span,
                }
            }
            Some(first) => self.build(first),
            None => null(span),
        }
    }

    /// `a op b`, or the single operand.
    fn comparison(&self, pair: Pair<'_, Rule>, span: Span) -> Expr {
        let parts: Vec<Pair<'_, Rule>> = pair
            .into_inner()
            .filter(|p| p.as_rule() != Rule::close)
            .collect();
        match parts.as_slice() {
            [single] => self.build(single.clone()),
            [lhs, op, rhs] => Expr {
                kind: ExprKind::Compare(
                    Box::new(self.build(lhs.clone())),
                    Spanned::new(cmp(op.as_str()), self.span(op)),
                    Box::new(self.build(rhs.clone())),
                ),
                span,
            },
            _ => null(span),
        }
    }

    /// A literal, a path or a parenthesised expression.
    fn operand(&self, pair: Pair<'_, Rule>, span: Span) -> Expr {
        let inner = pair.into_inner().find(|p| p.as_rule() != Rule::close);
        inner.map_or_else(|| null(span), |p| self.build(p))
    }

    fn path(&self, pair: Pair<'_, Rule>) -> DataPath {
        DataPath {
            segments: pair
                .into_inner()
                .map(|s| Spanned::new(s.as_str().to_string(), self.span(&s)))
                .collect(),
        }
    }

    /// `a op b op c` into one node (or the single operand).
    fn chain(&self, pair: Pair<'_, Rule>, op: Rule, make: fn(Vec<Expr>) -> ExprKind) -> Expr {
        let span = self.span(&pair);
        let mut items: Vec<Expr> = pair
            .into_inner()
            .filter(|p| p.as_rule() != op && p.as_rule() != Rule::close)
            .map(|p| self.build(p))
            .collect();
        if items.len() == 1 {
            return items.remove(0);
        }
        Expr {
            kind: make(items),
            span,
        }
    }
}

/// `null` over `span`, where the grammar leaves nothing else.
fn null(span: Span) -> Expr {
    Expr {
        kind: ExprKind::Null,
        span,
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
    use crate::source::FileId;

    fn at(r: Range<usize>) -> Span {
        Span::new(FileId(0), r.start, r.end)
    }

    fn read(text: &str) -> Result<Expr, SyntaxError> {
        parse(text, &at)
    }

    #[test]
    fn nesting_stops_at_the_limit() {
        let nested = |n: usize| format!("{}input.x == 1{}", "(".repeat(n), ")".repeat(n));
        assert!(read(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            read(&nested(MAX_DEPTH + 1)).unwrap_err().range,
            MAX_DEPTH..MAX_DEPTH + 1
        );
        assert!(read(&nested(100_000)).is_err());
        let nots = |n: usize| format!("{}input.vip", "not ".repeat(n));
        assert!(read(&nots(MAX_DEPTH)).is_ok());
        assert!(read(&nots(MAX_DEPTH + 1)).is_err());
        // flat chains and brackets in strings do not count
        let flat = vec!["not input.a == 1"; 200].join(" and ");
        assert!(read(&flat).is_ok());
        let quoted = format!("input.s == '{}'", "(".repeat(100));
        assert!(read(&quoted).is_ok());
    }

    #[test]
    fn parses_precedence_and_spans() {
        let e = read("input.total.amount >= 1000 and not input.express or input.vip").unwrap();
        let ExprKind::Or(items) = &e.kind else {
            panic!("{e:?}")
        };
        assert_eq!(items.len(), 2);
        let ExprKind::And(parts) = &items[0].kind else {
            panic!()
        };
        let ExprKind::Compare(lhs, op, rhs) = &parts[0].kind else {
            panic!()
        };
        assert_eq!(op.value, CmpOp::Ge);
        assert_eq!(op.span.range(), 19..21);
        let ExprKind::Path(path) = &lhs.kind else {
            panic!()
        };
        assert_eq!(path.segments[2].value, "amount");
        assert_eq!(path.segments[2].span.range(), 12..18);
        assert_eq!(rhs.kind, ExprKind::Num("1000".to_string()));
        assert!(matches!(parts[1].kind, ExprKind::Not(_)));
    }

    #[test]
    fn literals_and_groups() {
        let e =
            read("(input.country == 'DE' or input.country == \"AT\") and input.n != null").unwrap();
        assert!(matches!(e.kind, ExprKind::And(_)));
        let e = read("input.a == -1.5").unwrap();
        let ExprKind::Compare(_, _, rhs) = &e.kind else {
            panic!()
        };
        assert_eq!(rhs.kind, ExprKind::Num("-1.5".to_string()));
    }

    #[test]
    fn errors_point_at_the_character() {
        assert_eq!(read("input.total >").unwrap_err().range, 13..13);
        assert_eq!(read("input.total => 3").unwrap_err().range, 12..13);
        assert_eq!(read("(input.a == 1").unwrap_err().range, 13..13);
        assert!(read("input.a = 1").is_err());
    }
}
