//! Structured JSON logs (one object a line on stdout) with request ids and
//! W3C trace context, and redaction of `sensitive` fields.
//!
//! `SVCC_LOG` sets the filter (`info` by default, `tracing` env-filter
//! syntax); `SVCC_LOG_FORMAT=pretty` prints human-readable lines instead.
//! Request bodies are never logged unless `SVCC_LOG_BODIES=1`, and then
//! with every field the manifest marks `sensitive` replaced by `"[redacted]"`.

use serde_json::Value;

/// Installs the global subscriber once (later calls do nothing).
pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SVCC_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let pretty = std::env::var("SVCC_LOG_FORMAT").is_ok_and(|v| v == "pretty");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let _ = if pretty {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init()
    };
}

/// Replaces the values of sensitive fields, at any depth.
pub fn redact(value: &mut Value, sensitive: &[&str]) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if sensitive.contains(&k.as_str()) {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v, sensitive);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact(v, sensitive)),
        _ => {}
    }
}

/// W3C `traceparent`: the trace this request belongs to and our span in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// 32 hex digits.
    pub trace_id: String,
    /// Our span, 16 hex digits.
    pub span_id: String,
    /// The caller's span, when a valid `traceparent` came in.
    pub parent_id: Option<String>,
    /// Sampled flag.
    pub sampled: bool,
}

fn random_hex(bytes: usize) -> String {
    let u = uuid::Uuid::new_v4();
    u.as_bytes()[..bytes]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b != b'0')
}

impl Trace {
    /// Continues the incoming trace, or starts a new one.
    pub fn from_header(header: Option<&str>) -> Self {
        let span_id = random_hex(8);
        if let Some(h) = header {
            let parts: Vec<&str> = h.trim().split('-').collect();
            if parts.len() >= 4
                && parts[0].len() == 2
                && parts[0] != "ff"
                && is_hex(parts[1], 32)
                && is_hex(parts[2], 16)
                && parts[3].len() == 2
            {
                return Trace {
                    trace_id: parts[1].to_string(),
                    span_id,
                    parent_id: Some(parts[2].to_string()),
                    sampled: u8::from_str_radix(parts[3], 16).is_ok_and(|f| f & 1 == 1),
                };
            }
        }
        Trace {
            trace_id: random_hex(16),
            span_id,
            parent_id: None,
            sampled: true,
        }
    }

    /// The header to send on outbound calls (our span as the parent).
    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continues_a_valid_trace_and_replaces_a_bad_one() {
        let t = Trace::from_header(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(t.parent_id.as_deref(), Some("00f067aa0ba902b7"));
        assert!(
            t.header()
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        let bad = Trace::from_header(Some(
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ));
        assert_ne!(bad.trace_id, "00000000000000000000000000000000");
        assert_eq!(bad.trace_id.len(), 32);
    }

    #[test]
    fn redacts_nested_sensitive_fields() {
        let mut v = serde_json::json!({"email": "a@b.c", "items": [{"email": "x"}], "id": 1});
        redact(&mut v, &["email"]);
        assert_eq!(
            v,
            serde_json::json!({"email": "[redacted]", "items": [{"email": "[redacted]"}], "id": 1})
        );
    }
}
