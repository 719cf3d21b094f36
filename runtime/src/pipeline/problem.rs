//! RFC 9457 problem details: the one shape every error answer has.
//!
//! Handlers, the request decoder and every runtime check produce a
//! [`Problem`]; the server turns it into an `application/problem+json`
//! response. Declared errors of the manifest become problems with their own
//! `type` and extra members; built-in ones use a stable `urn:svcc:problem:*`
//! type so clients can tell them apart without parsing `detail`.

use crate::validate::Violation;
use serde::Serialize;
use serde_json::{Map, Value};

/// An RFC 9457 problem. Boxed, so that `Result<T, Problem>` stays one
/// pointer wide on the error side.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Problem(Box<Details>);

/// The members of a problem.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Details {
    /// Identifies the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Identifies this occurrence (the request id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Extension members (declared error fields, `errors`, `allowed`, ...).
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
    /// Headers to send with it (`Retry-After`, `Allow`, ...).
    #[serde(skip)]
    pub headers: Vec<(&'static str, String)>,
    /// What really happened, for operators only: never in the answer
    /// (a 500's detail is generic), but in logs and dead letters.
    #[serde(skip)]
    pub cause: Option<String>,
}

impl Problem {
    /// A problem with a status, a type suffix and a title.
    pub fn new(status: u16, kind: &str, title: &str) -> Self {
        Problem(Box::new(Details {
            kind: format!("urn:svcc:problem:{kind}"),
            title: title.to_string(),
            status,
            detail: None,
            instance: None,
            extensions: Map::new(),
            headers: Vec::new(),
            cause: None,
        }))
    }

    /// Adds `detail`.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        self.extensions.insert(
            key.to_string(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// 400: the request does not match the contract; every violation listed.
    pub fn invalid(violations: Vec<Violation>) -> Self {
        let n = violations.len();
        Problem::new(
            400,
            "invalid-request",
            "The request does not match the contract",
        )
        .with_detail(if n == 1 {
            "1 problem was found in the request".to_string()
        } else {
            format!("{n} problems were found in the request")
        })
        .with("errors", violations)
    }

    /// 400 with one message (malformed JSON, say).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(
            400,
            "invalid-request",
            "The request does not match the contract",
        )
        .with_detail(detail)
    }

    /// 401: no valid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(401, "unauthorized", "No valid credentials").with_detail(detail)
    }

    /// 403: the caller may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(403, "forbidden", "The caller may not do this").with_detail(detail)
    }

    /// 404: nothing with this identifier.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(404, "not-found", "Not found").with_detail(detail)
    }

    /// 409: the resource is in a state that does not allow this.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Problem::new(409, "conflict", "Conflict").with_detail(detail)
    }

    /// 429 with `Retry-After` in whole seconds (at least 1).
    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Problem::new(429, "too-many-requests", "Too many requests")
            .with_detail(detail)
            .with_header("retry-after", retry_after_secs.max(1).to_string())
    }

    /// 500: the service failed. The detail is for logs; clients see a
    /// generic message.
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(error = %detail, "internal error");
        let mut p = Problem::new(500, "internal", "The service failed")
            .with_detail("The service failed; the request id identifies the log entry");
        p.cause = Some(detail);
        p
    }

    /// 501: the operation's handler is still the generated stub.
    pub fn not_implemented(operation: &str) -> Self {
        Problem::new(501, "not-implemented", "Not implemented").with_detail(format!(
            "`{operation}` is not implemented yet: fill in its method in src/handlers.rs"
        ))
    }

    /// A declared error of the manifest (`OutOfStock`, 409) with its fields.
    pub fn declared(name: &str, status: u16, title: &str, fields: Value) -> Self {
        let mut p = Problem::new(status, &kebab(name), title);
        if let Value::Object(map) = fields {
            p.extensions = map;
        }
        p
    }

    /// The JSON body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl std::ops::Deref for Problem {
    type Target = Details;
    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_errors_keep_their_fields_and_a_stable_type() {
        let p = Problem::declared(
            "OutOfStock",
            409,
            "An item is not in stock",
            serde_json::json!({ "available": 0 }),
        );
        let v: Value = serde_json::from_slice(&p.body()).unwrap_or_default();
        assert_eq!(v["type"], "urn:svcc:problem:out-of-stock");
        assert_eq!(v["status"], 409);
        assert_eq!(v["available"], 0);
    }
}
