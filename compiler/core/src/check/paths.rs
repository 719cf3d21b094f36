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
use crate::load::Node;
use crate::resolve::Model;
use std::collections::HashSet;
use std::ops::Range;

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
    /// Resolves `segments` (with byte ranges in `node`'s string), reporting
    /// problems. `guarded` holds paths known not to be null.
    pub fn resolve(
        &self,
        node: &Node,
        segments: &[(String, Range<usize>)],
        guarded: &HashSet<String>,
        out: &mut Diagnostics,
    ) -> Option<Resolved<'m>> {
        let at = |r: &Range<usize>| node.sub_span(r.clone());
        let (first, first_range) = segments.first()?;
        let (mut ty, mut used) = match first.as_str() {
            "input" => (self.input?, 1),
            "steps" => (self.step_output(node, segments, out)?, 3),
            other => {
                let d = Diagnostic::error(
                    Code::E0406,
                    at(first_range),
                    format!("unknown name `{other}`"),
                )
                .label("a path starts at `input` or `steps`");
                let help = suggest::did_you_mean(other, ["input", "steps"]).unwrap_or_else(|| {
                    "start the path with `input.` (the saga's input) or `steps.<name>.output`"
                        .to_string()
                });
                out.push(d.help(help));
                return None;
            }
        };
        let mut text: String = segments[..used.min(segments.len())]
            .iter()
            .map(|(s, _)| s.as_str())
            .collect::<Vec<_>>()
            .join(".");
        while let Some((name, range)) = segments.get(used) {
            if ty.is_optional() && !guarded.contains(&text) {
                out.push(
                    Diagnostic::error(
                        Code::E0408,
                        at(range),
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
                        at(range),
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
                        at(range),
                        format!("`{text}` is a `{}`, which has no fields", ty.display()),
                    )
                    .label("no such field"),
                );
                return None;
            };
            let Some(field) = list.iter().find(|f| &f.name.value == name) else {
                let d = Diagnostic::error(
                    Code::E0406,
                    at(range),
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
    fn step_output(
        &self,
        node: &Node,
        segments: &[(String, Range<usize>)],
        out: &mut Diagnostics,
    ) -> Option<Ty<'m>> {
        let at = |r: &Range<usize>| node.sub_span(r.clone());
        let Some((name, range)) = segments.get(1) else {
            let r = &segments[0].1;
            out.push(
                Diagnostic::error(
                    Code::E0411,
                    at(r),
                    "`steps` needs a step name: `steps.<name>.output`",
                )
                .label("incomplete"),
            );
            return None;
        };
        let named = |s: &&&Step| s.name.as_ref().is_some_and(|n| &n.value == name);
        let Some(step) = self.earlier.iter().find(named) else {
            let d = Diagnostic::error(
                Code::E0406,
                at(range),
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
            Some((word, _)) if word == "output" => {}
            Some((word, r)) => {
                out.push(
                    Diagnostic::error(
                        Code::E0411,
                        at(r),
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
                        at(range),
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
                    Diagnostic::error(
                        Code::E0406,
                        at(range),
                        format!("step `{name}` returns nothing"),
                    )
                    .label("its operation has no output"),
                );
                None
            }
        }
    }
}

/// Splits `input.a.b` into segments with their byte ranges; `None` when
/// the text is not a dotted path of identifiers.
pub fn split(text: &str) -> Option<Vec<(String, Range<usize>)>> {
    let mut out = Vec::new();
    let mut start = 0;
    for part in text.split('.') {
        let ok = part
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return None;
        }
        out.push((part.to_string(), start..start + part.len()));
        start += part.len() + 1;
    }
    Some(out)
}
