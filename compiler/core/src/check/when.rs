//! The type checker of `when` expressions.
//!
//! Every path must exist (did-you-mean over the fields at that point),
//! comparisons must compare like with like (a string literal against an enum
//! must be one of its values), ordering needs numbers or dates, `and`/`or`/
//! `not` need booleans, and a value that may be absent must be compared
//! with `null` before it is used. Errors point at the characters inside the
//! expression.

use super::flow::Ty;
use super::paths::Scope;
use super::types::enum_values;
use crate::ast::{Primitive, TypeExprKind};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::source::Spanned;
use crate::syntax::path::DataPath;
use crate::syntax::when::{CmpOp, Expr, ExprKind};
use std::collections::HashSet;

/// What a `when` value is.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Bool,
    Number,
    /// A string; `Some` values when it is an enum.
    Text(Option<Vec<String>>),
    /// A date, time or datetime (ordered).
    Temporal,
    Null,
    /// Objects, lists: comparable with nothing.
    Structured(String),
    /// Unknown (an error was reported, or `json`).
    Unknown,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Bool => "a boolean".into(),
            Kind::Number => "a number".into(),
            Kind::Text(Some(_)) => "an enum value".into(),
            Kind::Text(None) => "a string".into(),
            Kind::Temporal => "a date or time".into(),
            Kind::Null => "`null`".into(),
            Kind::Structured(t) => format!("a `{t}`"),
            Kind::Unknown => "a value".into(),
        }
    }
}

/// Checks a step's `when` condition.
pub fn check(scope: &Scope<'_>, expr: &Expr, out: &mut Diagnostics) {
    let checker = Checker { scope };
    let kind = checker.expr(expr, &HashSet::new(), out);
    checker.expect_bool(&kind, expr, "a `when` condition", out);
}

struct Checker<'a, 'm> {
    scope: &'a Scope<'m>,
}

impl Checker<'_, '_> {
    fn expect_bool(&self, kind: &Kind, e: &Expr, what: &str, out: &mut Diagnostics) {
        if !matches!(kind, Kind::Bool | Kind::Unknown) {
            out.push(
                Diagnostic::error(
                    Code::E0407,
                    e.span,
                    format!(
                        "{what} must be true or false, but this is {}",
                        kind.describe()
                    ),
                )
                .label("not a boolean")
                .help("compare it: `... == ...`, `... > ...`"),
            );
        }
    }

    fn expr(&self, e: &Expr, guards: &HashSet<String>, out: &mut Diagnostics) -> Kind {
        match &e.kind {
            ExprKind::Or(items) => {
                // `p == null or <uses p>`: past the first side, p is present
                let mut guards = guards.clone();
                for item in items {
                    let k = self.expr(item, &guards, out);
                    self.expect_bool(&k, item, "each side of `or`", out);
                    if let Some(path) = null_check(item, CmpOp::Eq) {
                        guards.insert(path);
                    }
                }
                Kind::Bool
            }
            ExprKind::And(items) => {
                let mut guards = guards.clone();
                for item in items {
                    let k = self.expr(item, &guards, out);
                    self.expect_bool(&k, item, "each side of `and`", out);
                    if let Some(path) = null_check(item, CmpOp::Ne) {
                        guards.insert(path);
                    }
                }
                Kind::Bool
            }
            ExprKind::Not(inner) => {
                let k = self.expr(inner, guards, out);
                self.expect_bool(&k, inner, "the operand of `not`", out);
                Kind::Bool
            }
            ExprKind::Compare(lhs, op, rhs) => self.compare(lhs, op, rhs, guards, out),
            ExprKind::Path(_) => self.value(e, guards, false, out),
            ExprKind::Str(_) => Kind::Text(None),
            ExprKind::Num(_) => Kind::Number,
            ExprKind::Bool(_) => Kind::Bool,
            ExprKind::Null => Kind::Null,
        }
    }

    /// The kind of an operand; a path to an optional value is an error
    /// unless guarded or `against_null`.
    fn value(
        &self,
        e: &Expr,
        guards: &HashSet<String>,
        against_null: bool,
        out: &mut Diagnostics,
    ) -> Kind {
        let ExprKind::Path(path) = &e.kind else {
            return self.expr(e, guards, out);
        };
        let Some(resolved) = self.scope.resolve(path, guards, out) else {
            return Kind::Unknown;
        };
        if resolved.ty.is_optional() && !against_null && !guards.contains(&resolved.text) {
            out.push(
                Diagnostic::error(Code::E0408, e.span, format!("`{}` may be absent", resolved.text))
                    .label(format!("`{}` is optional", resolved.ty.display()))
                    .help(format!("say what happens when it is absent: `{0} != null and ...` (or `{0} == null or ...`)", resolved.text)),
            );
            return Kind::Unknown;
        }
        kind_of(self.scope, resolved.ty)
    }

