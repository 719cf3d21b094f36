//! Paths into a saga's data: `input.total.amount`, `steps.charge.output.id`.
//!
//! A path starts at `input` (the trigger event's payload) or at
//! `steps.<name>.output` (the output of a step that ran before), then goes
//! through object fields. Walking through an optional field needs a guard
//! (`input.coupon != null and ...`), so that a condition always says what
//! happens when the value is absent.

use super::flow::{Ty, fields, is_collection, signature};
use crate::ast::Step;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::resolve::Model;
use crate::syntax::path::DataPath;
use std::collections::HashSet;

/// What a path may see: the saga input and the steps before the current one.
pub struct Scope<'m> {
    /// The model.
    pub model: &'m Model,
    /// The saga's input type, if known.
    pub input: Option<Ty<'m>>,
    /// Steps that ran before, by name.
    pub earlier: Vec<&'m Step>,
    /// Steps that run at the same time or later, by name (for messages).
    pub later: Vec<&'m Step>,
}

/// A resolved path: its type and its text (for guards).
pub struct Resolved<'m> {
    /// The value's type.
    pub ty: Ty<'m>,
    /// `input.coupon.percent`
    pub text: String,
}

impl<'m> Scope<'m> {
    /// Resolves `path`, reporting problems. `guarded` holds paths known
    /// not to be null.
    pub fn resolve(
        &self,
        path: &DataPath,
        guarded: &HashSet<String>,
        out: &mut Diagnostics,
    ) -> Option<Resolved<'m>> {
        let segments = &path.segments;
        let first = segments.first()?;
        let (mut ty, mut used) = match first.value.as_str() {
            "input" => (self.input?, 1),
            "steps" => (self.step_output(path, out)?, 3),
            other => {
                let d =
                    Diagnostic::error(Code::E0406, first.span, format!("unknown name `{other}`"))
                        .label("a path starts at `input` or `steps`");
                let help = suggest::did_you_mean(other, ["input", "steps"]).unwrap_or_else(|| {
                    "start the path with `input.` (the saga's input) or `steps.<name>.output`"
                        .to_string()
                });
                out.push(d.help(help));
                return None;
            }
        };
        let mut text: String = path.names().take(used).collect::<Vec<_>>().join(".");
        while let Some(segment) = segments.get(used) {
            let (name, range) = (&segment.value, segment.span);
            if ty.is_optional() && !guarded.contains(&text) {
                out.push(
                    Diagnostic::error(
                        Code::E0408,
                        range,
                        format!("`{text}` may be absent, so `{text}.{name}` may not exist"),
                    )
                    .label("reads through an optional value")
                    .help(format!(
                        "say what happens when it is absent: `{text} != null and ...`"
                    )),
                );
                return None;
            }
            if is_collection(ty) {
                out.push(
                    Diagnostic::error(
                        Code::E0406,
                        range,
                        format!("`{text}` is a `{}`; a path cannot go into it", ty.display()),
                    )
                    .label("not an object"),
                );
                return None;
            }
            let Some(list) = fields(self.model, ty) else {
                out.push(
                    Diagnostic::error(
                        Code::E0406,
                        range,
                        format!("`{text}` is a `{}`, which has no fields", ty.display()),
                    )
                    .label("no such field"),
                );
                return None;
            };
            let Some(field) = list.iter().find(|f| f.name.value == *name) else {
                let d = Diagnostic::error(
                    Code::E0406,
                    range,
                    format!("`{}` has no field `{name}`", ty.display()),
                )
                .label("unknown field");
                let help = suggest::did_you_mean(name, list.iter().map(|f| f.name.value.as_str()))
                    .unwrap_or_else(|| {
                        format!(
                            "its fields are: {}",
                            list.iter()
                                .map(|f| f.name.value.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                out.push(d.help(help));
                return None;
            };
            ty = Ty::Expr(field.ty.as_ref()?);
            text.push('.');
            text.push_str(name);
            used += 1;
        }
        Some(Resolved { ty, text })
    }

    /// `steps.<name>.output`: the output type of an earlier step.
    fn step_output(&self, path: &DataPath, out: &mut Diagnostics) -> Option<Ty<'m>> {
        let segments = &path.segments;
        let Some(step_name) = segments.get(1) else {
            out.push(
                Diagnostic::error(
                    Code::E0411,
                    segments.first()?.span,
                    "`steps` needs a step name: `steps.<name>.output`",
                )
                .label("incomplete"),
            );
            return None;
        };
        let (name, range) = (&step_name.value, step_name.span);
        let named = |s: &&&Step| s.name.as_ref().is_some_and(|n| &n.value == name);
        let Some(step) = self.earlier.iter().find(named) else {
            let d = Diagnostic::error(
                Code::E0406,
                range,
                format!("no earlier step named `{name}`"),
            )
            .label("unknown step");
            let d = if self.later.iter().any(|s| named(&s)) {
                d.help(format!("`{name}` runs at the same time or later; only outputs of earlier steps can be read"))
            } else {
                let names = self
                    .earlier
                    .iter()
                    .filter_map(|s| s.name.as_ref())
                    .map(|n| n.value.as_str());
                d.maybe_help(suggest::did_you_mean(name, names))
            };
            out.push(d);
            return None;
        };
        match segments.get(2) {
            Some(word) if word.value == "output" => {}
            Some(word) => {
                let (word, r) = (&word.value, word.span);
                out.push(
                    Diagnostic::error(
                        Code::E0411,
                        r,
                        format!("expected `output` after `steps.{name}`, found `{word}`"),
                    )
                    .label("expected `output`")
                    .help(format!("write `steps.{name}.output`")),
                );
                return None;
            }
            None => {
                out.push(
                    Diagnostic::error(
                        Code::E0411,
                        range,
                        format!("`steps.{name}` needs `.output`"),
                    )
                    .label("incomplete")
                    .help(format!("write `steps.{name}.output`")),
                );
                return None;
            }
        }
        let sig = step
            .action
            .as_ref()
            .and_then(|a| signature(self.model, &a.value))?;
        match sig.output {
            Some(ty) => Some(ty),
            None => {
                out.push(
                    Diagnostic::error(Code::E0406, range, format!("step `{name}` returns nothing"))
                        .label("its operation has no output"),
                );
                None
            }
        }
    }
}
