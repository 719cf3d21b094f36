//! Plain YAML scalars typed by the YAML 1.2 core schema: `true`, `~`,
//! `42`, `0x1f`, `0.5` and `.inf` are booleans, nulls and numbers;
//! `yes`, `on`, `1.2.0` and `2025-10-10` stay strings.
//!
//! Why it exists: both YAML readers type plain scalars, the fast path
//! (`fast.rs`) and saphyr's (`yaml.rs`, which falls back to the other);
//! with the rule here neither imports the other for it.

use super::node::NodeKind;

/// Resolves a plain scalar by the YAML 1.2 core schema.
pub(super) fn resolve_plain(value: &str) -> NodeKind {
    // nulls, booleans and numbers start with one of these; most strings
    // (names, types, paths) do not, and need no further look
    if !matches!(
        value.as_bytes().first(),
        None | Some(
            b'0'..=b'9' | b'+' | b'-' | b'.' | b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F'
        )
    ) {
        return NodeKind::Str(value.to_string());
    }
    resolve_all(value)
}

/// [`resolve_plain`] without the shortcut for strings.
fn resolve_all(value: &str) -> NodeKind {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return NodeKind::Float(f64::INFINITY, value.to_string());
        }
        "-.inf" | "-.Inf" | "-.INF" => {
            return NodeKind::Float(f64::NEG_INFINITY, value.to_string());
        }
        ".nan" | ".NaN" | ".NAN" => return NodeKind::Float(f64::NAN, value.to_string()),
        _ => {}
    }
    if let Some(kind) = resolve_int(value) {
        return kind;
    }
    if is_core_float(value)
        && let Ok(f) = value.parse::<f64>()
    {
        return NodeKind::Float(f, value.to_string());
    }
    NodeKind::Str(value.to_string())
}

fn resolve_int(value: &str) -> Option<NodeKind> {
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    let parsed = if let Some(hex) = value.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = value.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        match value.parse::<i64>() {
            Ok(i) => Some(i),
            Err(_) => {
                return value
                    .parse::<f64>()
                    .ok()
                    .map(|f| NodeKind::Float(f, value.to_string()));
            }
        }
    } else {
        None
    };
    parsed.map(NodeKind::Int)
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(value: &str) -> bool {
    let body = value.strip_prefix(['-', '+']).unwrap_or(value);
    if !matches!(body.as_bytes().first(), Some(b'0'..=b'9' | b'.')) {
        return false;
    }
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
                && (!int.is_empty() || !frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_1_2_core_schema() {
        assert_eq!(resolve_plain("yes"), NodeKind::Str("yes".into()));
        assert_eq!(resolve_plain("no"), NodeKind::Str("no".into()));
        assert_eq!(resolve_plain("on"), NodeKind::Str("on".into()));
        assert_eq!(resolve_plain("true"), NodeKind::Bool(true));
        assert_eq!(resolve_plain("~"), NodeKind::Null);
        assert_eq!(resolve_plain("42"), NodeKind::Int(42));
        assert_eq!(resolve_plain("0x1f"), NodeKind::Int(31));
        assert_eq!(resolve_plain("0.5"), NodeKind::Float(0.5, "0.5".into()));
        assert_eq!(resolve_plain("1.2.0"), NodeKind::Str("1.2.0".into()));
        assert_eq!(
            resolve_plain("2025-10-10"),
            NodeKind::Str("2025-10-10".into())
        );
        assert_eq!(resolve_plain("inf"), NodeKind::Str("inf".into()));
        assert_eq!(resolve_plain("10/min"), NodeKind::Str("10/min".into()));
        assert_eq!(resolve_plain("."), NodeKind::Str(".".into()));
    }

    proptest::proptest! {
        #[test]
        fn the_shortcut_for_strings_changes_nothing(value in "[-+.~0-9a-zA-Z_ ]{0,6}|\\PC{0,6}") {
            // Debug text, so that NaN equals NaN
            proptest::prop_assert_eq!(
                format!("{:?}", resolve_plain(&value)),
                format!("{:?}", resolve_all(&value))
            );
        }

        #[test]
        fn core_floats_are_the_schemas_pattern(value in "[-+.eE0-9x]{0,6}") {
            let pattern = regex::Regex::new(
                r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$",
            )
            .unwrap();
            proptest::prop_assert_eq!(is_core_float(&value), pattern.is_match(&value));
        }
    }
}
