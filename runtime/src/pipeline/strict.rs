//! Decoding exactly as strict as a body's JSON Schema, so that a typed
//! decode that succeeds, followed by the generated checks, can stand in for
//! the schema validator (see [`crate::request::Request::body_checked`]).
//!
//! String formats are checked by the validator the body schemas use, on
//! the string alone (`{"format": "uuid"}`), so both always agree: the
//! `email`, `uri`, `time` and `duration` formats from generated
//! `validate()` methods (their Rust values are `String`s), and `uuid`,
//! `date` and `date-time` while decoding (their Rust values are parsed,
//! and the parsers of `uuid` and `jiff` accept forms the formats do not,
//! such as `{…}` UUIDs or date-times with a space or a time zone name).
//! [`Strict`] is that decoding; generated fields reach it through
//! `#[serde(deserialize_with = "rt::strict")]`.

use crate::values::{Date, DateTime, Uuid};
use serde::de::{self, Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The validator of a JSON Schema, with the options every body
/// validator is built with (draft 2020-12, formats asserted).
pub(crate) fn validator(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| e.to_string())
}

/// A string format that JSON Schema checks and a generated type relies on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `email`
    Email,
    /// `uri`
    Uri,
    /// `date`
    Date,
    /// `date-time`
    DateTime,
    /// `time`
    Time,
    /// `duration`
    Duration,
    /// `uuid`
    Uuid,
}

impl Format {
    const ALL: [Format; 7] = [
        Format::Email,
        Format::Uri,
        Format::Date,
        Format::DateTime,
        Format::Time,
        Format::Duration,
        Format::Uuid,
    ];

    /// The format's name in JSON Schema.
    pub fn name(self) -> &'static str {
        match self {
            Format::Email => "email",
            Format::Uri => "uri",
            Format::Date => "date",
            Format::DateTime => "date-time",
            Format::Time => "time",
            Format::Duration => "duration",
            Format::Uuid => "uuid",
        }
    }

    /// Whether `s` is in this format, by the body validator's own rules.
    pub fn check(self, s: &str) -> bool {
        // The common case without the validator; everything else is the
        // validator's to judge.
        if self == Format::Email && plain_email(s) {
            return true;
        }
        static VALIDATORS: OnceLock<Vec<Option<jsonschema::Validator>>> = OnceLock::new();
        let all = VALIDATORS.get_or_init(|| {
            Format::ALL
                .iter()
                .map(|f| {
                    validator(&serde_json::json!({
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "format": f.name(),
                    }))
                    .ok()
                })
                .collect()
        });
        let i = Format::ALL.iter().position(|f| *f == self).unwrap_or(0);
        // A validator that could not be built checks nothing, like an
        // unknown format in a schema.
        all.get(i)
            .and_then(Option::as_ref)
            .is_none_or(|v| with_string(s, |value| v.is_valid(value)))
    }
}

/// Whether `s` is an address of the common form that the validator's
/// `email` format accepts: `local@domain`, ASCII, the local part dot-atoms
/// of RFC 5322 `atext` (at most 64 bytes), the domain at most 253 bytes of
/// dot-separated labels of 1 to 63 letters, digits and hyphens that start
/// and end with a letter or digit and have no `--` in the third and fourth
/// places (so no punycode to decode). A subset of what the validator
/// accepts (jsonschema's `is_valid_email`: `email_address` parses the
/// address, then the domain is checked as a host name), so `true` needs no
/// second opinion; `false` only means "ask the validator"
/// ([`Format::check`]). A test holds the two together.
fn plain_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    // one pass over each part, a byte at a time
    let mut last = b'.';
    for &b in local.as_bytes() {
        let ok = if b == b'.' {
            last != b'.'
        } else {
            b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
        };
        if !ok {
            return false;
        }
        last = b;
    }
    if local.is_empty() || local.len() > 64 || last == b'.' {
        return false;
    }
    // labels: letters, digits and hyphens, 1 to 63 of them, a letter or
    // digit first and last, no `--` in the third and fourth places
    let (mut len, mut last) = (0usize, b'.');
    for &b in domain.as_bytes() {
        if b == b'.' {
            if len == 0 || last == b'-' {
                return false;
            }
            len = 0;
        } else if b.is_ascii_alphanumeric() || (b == b'-' && len > 0) {
            len += 1;
            if len > 63 || (len == 4 && b == b'-' && last == b'-') {
                return false;
            }
        } else {
            return false;
        }
        last = b;
    }
    domain.len() <= 253 && len > 0 && last != b'-'
}

