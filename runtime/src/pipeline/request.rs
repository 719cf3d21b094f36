//! A request as generated route functions see it: path, query, headers and
//! the body's bytes, with the route's JSON Schema to check them against.
//!
//! Generated code pulls typed values out with [`Request::path`],
//! [`Request::query`], [`Request::header`] and [`Request::body_checked`];
//! each records what is wrong in a [`Violations`] list instead of
//! returning early, so one answer lists every problem of a request.
//!
//! A body is decoded into its type straight from the bytes and checked by
//! the generated checks; only when that fails does the JSON Schema
//! validator run, to word every violation with its JSON pointer (and to
//! accept what only a `serde_json::Value` can: `195.0` for an integer,
//! duplicate keys, of which the last counts).

use crate::validate::{At, Violations};
use crate::values::{Date, DateTime, Decimal, Time, Uuid};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;

/// A decoded request.
#[derive(Debug, Default)]
pub struct Request {
    /// Path parameters, percent-decoded.
    pub path: Vec<(String, String)>,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as JSON, once parsed for the schema (see [`Request::body`]).
    pub body: Option<Value>,
    /// What was wrong with the body (missing, syntax, schema).
    pub body_violations: Vec<crate::validate::Violation>,
    /// The body as sent, until it is decoded.
    pub(crate) raw: Option<bytes::Bytes>,
    /// The route's body schema.
    pub(crate) schema: Option<Arc<jsonschema::Validator>>,
}

/// A type a path, query or header parameter can hold.
pub trait FromParam: Sized {
    /// Parses the text of a parameter.
    fn from_param(s: &str) -> Result<Self, String>;
}

impl FromParam for String {
    fn from_param(s: &str) -> Result<Self, String> {
        Ok(s.to_string())
    }
}

macro_rules! from_str_param {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl FromParam for $t {
            fn from_param(s: &str) -> Result<Self, String> {
                s.parse::<$t>().map_err(|_| format!("`{s}` is not {}", $what))
            }
        }
    )*};
}

from_str_param! {
    i64 => "an integer",
    i32 => "a 32-bit integer",
    Uuid => "a UUID",
    Time => "a time (HH:MM:SS)",
}

/// A `date` or `date-time` parameter, as strictly as its schema's format
/// (RFC 3339, checked as request bodies are): jiff's parser alone also
/// takes `2024-02-29 10:00Z`, `+0200` and time zone names.
fn formatted_param<T: std::str::FromStr>(
    s: &str,
    format: crate::strict::Format,
    what: &str,
) -> Result<T, String> {
    if !format.check(s) {
        return Err(format!("`{s}` is not {what}"));
    }
    s.parse::<T>().map_err(|_| format!("`{s}` is not {what}"))
}

impl FromParam for Date {
    fn from_param(s: &str) -> Result<Self, String> {
        formatted_param(s, crate::strict::Format::Date, "a date (YYYY-MM-DD)")
    }
}

impl FromParam for DateTime {
    fn from_param(s: &str) -> Result<Self, String> {
        formatted_param(s, crate::strict::Format::DateTime, "an RFC 3339 date-time")
    }
}

impl FromParam for f64 {
    fn from_param(s: &str) -> Result<Self, String> {
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("`{s}` is not a number")),
        }
    }
}

impl FromParam for bool {
    fn from_param(s: &str) -> Result<Self, String> {
        match s {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("`{s}` is not `true` or `false`")),
        }
    }
}

impl FromParam for Decimal {
    fn from_param(s: &str) -> Result<Self, String> {
        s.parse()
    }
}

/// Parses a parameter through serde as a JSON string (generated enums).
pub fn from_param_str<T: DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(Value::String(s.to_string()))
        .map_err(|_| format!("`{s}` is not allowed here"))
}

impl Request {
    fn lookup<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
        list.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn parse<T: FromParam>(
        raw: Option<&str>,
        location: &'static str,
        name: &str,
        required: bool,
        out: &mut Violations,
    ) -> Option<T> {
        let at = At::Param(location, name);
        match raw {
            None => {
                if required {
                    out.add(
                        &at,
                        format!("the {location} parameter `{name}` is required"),
                    );
                }
                None
            }
            Some(s) => match T::from_param(s) {
                Ok(v) => Some(v),
                Err(e) => {
                    out.add(&at, e);
                    None
                }
            },
        }
    }

