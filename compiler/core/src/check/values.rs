//! Does a literal value (a `default` or `example`) fit a type and its
//! constraints? The same rules the generated `validate()` enforces at run
//! time, applied at compile time to the values written in manifests.

use crate::ast::{Constraints, Number, Primitive, TypeBody, TypeExpr, TypeExprKind};
use crate::load::{Node, NodeKind};
use crate::resolve::Model;
use crate::source::Span;
use regex::Regex;
use std::sync::LazyLock;

/// Why a value does not fit.
#[derive(Debug)]
pub struct Problem {
    /// The offending (part of the) value.
    pub span: Span,
    /// What is wrong.
    pub message: String,
}

fn problem(node: &Node, message: impl Into<String>) -> Result<(), Problem> {
    Err(Problem {
        span: node.span,
        message: message.into(),
    })
}

/// Checks `node` against `ty` and the field's constraints.
pub fn fits(model: &Model, ty: &TypeExpr, c: &Constraints, node: &Node) -> Result<(), Problem> {
    finite(node)?;
    fits_type(model, ty, node, 0)?;
    fits_constraints(c, node)
}

/// Every number in the value is finite: JSON has no infinity or NaN, so
/// `.nan` or `1e400` would reach the OpenAPI document as `null`, whatever
/// the type (a `json` field too).
fn finite(node: &Node) -> Result<(), Problem> {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        match &n.kind {
            NodeKind::Float(f, raw) if !f.is_finite() => {
                let why = if f.is_nan() {
                    "is not a number: JSON has no NaN"
                } else if raw.to_ascii_lowercase().contains("inf") {
                    "is infinite: JSON has no infinity"
                } else {
                    "is too large for a 64-bit float (it reads as infinity): JSON has no infinity"
                };
                return problem(n, format!("`{raw}` {why}"));
            }
            NodeKind::Seq(items) => stack.extend(items.iter().rev()),
            NodeKind::Map(entries) => stack.extend(entries.iter().rev().map(|e| &e.value)),
            _ => {}
        }
    }
    Ok(())
}

fn fits_constraints(c: &Constraints, node: &Node) -> Result<(), Problem> {
    if let Some(n) = number_of(node) {
        fits_range(c, node, &n)?;
    }
    if let Some(s) = node.as_str() {
        let len = s.chars().count() as u64;
        if let Some(min) = &c.min_length
            && len < min.value
        {
            return problem(
                node,
                format!("{len} characters, fewer than `minLength` {}", min.value),
            );
        }
        if let Some(max) = &c.max_length
            && len > max.value
        {
            return problem(
                node,
                format!("{len} characters, more than `maxLength` {}", max.value),
            );
        }
        if let Some((pattern, _)) = &c.pattern
            && let Ok(re) = regex::Regex::new(pattern)
            && !re.is_match(s)
        {
            return problem(node, format!("does not match `pattern` {pattern}"));
        }
    }
    if let Some(items) = node.as_seq() {
        let n = items.len() as u64;
        if let Some(min) = &c.min_items
            && n < min.value
        {
            return problem(
                node,
                format!("{n} items, fewer than `minItems` {}", min.value),
            );
        }
        if let Some(max) = &c.max_items
            && n > max.value
        {
            return problem(
                node,
                format!("{n} items, more than `maxItems` {}", max.value),
            );
        }
    }
    Ok(())
}

/// `min`, `max`, `exclusiveMin` and `exclusiveMax`, compared exactly
/// (bounds that are not finite were reported as E0213 and say nothing here).
fn fits_range(c: &Constraints, node: &Node, n: &Number) -> Result<(), Problem> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    // integers exactly, floats (and decimals) as the number they read as
    let text = match n {
        Number::Int(i) => i.to_string(),
        Number::Float(f, _) => f.to_string(),
    };
    // (bound, the orderings of value against it that break it, message)
    let rules = [
        (&c.min, [Less, Less], "is below `min`"),
        (&c.max, [Greater, Greater], "is above `max`"),
        (
            &c.exclusive_min,
            [Less, Equal],
            "is not above `exclusiveMin`",
        ),
        (
            &c.exclusive_max,
            [Greater, Equal],
            "is not below `exclusiveMax`",
        ),
    ];
    for (bound, breaks, what) in rules {
        let Some(b) = bound.as_ref().filter(|b| b.value.is_finite()) else {
            continue;
        };
        if n.compare(&b.value).is_some_and(|o| breaks.contains(&o)) {
            return problem(node, format!("{text} {what} {}", b.value.as_f64()));
        }
    }
    Ok(())
}

/// A number, or a decimal written as a string (decimals are JSON strings).
fn number_of(node: &Node) -> Option<Number> {
    match &node.kind {
        NodeKind::Str(s) if is_decimal(s) => Some(Number::Float(s.parse().ok()?, s.clone())),
        _ => Number::from_node(node),
    }
}

