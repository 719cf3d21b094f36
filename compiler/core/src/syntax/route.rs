//! Route keys: `METHOD /path`, path parameters as `{name}` or `:name`.

use super::{SyntaxError, from_pest};
use crate::diagnostic::suggest;
use pest::Parser;
use pest_derive::Parser;
use std::ops::Range;

#[derive(Parser)]
#[grammar = "syntax/route.pest"]
struct RouteParser;

/// HTTP methods a route may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
}

impl Method {
    /// Every method, upper case.
    pub const NAMES: [&'static str; 7] =
        ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

    fn from_upper(s: &str) -> Option<Method> {
        Some(match s {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            _ => return None,
        })
    }

    /// The method as written in HTTP.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }

    /// Whether a request body is allowed.
    pub fn allows_body(self) -> bool {
        matches!(
            self,
            Method::Post | Method::Put | Method::Patch | Method::Options
        )
    }
}

/// One segment of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A fixed word: `orders`.
    Literal(String),
    /// A parameter: `{id}` or `:id`.
    Param(String),
}

/// A parsed route key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteKey {
    /// The method.
    pub method: Method,
    /// Byte range of the method in the key.
    pub method_range: Range<usize>,
    /// The path's segments with their byte ranges; empty for `/`.
    pub segments: Vec<(Segment, Range<usize>)>,
    /// Byte range of the whole path.
    pub path_range: Range<usize>,
}

impl RouteKey {
    /// The path in canonical form: `/orders/{id}`.
    pub fn path(&self) -> String {
        if self.segments.is_empty() {
            return "/".to_string();
        }
        self.segments
            .iter()
            .map(|(s, _)| match s {
                Segment::Literal(l) => format!("/{l}"),
                Segment::Param(p) => format!("/{{{p}}}"),
            })
            .collect()
    }

    /// Path parameter names, in order, with their ranges.
    pub fn params(&self) -> impl Iterator<Item = (&str, &Range<usize>)> {
        self.segments.iter().filter_map(|(s, r)| match s {
            Segment::Param(p) => Some((p.as_str(), r)),
            Segment::Literal(_) => None,
        })
    }
}

/// Parses a route key.
pub fn parse(text: &str) -> Result<RouteKey, SyntaxError> {
    match simple(text) {
        Some(key) => Ok(key),
        None => grammar(text),
    }
}

/// The full grammar, with its error positions.
fn grammar(text: &str) -> Result<RouteKey, SyntaxError> {
    if let Some((method, rest)) = text.split_once(' ') {
        let path = rest.trim_start();
        let start = text.len() - path.len();
        if !path.is_empty() && !path.starts_with('/') {
            let end = start + path.find(['/', ' ']).unwrap_or(path.len());
            return Err(SyntaxError::new(
                start..end,
                "invalid route: the path must start with `/`",
                "missing `/`",
            )
            .help(format!("write `{} /{path}`", method.to_ascii_uppercase())));
        }
    }
    let pairs = RouteParser::parse(Rule::route_key, text).map_err(|e| {
        let err = from_pest(&e, text, "route", |r| match r {
            Rule::method => Some("a method"),
            Rule::path | Rule::root => Some("a path starting with `/`"),
            Rule::param_name => Some("a parameter name"),
            Rule::close_brace => Some("`}`"),
            Rule::literal | Rule::param_braced | Rule::param_colon => Some("a path segment"),
            Rule::EOI => Some("the end"),
            _ => None,
        });
        err.help("a route key is `METHOD /path`, for example `GET /orders/{id}`")
    })?;
    let mut key = RouteKey {
        method: Method::Get,
        method_range: 0..0,
        segments: Vec::new(),
        path_range: 0..0,
    };
    for pair in pairs.flatten() {
        let span = pair.as_span();
        let range = span.start()..span.end();
        match pair.as_rule() {
            Rule::method => {
                key.method = method(pair.as_str(), range.clone())?;
                key.method_range = range;
            }
            Rule::path => key.path_range = range,
            Rule::literal => key
                .segments
                .push((Segment::Literal(pair.as_str().to_string()), range)),
            Rule::param_braced | Rule::param_colon => {
                let name = pair
                    .into_inner()
                    .next()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default();
                key.segments.push((Segment::Param(name), range));
            }
            _ => {}
        }
    }
    Ok(key)
}

