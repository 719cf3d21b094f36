//! JSON values to YAML text, streamed straight into a `String`.
//!
//! Emitters build documents as `serde_json::Value` trees (typed values,
//! never text templates); this turns a tree into YAML. Strings that YAML
//! would read as something else (`yes`, `1.0`, `null`, `: x`) are quoted,
//! and a unit test parses the output back with svcc's own YAML 1.2 loader
//! to prove the round trip.
//!
//! The output is byte for byte what saphyr's `YamlEmitter` (multiline on,
//! compact, two-space indent) prints, which is what svcc wrote before: the
//! same quoting decisions, literal blocks, float formatting and layout. We
//! no longer go through saphyr because converting each document into its
//! tree (a hash map per mapping), emitting it and dropping it was a third
//! of `svcc build --target openapi`. The tests keep the saphyr path and
//! compare the two on every example document and on random values.

use serde_json::Value;
use std::fmt::Write as _;

/// The value as a YAML document (no `---` header), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut writer = Writer {
        out: String::with_capacity(4096),
        level: -1,
        final_line_break: None,
    };
    writer.node(value, true);
    if writer.final_line_break == Some(Chomping::Keep) {
        // text after the block would be part of it, so end the document
        writer.out.push_str("...");
    }
    if !writer.out.ends_with('\n') {
        writer.out.push('\n');
    }
    writer.out
}

/// The chomping of a literal block that ends with a line break.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Chomping {
    /// Only the final line break is part of the value.
    Clip,
    /// All the trailing line breaks are part of the value.
    Keep,
}

/// Spaces for indentation, pushed in slices.
const SPACES: &str = "                                                                ";

/// The emitter's state: the nesting level (-1 at the document root, as in
/// saphyr) and whether a literal block has just written the line break
/// that the next node would otherwise write again.
struct Writer {
    out: String,
    level: isize,
    final_line_break: Option<Chomping>,
}

impl Writer {
    /// Starts a new line, unless a literal block has just ended one.
    fn line_break(&mut self) {
        if self.final_line_break.take().is_none() {
            self.out.push('\n');
        }
    }

    fn indent(&mut self) {
        self.indent_at(self.level);
    }

    fn indent_at(&mut self, level: isize) {
        let mut n = if level <= 0 { 0 } else { 2 * level as usize };
        while n > 0 {
            let k = n.min(SPACES.len());
            self.out.push_str(&SPACES[..k]);
            n -= k;
        }
    }

    /// Any value; `multiline` allows a literal block (not for keys).
    fn node(&mut self, value: &Value, multiline: bool) {
        match value {
            Value::Array(items) => self.sequence(items),
            Value::Object(map) => self.mapping(map),
            Value::String(s) => self.string(s, multiline),
            Value::Bool(true) => self.out.push_str("true"),
            Value::Bool(false) => self.out.push_str("false"),
            Value::Number(n) => match n.as_i64() {
                Some(i) => {
                    let _ = write!(self.out, "{i}");
                }
                None => self.float(n.as_f64().unwrap_or(0.0)),
            },
            Value::Null => self.out.push('~'),
        }
    }

    fn float(&mut self, f: f64) {
        if f.is_nan() {
            self.out.push_str(".nan");
        } else if f.is_infinite() {
            self.out.push_str(if f.is_sign_negative() {
                "-.inf"
            } else {
                ".inf"
            });
        } else {
            let _ = write!(self.out, "{f}");
            if f.fract() == 0.0 {
                self.out.push_str(".0");
            }
        }
    }

    fn string(&mut self, s: &str, multiline: bool) {
        if !s.bytes().any(|b| SPECIAL[b as usize]) {
            // the common case, in one scan: no line break (so no literal
            // block), nothing to escape, only the shape can call for quotes
            if quote_for_shape(s) {
                self.out.push('"');
                self.out.push_str(s);
                self.out.push('"');
            } else {
                self.out.push_str(s);
            }
        } else if multiline && literal_block(s) {
            self.literal(s);
        } else if need_quotes(s) {
            escape(&mut self.out, s);
        } else {
            self.out.push_str(s);
        }
    }