fn fits_type(model: &Model, ty: &TypeExpr, node: &Node, depth: usize) -> Result<(), Problem> {
    if depth > 32 {
        return Ok(());
    }
    match &ty.kind {
        TypeExprKind::Optional(inner) => {
            if matches!(node.kind, NodeKind::Null) {
                Ok(())
            } else {
                fits_type(model, inner, node, depth + 1)
            }
        }
        TypeExprKind::Primitive(p) => fits_primitive(*p, node),
        TypeExprKind::List(inner) | TypeExprKind::Set(inner) => match node.as_seq() {
            Some(items) => items
                .iter()
                .try_for_each(|i| fits_type(model, inner, i, depth + 1)),
            None => problem(node, format!("expected a list, found {}", node.describe())),
        },
        TypeExprKind::Map(inner) => match node.as_map() {
            Some(entries) => entries
                .iter()
                .try_for_each(|e| fits_type(model, inner, &e.value, depth + 1)),
            None => problem(
                node,
                format!("expected a mapping, found {}", node.describe()),
            ),
        },
        TypeExprKind::Enum(values) => fits_enum(values.iter().map(|(v, _)| v.as_str()), node),
        TypeExprKind::Named { .. } => match model.named(ty) {
            None => Ok(()),
            Some(def) => match &def.body {
                TypeBody::Enum(values) => fits_enum(values.iter().map(|v| v.value.as_str()), node),
                TypeBody::Object { .. } => fits_object(model, def, node, depth),
                TypeBody::OneOf { .. } | TypeBody::Invalid => Ok(()),
            },
        },
    }
}

fn fits_enum<'a>(mut values: impl Iterator<Item = &'a str>, node: &Node) -> Result<(), Problem> {
    match node.scalar_text() {
        Some(s) if values.any(|v| v == s) => Ok(()),
        _ => problem(node, "not one of the enum's values"),
    }
}

fn fits_object(
    model: &Model,
    def: &crate::ast::TypeDef,
    node: &Node,
    depth: usize,
) -> Result<(), Problem> {
    let Some(entries) = node.as_map() else {
        return problem(
            node,
            format!(
                "expected a `{}` object, found {}",
                def.name.value,
                node.describe()
            ),
        );
    };
    let fields = model.all_fields(def);
    for e in entries {
        match fields.iter().find(|(f, _)| f.name.value == e.key.value) {
            Some((f, _)) => {
                if let Some(ty) = &f.ty {
                    fits_type(model, ty, &e.value, depth + 1)?;
                    fits_constraints(&f.constraints, &e.value)?;
                }
            }
            None => {
                return Err(Problem {
                    span: e.key.span,
                    message: format!("`{}` has no field `{}`", def.name.value, e.key.value),
                });
            }
        }
    }
    for (f, _) in fields {
        if f.is_required()
            && !f.constraints.read_only
            && !entries.iter().any(|e| e.key.value == f.name.value)
        {
            return problem(node, format!("missing required field `{}`", f.name.value));
        }
    }
    Ok(())
}

fn fits_primitive(p: Primitive, node: &Node) -> Result<(), Problem> {
    let ok = match (p, &node.kind) {
        (Primitive::Json, _) => true,
        (Primitive::Boolean, NodeKind::Bool(_)) => true,
        (Primitive::Integer, NodeKind::Int(_)) => true,
        (Primitive::Int32, NodeKind::Int(i)) => i32::try_from(*i).is_ok(),
        (Primitive::Number, NodeKind::Int(_) | NodeKind::Float(..)) => true,
        (Primitive::Decimal, NodeKind::Int(_)) => true,
        (Primitive::Decimal, NodeKind::Float(f, _)) => f.is_finite(),
        (Primitive::Decimal, NodeKind::Str(s)) => is_decimal(s),
        (_, NodeKind::Str(s)) if p.is_stringy() => string_format_ok(p, s),
        _ => false,
    };
    if ok {
        return Ok(());
    }
    let text = node
        .scalar_text()
        .unwrap_or_else(|| node.describe().to_string());
    let form = match p {
        Primitive::Date => " (RFC 3339, like `2024-02-29`)",
        Primitive::Datetime => " (RFC 3339, like `1979-05-27T07:32:00-08:00`)",
        Primitive::Time => " (RFC 3339, like `07:32:00Z`, with its offset)",
        _ => "",
    };
    problem(
        node,
        format!("`{text}` is not a valid `{}`{form}", p.name()),
    )
}

fn is_decimal(s: &str) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let mut parts = body.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next();
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// RFC 3339 `full-date`, JSON Schema's `date`: `2024-02-29`.
static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| anchored("[0-9]{4}-[0-9]{2}-[0-9]{2}"));

/// RFC 3339 `full-time`, JSON Schema's `time`: `07:32:00.5-08:00`, with the
/// hour, minute, second and offset captured.
static TIME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    anchored("([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\\.[0-9]+)?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))")
});

