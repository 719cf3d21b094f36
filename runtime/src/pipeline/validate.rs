//! Constraint checks shared by generated `validate()` methods and request
//! decoding: every violation is collected, none stops the others.
//!
//! Paths are built lazily ([`At`] is a borrowed chain), so validating a
//! valid value allocates nothing; a JSON pointer is rendered only for a
//! value that breaks a rule.

use crate::strict::Format;
use serde::Serialize;
use std::cmp::Ordering;
use std::sync::OnceLock;

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Where: `body`, `path`, `query` or `header`.
    #[serde(rename = "in")]
    pub location: &'static str,
    /// JSON pointer inside the body (`/items/0/quantity`), or the parameter name.
    pub pointer: String,
    /// What is wrong.
    pub detail: String,
}

/// A place in a value: the root of a body or parameter, then fields,
/// indexes and map keys.
#[derive(Clone, Copy, Debug)]
pub enum At<'a> {
    /// The request body.
    Body,
    /// A parameter: location and name.
    Param(&'static str, &'a str),
    /// A field of an object.
    Field(&'a At<'a>, &'a str),
    /// An item of a list.
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn location(&self) -> &'static str {
        match self {
            At::Body => "body",
            At::Param(loc, _) => loc,
            At::Field(parent, _) | At::Index(parent, _) => parent.location(),
        }
    }

    fn render(&self, out: &mut String) {
        match self {
            At::Body => {}
            At::Param(_, name) => out.push_str(name),
            At::Field(parent, name) => {
                parent.render(out);
                out.push('/');
                // RFC 6901 escaping
                out.push_str(&name.replace('~', "~0").replace('/', "~1"));
            }
            At::Index(parent, i) => {
                parent.render(out);
                out.push('/');
                out.push_str(&i.to_string());
            }
        }
    }

    /// The JSON pointer (or parameter name) of this place.
    pub fn pointer(&self) -> String {
        let mut s = String::new();
        self.render(&mut s);
        s
    }
}

/// Violations found so far.
#[derive(Debug, Default)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    /// None yet.
    pub fn new() -> Self {
        Violations(Vec::new())
    }

    /// Records a violation at a place.
    pub fn add(&mut self, at: &At<'_>, detail: impl Into<String>) {
        self.0.push(Violation {
            location: at.location(),
            pointer: at.pointer(),
            detail: detail.into(),
        });
    }

    /// Records a violation with an explicit pointer.
    pub fn push(&mut self, location: &'static str, pointer: String, detail: String) {
        self.0.push(Violation {
            location,
            pointer,
            detail,
        });
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was found, else the 400 problem listing all.
    pub fn finish(self) -> Result<(), crate::Problem> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::Problem::invalid(self.0))
        }
    }
}

/// A value that knows its constraints.
pub trait Validate {
    /// Checks every constraint, adding what is broken.
    fn validate_at(&self, at: &At<'_>, out: &mut Violations);

    /// Every violation, or `Ok`.
    fn validate(&self) -> Result<(), Vec<Violation>> {
        let mut out = Violations::new();
        self.validate_at(&At::Body, &mut out);
        if out.is_empty() { Ok(()) } else { Err(out.0) }
    }
}

impl<T: Validate> Validate for Option<T> {
    fn validate_at(&self, at: &At<'_>, out: &mut Violations) {
        if let Some(v) = self {
            v.validate_at(at, out);
        }
    }
}

impl<T: Validate> Validate for Box<T> {
    fn validate_at(&self, at: &At<'_>, out: &mut Violations) {
        (**self).validate_at(at, out);
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate_at(&self, at: &At<'_>, out: &mut Violations) {
        for (i, v) in self.iter().enumerate() {
            v.validate_at(&At::Index(at, i), out);
        }
    }
}

impl<T: Validate> Validate for std::collections::BTreeMap<String, T> {
    fn validate_at(&self, at: &At<'_>, out: &mut Violations) {
        for (k, v) in self {
            v.validate_at(&At::Field(at, k), out);
        }
    }
}

/// A number a range constraint applies to.
pub trait Bound: Copy {
    /// As f64 for comparison with the manifest's bound.
    fn as_f64(self) -> f64;

    /// How the value compares with a bound (`None` for NaN).
    fn compare(self, bound: f64) -> Option<Ordering> {
        self.as_f64().partial_cmp(&bound)
    }
}

impl Bound for i64 {
    fn as_f64(self) -> f64 {
        self as f64
    }

