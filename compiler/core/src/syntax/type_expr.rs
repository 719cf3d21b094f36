//! Type expressions: primitives, `list<T>`, `set<T>`, `map<T>`, `T?`,
//! `enum[a, b]`, type names and `schema:Name` for the library.

use super::{SyntaxError, from_pest};
use crate::source::Span;
use pest::Parser;
use pest::iterators::Pair;
use pest_derive::Parser;
use std::ops::Range;

#[derive(Parser)]
#[grammar = "syntax/type_expr.pest"]
struct TypeParser;

/// Built-in scalar types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Primitive {
    /// `string`
    String,
    /// `boolean`
    Boolean,
    /// `integer` (64-bit)
    Integer,
    /// `int32`
    Int32,
    /// `number` (f64)
    Number,
    /// `decimal` (exact; a JSON string)
    Decimal,
    /// `date`
    Date,
    /// `datetime` (RFC 3339)
    Datetime,
    /// `time`
    Time,
    /// `duration` (ISO 8601)
    Duration,
    /// `uuid`
    Uuid,
    /// `email`
    Email,
    /// `uri`
    Uri,
    /// `bytes` (base64)
    Bytes,
    /// `json` (any value)
    Json,
}

impl Primitive {
    /// Every primitive with its name.
    pub const ALL: [(&'static str, Primitive); 15] = [
        ("string", Primitive::String),
        ("boolean", Primitive::Boolean),
        ("integer", Primitive::Integer),
        ("int32", Primitive::Int32),
        ("number", Primitive::Number),
        ("decimal", Primitive::Decimal),
        ("date", Primitive::Date),
        ("datetime", Primitive::Datetime),
        ("time", Primitive::Time),
        ("duration", Primitive::Duration),
        ("uuid", Primitive::Uuid),
        ("email", Primitive::Email),
        ("uri", Primitive::Uri),
        ("bytes", Primitive::Bytes),
        ("json", Primitive::Json),
    ];

    /// The primitive called `name`.
    pub fn from_name(name: &str) -> Option<Primitive> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    /// Its name in manifests.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("json", |(n, _)| n)
    }

    /// Numbers take `min`/`max`.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Primitive::Integer | Primitive::Int32 | Primitive::Number | Primitive::Decimal
        )
    }

    /// Strings (and string-encoded values) take `minLength`/`maxLength`/`pattern`.
    pub fn is_stringy(self) -> bool {
        !self.is_numeric() && !matches!(self, Primitive::Boolean | Primitive::Json)
    }
}

/// A type expression with the span of every part.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// What it says.
    pub kind: TypeExprKind,
    /// Where in the source.
    pub span: Span,
}

/// The forms of type expression.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExprKind {
    /// A built-in scalar.
    Primitive(Primitive),
    /// `list<T>`
    List(Box<TypeExpr>),
    /// `set<T>`
    Set(Box<TypeExpr>),
    /// `map<T>` with string keys.
    Map(Box<TypeExpr>),
    /// `T?`
    Optional(Box<TypeExpr>),
    /// `enum[a, b]` with each value's span.
    Enum(Vec<(String, Span)>),
    /// A project or library type; `library` when written `schema:Name`.
    Named {
        /// The name without prefix.
        name: String,
        /// Written with `schema:`.
        library: bool,
    },
}

impl TypeExpr {
    /// Whether the outermost form is `T?`.
    pub fn is_optional(&self) -> bool {
        matches!(self.kind, TypeExprKind::Optional(_))
    }

    /// The type without its outer `?`.
    pub fn required(&self) -> &TypeExpr {
        match &self.kind {
            TypeExprKind::Optional(inner) => inner,
            _ => self,
        }
    }