/// A constant pattern, matching whole strings (a test compiles both).
fn anchored(pattern: &str) -> Option<Regex> {
    Regex::new(&format!("^{pattern}$")).ok()
}

/// `2024-02-29`: the RFC 3339 form, and a day of the calendar (jiff knows
/// the months' lengths and the leap years: `2023-02-29` is not one).
fn is_date(s: &str) -> bool {
    DATE.as_ref().is_some_and(|r| r.is_match(s)) && s.parse::<jiff::civil::Date>().is_ok()
}

/// `07:32:00Z`, `07:32:00.25-08:00`: the RFC 3339 form, a time of day
/// (jiff: no hour 25, no minute 60), an offset of at most 23:59 (the
/// RFC's `time-numoffset`), and a leap second only where it can be one, at
/// 23:59:60 UTC, as JSON Schema's `time` format (which the runtime checks
/// request bodies with) has it.
fn is_time(s: &str) -> bool {
    let Some(c) = TIME.as_ref().and_then(|r| r.captures(s)) else {
        return false;
    };
    let number = |i: usize| {
        c.get(i)
            .map_or(0, |m| m.as_str().parse::<i32>().unwrap_or(99))
    };
    let (hour, minute, second) = (number(1), number(2), number(3));
    let civil = |h: i32, m: i32, sec: i32| {
        let (h, m, sec) = (i8::try_from(h), i8::try_from(m), i8::try_from(sec));
        matches!((h, m, sec), (Ok(h), Ok(m), Ok(sec)) if jiff::civil::Time::new(h, m, sec, 0).is_ok())
    };
    // jiff has no leap seconds: it checks :59 in their place
    if !civil(hour, minute, second.min(59)) || second > 60 {
        return false;
    }
    let sign = match c.get(4).map(|m| m.as_str()) {
        Some("-") => -1,
        _ => 1,
    };
    let (offset_hours, offset_minutes) = (number(5), number(6));
    if offset_hours > 23 || offset_minutes > 59 {
        return false;
    }
    if second == 60 {
        // the time in UTC must be 23:59
        let utc =
            (hour * 60 + minute - sign * (offset_hours * 60 + offset_minutes)).rem_euclid(24 * 60);
        return utc == 23 * 60 + 59;
    }
    true
}

/// `1979-05-27T07:32:00-08:00`: a date, `T` (or `t`), a time.
fn is_datetime(s: &str) -> bool {
    s.split_once(['T', 't'])
        .is_some_and(|(d, t)| is_date(d) && is_time(t))
}

pub(super) fn string_format_ok(p: Primitive, s: &str) -> bool {
    match p {
        Primitive::Uuid => {
            let groups: Vec<&str> = s.split('-').collect();
            groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
                && groups
                    .iter()
                    .all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()))
        }
        Primitive::Email => s
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !s.contains(' ')),
        Primitive::Uri => s.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }),
        Primitive::Date => is_date(s),
        Primitive::Datetime => is_datetime(s),
        Primitive::Time => is_time(s),
        Primitive::Duration => s.starts_with('P'),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patterns_compile() {
        assert!(DATE.is_some() && TIME.is_some());
    }

    #[test]
    fn dates_and_times_are_exactly_rfc_3339() {
        let date = |s| string_format_ok(Primitive::Date, s);
        let time = |s| string_format_ok(Primitive::Time, s);
        let datetime = |s| string_format_ok(Primitive::Datetime, s);
        // refused before: negative offsets
        assert!(datetime("1979-05-27T07:32:00-08:00"));
        assert!(datetime("1979-05-27t07:32:00.999999z"));
        assert!(date("2024-02-29") && date("2000-02-29") && date("0001-01-01"));
        assert!(time("23:59:60Z") && time("15:59:60-08:00") && time("00:00:00+23:59"));
        // accepted before: hour 25, an offset without its colon, days
        // that February does not have
        for bad in [
            "1979-05-27T25:00:00Z",
            "1979-05-27T07:32:00+0200",
            "1979-05-27T07:32:00",
            "1979-05-27 07:32:00Z",
            "1979-05-27T07:32Z",
            "1979-05-27T07:32:00.Z",
            "1979-05-27T07:32:00+24:00",
            "1979-05-27T07:32:00Z[Europe/Paris]",
            "1979-05-27T07:60:00Z",
            "1979-05-27T12:00:60Z",
        ] {
            assert!(!datetime(bad), "{bad}");
        }
        for bad in [
            "2023-02-29",
            "2024-02-30",
            "2024-04-31",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "+2024-01-01",
            "20240101",
            "2024-01-01T00:00:00Z",
        ] {
            assert!(!date(bad), "{bad}");
        }
        for bad in [
            "24:00:00Z",
            "10:00:00",
            "10:00Z",
            "10:00:61Z",
            "1:00:00Z",
            "10:00:00+2",
        ] {
            assert!(!time(bad), "{bad}");
        }
    }
}