/// `f` on `s` as a JSON string, in a buffer this thread reuses (the
/// validators take a `Value`; a new one would be an allocation a check).
pub(crate) fn with_string<R>(s: &str, f: impl FnOnce(&Value) -> R) -> R {
    thread_local! {
        static BUFFER: std::cell::RefCell<Value> = const { std::cell::RefCell::new(Value::Null) };
    }
    BUFFER.with(|b| match b.try_borrow_mut() {
        Ok(mut value) => {
            if let Value::String(text) = &mut *value {
                text.clear();
                text.push_str(s);
            } else {
                *value = Value::String(s.to_string());
            }
            // a long string is not kept for the life of the thread
            let result = f(&value);
            if let Value::String(text) = &mut *value
                && text.capacity() > 4096
            {
                *value = Value::Null;
            }
            result
        }
        Err(_) => f(&Value::String(s.to_string())),
    })
}

/// A value decoded as strictly as its JSON Schema: generated fields whose
/// type holds a `uuid`, `date` or `date-time` (directly, or in lists, maps
/// and options) decode through this.
pub trait Strict: Sized {
    /// Decodes the value, refusing what its schema refuses.
    fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

/// A string in a format, then parsed.
fn formatted<'de, D, T>(d: D, format: Format) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    struct Visit<T>(Format, std::marker::PhantomData<T>);
    impl<T> de::Visitor<'_> for Visit<T>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a string in the `{}` format", self.0.name())
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            if !self.0.check(s) {
                return Err(E::custom(format!(
                    "`{s}` is not in the `{}` format",
                    self.0.name()
                )));
            }
            s.parse().map_err(E::custom)
        }
    }
    d.deserialize_str(Visit(format, std::marker::PhantomData))
}

impl Strict for Uuid {
    fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        formatted(d, Format::Uuid)
    }
}

impl Strict for Date {
    fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        formatted(d, Format::Date)
    }
}

impl Strict for DateTime {
    fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        formatted(d, Format::DateTime)
    }
}

/// A [`Strict`] value as a [`Deserialize`] one: the body type of a route
/// whose input is, say, `list<uuid>`, and the items of containers.
#[derive(Clone, Debug, PartialEq)]
pub struct Strictly<T>(pub T);

impl<'de, T: Strict> Deserialize<'de> for Strictly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize_strict(d).map(Strictly)
    }
}

impl<T: Strict> Strict for Option<T> {
    fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<Strictly<T>>::deserialize(d)?.map(|s| s.0))
    }
}

impl<T: Strict> Strict for Vec<T> {
    fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Strictly<T>>::deserialize(d)?
            .into_iter()
            .map(|s| s.0)
            .collect())
    }
}

impl<T: Strict> Strict for BTreeMap<String, T> {
    fn deserialize_strict<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<String, Strictly<T>>::deserialize(d)?
            .into_iter()
            .map(|(k, s)| (k, s.0))
            .collect())
    }
}

/// `#[serde(deserialize_with = "rt::strict")]`: a field decoded by [`Strict`].
pub fn strict<'de, D: Deserializer<'de>, T: Strict>(d: D) -> Result<T, D::Error> {
    T::deserialize_strict(d)
}

/// `#[serde(default, deserialize_with = "rt::not_null")]`: an optional
/// field that may be left out but not sent as `null` (a field with a
/// default that Rust cannot spell: its schema is not nullable).
pub fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// [`not_null`] for a value decoded by [`Strict`].
pub fn strict_not_null<'de, D: Deserializer<'de>, T: Strict>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize_strict(d).map(Some)
}

