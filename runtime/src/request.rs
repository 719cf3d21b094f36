//! A request as generated route functions see it: path, query, headers and
//! a body already checked against the route's JSON Schema.
//!
//! Generated code pulls typed values out with [`Request::path`],
//! [`Request::query`], [`Request::header`] and [`Request::body`]; each
//! records what is wrong in a [`Violations`] list instead of returning
//! early, so one answer lists every problem of a request.

use crate::validate::{At, Violations};
use crate::values::{Date, DateTime, Decimal, Time, Uuid};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A decoded request.
#[derive(Debug, Default)]
pub struct Request {
    /// Path parameters, percent-decoded.
    pub path: Vec<(String, String)>,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as JSON, when one was sent and parsed.
    pub body: Option<Value>,
    /// What was wrong with the body (syntax, schema).
    pub body_violations: Vec<crate::validate::Violation>,
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
    Date => "a date (YYYY-MM-DD)",
    DateTime => "an RFC 3339 date-time",
    Time => "a time (HH:MM:SS)",
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

    /// The body as `T`. The runtime has already parsed it and checked it
    /// against the route's schema; what it found wrong (malformed JSON, a
    /// missing required body, schema violations) is added here, so the
    /// route function of every route with a body must call this.
    pub fn body<T: DeserializeOwned>(&mut self, out: &mut Violations) -> Option<T> {
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
