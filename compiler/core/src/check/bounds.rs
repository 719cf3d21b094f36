//! Numeric bounds (`min`, `max`, `exclusiveMin`, `exclusiveMax`) that the
//! field's type cannot hold (E0213).
//!
//! A bound ends up in two places: the JSON Schema of the OpenAPI and
//! AsyncAPI documents (`maximum: 10`), and the generated `validate()`,
//! which compares the value with the bound as an `f64`. Both must say
//! exactly what the manifest says, so a bound that passes is finite (JSON
//! has no infinity or NaN, and a code generator cannot spell one), fits in
//! 64 bits, is exact as an `f64`, and on an integer type is a whole number
//! inside the type's range.

use crate::ast::{Field, Number, Primitive};
use crate::diagnostic::{Code, Diagnostic};
use crate::number::EXACT_F64_INTEGERS;
use crate::source::Spanned;

/// Which bound: its key and the side of the range it limits.
#[derive(Clone, Copy, Debug)]
pub struct Side {
    /// `min`, `exclusiveMax`, ...
    pub name: &'static str,
    /// `exclusiveMin`/`exclusiveMax`.
    pub exclusive: bool,
    /// `max`/`exclusiveMax`.
    pub upper: bool,
}

impl Side {
    fn limit(self) -> &'static str {
        if self.upper { "upper" } else { "lower" }
    }
}

/// Why `bound` cannot be a bound of a field of type `p`, if it cannot.
pub fn unholdable_bound(
    field: &Field,
    side: Side,
    bound: &Spanned<Number>,
    p: Primitive,
) -> Option<Diagnostic> {
    let n = &bound.value;
    let (name, text, ty) = (side.name, n.text(), p.name());
    let error = |message: String, label: String| {
        Diagnostic::error(Code::E0213, bound.span, message)
            .label(label)
            .secondary(field.name.span, "the field")
    };
    if !n.is_finite() {
        let label = if n.as_f64().is_nan() {
            format!("`{text}` is not a number")
        } else if text.to_ascii_lowercase().contains("inf") {
            format!("`{text}` is infinite")
        } else {
            format!("`{text}` is too large for a 64-bit float: it reads as infinity")
        };
        return Some(
            error(format!("`{name}` of `{}` is not a finite number", field.name.value), label)
                .help(format!(
                    "JSON has no infinity or NaN: write a finite number, or leave `{name}` out (without it there is no {} limit)",
                    side.limit()
                )),
        );
    }
    let integral = matches!(p, Primitive::Integer | Primitive::Int32);
    if n.is_wide_integer() {
        let help = if integral {
            format!(
                "`{ty}` holds {}: write a bound in that range, or leave `{name}` out",
                range_text(p)
            )
        } else {
            format!(
                "a bound on `{ty}` is compared as a 64-bit float: write it as one, `{name}: {:e}`",
                n.as_f64()
            )
        };
        return Some(
            error(
                format!(
                    "`{name}` of `{}` ({text}) does not fit in 64 bits",
                    field.name.value
                ),
                "an integer past 64 bits".into(),
            )
            .help(help),
        );
    }
    if integral && let Some(d) = integral_problem(field, side, n, p) {
        return Some(error(d.0, d.1).help(d.2));
    }
    if !n.is_exact_f64() {
        // exact: a whole f64 below 2^64, printed in full
        let nearest = n.as_f64() as i128;
        let at_type_limit = p == Primitive::Integer
            && matches!(n, Number::Int(i) if *i == i64::MAX || *i == i64::MIN);
        let help = if at_type_limit {
            format!("`integer` already stops at {text}: leave `{name}` out")
        } else {
            format!(
                "bounds are compared as 64-bit floats (by the generated checks and by JSON Schema tools), and past 2^53 ({EXACT_F64_INTEGERS}) not every whole number is one: write {nearest}, the bound this reads as"
            )
        };
        return Some(
            error(
                format!(
                    "`{name}` of `{}` ({text}) cannot be held exactly",
                    field.name.value
                ),
                format!("the nearest 64-bit float is {nearest}"),
            )
            .help(help),
        );
    }
    None
}

/// A fraction, or a whole number outside the type's range, on an integer
/// type: (message, label, help).
fn integral_problem(
    field: &Field,
    side: Side,
    n: &Number,
    p: Primitive,
) -> Option<(String, String, String)> {
    let (name, text, ty) = (side.name, n.text(), p.name());
    let value = n.as_f64();
    if value.fract() != 0.0 {
        // the same integers pass `min: 1.5` and `min: 2`
        let (key, whole) = if side.upper {
            ("max", value.floor())
        } else {
            ("min", value.ceil())
        };
        return Some((
            format!(
                "`{name}` of `{}` is {text}, but `{ty}` holds whole numbers",
                field.name.value
            ),
            "not a whole number".into(),
            format!("`{name}: {text}` admits the same values as `{key}: {whole}`: write that"),
        ));
    }
    let (lo, hi) = type_range(p);
    // an exclusive bound may sit just outside the range
    let slack = i128::from(side.exclusive);
    let inside = n
        .as_i64()
        .is_some_and(|v| (lo - slack..=hi + slack).contains(&i128::from(v)));
    if inside {
        return None;
    }
    let (edge, way) = if side.upper {
        (hi, "exceeds")
    } else {
        (lo, "goes below")
    };
    let widen = if p == Primitive::Int32 {
        ", or make the field an `integer`"
    } else {
        ""
    };
    Some((
        format!(
            "`{name}` of `{}` ({text}) is outside the range of `{ty}`",
            field.name.value
        ),
        format!("`{ty}` holds {}", range_text(p)),
        format!("an `{ty}` never {way} {edge}: leave `{name}` out{widen}"),
    ))
}

/// The values an integer type holds.
fn type_range(p: Primitive) -> (i128, i128) {
    match p {
        Primitive::Int32 => (i128::from(i32::MIN), i128::from(i32::MAX)),
        _ => (i128::from(i64::MIN), i128::from(i64::MAX)),
    }
}

fn range_text(p: Primitive) -> String {
    let (lo, hi) = type_range(p);
    format!("{lo} to {hi}")
}