    /// The expression written back in canonical form.
    pub fn display(&self) -> String {
        match &self.kind {
            TypeExprKind::Primitive(p) => p.name().to_string(),
            TypeExprKind::List(t) => format!("list<{}>", t.display()),
            TypeExprKind::Set(t) => format!("set<{}>", t.display()),
            TypeExprKind::Map(t) => format!("map<{}>", t.display()),
            TypeExprKind::Optional(t) => format!("{}?", t.display()),
            TypeExprKind::Enum(values) => format!(
                "enum[{}]",
                values
                    .iter()
                    .map(|(v, _)| v.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            TypeExprKind::Named { name, library } => {
                if *library {
                    format!("schema:{name}")
                } else {
                    name.clone()
                }
            }
        }
    }
}

/// How deeply `list<...>`, `set<...>` and `map<...>` may nest.
///
/// Each level becomes one level of nesting in the generated JSON Schema
/// (`items:`, `additionalProperties:`), which sits some ten levels deep in
/// the OpenAPI and AsyncAPI documents and the crates' `schemas.json`. At 32
/// those stay far inside the 128 levels that svcc reads in YAML and TOML
/// and that `serde_json` (the generated crates' reader) accepts, and the
/// Rust types (`Vec<Vec<...>>`) inside rustc's default recursion limit (also
/// 128). Every walk over a type expression recurses once per level, so the
/// limit also bounds their stacks; a real schema nests a handful of levels.
pub const MAX_DEPTH: usize = 32;

/// Parses a type expression; `to_span` maps byte ranges of `text` to source spans.
pub fn parse(text: &str, to_span: &dyn Fn(Range<usize>) -> Span) -> Result<TypeExpr, SyntaxError> {
    if let Some(simple) = simple(text, to_span) {
        return Ok(simple);
    }
    // before the grammar, which recurses once per level too
    too_deep(text)?;
    let mut pairs = TypeParser::parse(Rule::type_expr, text).map_err(|e| {
        from_pest(&e, text, "type expression", |r| match r {
            Rule::ty | Rule::named | Rule::type_name | Rule::container | Rule::inline_enum => Some("a type"),
            Rule::container_kind => Some("a type"),
            Rule::optional => Some("`?`"),
            Rule::open_angle => Some("`<`"),
            Rule::close_angle => Some("`>`"),
            Rule::open_bracket => Some("`[`"),
            Rule::close_bracket => Some("`]`"),
            Rule::comma => Some("`,`"),
            Rule::enum_value => Some("an enum value"),
            Rule::EOI => Some("the end"),
            _ => None,
        })
        .help("types are written like `string`, `list<OrderItem>`, `map<Money>?`, `enum[a, b]` or `schema:Person`")
    })?;
    let root = pairs.next().and_then(|p| p.into_inner().next());
    match root {
        Some(ty) => Ok(build(ty, to_span)),
        None => Err(SyntaxError::new(
            0..0,
            "invalid type expression: empty",
            "no type here",
        )),
    }
}

/// Refuses nesting past [`MAX_DEPTH`], at the `<` that opens one level too
/// many. (Inline enum values cannot hold `<` or `>`, so counting is exact.)
fn too_deep(text: &str) -> Result<(), SyntaxError> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'<' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(SyntaxError::new(
                        i..i + 1,
                        format!("type expression nested more than {MAX_DEPTH} levels deep"),
                        format!("level {} starts here", MAX_DEPTH + 1),
                    )
                    .help(format!(
                        "`list`, `set` and `map` nest at most {MAX_DEPTH} levels: give an inner level a name (a type with `fields:`), which also gives it a schema of its own"
                    )));
                }
            }
            b'>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The common case without the grammar: a plain name, maybe optional
/// (`uuid`, `Money`, `string?`). Same result as the grammar gives, several
/// times faster; everything else goes through pest.
fn simple(text: &str, to_span: &dyn Fn(Range<usize>) -> Span) -> Option<TypeExpr> {
    let name = text.strip_suffix('?').unwrap_or(text);
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let kind = match Primitive::from_name(name) {
        Some(p) => TypeExprKind::Primitive(p),
        None => TypeExprKind::Named {
            name: name.to_string(),
            library: false,
        },
    };
    let base = TypeExpr {
        kind,
        span: to_span(0..name.len()),
    };
    Some(if name.len() < text.len() {
        TypeExpr {
            kind: TypeExprKind::Optional(Box::new(base)),
            span: to_span(0..text.len()),
        }
    } else {
        base
    })
}

fn span_of(pair: &Pair<'_, Rule>, to_span: &dyn Fn(Range<usize>) -> Span) -> Span {
    let s = pair.as_span();
    to_span(s.start()..s.end())
}

fn build(ty: Pair<'_, Rule>, to_span: &dyn Fn(Range<usize>) -> Span) -> TypeExpr {
    let span = span_of(&ty, to_span);
    let mut inner = ty.into_inner();
    let base = inner.next().map(|b| build_base(b, to_span));
    let base = base.unwrap_or(TypeExpr {
        kind: TypeExprKind::Primitive(Primitive::Json),
        span,
    });
    if inner.next().is_some() {
        TypeExpr {
            kind: TypeExprKind::Optional(Box::new(base)),
            span,
        }
    } else {
        base
    }
}

