//! Numbers as written in manifests (`min: 5`, `max: 1e400`).
//!
//! A bound is kept as it was written: an integer that fits in 64 bits
//! exactly, anything else as the `f64` it reads as together with its text.
//! That lets `svcc check` refuse what a bound cannot be (infinity, NaN, an
//! integer past 64 bits, `1.5` on an integer) and lets the emitters print
//! exactly the number that passed, integers as integers.

use crate::load::{Node, NodeKind};
use std::cmp::Ordering;

/// A number from a manifest.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    /// Written as an integer that fits in 64 bits.
    Int(i64),
    /// Anything else, with its source text: a float (`1.5`, `1e400`,
    /// `-.inf`, `nan`) or an integer too large for 64 bits.
    Float(f64, String),
}

/// 2^53: every whole number up to here (either sign) is an exact `f64`.
pub const EXACT_F64_INTEGERS: i64 = 1 << 53;

/// 2^63 as an `f64` (exact): every `i64` is below it.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

impl Number {
    /// The number a node holds, if it holds one.
    pub fn from_node(node: &Node) -> Option<Number> {
        match &node.kind {
            NodeKind::Int(i) => Some(Number::Int(*i)),
            NodeKind::Float(f, raw) => Some(Number::Float(*f, raw.clone())),
            _ => None,
        }
    }

    /// As an `f64` (rounded for integers past 2^53).
    pub fn as_f64(&self) -> f64 {
        match self {
            Number::Int(i) => *i as f64,
            Number::Float(f, _) => *f,
        }
    }

    /// The number as written.
    pub fn text(&self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Float(_, raw) => raw.clone(),
        }
    }

    /// Neither infinite nor NaN (`1e400` reads as infinity).
    pub fn is_finite(&self) -> bool {
        self.as_f64().is_finite()
    }

    /// Written as an integer too large for 64 bits (`99999999999999999999`).
    pub fn is_wide_integer(&self) -> bool {
        match self {
            Number::Int(_) => false,
            Number::Float(_, raw) => {
                let digits = raw.strip_prefix(['-', '+']).unwrap_or(raw);
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            }
        }
    }

    /// The whole number it is, when it is one that fits in 64 bits
    /// (`5`, `5.0`, `1e3`; not `1.5`, not `1e19`).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f, _) => {
                let whole = f.is_finite() && f.fract() == 0.0 && (-TWO_63..TWO_63).contains(f);
                // whole and within range: the conversion is exact
                whole.then_some(*f as i64)
            }
        }
    }

    /// Whether [`Number::as_f64`] is exactly the number written: integers
    /// past 2^53 may fall between two `f64`s (9007199254740993 reads as
    /// 9007199254740992). Floats are what they read as.
    pub fn is_exact_f64(&self) -> bool {
        match self {
            Number::Int(i) => {
                let f = *i as f64;
                // `f` may be 2^63, just past every i64: compare as i128
                f < TWO_63 && (f as i64) == *i
            }
            Number::Float(..) => !self.is_wide_integer(),
        }
    }

    /// Compares exactly, integers with integers and integers with floats
    /// (`None` when one is NaN).
    pub fn compare(&self, other: &Number) -> Option<Ordering> {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Some(a.cmp(b)),
            (Number::Int(a), Number::Float(b, _)) => int_vs_float(*a, *b),
            (Number::Float(a, _), Number::Int(b)) => int_vs_float(*b, *a).map(Ordering::reverse),
            (Number::Float(a, _), Number::Float(b, _)) => a.partial_cmp(b),
        }
    }
}

/// How an integer compares with a float, exactly (an `i64` past 2^53
/// rounds when made an `f64`; this never converts it).
fn int_vs_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        None
    } else if f >= TWO_63 {
        Some(Ordering::Less)
    } else if f < -TWO_63 {
        Some(Ordering::Greater)
    } else {
        // |f| < 2^63: its whole part is an exact i64, the rest exact too
        let whole = f.trunc();
        let fraction = f - whole;
        Some(i.cmp(&(whole as i64)).then(0.0.partial_cmp(&fraction)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(text: &str) -> Number {
        Number::Float(text.parse().unwrap_or(f64::NAN), text.to_string())
    }

    #[test]
    fn integers_past_2_53_are_not_exact_floats() {
        assert!(Number::Int(EXACT_F64_INTEGERS).is_exact_f64());
        assert!(Number::Int(-EXACT_F64_INTEGERS).is_exact_f64());
        assert!(!Number::Int(EXACT_F64_INTEGERS + 1).is_exact_f64());
        assert!(Number::Int(EXACT_F64_INTEGERS + 2).is_exact_f64());
        assert!(!Number::Int(i64::MAX).is_exact_f64());
        assert!(Number::Int(i64::MIN).is_exact_f64());
        assert!(!float("99999999999999999999").is_exact_f64());
        assert!(float("1e20").is_exact_f64());
    }

    #[test]
    fn whole_numbers_and_wide_integers() {
        assert_eq!(float("1e3").as_i64(), Some(1000));
        assert_eq!(float("5.0").as_i64(), Some(5));
        assert_eq!(float("1.5").as_i64(), None);
        assert_eq!(float("1e19").as_i64(), None);
        assert_eq!(float("-.inf").as_i64(), None);
        assert!(float("-99999999999999999999").is_wide_integer());
        assert!(!float("1e20").is_wide_integer());
        assert!(!float("1e400").is_finite() && !float("nan").is_finite());
    }

    #[test]
    fn comparisons_are_exact() {
        let big = Number::Int(EXACT_F64_INTEGERS + 1);
        let rounded = float("9007199254740992");
        assert_eq!(big.compare(&rounded), Some(Ordering::Greater));
        assert_eq!(rounded.compare(&big), Some(Ordering::Less));
        assert_eq!(
            Number::Int(2).compare(&float("1.5")),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Number::Int(-2).compare(&float("-1.5")),
            Some(Ordering::Less)
        );
        assert_eq!(
            Number::Int(i64::MAX).compare(&float("1e19")),
            Some(Ordering::Less)
        );
        assert_eq!(Number::Int(1).compare(&float("nan")), None);
    }
}