/// Whether `s` is written as JSON Schema's decimal pattern says
/// (`^-?[0-9]+(\.[0-9]+)?$`).
pub(crate) fn decimal_text(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    all_digits(int) && frac.is_none_or(all_digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_agree_with_the_schema_validator() {
        assert!(Format::Uuid.check("67e55044-10b1-426f-9247-bb680e5fe0c8"));
        assert!(!Format::Uuid.check("67e5504410b1426f9247bb680e5fe0c8"));
        assert!(Format::Date.check("2024-02-29"));
        assert!(!Format::Date.check("20240229"));
        assert!(Format::DateTime.check("2024-02-29T10:00:00Z"));
        assert!(!Format::DateTime.check("2024-02-29 10:00:00Z"));
        assert!(Format::Email.check("ada@example.com"));
        assert!(!Format::Email.check("ada"));
    }

    /// The validator alone, without [`plain_email`].
    fn validator_email(s: &str) -> bool {
        static EMAIL: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
        EMAIL
            .get_or_init(|| {
                validator(&serde_json::json!({
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "format": "email",
                }))
                .ok()
            })
            .as_ref()
            .is_some_and(|v| v.is_valid(&Value::String(s.to_string())))
    }

    /// [`plain_email`] as its documentation says it, part by part.
    fn plain_email_as_documented(s: &str) -> bool {
        let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
        let label = |l: &[u8]| {
            (1..=63).contains(&l.len())
                && l.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && l.first().is_some_and(u8::is_ascii_alphanumeric)
                && l.last().is_some_and(u8::is_ascii_alphanumeric)
                && l.get(2..4) != Some(b"--".as_slice())
        };
        let Some((local, domain)) = s.split_once('@') else {
            return false;
        };
        local.len() <= 64
            && local
                .as_bytes()
                .split(|b| *b == b'.')
                .all(|a| !a.is_empty() && a.iter().all(|b| atext(*b)))
            && domain.len() <= 253
            && domain.as_bytes().split(|b| *b == b'.').all(label)
    }

    #[test]
    fn plain_emails_are_emails_to_the_validator() {
        let long_label = "a".repeat(63);
        let long_domain = format!("{long_label}.{long_label}.{long_label}.{}", "b".repeat(61));
        let cases = [
            "ada@example.com".to_string(),
            "a.b+c-d_e!#$%&'*/=?^`{|}~@x.y".into(),
            "A1@B2".into(),
            "a@b-c.d".into(),
            format!("{}@x.y", "l".repeat(64)),
            format!("{}@x.y", "l".repeat(65)),
            format!("a@{long_domain}"),
            format!("a@{long_domain}c"),
            format!("a@{}.com", "c".repeat(64)),
            "a@xn--bcher-kva.example".into(),
            "a@ab--cd.example".into(),
            "a@xn--zz.example".into(),
            "a@-a.b".into(),
            "a@a-.b".into(),
            "a@a..b".into(),
            "a@a.b.".into(),
            "a@.a".into(),
            ".a@b".into(),
            "a.@b".into(),
            "a..b@c".into(),
            "a@b@c".into(),
            "@b".into(),
            "a@".into(),
            "a b@c".into(),
            "\"a\"@b".into(),
            "a@[127.0.0.1]".into(),
            "a@[IPv6:::1]".into(),
            "Ada <ada@example.com>".into(),
            "é@example.com".into(),
            "a@exämple.com".into(),
            "a@b_c.d".into(),
            "a@123.456".into(),
        ];
        for s in &cases {
            assert_eq!(plain_email(s), plain_email_as_documented(s), "{s}");
            if plain_email(s) {
                assert!(validator_email(s), "{s}: plain but refused");
            }
            assert_eq!(Format::Email.check(s), validator_email(s), "{s}");
        }
        assert!(plain_email("ada@example.com") && plain_email("a.b+c-d_e!#$%&'*/=?^`{|}~@x.y"));
        // Random strings over the characters that matter: wherever the
        // fast path says yes, so does the validator.
        // (mostly letters and digits, with every character that matters)
        let alphabet = b"aaaaaaaaZZZZ00009999..--@_+!~\"<> []:\\x\x7f";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut plain, mut tried) = (0, 0);
        while tried < 50_000 {
            let mut part = |n: u64| -> Vec<u8> {
                let len = 1 + (next() % n) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            };
            let mut bytes = part(8);
            bytes.push(b'@');
            bytes.extend(part(10));
            let Ok(s) = String::from_utf8(bytes) else {
                continue;
            };
            tried += 1;
            assert_eq!(plain_email(&s), plain_email_as_documented(&s), "{s}");
            if plain_email(&s) {
                plain += 1;
                assert!(validator_email(&s), "{s}: plain but refused");
            }
        }
        assert!(
            plain > 1000,
            "the random strings hardly tested the fast path ({plain})"
        );
    }

    #[test]
    fn strict_refuses_what_the_format_refuses() {
        #[derive(serde::Deserialize)]
        struct T {
            #[serde(deserialize_with = "strict")]
            ids: Vec<Uuid>,
            #[serde(default, deserialize_with = "strict")]
            at: Option<DateTime>,
        }
        let ok: Result<T, _> = serde_json::from_str(
            r#"{"ids": ["67e55044-10b1-426f-9247-bb680e5fe0c8"], "at": "2024-02-29T10:00:00Z"}"#,
        );
        assert!(ok.is_ok_and(|t| t.ids.len() == 1 && t.at.is_some()));
        for bad in [
            r#"{"ids": ["{67e55044-10b1-426f-9247-bb680e5fe0c8}"]}"#,
            r#"{"ids": ["urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8"]}"#,
            r#"{"ids": [], "at": "2024-02-29 10:00:00Z"}"#,
            r#"{"ids": [], "at": "2024-02-29T10:00:00Z[Europe/Paris]"}"#,
        ] {
            assert!(serde_json::from_str::<T>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<T>(r#"{"ids": [], "at": null}"#).is_ok());
    }

    #[test]
    fn decimal_text_is_the_schema_pattern() {
        for ok in ["0", "-1", "12.50", "007.0"] {
            assert!(decimal_text(ok), "{ok}");
        }
        for bad in [
            "", "-", "1.", ".5", " 1", "+1", "1e3", "1_000", "--1", "1.2.3",
        ] {
            assert!(!decimal_text(bad), "{bad}");
        }
    }
}