    /// A path parameter (always present when the route matched).
    pub fn path<T: FromParam>(&self, name: &str, out: &mut Violations) -> Option<T> {
        Self::parse(Self::lookup(&self.path, name), "path", name, true, out)
    }

    /// A query parameter; `required` records a violation when it is absent.
    pub fn query<T: FromParam>(
        &self,
        name: &str,
        required: bool,
        out: &mut Violations,
    ) -> Option<T> {
        Self::parse(
            Self::lookup(&self.query, name),
            "query",
            name,
            required,
            out,
        )
    }

    /// Every value of a repeated query parameter (`?tag=a&tag=b`).
    pub fn query_list<T: FromParam>(&self, name: &str, out: &mut Violations) -> Vec<T> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| Self::parse(Some(v), "query", name, true, out))
            .collect()
    }

    /// A header parameter.
    pub fn header<T: FromParam>(
        &self,
        name: &str,
        required: bool,
        out: &mut Violations,
    ) -> Option<T> {
        let raw = self.headers.get(name).map(|v| v.to_str());
        match raw {
            Some(Err(_)) => {
                out.add(&At::Param("header", name), "is not visible ASCII text");
                None
            }
            Some(Ok(s)) => Self::parse(Some(s), "header", name, required, out),
            None => Self::parse(None, "header", name, required, out),
        }
    }

    /// Parses the raw body and checks it against the route's schema,
    /// recording what is wrong; the body is then in [`Request::body`].
    fn schema_pass(&mut self) {
        let Some(raw) = self.raw.take() else {
            return;
        };
        // Malformed JSON is one more violation, so that the 400 also lists
        // what is wrong with the path and query.
        let value: Value = match serde_json::from_slice(&raw) {
            Ok(v) => v,
            Err(e) => {
                self.body_violations.push(crate::validate::Violation {
                    location: "body",
                    pointer: String::new(),
                    detail: format!("is not valid JSON: {e}"),
                });
                return;
            }
        };
        // `is_valid` stops at the first failure and builds no errors.
        if let Some(v) = &self.schema
            && !v.is_valid(&value)
        {
            for e in v.iter_errors(&value) {
                self.body_violations.push(crate::validate::Violation {
                    location: "body",
                    pointer: e.instance_path().to_string(),
                    detail: e.to_string(),
                });
            }
        }
        self.body = Some(value);
    }

    /// The body as `T`, checked against the route's JSON Schema first;
    /// what is wrong (a missing required body, malformed JSON, schema
    /// violations) is added to `out`, so the route function of every route
    /// with a body must call this or [`Request::body_checked`].
    pub fn body<T: DeserializeOwned>(&mut self, out: &mut Violations) -> Option<T> {
        self.schema_pass();
        out.0.append(&mut self.body_violations);
        if !out.is_empty() {
            return None;
        }
        let mut value = self.body.take()?;
        integral(&mut value);
        match serde_json::from_value(value) {
            Ok(v) => Some(v),
            Err(e) => {
                out.push("body", String::new(), e.to_string());
                None
            }
        }
    }

    /// The body as `T`, decoded from the bytes and checked by `checks`
    /// (`x`, the place of the body, and where violations go), without
    /// the JSON Schema validator when both succeed.
    ///
    /// The caller promises that the decode and `checks` together refuse
    /// everything the route's schema refuses (generated types do: see
    /// [`crate::strict`]). When either fails, the answer is exactly that
    /// of [`Request::body`] followed by `checks`: the schema's violations,
    /// else the decode error, else what `checks` found.
    pub fn body_checked<T, F>(&mut self, out: &mut Violations, checks: F) -> Option<T>
    where
        T: DeserializeOwned,
        F: Fn(&T, &At<'_>, &mut Violations),
    {
        if self.body_violations.is_empty()
            && let Some(raw) = &self.raw
            && let Ok(value) = serde_json::from_slice::<T>(raw)
        {
            let mut found = Violations::new();
            checks(&value, &At::Body, &mut found);
            if found.is_empty() {
                self.raw = None;
                return Some(value);
            }
        }
        let value = self.body::<T>(out)?;
        checks(&value, &At::Body, out);
        Some(value)
    }
}