    /// Exactly, as JSON Schema compares: past 2^53 an `i64` rounds when
    /// made an `f64` (2^53 + 1 is not at most 2^53).
    fn compare(self, bound: f64) -> Option<Ordering> {
        // 2^63, exactly representable; every i64 is below it
        const TWO_63: f64 = 9_223_372_036_854_775_808.0;
        if bound.is_nan() {
            None
        } else if bound >= TWO_63 {
            Some(Ordering::Less)
        } else if bound < -TWO_63 {
            Some(Ordering::Greater)
        } else {
            // |bound| < 2^63, so its integral part is an exact i64 (`as`
            // truncates towards zero), and the fraction is exact too: below
            // 2^53 `whole` is exact as an f64, above it there is none.
            // (Not `trunc` and `fract`: they are calls into libm.)
            let whole = bound as i64;
            let fraction = bound - whole as f64;
            Some(self.cmp(&whole).then(0.0.partial_cmp(&fraction)?))
        }
    }
}
impl Bound for i32 {
    fn as_f64(self) -> f64 {
        f64::from(self)
    }
}
impl Bound for f64 {
    fn as_f64(self) -> f64 {
        self
    }
}
impl Bound for &crate::values::Decimal {
    fn as_f64(self) -> f64 {
        use rust_decimal::prelude::ToPrimitive;
        self.0.to_f64().unwrap_or(f64::NAN)
    }
}

/// `min`/`max`/`exclusiveMin`/`exclusiveMax`.
pub fn range<N: Bound>(
    out: &mut Violations,
    at: &At<'_>,
    value: N,
    min: Option<f64>,
    max: Option<f64>,
    exclusive_min: Option<f64>,
    exclusive_max: Option<f64>,
) {
    let c = |m: f64| value.compare(m);
    if let Some(m) = min
        && c(m).is_some_and(Ordering::is_lt)
    {
        out.add(at, format!("must be at least {m}"));
    }
    if let Some(m) = max
        && c(m).is_some_and(Ordering::is_gt)
    {
        out.add(at, format!("must be at most {m}"));
    }
    if let Some(m) = exclusive_min
        && c(m).is_some_and(Ordering::is_le)
    {
        out.add(at, format!("must be greater than {m}"));
    }
    if let Some(m) = exclusive_max
        && c(m).is_some_and(Ordering::is_ge)
    {
        out.add(at, format!("must be less than {m}"));
    }
}

/// `minLength`/`maxLength`, in characters.
pub fn length(out: &mut Violations, at: &At<'_>, value: &str, min: Option<u64>, max: Option<u64>) {
    let n = value.chars().count() as u64;
    if let Some(m) = min
        && n < m
    {
        out.add(at, format!("must be at least {m} characters long"));
    }
    if let Some(m) = max
        && n > m
    {
        out.add(at, format!("must be at most {m} characters long"));
    }
}

/// `minItems`/`maxItems`.
pub fn items(out: &mut Violations, at: &At<'_>, len: usize, min: Option<u64>, max: Option<u64>) {
    let n = len as u64;
    if let Some(m) = min
        && n < m
    {
        out.add(at, format!("must have at least {m} items"));
    }
    if let Some(m) = max
        && n > m
    {
        out.add(at, format!("must have at most {m} items"));
    }
}

/// `set<T>`: no two items equal.
pub fn unique<T: PartialEq>(out: &mut Violations, at: &At<'_>, values: &[T]) {
    for (i, a) in values.iter().enumerate() {
        if values[..i].contains(a) {
            out.add(&At::Index(at, i), "repeats an earlier item of a set");
            return;
        }
    }
}

/// A `pattern:` compiled once, on first use, as the JSON Schema validator
/// compiles it (ECMA-262 semantics, as the body schemas and the OpenAPI
/// document say: `\d` is an ASCII digit), so the typed checks and the
/// schema agree: jsonschema's translation to Rust syntax
/// (`jsonschema_regex::to_rust_regex`), then `fancy-regex` with the
/// validator's default limits (none). Matching calls that engine directly,
/// without a JSON value and the validator around it; if it reports an
/// error (or panics, as the validator guards against), or the pattern does
/// not translate, the validator itself decides.
pub struct Pattern {
    source: &'static str,
    engine: OnceLock<Option<fancy_regex::Regex>>,
    validator: OnceLock<Option<jsonschema::Validator>>,
}

impl Pattern {
    /// A pattern from the manifest (checked by `svcc check` to compile).
    pub const fn new(source: &'static str) -> Self {
        Pattern {
            source,
            engine: OnceLock::new(),
            validator: OnceLock::new(),
        }
    }

    /// Whether the value matches (JSON Schema semantics: a search, not anchored).
    pub fn matches(&self, value: &str) -> bool {
        let engine = self.engine.get_or_init(|| {
            let translated = jsonschema_regex::to_rust_regex(self.source).ok()?;
            fancy_regex::Regex::new(&translated).ok()
        });
        if let Some(re) = engine
            && let Ok(Ok(found)) =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| re.is_match(value)))
        {
            return found;
        }
        self.by_validator(value)
    }

    /// What the validator says (also what [`Pattern::matches`] must agree with).
    fn by_validator(&self, value: &str) -> bool {
        self.validator
            .get_or_init(|| {
                crate::strict::validator(&serde_json::json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "pattern": self.source,
                }))
                .ok()
            })
            .as_ref()
            .is_none_or(|v| crate::strict::with_string(value, |s| v.is_valid(s)))
    }
}

/// `pattern:`
pub fn pattern(out: &mut Violations, at: &At<'_>, value: &str, p: &Pattern) {
    if !p.matches(value) {
        out.add(at, format!("must match the pattern `{}`", p.source));
    }
}