    fn sequence(&mut self, items: &[Value]) {
        if items.is_empty() {
            self.out.push_str("[]");
            return;
        }
        self.level += 1;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.line_break();
                self.indent();
            }
            self.out.push('-');
            self.value(true, item);
        }
        self.level -= 1;
    }

    fn mapping(&mut self, map: &serde_json::Map<String, Value>) {
        if map.is_empty() {
            self.out.push_str("{}");
            return;
        }
        self.level += 1;
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                self.line_break();
                self.indent();
            }
            // a literal block cannot be an implicit key: keys are quoted
            self.string(key, false);
            self.out.push(':');
            self.value(false, value);
        }
        self.level -= 1;
    }

    /// A value after `:` or `-`: on the same line after a space, or for a
    /// non-empty collection after a key, on the next line one level in.
    /// `inline` (after `-`) keeps collections compact on the same line.
    fn value(&mut self, inline: bool, value: &Value) {
        let collection_empty = match value {
            Value::Array(items) => Some(items.is_empty()),
            Value::Object(map) => Some(map.is_empty()),
            _ => None,
        };
        match collection_empty {
            Some(empty) if !(inline || empty) => {
                self.out.push('\n');
                self.indent_at(self.level + 1);
            }
            _ => self.out.push(' '),
        }
        self.node(value, true);
    }

    fn literal(&mut self, v: &str) {
        let needs_indent_indicator = v.trim_start_matches('\n').starts_with([' ', '\t']);
        let trailing_line_breaks = v.len() - v.trim_end_matches('\n').len();
        let keep = trailing_line_breaks > 1;
        if needs_indent_indicator {
            self.out.push_str("|2");
        } else {
            self.out.push('|');
        }
        if keep {
            self.out.push('+');
        } else if trailing_line_breaks != 1 {
            self.out.push('-');
        }
        let previous_level = self.level;
        self.level += 1;
        if self.level == 0 && (needs_indent_indicator || has_document_marker_line(v)) {
            // at the root no indentation is written; `|2` needs it, and a
            // line starting with `---` or `...` would end the document
            self.level = 1;
        }
        // like `str::lines`: no last line when the text ends in a line break
        for line in v.lines() {
            self.out.push('\n');
            self.indent();
            self.out.push_str(line);
        }
        if trailing_line_breaks > 0 {
            self.out.push('\n');
            self.final_line_break = Some(if keep { Chomping::Keep } else { Chomping::Clip });
        }
        self.level = previous_level;
    }
}

/// Whether a string is written as a literal block: it has a line break and
/// a line of text, and only characters a block scalar can hold.
fn literal_block(s: &str) -> bool {
    s.contains('\n')
        && !s.trim_start_matches('\n').is_empty()
        && s.chars().all(|c| {
            matches!(
                c,
                '\t' | '\n'
                    | '\x20'..='\x7e'
                    | '\u{0085}'
                    | '\u{00a0}'..='\u{d7ff}'
                    | '\u{e000}'..='\u{fefe}'
                    | '\u{ff00}'..='\u{fffd}'
                    | '\u{10000}'..='\u{10ffff}'
            )
        })
}

/// Whether a line would be a document marker (`---` or `...` followed by a
/// space, a tab or the end of the line) if written without indentation.
fn has_document_marker_line(s: &str) -> bool {
    let is_marker = |start: usize| {
        let line = &s.as_bytes()[start..];
        (line.starts_with(b"---") || line.starts_with(b"..."))
            && matches!(line.get(3), None | Some(b' ' | b'\t' | b'\n'))
    };
    is_marker(0)
        || ["\n---", "\n..."].into_iter().any(|marker| {
            s.contains(marker) && s.match_indices(marker).any(|(i, _)| is_marker(i + 1))
        })
}

/// Bytes that force quotes anywhere in a string: control characters
/// (line breaks among them), flow indicators, comment and quote
/// characters, `:` and DEL; and, to be looked at more closely, every byte
/// of a non-ASCII character (a byte order mark is quoted too).
const SPECIAL: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = b < 0x20 || b >= 0x80;
        b += 1;
    }
    let special = b":{}[],#`\"'\\\x7f";
    let mut i = 0;
    while i < special.len() {
        table[special[i] as usize] = true;
        i += 1;
    }
    table
};

/// Whether a string must be double-quoted to read back as the same string
/// (saphyr's rules, which quote the YAML 1.1 booleans too).
fn need_quotes(s: &str) -> bool {
    quote_for_shape(s)
        || s.bytes().any(|b| b < 0x80 && SPECIAL[b as usize])
        || (!s.is_ascii() && s.contains('\u{feff}'))
}

/// The part of [`need_quotes`] that does not look at every character: empty,
/// spaces around, an indicator first, a word or number YAML would resolve.
fn quote_for_shape(s: &str) -> bool {
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return true;
    };
    if first == b' '
        || bytes.last() == Some(&b' ')
        || matches!(
            first,
            b'&' | b'*' | b'?' | b'|' | b'-' | b'<' | b'>' | b'=' | b'!' | b'%' | b'@' | b'.'
        )
    {
        return true;
    }
    if matches!(
        s,
        "yes"
            | "Yes"
            | "YES"
            | "no"
            | "No"
            | "NO"
            | "True"
            | "TRUE"
            | "true"
            | "False"
            | "FALSE"
            | "false"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
            | "null"
            | "Null"
            | "NULL"
            | "~"
    ) || s.starts_with("+.")
        || s.starts_with("0x")
        || s.starts_with("0o")
    {
        return true;
    }
    // Rust's number parsers accept only a sign, a digit or `.` (already
    // quoted) first, or `inf`/`infinity`/`nan` in any case: skip the rest
    matches!(first, b'0'..=b'9' | b'+' | b'i' | b'I' | b'n' | b'N')
        && (s.parse::<i64>().is_ok() || s.parse::<f64>().is_ok())
}