    fn compare(
        &self,
        lhs: &Expr,
        op: &Spanned<CmpOp>,
        rhs: &Expr,
        guards: &HashSet<String>,
        out: &mut Diagnostics,
    ) -> Kind {
        let null_side = matches!(lhs.kind, ExprKind::Null) || matches!(rhs.kind, ExprKind::Null);
        let l = self.value(lhs, guards, null_side, out);
        let r = self.value(rhs, guards, null_side, out);
        if null_side {
            self.compare_null(lhs, rhs, op, out);
            return Kind::Bool;
        }
        if l == Kind::Unknown || r == Kind::Unknown {
            return Kind::Bool;
        }
        if !comparable(&l, &r) {
            out.push(
                Diagnostic::error(
                    Code::E0407,
                    op.span,
                    format!("cannot compare {} with {}", l.describe(), r.describe()),
                )
                .label("incompatible sides")
                .secondary(lhs.span, l.describe())
                .secondary(rhs.span, r.describe())
                .help(
                    "compare values of the same kind: numbers with numbers, strings with strings",
                ),
            );
            return Kind::Bool;
        }
        self.check_enum_literal(lhs, &l, rhs, out);
        self.check_enum_literal(rhs, &r, lhs, out);
        if op.value.is_ordering() && !matches!(l, Kind::Number | Kind::Temporal) {
            out.push(
                Diagnostic::error(
                    Code::E0407,
                    op.span,
                    format!(
                        "`{}` needs numbers or dates, but this compares {}",
                        op.value.as_str(),
                        l.describe()
                    ),
                )
                .label("no order")
                .help("use `==` or `!=`"),
            );
        }
        Kind::Bool
    }

    fn compare_null(&self, lhs: &Expr, rhs: &Expr, op: &Spanned<CmpOp>, out: &mut Diagnostics) {
        if op.value.is_ordering() {
            out.push(
                Diagnostic::error(
                    Code::E0407,
                    op.span,
                    "`null` can only be compared with `==` or `!=`",
                )
                .label("no order with null"),
            );
            return;
        }
        let other = if matches!(lhs.kind, ExprKind::Null) {
            rhs
        } else {
            lhs
        };
        if let ExprKind::Path(path) = &other.kind
            && let Some(resolved) =
                self.scope
                    .resolve(path, &HashSet::new(), &mut Diagnostics::new())
            && !resolved.ty.is_optional()
        {
            out.push(
                Diagnostic::error(
                    Code::E0407,
                    other.span,
                    format!("`{}` is never null", resolved.text),
                )
                .label(format!("`{}` is required", resolved.ty.display()))
                .help("remove the comparison with `null`: it is always the same"),
            );
        }
    }

    /// `input.status == "shiped"`: a literal compared with an enum must be one of its values.
    fn check_enum_literal(
        &self,
        path_side: &Expr,
        kind: &Kind,
        literal_side: &Expr,
        out: &mut Diagnostics,
    ) {
        let (Kind::Text(Some(values)), ExprKind::Str(lit)) = (kind, &literal_side.kind) else {
            return;
        };
        if values.contains(lit) {
            return;
        }
        let d = Diagnostic::error(
            Code::E0407,
            literal_side.span,
            format!("`{lit}` is not a value of this enum"),
        )
        .label(format!("expected one of {}", values.join(", ")))
        .secondary(path_side.span, "an enum");
        out.push(d.maybe_help(suggest::did_you_mean(
            lit,
            values.iter().map(String::as_str),
        )));
    }
}

/// `p != null` (with `Ne`) or `p == null` (with `Eq`), either way round:
/// the path `p`, present in the next `and` (or `or`) operands.
fn null_check(e: &Expr, wanted: CmpOp) -> Option<String> {
    let ExprKind::Compare(l, op, r) = &e.kind else {
        return None;
    };
    if op.value != wanted {
        return None;
    }
    let path: &DataPath = match (&l.kind, &r.kind) {
        (ExprKind::Path(p), ExprKind::Null) | (ExprKind::Null, ExprKind::Path(p)) => p,
        _ => return None,
    };
    Some(path.text())
}

fn comparable(l: &Kind, r: &Kind) -> bool {
    matches!(
        (l, r),
        (Kind::Number, Kind::Number)
            | (Kind::Bool, Kind::Bool)
            | (Kind::Temporal, Kind::Temporal)
            | (Kind::Text(_), Kind::Text(_))
            | (Kind::Temporal, Kind::Text(None))
            | (Kind::Text(None), Kind::Temporal)
    )
}

fn kind_of(scope: &Scope<'_>, ty: Ty<'_>) -> Kind {
    let model = scope.model;
    if let Ty::Expr(e) = ty {
        if let Some(values) = enum_values(model, e) {
            return Kind::Text(Some(values.into_iter().map(str::to_string).collect()));
        }
        return match &e.required().kind {
            TypeExprKind::Primitive(p) if p.is_numeric() => Kind::Number,
            TypeExprKind::Primitive(Primitive::Boolean) => Kind::Bool,
            TypeExprKind::Primitive(Primitive::Date | Primitive::Datetime | Primitive::Time) => {
                Kind::Temporal
            }
            TypeExprKind::Primitive(Primitive::Json) => Kind::Unknown,
            TypeExprKind::Primitive(_) => Kind::Text(None),
            _ => Kind::Structured(ty.display()),
        };
    }
    Kind::Structured(ty.display())
}
