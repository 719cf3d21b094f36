//! JSON values to YAML text, with saphyr's emitter.
//!
//! Emitters build documents as `serde_json::Value` trees (typed values,
//! never text templates); this turns a tree into YAML. Strings that YAML
//! would read as something else (`yes`, `1.0`, `null`, `: x`) are quoted by
//! the emitter, and a unit test parses the output back with svcc's own
//! YAML 1.2 loader to prove the round trip.

use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};
use serde_json::Value;
use std::borrow::Cow;

fn convert(value: &Value) -> Yaml<'_> {
    match value {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => Yaml::Value(Scalar::FloatingPoint(n.as_f64().unwrap_or(0.0).into())),
        },
        Value::String(s) => Yaml::Value(Scalar::String(Cow::Borrowed(s))),
        Value::Array(items) => Yaml::Sequence(items.iter().map(convert).collect()),
        Value::Object(map) => {
            let mut out = Mapping::new();
            for (k, v) in map {
                out.insert(Yaml::Value(Scalar::String(Cow::Borrowed(k))), convert(v));
            }
            Yaml::Mapping(out)
        }
    }
}

/// The value as a YAML document (no `---` header), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let yaml = convert(value);
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline(true);
    if emitter.dump(&yaml).is_err() {
        return String::new();
    }
    let body = out.strip_prefix("---\n").unwrap_or(&out).to_string();
    if body.ends_with('\n') {
        body
    } else {
        body + "\n"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostics;
    use crate::load::{Format, load_file};
    use crate::source::SourceMap;
    use serde_json::json;

    #[test]
    fn round_trips_through_svccs_own_loader() {
        let value = json!({
            "openapi": "3.1.0",
            "tricky": ["yes", "no", "on", "1.0", "null", "~", "true", "", " x", "a: b", "#c", "- d", "multi\nline", "'q'", "\"dq\"", "{x}", "@at", "100%"],
            "n": 42, "f": 0.5, "b": false, "z": null,
            "nested": {"a": [1, 2, {"b": "c"}], "empty": {}, "list": []}
        });
        let text = to_yaml(&value);
        let mut sources = SourceMap::new();
        let mut out = Diagnostics::new();
        let loaded = load_file(
            &mut sources,
            "x.yaml",
            text.as_bytes(),
            Format::Yaml,
            &mut out,
        );
        assert!(out.is_empty(), "{text}");
        assert_eq!(loaded.documents[0].root.to_json(), value, "{text}");
    }
}