/// A double-quoted string with JSON-style escapes.
fn escape(out: &mut String, v: &str) {
    out.push('"');
    let bytes = v.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\x08' => "\\b",
            b'\t' => "\\t",
            b'\n' => "\\n",
            b'\x0c' => "\\f",
            b'\r' => "\\r",
            b'\x00'..=b'\x1f' | b'\x7f' => "",
            _ => continue,
        };
        out.push_str(&v[start..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escaped);
        }
        start = i + 1;
    }
    out.push_str(&v[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Diagnostics;
    use crate::load::{Format, load_file};
    use crate::source::SourceMap;
    use proptest::prelude::*;
    use serde_json::json;

    /// What svcc printed before: saphyr's tree and emitter. Kept to prove
    /// that the streaming writer prints the same bytes.
    fn saphyr_yaml(value: &Value) -> String {
        use saphyr::{Mapping, Scalar, Yaml, YamlEmitter};
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

    /// Loads YAML text with svcc's own loader, as JSON.
    fn load(text: &str) -> Value {
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
        assert_eq!(loaded.documents.len(), 1, "{text}");
        loaded.documents[0].root.to_json()
    }

    #[test]
    fn round_trips_through_svccs_own_loader() {
        let value = json!({
            "openapi": "3.1.0",
            "tricky": ["yes", "no", "on", "1.0", "null", "~", "true", "", " x", "a: b", "#c", "- d", "multi\nline", "'q'", "\"dq\"", "{x}", "@at", "100%"],
            "n": 42, "f": 0.5, "b": false, "z": null,
            "nested": {"a": [1, 2, {"b": "c"}], "empty": {}, "list": []}
        });
        let text = to_yaml(&value);
        assert_eq!(text, saphyr_yaml(&value));
        assert_eq!(load(&text), value, "{text}");
    }

    /// Every YAML document generated for the examples (the snapshots of
    /// `tests/tests/outputs.rs`), printed by both writers.
    #[test]
    fn example_documents_match_saphyrs_output() {
        let snapshots = [
            include_str!("../../../../snapshots/shop/asyncapi__shop.asyncapi.yaml.snap"),
            include_str!("../../../../snapshots/shop/openapi__email-service.openapi.yaml.snap"),
            include_str!("../../../../snapshots/shop/openapi__inventory-service.openapi.yaml.snap"),
            include_str!("../../../../snapshots/shop/openapi__order-service.openapi.yaml.snap"),
            include_str!("../../../../snapshots/shop/openapi__payment-service.openapi.yaml.snap"),
            include_str!("../../../../snapshots/shop/openapi__shipment-service.openapi.yaml.snap"),
            include_str!(
                "../../../../snapshots/email-verification/asyncapi__email-verification.asyncapi.yaml.snap"
            ),
            include_str!(
                "../../../../snapshots/email-verification/openapi__email-verification-service.openapi.yaml.snap"
            ),
            include_str!(
                "../../../../snapshots/email-verification/openapi__webhook-service.openapi.yaml.snap"
            ),
        ];
        for snapshot in snapshots {
            // insta's header: `---`, metadata lines, `---`
            let body = snapshot
                .strip_prefix("---\n")
                .and_then(|rest| rest.split_once("\n---\n"))
                .map(|(_, body)| body)
                .unwrap();
            let value = load(body);
            let text = to_yaml(&value);
            assert_eq!(text, saphyr_yaml(&value));
            assert_eq!(text.trim_end(), body.trim_end());
        }
    }

    #[test]
    fn edge_cases_match_saphyrs_output() {
        let strings = [
            "",
            " ",
            "  ",
            "a ",
            " a",
            "yes",
            "No",
            "OFF",
            "y",
            "n",
            "~",
            "null",
            "NULL",
            "1",
            "-1",
            "+1",
            "1.0",
            "1e5",
            "1E+5",
            ".5",
            "5.",
            "+.5",
            "0x1f",
            "0o17",
            "0b1",
            "inf",
            "-inf",
            "+inf",
            "Infinity",
            "nan",
            "NaN",
            "iNf",
            "infinit",
            "nothing",
            "Nope",
            "i",
            "n1",
            "1_000",
            "1,000",
            "12:30",
            "a: b",
            "a:b",
            "#x",
            "a #x",
            "a#x",
            "- x",
            "-x",
            "?",
            "? x",
            "|",
            ">",
            "!",
            "%",
            "@",
            "&a",
            "*a",
            "=",
            "<",
            "`x`",
            "a\"b",
            "a'b",
            "a\\b",
            "\u{feff}",
            "a\u{feff}",
            "\u{7f}",
            "\u{85}",
            "é",
            "日本",
            "\t",
            "a\tb",
            "\r",
            "a\rb",
            "\r\n",
            "a\r\nb",
            "\n",
            "\n\n",
            "a\n",
            "a\n\n",
            "a\n\n\n",
            "\na",
            "\n a",
            " a\nb",
            "\ta\nb",
            "a\nb",
            "a\n b",
            "a\n\nb",
            "---",
            "--- x",
            "a\n---",
            "a\n--- x",
            "a\n---x",
            "...",
            "a\n...",
            "a\n...\n",
            "a\u{feff}\nb",
            "a\u{7}\nb",
            "a\u{85}\nb",
            "a\u{2028}b",
            "\u{0}",
            "\u{1b}[0m",
            "a\u{c}b",
            "a\u{8}b",
            "{",
            "}",
            "[",
            "]",
            ",",
            "{x}",
            "x,y",
            "100%",
            "2025-10-10",
            "12:00:00",
            "0",
            "00",
            "007",
            "-0",
            "+0",
            "9223372036854775807",
            "9223372036854775808",
            "1e400",
            "-.5",
            "0.",
            ". ",
            ".",
            "+.",
            "+",
            "-",
            "0x",
            "0o",
            "0xZZ",
            "http://x",
            "a/b",
            "$ref",
        ];
        let mut values: Vec<Value> = strings.iter().map(|s| json!(s)).collect();
        for s in strings {
            values.push(json!({ s: s }));
            values.push(json!([s, { "k": s, s: [s] }, [s, s]]));
            values.push(json!({ "a": { s: s, "b": [s] }, "c": s }));
        }
        values.extend([
            json!(null),
            json!(true),
            json!(0),
            json!(-7),
            json!(u64::MAX),
            json!(1.0),
            json!(-0.0),
            json!(0.1),
            json!(1e300),
            json!(1e-7),
            json!(123456789.125),
            json!([]),
            json!({}),
            json!([[]]),
            json!([{}]),
            json!({ "a": [] }),
            json!({ "a": {} }),
            json!([[1, [2, [3]]], { "a": { "b": { "c": [] } } }]),
            json!([{ "a": 1, "b": [{ "c": {} }] }]),
            json!({ "x": "a\n", "y": "b" }),
            json!({ "x": "a\n\n", "y": "b" }),
            json!(["a\n\n", "b"]),
            json!([{ "x": "a\n\n" }]),
            json!({ "x": ["a\n", ["b\n\n"]], "y": { "z": "c\n" } }),
        ]);
        for value in values {
            let text = to_yaml(&value);
            assert_eq!(text, saphyr_yaml(&value), "{value}");
        }
    }

    /// Strings built from the pieces that YAML treats specially.
    fn tricky_string() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("yes".to_string()),
            Just("1.0".to_string()),
            Just("null".to_string()),
            Just("~".to_string()),
            Just(" ".to_string()),
            Just(": ".to_string()),
            Just(":".to_string()),
            Just("#".to_string()),
            Just("- ".to_string()),
            Just("\n".to_string()),
            Just("\r".to_string()),
            Just("\t".to_string()),
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("\\".to_string()),
            Just("---".to_string()),
            Just("...".to_string()),
            Just("inf".to_string()),
            Just("0x".to_string()),
            Just("+.".to_string()),
            Just("\u{feff}".to_string()),
            Just("\u{85}".to_string()),
            Just("é日".to_string()),
            "[a-z0-9.+-]{0,4}",
            "[ -~]{0,3}",
            any::<char>().prop_map(String::from),
            proptest::char::range('\0', '\u{7f}').prop_map(String::from),
        ];
        prop_oneof![
            3 => proptest::collection::vec(piece, 0..6).prop_map(|p| p.concat()),
            1 => any::<String>(),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            (-1000i32..1000).prop_map(|i| json!(f64::from(i) / 8.0)),
            tricky_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((tricky_string(), inner), 0..6)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_values_match_saphyrs_output(value in json_value()) {
            prop_assert_eq!(to_yaml(&value), saphyr_yaml(&value));
        }

        #[test]
        fn random_strings_match_saphyrs_output(s in tricky_string()) {
            for value in [json!(s), json!({ &s: &s }), json!([&s, [&s], { "k": &s }])] {
                prop_assert_eq!(to_yaml(&value), saphyr_yaml(&value));
            }
        }
    }
}