/// Writes numbers without a fractional part (`195.0`) as integers: JSON
/// Schema counts them as integers, so a body the schema accepted must not
/// fail to decode into an `i64` field. (Float fields take integers too.)
fn integral(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral),
        Value::Object(map) => map.values_mut().for_each(integral),
        _ => {}
    }
}

/// A value that was checked to be there (a path parameter, a required body).
/// Reaching the error means the runtime skipped a check: a bug, so a 500.
pub fn present<T>(value: Option<T>, what: &str) -> Result<T, crate::Problem> {
    value.ok_or_else(|| crate::Problem::internal(format!("{what} missing after validation")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_and_date_time_parameters_are_exactly_rfc_3339() {
        let datetime = |s: &str| DateTime::from_param(s).is_ok();
        let date = |s: &str| Date::from_param(s).is_ok();
        assert!(datetime("1979-05-27T07:32:00-08:00"));
        assert!(datetime("1979-05-27t07:32:00.5z"));
        assert!(date("2024-02-29"));
        for bad in [
            "1979-05-27 07:32:00Z",
            "1979-05-27T07:32:00+0200",
            "1979-05-27T25:00:00Z",
            "1979-05-27T07:32Z",
            "1979-05-27T07:32:00Z[Europe/Paris]",
            "1979-05-27T07:32:00+24:00",
        ] {
            assert!(!datetime(bad), "{bad}");
        }
        for bad in [
            "2023-02-29",
            "2024-02-30",
            "2024-1-01",
            "20240101",
            "2024-02-29T10:00:00",
        ] {
            assert!(!date(bad), "{bad}");
        }
    }

    #[test]
    fn integral_floats_decode_as_integers() {
        #[derive(serde::Deserialize)]
        struct Item {
            quantity: i64,
            weight: f64,
        }
        let mut req = Request {
            body: Some(serde_json::json!([
                { "quantity": 195.0, "weight": 2.0 },
                { "quantity": -0.0, "weight": 2.5 }
            ])),
            ..Request::default()
        };
        let mut v = Violations::new();
        let items: Option<Vec<Item>> = req.body(&mut v);
        assert!(v.is_empty(), "{v:?}");
        let items = items.unwrap_or_default();
        assert_eq!(items[0].quantity, 195);
        assert_eq!(items[1].quantity, 0);
        assert!((items[1].weight - 2.5).abs() < f64::EPSILON);
        // a fraction is still not an integer
        let mut req = Request {
            body: Some(serde_json::json!([{ "quantity": 1.5, "weight": 1 }])),
            ..Request::default()
        };
        assert!(req.body::<Vec<Item>>(&mut v).is_none());
        assert_eq!(v.0.len(), 1);
    }

    // ---- body_checked against body (schema first), on bodies where the
    // typed decode and the JSON Schema could disagree

    const SCHEMAS: &str = r##"{
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "$ref": "#/$defs/Order",
      "$defs": {
        "Order": {"type": "object", "required": ["id", "email", "lines"], "properties": {
          "id": {"type": "string", "format": "uuid"},
          "email": {"type": "string", "format": "email"},
          "lines": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Line"}},
          "at": {"type": ["string", "null"], "format": "date-time"},
          "note": {"type": ["string", "null"], "maxLength": 5},
          "price": {"type": ["string", "null"], "format": "decimal", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"},
          "gift": {"$ref": "#/$defs/Line", "default": {"sku": "GIFT", "quantity": 1}},
          "pay": {"anyOf": [{"$ref": "#/$defs/Pay"}, {"type": "null"}]},
          "blob": {"type": ["string", "null"], "contentEncoding": "base64"}
        }},
        "Line": {"type": "object", "required": ["sku", "quantity"], "properties": {
          "sku": {"type": "string", "pattern": "^[A-Z]+$"},
          "quantity": {"type": "integer", "format": "int64", "minimum": 1}
        }},
        "Pay": {"oneOf": [{"$ref": "#/$defs/PayCard"}, {"$ref": "#/$defs/PayCash"}],
                "discriminator": {"propertyName": "kind"}},
        "PayCard": {"allOf": [{"$ref": "#/$defs/Card"}, {"type": "object",
          "properties": {"kind": {"type": "string", "const": "card"}}, "required": ["kind"]}]},
        "PayCash": {"allOf": [{"$ref": "#/$defs/Cash"}, {"type": "object",
          "properties": {"kind": {"type": "string", "const": "cash"}}, "required": ["kind"]}]},
        "Card": {"type": "object", "required": ["last4"], "properties": {
          "last4": {"type": "string", "minLength": 4, "maxLength": 4}}},
        "Cash": {"type": "object", "properties": {"change": {"type": ["integer", "null"]}}}
      }
    }"##;

    // shaped like generated types
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Line {
        sku: String,
        quantity: i64,
    }
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Card {
        last4: String,
    }
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Cash {
        #[serde(default)]
        change: Option<i64>,
    }
    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(tag = "kind")]
    enum Pay {
        #[serde(rename = "card")]
        Card(Card),
        #[serde(rename = "cash")]
        Cash(Cash),
    }
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Order {
        #[serde(deserialize_with = "crate::strict::strict")]
        id: Uuid,
        email: String,
        lines: Vec<Line>,
        #[serde(default, deserialize_with = "crate::strict::strict")]
        at: Option<DateTime>,
        #[serde(default)]
        note: Option<String>,
        #[serde(default)]
        price: Option<Decimal>,
        #[serde(default, deserialize_with = "crate::strict::not_null")]
        gift: Option<Line>,
        #[serde(default)]
        pay: Option<Pay>,
        #[serde(default)]
        blob: Option<crate::values::Bytes>,
    }

    fn line_checks(l: &Line, at: &At<'_>, out: &mut Violations) {
        static SKU: crate::validate::Pattern = crate::validate::Pattern::new("^[A-Z]+$");
        crate::validate::pattern(out, &At::Field(at, "sku"), &l.sku, &SKU);
        crate::validate::range(
            out,
            &At::Field(at, "quantity"),
            l.quantity,
            Some(1.0),
            None,
            None,
            None,
        );
    }

    fn order_checks(o: &Order, at: &At<'_>, out: &mut Violations) {
        crate::validate::email(out, &At::Field(at, "email"), &o.email);
        let lines = At::Field(at, "lines");
        crate::validate::items(out, &lines, o.lines.len(), Some(1), None);
        for (i, l) in o.lines.iter().enumerate() {
            line_checks(l, &At::Index(&lines, i), out);
        }
        if let Some(n) = &o.note {
            crate::validate::length(out, &At::Field(at, "note"), n, None, Some(5));
        }
        if let Some(g) = &o.gift {
            line_checks(g, &At::Field(at, "gift"), out);
        }
        if let Some(Pay::Card(c)) = &o.pay {
            crate::validate::length(out, &At::Field(at, "pay/last4"), &c.last4, Some(4), Some(4));
        }
    }

    fn request(body: &str, schema: &Arc<jsonschema::Validator>) -> Request {
        Request {
            raw: Some(bytes::Bytes::copy_from_slice(body.as_bytes())),
            schema: Some(schema.clone()),
            ..Request::default()
        }
    }

    /// The answer for `body` (decoded, and the violations), after checking
    /// that the schema-first path gives the same, and that a body taken
    /// without the schema is one the schema accepts.
    fn decode(body: &str) -> (Option<Order>, Vec<(String, String)>) {
        let schemas: Value = serde_json::from_str(SCHEMAS).unwrap_or_default();
        let schema = Arc::new(crate::strict::validator(&schemas).unwrap_or_else(|e| panic!("{e}")));
        let mut req = request(body, &schema);
        let mut v = Violations::new();
        let fast = req.body_checked::<Order, _>(&mut v, order_checks);
        if fast.is_some() && v.is_empty() && req.body.is_none() {
            let value: Value = serde_json::from_str(body).unwrap_or_default();
            assert!(
                schema.is_valid(&value),
                "taken without the schema, refused by it: {body}"
            );
        }
        let mut old = request(body, &schema);
        let mut w = Violations::new();
        let slow = old.body::<Order>(&mut w);
        if let Some(o) = &slow {
            order_checks(o, &At::Body, &mut w);
        }
        assert_eq!(fast, slow, "{body}");
        assert_eq!(v.0, w.0, "{body}");
        let found = v.0.into_iter().map(|x| (x.pointer, x.detail)).collect();
        (fast, found)
    }

    const ID: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";

    fn order(extra: &str) -> String {
        format!(
            r#"{{"id": "{ID}", "email": "ada@example.com", "lines": [{{"sku": "AB", "quantity": 2}}]{extra}}}"#
        )
    }

    fn pointers(found: &[(String, String)]) -> Vec<&str> {
        found.iter().map(|(p, _)| p.as_str()).collect()
    }

    #[test]
    fn a_valid_body_skips_the_schema() {
        let (o, found) = decode(&order(
            r#", "note": "hi", "price": "12.50", "at": "2024-02-29T10:00:00Z", "pay": {"kind": "card", "last4": "4242"}"#,
        ));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(o.map(|o| o.lines[0].quantity), Some(2));
    }

    #[test]
    fn integers_written_with_a_fraction_of_zero_are_integers() {
        let (o, found) = decode(&order(r#", "gift": {"sku": "X", "quantity": 195.0}"#));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(o.and_then(|o| o.gift).map(|g| g.quantity), Some(195));
        let (_, found) = decode(&order(r#", "gift": {"sku": "X", "quantity": 1.5}"#));
        assert_eq!(pointers(&found), ["/gift/quantity"]);
    }

    #[test]
    fn duplicate_keys_keep_the_last() {
        // serde refuses a repeated field; JSON Schema sees the last
        let (o, found) = decode(&format!(
            r#"{{"id": "{ID}", "email": "a@b.c", "email": "ada@example.com", "lines": [{{"sku": "AB", "quantity": 0, "quantity": 3}}]}}"#
        ));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            o.map(|o| (o.email, o.lines[0].quantity)),
            Some(("ada@example.com".into(), 3))
        );
        let (_, found) = decode(&format!(
            r#"{{"id": "{ID}", "email": "ada@example.com", "lines": [{{"sku": "AB", "quantity": 3, "quantity": 0}}]}}"#
        ));
        assert_eq!(pointers(&found), ["/lines/0/quantity"]);
    }

    #[test]
    fn unknown_properties_and_nulls() {
        // not closed: unknown properties are allowed by both
        let (o, found) = decode(&order(
            r#", "extra": {"x": [1, null]}, "note": null, "at": null, "pay": null"#,
        ));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(o.map(|o| (o.note, o.at, o.pay)), Some((None, None, None)));
        // a field with a default is optional but not nullable
        let (o, found) = decode(&order(r#", "gift": null"#));
        assert!(o.is_none());
        assert_eq!(pointers(&found), ["/gift"]);
        // a required field is not nullable
        let (_, found) = decode(&format!(
            r#"{{"id": "{ID}", "email": null, "lines": [{{"sku": "AB", "quantity": 2}}]}}"#
        ));
        assert_eq!(pointers(&found), ["/email"]);
    }

    #[test]
    fn formats_are_the_schemas() {
        for (extra, at) in [
            (r#", "at": "2024-02-29 10:00:00Z""#, "/at"),
            (r#", "at": "2024-02-29T10:00:00Z[Europe/Paris]""#, "/at"),
            (r#", "at": "2024-02-29T10:00:00+01""#, "/at"),
        ] {
            let (o, found) = decode(&order(extra));
            assert!(o.is_none(), "{extra}");
            assert_eq!(pointers(&found), [at], "{extra}");
        }
        for id in [
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            "67e5504410b1426f9247bb680e5fe0c8",
            "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
        ] {
            let (o, found) = decode(&format!(
                r#"{{"id": "{id}", "email": "ada@example.com", "lines": [{{"sku": "AB", "quantity": 2}}]}}"#
            ));
            assert!(o.is_none(), "{id}");
            assert_eq!(pointers(&found), ["/id"], "{id}");
        }
        let (_, found) = decode(&format!(
            r#"{{"id": "{ID}", "email": "not an address", "lines": [{{"sku": "AB", "quantity": 2}}]}}"#
        ));
        assert_eq!(pointers(&found), ["/email"]);
    }

    #[test]
    fn patterns_are_ecma() {
        // the schema validator's own engine (see validate::Pattern)
        let (_, found) = decode(&order(r#", "gift": {"sku": "ÄB", "quantity": 1}"#));
        assert_eq!(pointers(&found), ["/gift/sku"]);
    }

    #[test]
    fn tagged_unions() {
        let (o, found) = decode(&order(r#", "pay": {"kind": "cash", "change": 5}"#));
        assert!(found.is_empty(), "{found:?}");
        assert_eq!(
            o.and_then(|o| o.pay),
            Some(Pay::Cash(Cash { change: Some(5) }))
        );
        for pay in [
            r#"{"kind": "cheque"}"#,
            r#"{"kind": 0, "last4": "4242"}"#,
            r#"{"last4": "4242"}"#,
            r#"{"kind": "card", "last4": "42"}"#,
        ] {
            let (o, found) = decode(&order(&format!(r#", "pay": {pay}"#)));
            assert!(o.is_none(), "{pay}");
            assert!(
                !found.is_empty() && found.iter().all(|(p, _)| p.starts_with("/pay")),
                "{pay}: {found:?}"
            );
        }
    }

    #[test]
    fn decimals_and_bytes() {
        // the schema's pattern refuses these; so does the decode
        for price in [r#"" 1.5""#, r#""+1""#, r#""1.""#, r#""1_000""#, "1.5"] {
            let (o, found) = decode(&order(&format!(r#", "price": {price}"#)));
            assert!(o.is_none(), "{price}");
            assert_eq!(pointers(&found), ["/price"], "{price}");
        }
        // what only the decode refuses is still reported, after the schema passed
        let huge = "9".repeat(40);
        let (o, found) = decode(&order(&format!(r#", "price": "{huge}""#)));
        assert!(o.is_none());
        assert_eq!(pointers(&found), [""]);
        let (o, found) = decode(&order(r#", "blob": "not base64!""#));
        assert!(o.is_none());
        assert_eq!(pointers(&found), [""]);
        let (o, found) = decode(&order(r#", "blob": "aGk=""#));
        assert!(found.is_empty());
        assert_eq!(o.and_then(|o| o.blob).map(|b| b.0), Some(b"hi".to_vec()));
    }

    #[test]
    fn every_violation_of_a_bad_body() {
        let (o, found) = decode(
            r#"{"id": "x", "email": "ada", "lines": [{"sku": "a", "quantity": 0}], "note": "too long"}"#,
        );
        assert!(o.is_none());
        let mut at = pointers(&found);
        at.sort_unstable();
        assert_eq!(
            at,
            [
                "/email",
                "/id",
                "/lines/0/quantity",
                "/lines/0/sku",
                "/note"
            ]
        );
        let (_, found) = decode("{");
        assert_eq!(found.len(), 1);
        assert!(found[0].1.starts_with("is not valid JSON"));
        let (_, found) = decode("[]");
        assert_eq!(pointers(&found), [""]);
    }

    #[test]
    fn bodies_that_are_not_objects() {
        let schema = Arc::new(
            crate::strict::validator(&serde_json::json!({
                "type": "array", "items": {"type": "string", "format": "uuid"}, "minItems": 1
            }))
            .unwrap_or_else(|e| panic!("{e}")),
        );
        let checks = |x: &crate::strict::Strictly<Vec<Uuid>>, at: &At<'_>, out: &mut Violations| {
            crate::validate::items(out, at, x.0.len(), Some(1), None);
        };
        let mut v = Violations::new();
        let ids = request(&format!(r#"["{ID}"]"#), &schema).body_checked(&mut v, checks);
        assert_eq!(ids.map(|x| x.0.len()), Some(1));
        for bad in ["[]", r#"["{67e55044-10b1-426f-9247-bb680e5fe0c8}"]"#, "{}"] {
            let mut v = Violations::new();
            let mut req = request(bad, &schema);
            assert!(req.body_checked(&mut v, checks).is_none(), "{bad}");
            assert_eq!(v.0.len(), 1, "{bad}");
        }
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let req = Request {
            path: vec![("id".into(), "x".into())],
            query: vec![("limit".into(), "ten".into())],
            ..Request::default()
        };
        let mut v = Violations::new();
        let id: Option<Uuid> = req.path("id", &mut v);
        let limit: Option<i64> = req.query("limit", false, &mut v);
        let from: Option<Date> = req.query("from", true, &mut v);
        assert!(id.is_none() && limit.is_none() && from.is_none());
        assert_eq!(v.0.len(), 3);
    }
}
