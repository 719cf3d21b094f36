//! Checks of a service's state machine: entity, states, reachability, events.

use super::types::enum_values;
use crate::ast::{Service, StateMachine, TypeBody};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::resolve::Model;
use crate::source::{Span, Spanned};
use std::collections::{BTreeSet, VecDeque};

/// Checks the state machine of one service, if it has one.
pub fn check(model: &Model, service: &Service, out: &mut Diagnostics) {
    let Some(sm) = &service.state else { return };
    let Some(states) = states(model, sm, out) else {
        return;
    };
    let names: Vec<&str> = states.iter().map(|(v, _)| v.as_str()).collect();
    let mut unknown = false;
    let mut check_state = |s: &Spanned<String>, out: &mut Diagnostics| {
        if !names.contains(&s.value.as_str()) {
            unknown = true;
            let d = Diagnostic::error(
                Code::E0316,
                s.span,
                format!(
                    "`{}` is not a state of `{}`",
                    s.value,
                    sm.entity.as_ref().map_or("", |e| e.value.as_str())
                ),
            )
            .label(format!("expected one of {}", names.join(", ")));
            out.push(d.maybe_help(suggest::did_you_mean(&s.value, names.iter().copied())));
        }
    };
    if let Some(i) = &sm.initial {
        check_state(i, out);
    }
    for t in &sm.transitions {
        for f in &t.from {
            check_state(f, out);
        }
        if let Some(to) = &t.to {
            check_state(to, out);
        }
    }
    if !unknown {
        reachability(sm, &states, out);
    }
    transition_events(model, service, sm, out);
}

/// The entity's states (values of its enum field) with their spans.
fn states(model: &Model, sm: &StateMachine, out: &mut Diagnostics) -> Option<Vec<(String, Span)>> {
    let entity = sm.entity.as_ref()?;
    let Some(def) = model.type_named(&entity.value, false) else {
        if !model.incomplete {
            let d = Diagnostic::error(
                Code::E0200,
                entity.span,
                format!("unknown type `{}`", entity.value),
            )
            .label("no type with this name");
            out.push(d.maybe_help(suggest::did_you_mean(&entity.value, model.type_names())));
        }
        return None;
    };
    if !matches!(def.body, TypeBody::Object { .. }) {
        out.push(
            Diagnostic::error(
                Code::E0315,
                entity.span,
                format!(
                    "the state machine's entity `{}` is not an object type",
                    entity.value
                ),
            )
            .label("expected an object type with an enum field")
                .help("the state machine's entity is an object type with an enum field, like `status: OrderStatus`")
            .secondary(def.name.span, "defined here"),
        );
        return None;
    }
    let field_name = sm.field.as_ref()?;
    let fields = model.all_fields(def);
    let Some((field, _)) = fields
        .iter()
        .find(|(f, _)| f.name.value == field_name.value)
    else {
        let d = Diagnostic::error(
            Code::E0315,
            field_name.span,
            format!("`{}` has no field `{}`", entity.value, field_name.value),
        )
        .label("unknown field")
        .secondary(def.name.span, "the entity");
        out.push(d.maybe_help(suggest::did_you_mean(
            &field_name.value,
            fields.iter().map(|(f, _)| f.name.value.as_str()),
        )));
        return None;
    };
    let ty = field.ty.as_ref()?;
    let Some(values) = enum_values(model, ty) else {
        out.push(
            Diagnostic::error(
                Code::E0315,
                field_name.span,
                format!(
                    "field `{}.{}` is `{}`, not an enum",
                    entity.value,
                    field_name.value,
                    ty.display()
                ),
            )
            .label("the state field must be an enum")
            .secondary(ty.span, "its type"),
        );
        return None;
    };
    let spans = enum_value_spans(model, ty);
    Some(
        values
            .iter()
            .map(|v| {
                (
                    v.to_string(),
                    spans
                        .iter()
                        .find(|(n, _)| n == v)
                        .map_or(ty.span, |(_, s)| *s),
                )
            })
            .collect(),
    )
}

fn enum_value_spans(model: &Model, ty: &crate::ast::TypeExpr) -> Vec<(String, Span)> {
    match &ty.required().kind {
        crate::ast::TypeExprKind::Enum(values) => values.clone(),
        _ => match model.named(ty).map(|d| &d.body) {
            Some(TypeBody::Enum(values)) => {
                values.iter().map(|v| (v.value.clone(), v.span)).collect()
            }
            _ => Vec::new(),
        },
    }
}

fn reachability(sm: &StateMachine, states: &[(String, Span)], out: &mut Diagnostics) {
    let Some(initial) = &sm.initial else { return };
    let mut reached: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = VecDeque::from([initial.value.as_str()]);
    while let Some(s) = queue.pop_front() {
        if !reached.insert(s) {
            continue;
        }
        for t in &sm.transitions {
            if t.from.iter().any(|f| f.value == s)
                && let Some(to) = &t.to
            {
                queue.push_back(&to.value);
            }
        }
    }
    for (state, span) in states {
        if !reached.contains(state.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::E0317,
                    *span,
                    format!("state `{state}` cannot be reached from `{}`", initial.value),
                )
                .label("unreachable state")
                .secondary(initial.span, "the initial state")
                .help(format!(
                    "add a transition `to: {state}`, or remove the value"
                )),
            );
        }
    }
}

fn transition_events(model: &Model, service: &Service, sm: &StateMachine, out: &mut Diagnostics) {
    let Some(entity) = &sm.entity else { return };
    for t in &sm.transitions {
        let Some(event) = &t.emits else { continue };
        // not declared: the transition publishes it, with the entity as payload
        let Some(p) = service
            .publishes
            .iter()
            .find(|p| p.event.value == event.value)
        else {
            continue;
        };
        let Some(payload) = &p.payload else { continue };
        let same = model
            .named(payload)
            .is_some_and(|d| d.name.value == entity.value)
            && !payload.is_optional();
        if !same {
            out.push(
                Diagnostic::error(
                    Code::E0318,
                    event.span,
                    format!(
                        "transition `{}` emits `{}`, whose payload is `{}`, not the entity `{}`",
                        t.name.value,
                        event.value.0,
                        payload.display(),
                        entity.value
                    ),
                )
                .label("payload is not the entity")
                .secondary(payload.span, "published with this payload")
                .help(format!(
                    "a transition's event carries the entity: publish `{}` with payload `{}`",
                    event.value.0, entity.value
                )),
            );
        }
    }
}