fn build_base(pair: Pair<'_, Rule>, to_span: &dyn Fn(Range<usize>) -> Span) -> TypeExpr {
    let span = span_of(&pair, to_span);
    let kind = match pair.as_rule() {
        Rule::container => {
            let mut parts = pair
                .into_inner()
                .filter(|p| matches!(p.as_rule(), Rule::container_kind | Rule::ty));
            let which = parts
                .next()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let element = parts.next().map(|t| build(t, to_span)).unwrap_or(TypeExpr {
                kind: TypeExprKind::Primitive(Primitive::Json),
                span,
            });
            match which.as_str() {
                "list" => TypeExprKind::List(Box::new(element)),
                "set" => TypeExprKind::Set(Box::new(element)),
                _ => TypeExprKind::Map(Box::new(element)),
            }
        }
        Rule::inline_enum => TypeExprKind::Enum(
            pair.into_inner()
                .filter(|v| v.as_rule() == Rule::enum_value)
                .map(|v| (v.as_str().to_string(), span_of(&v, to_span)))
                .collect(),
        ),
        _ => {
            let mut library = false;
            let mut name = String::new();
            for part in pair.into_inner() {
                match part.as_rule() {
                    Rule::library_prefix => library = true,
                    _ => name = part.as_str().to_string(),
                }
            }
            match Primitive::from_name(&name) {
                Some(p) if !library => TypeExprKind::Primitive(p),
                _ => TypeExprKind::Named { name, library },
            }
        }
    };
    TypeExpr { kind, span }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn p(text: &str) -> Result<TypeExpr, SyntaxError> {
        parse(text, &|r| Span::new(FileId(0), r.start, r.end))
    }

    #[test]
    fn parses_nested_containers_and_optionals() {
        assert_eq!(
            p("map<list<Money>>?").unwrap().display(),
            "map<list<Money>>?"
        );
        assert_eq!(p("enum[a, b,c]").unwrap().display(), "enum[a, b, c]");
        assert_eq!(p("schema:Person").unwrap().display(), "schema:Person");
        assert_eq!(p("listing").unwrap().display(), "listing");
        assert!(matches!(
            p("uuid").unwrap().kind,
            TypeExprKind::Primitive(Primitive::Uuid)
        ));
    }

    #[test]
    fn spans_cover_each_part() {
        let t = p("list<Mony>").unwrap();
        let TypeExprKind::List(inner) = t.kind else {
            panic!()
        };
        assert_eq!((inner.span.start, inner.span.end), (5, 9));
    }

    #[test]
    fn the_fast_path_agrees_with_the_grammar() {
        let at = |r: Range<usize>| Span::new(FileId(0), r.start, r.end);
        for text in ["uuid", "Money", "string?", "Order_2?", "list", "enum"] {
            let fast = simple(text, &at).unwrap();
            let pairs = TypeParser::parse(Rule::type_expr, text).unwrap();
            let slow = build(
                pairs
                    .into_iter()
                    .next()
                    .unwrap()
                    .into_inner()
                    .next()
                    .unwrap(),
                &at,
            );
            assert_eq!(fast, slow, "{text}");
        }
    }

    #[test]
    fn nesting_stops_at_the_limit() {
        let nested = |n: usize| format!("{}string{}", "list<".repeat(n), ">".repeat(n));
        assert!(p(&nested(MAX_DEPTH)).is_ok());
        let e = p(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e.range, MAX_DEPTH * 5 + 4..MAX_DEPTH * 5 + 5);
        // far past it: refused before the grammar recurses (this overflowed
        // the stack in `svcc build` at about 1,700 levels)
        let e = p(&nested(200_000)).unwrap_err();
        assert!(e.message.contains("nested more than"), "{e:?}");
        assert!(p(&format!("map<{}>?", nested(MAX_DEPTH - 1))).is_ok());
    }

    #[test]
    fn errors_point_at_the_character() {
        assert_eq!(p("list<Money").unwrap_err().range, 10..10);
        assert_eq!(p("map<>").unwrap_err().range, 4..5);
        assert_eq!(p("enum[]").unwrap_err().range, 5..6);
        assert_eq!(p("Money??").unwrap_err().range, 6..7);
    }
}