/// A string format, as JSON Schema checks it.
fn string_format(out: &mut Violations, at: &At<'_>, value: &str, f: Format, detail: &'static str) {
    if !f.check(value) {
        out.add(at, detail);
    }
}

/// The `email` format.
pub fn email(out: &mut Violations, at: &At<'_>, value: &str) {
    string_format(out, at, value, Format::Email, "must be an email address");
}

/// The `uri` format.
pub fn uri(out: &mut Violations, at: &At<'_>, value: &str) {
    string_format(out, at, value, Format::Uri, "must be an absolute URI");
}

/// The `time` format (RFC 3339 `full-time`).
pub fn time(out: &mut Violations, at: &At<'_>, value: &str) {
    string_format(
        out,
        at,
        value,
        Format::Time,
        "must be a time (HH:MM:SS with an offset)",
    );
}

/// The `duration` format (ISO 8601).
pub fn duration(out: &mut Violations, at: &At<'_>, value: &str) {
    string_format(
        out,
        at,
        value,
        Format::Duration,
        "must be an ISO 8601 duration",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_escape_and_nest() {
        let mut v = Violations::new();
        let f = At::Field(&At::Body, "items");
        let i = At::Index(&f, 2);
        let q = At::Field(&i, "a/b");
        range(&mut v, &q, 0i64, Some(1.0), None, None, None);
        length(&mut v, &At::Param("query", "q"), "", Some(1), None);
        assert_eq!(v.0[0].pointer, "/items/2/a~1b");
        assert_eq!(v.0[0].location, "body");
        assert_eq!(v.0[1].pointer, "q");
        assert_eq!(v.0[1].location, "query");
    }

    #[test]
    fn integer_bounds_are_exact() {
        let mut v = Violations::new();
        // 2^53 + 1 rounds to 2^53 as an f64
        range(
            &mut v,
            &At::Body,
            9_007_199_254_740_993i64,
            None,
            Some(9_007_199_254_740_992.0),
            None,
            None,
        );
        assert_eq!(v.0.len(), 1);
        range(
            &mut v,
            &At::Body,
            5i64,
            Some(4.5),
            Some(5.5),
            Some(4.9),
            Some(5.1),
        );
        range(&mut v, &At::Body, -5i64, Some(-5.5), Some(-4.5), None, None);
        range(&mut v, &At::Body, i64::MAX, None, Some(9.3e18), None, None);
        assert_eq!(v.0.len(), 1);
        range(&mut v, &At::Body, 5i64, None, None, Some(5.0), None);
        range(&mut v, &At::Body, 6i64, Some(6.5), None, None, None);
        assert_eq!(v.0.len(), 3);
    }

    #[test]
    fn patterns_are_ecma() {
        let p = Pattern::new("^\\d+$");
        assert!(p.matches("42"));
        // Arabic-Indic digits: `\d` in Rust's regex, not in ECMA-262
        assert!(!p.matches("\u{0664}\u{0662}"));
        assert!(Pattern::new("[A-Z]").matches("xYz"));
    }

    #[test]
    fn patterns_match_as_the_validator_matches() {
        let patterns = [
            "^[A-Z0-9-]{4,32}$",
            "^[A-Z]{2}$",
            "^\\d+$",
            "\\w+@\\w+",
            "^\\S*$",
            "^abc",
            "^abc$",
            "^(red|green|blue)$",
            "colou?r",
            "^[^\\s]+$",
            "^\\p{L}+$",
            "^.{2,3}$",
            "a|b$",
            "^[\\u0041-\\u005A]+$",
            "^\\cJ$",
            "(?=a)a",
            "^(a)\\1$",
        ];
        let values = [
            "",
            "GB",
            "gb",
            "G",
            "GBR",
            "TSHIRT-BLK-M",
            "MUG",
            "a-b",
            "42",
            "\u{0664}\u{0662}",
            "x@y",
            "a b",
            "abc",
            "abcd",
            "xabc",
            "red",
            "reds",
            "color",
            "colour",
            "é",
            "日本",
            "ab\n",
            "\n",
            "aa",
            "ba",
            "A\u{1F600}",
            "\u{00a0}",
            "\u{2028}",
            "Z",
        ];
        for source in patterns {
            let p = Pattern::new(source);
            for value in values {
                assert_eq!(
                    p.matches(value),
                    p.by_validator(value),
                    "{source} on {value:?}"
                );
            }
        }
    }

    #[test]
    fn formats() {
        let mut v = Violations::new();
        email(&mut v, &At::Body, "a@b.c");
        uri(&mut v, &At::Body, "https://x.y/z");
        assert!(v.is_empty());
        email(&mut v, &At::Body, "nope");
        email(&mut v, &At::Body, "a@b..c");
        uri(&mut v, &At::Body, "no scheme");
        assert_eq!(v.0.len(), 3);
        time(&mut v, &At::Body, "10:00:00Z");
        duration(&mut v, &At::Body, "P1DT2H");
        assert_eq!(v.0.len(), 3);
        time(&mut v, &At::Body, "10:00");
        duration(&mut v, &At::Body, "1 day");
        assert_eq!(v.0.len(), 5);
    }
}