/// The common case without the grammar: an upper-case method, one space,
/// and `/`-separated segments that are literals, `{name}` or `:name`. Same
/// result as the grammar; anything unusual (and every error) goes through
/// pest.
fn simple(text: &str) -> Option<RouteKey> {
    let (m, path) = text.split_once(' ')?;
    let method = Method::from_upper(m)?;
    if !path.starts_with('/') {
        return None;
    }
    let start = m.len() + 1;
    let mut segments = Vec::new();
    if path != "/" {
        let mut at = start + 1;
        for seg in path[1..].split('/') {
            let range = at..at + seg.len();
            at += seg.len() + 1;
            let ident = |s: &str| {
                s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            let segment =
                if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    ident(name).then(|| Segment::Param(name.to_string()))?
                } else if let Some(name) = seg.strip_prefix(':') {
                    ident(name).then(|| Segment::Param(name.to_string()))?
                } else if !seg.is_empty()
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c))
                {
                    Segment::Literal(seg.to_string())
                } else {
                    return None;
                };
            segments.push((segment, range));
        }
    }
    Some(RouteKey {
        method,
        method_range: 0..m.len(),
        segments,
        path_range: start..text.len(),
    })
}

fn method(text: &str, range: Range<usize>) -> Result<Method, SyntaxError> {
    if let Some(m) = Method::from_upper(text) {
        return Ok(m);
    }
    if let Some(m) = Method::from_upper(&text.to_ascii_uppercase()) {
        return Err(SyntaxError::new(
            range,
            format!("invalid route: method `{text}` must be upper case"),
            "lower case",
        )
        .help(format!("write `{}`", m.as_str())));
    }
    let err = SyntaxError::new(
        range,
        format!("invalid route: unknown method `{text}`"),
        "not an HTTP method",
    );
    Err(
        match suggest::did_you_mean(&text.to_ascii_uppercase(), Method::NAMES) {
            Some(h) => err.help(h),
            None => err.help(format!("methods are {}", Method::NAMES.join(", "))),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_in_both_parameter_styles() {
        let k = parse("GET /orders/{id}").unwrap();
        assert_eq!(k.method, Method::Get);
        assert_eq!(k.path(), "/orders/{id}");
        assert_eq!(parse("GET /orders/:id").unwrap().path(), "/orders/{id}");
        assert_eq!(parse("GET /").unwrap().path(), "/");
    }

    #[test]
    fn the_fast_path_agrees_with_the_grammar() {
        for key in [
            "GET /",
            "GET /orders",
            "POST /orders/{id}/lines/:line",
            "DELETE /a-b/c_d/e.f/~g",
            "PATCH /{x}",
        ] {
            assert_eq!(simple(key), Some(grammar(key).unwrap()), "{key}");
        }
        for odd in [
            "GET /orders/",
            "get /x",
            "GET  /x",
            "GET /{1x}",
            "GET /a//b",
        ] {
            assert_eq!(simple(odd), None, "{odd}");
        }
    }

    #[test]
    fn errors_point_inside_the_key() {
        let e = parse("POST orders").unwrap_err();
        assert_eq!(e.range, 5..11);
        assert_eq!(e.help.as_deref(), Some("write `POST /orders`"));
        let e = parse("get /x").unwrap_err();
        assert_eq!(e.range, 0..3);
        assert_eq!(e.help.as_deref(), Some("write `GET`"));
        assert_eq!(parse("GET /orders/{id").unwrap_err().range, 15..15);
        assert_eq!(parse("FETCH /x").unwrap_err().range, 0..5);
    }
}
