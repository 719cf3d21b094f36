//! The value types of manifest primitives, as generated code uses them.
//!
//! `decimal` is exact and travels as a JSON string (compiler/docs/language.md, "Type expressions"),
//! `bytes` is base64; the rest are maintained crates' types re-exported so
//! that a generated crate depends on the runtime alone.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

pub use jiff::civil::Date;
pub use jiff::civil::Time;
pub use jiff::{SignedDuration as Duration, Timestamp as DateTime};
pub use uuid::Uuid;

/// An exact decimal number, written in JSON as a string (`"12.50"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decimal(pub rust_decimal::Decimal);

impl Decimal {
    /// Zero.
    pub const ZERO: Decimal = Decimal(rust_decimal::Decimal::ZERO);

    /// `self + o`, or `None` past 28 significant digits (where `+` panics).
    pub fn checked_add(self, o: Decimal) -> Option<Decimal> {
        self.0.checked_add(o.0).map(Decimal)
    }

    /// `self - o`, or `None` past 28 significant digits (where `-` panics).
    pub fn checked_sub(self, o: Decimal) -> Option<Decimal> {
        self.0.checked_sub(o.0).map(Decimal)
    }

    /// `self * o`, or `None` past 28 significant digits (where `*` panics).
    pub fn checked_mul(self, o: Decimal) -> Option<Decimal> {
        self.0.checked_mul(o.0).map(Decimal)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Decimal {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        rust_decimal::Decimal::from_str_exact(s.trim())
            .map(Decimal)
            .map_err(|_| format!("`{s}` is not a decimal number"))
    }
}

impl From<i64> for Decimal {
    fn from(v: i64) -> Self {
        Decimal(v.into())
    }
}

impl std::ops::Add for Decimal {
    type Output = Decimal;
    fn add(self, o: Decimal) -> Decimal {
        Decimal(self.0 + o.0)
    }
}

impl std::ops::Sub for Decimal {
    type Output = Decimal;
    fn sub(self, o: Decimal) -> Decimal {
        Decimal(self.0 - o.0)
    }
}

impl std::ops::Neg for Decimal {
    type Output = Decimal;
    fn neg(self) -> Decimal {
        Decimal(-self.0)
    }
}

impl std::ops::AddAssign for Decimal {
    fn add_assign(&mut self, o: Decimal) {
        self.0 += o.0;
    }
}

impl std::ops::SubAssign for Decimal {
    fn sub_assign(&mut self, o: Decimal) {
        self.0 -= o.0;
    }
}

impl std::ops::Mul for Decimal {
    type Output = Decimal;
    fn mul(self, o: Decimal) -> Decimal {
        Decimal(self.0 * o.0)
    }
}

impl std::iter::Sum for Decimal {
    fn sum<I: Iterator<Item = Decimal>>(iter: I) -> Decimal {
        iter.fold(Decimal::ZERO, |a, b| a + b)
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Exactly what the schema's pattern allows: `FromStr` (for
        // parameters) also takes spaces around it, `+`, `1.` and `1_000`.
        if !crate::strict::decimal_text(&s) {
            return Err(serde::de::Error::custom(format!(
                "`{s}` is not a decimal number"
            )));
        }
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Binary data, written in JSON as standard base64.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use base64::Engine;
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact_strings() {
        let d: Decimal = serde_json::from_str("\"0.10\"").unwrap_or_default();
        let s = serde_json::to_string(&(d + Decimal(rust_decimal::Decimal::new(20, 2))))
            .unwrap_or_default();
        assert_eq!(s, "\"0.30\"");
        assert!(serde_json::from_str::<Decimal>("0.1").is_err());
        assert!(serde_json::from_str::<Decimal>("\" 0.1\"").is_err());
        assert!(serde_json::from_str::<Decimal>("\"+1\"").is_err());
    }

    #[test]
    fn decimals_subtract_exactly() {
        let d = |s: &str| s.parse::<Decimal>().unwrap_or_default();
        assert_eq!((d("0.30") - d("0.10")).to_string(), "0.20");
        assert_eq!((-d("1.5")).to_string(), "-1.5");
        let mut total = d("10.00");
        total -= d("2.50");
        total += d("0.25");
        assert_eq!(total.to_string(), "7.75");
        let max = Decimal(rust_decimal::Decimal::MAX);
        assert_eq!(max.checked_add(d("1")), None);
        assert_eq!(max.checked_mul(d("2")), None);
        assert_eq!((-max).checked_sub(d("1")), None);
        assert_eq!(d("2.5").checked_mul(d("4")), Some(d("10.0")));
    }
}
