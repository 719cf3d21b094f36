//! Checks of sagas (MANIFESTS.md section 4): trigger, steps, operations,
//! compensations, what each step passes to its operation, `when`
//! conditions, and the events a saga ends with.

use super::flow::{Ty, all_operations, assignable, fields, payload, positions, signature};
use super::paths::Scope;
use crate::ast::{Compensation, Saga, SagaItem, Step, StepInput};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::resolve::Model;
use crate::source::{Span, Spanned};
use crate::syntax::reference::{EventName, OperationRef};
use crate::syntax::route::Segment;
use std::collections::HashMap;

/// Checks every saga.
pub fn check(model: &Model, out: &mut Diagnostics) {
    let operations = all_operations(model);
    for saga in &model.ast.sagas {
        check_saga(model, saga, &operations, out);
    }
}

fn check_saga(model: &Model, saga: &Saga, operations: &[String], out: &mut Diagnostics) {
    let input = saga
        .trigger
        .as_ref()
        .and_then(|t| trigger_input(model, saga, t, out));
    step_names(saga, out);
    compensations_present(saga, out);
    let placed = positions(saga);
    for (position, step) in &placed {
        let scope = Scope {
            model,
            input,
            earlier: placed
                .iter()
                .filter(|(p, _)| p < position)
                .map(|(_, s)| *s)
                .collect(),
            later: placed
                .iter()
                .filter(|(p, s)| p >= position && !std::ptr::eq(*s, *step))
                .map(|(_, s)| *s)
                .collect(),
        };
        check_step(model, &scope, step, operations, out);
    }
    end_events(saga, out);
    end_payloads(model, saga, input, out);
    self_trigger(model, saga, out);
}

/// The trigger's payload type, the saga's input (E0400 when unknown).
fn trigger_input<'m>(
    model: &'m Model,
    saga: &Saga,
    trigger: &Spanned<EventName>,
    out: &mut Diagnostics,
) -> Option<Ty<'m>> {
    if let Some(p) = payload(model, &trigger.value) {
        return Some(p);
    }
    if model.incomplete {
        return None;
    }
    let published: Vec<String> = model
        .ast
        .services
        .iter()
        .flat_map(|s| s.publishes.iter().map(|p| p.event.value.0.clone()))
        .collect();
    let d = Diagnostic::error(
        Code::E0400,
        trigger.span,
        format!(
            "saga `{}` starts on `{}`, which no service publishes",
            saga.name.value, trigger.value.0
        ),
    )
    .label("unknown event");
    let help = suggest::did_you_mean(&trigger.value.0, published.iter().map(String::as_str))
        .unwrap_or_else(|| "publish it from a service, or subscribe to it somewhere as `external: true` with a `payload`".to_string());
    out.push(d.help(help));
    None
}

fn step_names(saga: &Saga, out: &mut Diagnostics) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for step in saga.all_steps() {
        let Some(name) = &step.name else {
            if step.action.is_some() {
                out.push(
                    Diagnostic::error(
                        Code::E0101,
                        step.span,
                        "missing field `name` in a saga step",
                    )
                    .label("this step has no name")
                    .help("add `name:`: step names appear in logs and in `steps.<name>.output`"),
                );
            }
            continue;
        };
        if let Some(first) = seen.get(name.value.as_str()) {
            out.push(
                Diagnostic::error(
                    Code::E0401,
                    name.span,
                    format!("step `{}` is defined more than once", name.value),
                )
                .label("defined again here")
                .secondary(*first, "first defined here")
                .help("give every step of a saga its own name"),
            );
        } else {
            seen.insert(&name.value, name.span);
        }
    }
}

/// Every step but those of the last item needs `compensate` (or `none`).
/// Every step but those of the last item needs `compensate` (or `none`);
/// in a last `parallel` group a sibling can still fail, so there too.
fn compensations_present(saga: &Saga, out: &mut Diagnostics) {
    let count = saga.steps.len();
    for (i, item) in saga.steps.iter().enumerate() {
        let steps: &[Step] = match item {
            SagaItem::Step(_) if i + 1 == count => continue,
            SagaItem::Parallel { steps, .. } if i + 1 == count && steps.len() < 2 => continue,
            SagaItem::Step(s) => std::slice::from_ref(s),
            SagaItem::Parallel { steps, .. } => steps,
        };
        for step in steps
            .iter()
            .filter(|s| s.compensate.is_none() && s.action.is_some())
        {
            let at = step.name.as_ref().map_or(step.span, |n| n.span);
            let name = step.name.as_ref().map_or("this step", |n| n.value.as_str());
            out.push(
                Diagnostic::error(Code::E0403, at, format!("step `{name}` has no compensation"))
                    .label("another step can fail after it, and this one cannot be undone")
                    .help("add `compensate: Service.operation`, or `compensate: none` when nothing needs undoing"),
            );
        }
    }
}

fn unknown_operation(
    op: &Spanned<OperationRef>,
    operations: &[String],
    model: &Model,
) -> Diagnostic {
    let written = format!("{}.{}", op.value.service, op.value.operation);
    let d = if model.service(&op.value.service).is_none() {
        Diagnostic::error(
            Code::E0402,
            op.span,
            format!("unknown service `{}`", op.value.service),
        )
        .label("no service with this name")
    } else {
        Diagnostic::error(
            Code::E0402,
            op.span,
            format!(
                "`{}` has no operation `{}`",
                op.value.service, op.value.operation
            ),
        )
        .label("unknown operation")
    };
    d.maybe_help(suggest::did_you_mean(
        &written,
        operations.iter().map(String::as_str),
    ))
}

fn check_step(
    model: &Model,
    scope: &Scope<'_>,
    step: &Step,
    operations: &[String],
    out: &mut Diagnostics,
) {
    if let Some(retry) = &step.retry {
        super::resilience::check_retry(retry, out);
    }
    if let Some(when) = &step.when {
        super::when::check(scope, &when.value, out);
    }
    let action = step
        .action
        .as_ref()
        .and_then(|a| match signature(model, &a.value) {
            Some(sig) => Some((a, sig)),
            None => {
                if !model.incomplete {
                    out.push(unknown_operation(a, operations, model));
                }
                None
            }
        });
    let given = given_input(scope, step, out);
    if let (Some((a, _)), Some((given, given_span))) = (&action, given) {
        reachable(model, a, given, given_span, "the step's input", out);
    }
    if let (Some((a, sig)), Some((given, given_span))) = (&action, given)
        && let Some(expected) = sig.input
        && !assignable(model, given, expected)
    {
        out.push(
            Diagnostic::error(Code::E0404, given_span, format!("`{}.{}` takes `{}`, but the step passes `{}`", a.value.service, a.value.operation, expected.display(), given.display()))
                .label(format!("a `{}`", given.display()))
                .secondary(a.span, format!("takes `{}`", expected.display()))
                .help("pass a value of the operation's input type with `input:` (`input.<field>` or `steps.<name>.output`)"),
        );
    }
    let Some(Compensation::Operation(comp)) = &step.compensate else {
        return;
    };
    let Some(comp_sig) = signature(model, &comp.value) else {
        if !model.incomplete {
            out.push(unknown_operation(comp, operations, model));
        }
        return;
    };
    // a compensation receives the step's output, or its input when the
    // action returns nothing
    let received = match &action {
        Some((_, sig)) => sig.output.or(given.map(|(g, _)| g)),
        None => None,
    };
    if let Some(received) = received {
        reachable(
            model,
            comp,
            received,
            comp.span,
            "what the compensation receives",
            out,
        );
    }
    if let (Some(received), Some(expected)) = (received, comp_sig.input)
        && !assignable(model, received, expected)
    {
        out.push(
            Diagnostic::error(Code::E0404, comp.span, format!("compensation `{}.{}` takes `{}`, but receives the step's `{}`", comp.value.service, comp.value.operation, expected.display(), received.display()))
                .label(format!("takes `{}`", expected.display()))
                .help("a compensation receives what its action returned (or the action's input when it returns nothing): choose an operation that takes that"),
        );
    }
}

/// E0413: the runtime finds what an operation acts on in the value the
/// step passes: a route's path parameters in the fields of the same
/// names, a state transition's entity by its `id`. A value without them
/// would fail the step every time it runs.
fn reachable(
    model: &Model,
    op: &Spanned<OperationRef>,
    given: Ty<'_>,
    given_span: Span,
    what: &str,
    out: &mut Diagnostics,
) {
    let Some(service) = model.service(&op.value.service) else {
        return;
    };
    let Some(names) =
        fields(model, given).map(|f| f.iter().map(|f| f.name.value.as_str()).collect::<Vec<_>>())
    else {
        return;
    };
    let written = format!("{}.{}", op.value.service, op.value.operation);
    let route = service.routes.iter().find(|r| {
        r.operation
            .as_ref()
            .is_some_and(|o| o.value == op.value.operation)
    });
    let needed: Vec<&str> = match route {
        Some(r) => r
            .segments
            .iter()
            .filter_map(|(seg, _)| match seg {
                Segment::Param(name) => Some(name.as_str()),
                Segment::Literal(_) => None,
            })
            .collect(),
        None => vec!["id"],
    };
    for name in needed.into_iter().filter(|n| !names.contains(n)) {
        let mut d = match route {
            Some(r) => Diagnostic::error(
                Code::E0413,
                op.span,
                format!(
                    "`{written}` needs `{name}` for its path `{}`, but {what} (`{}`) has no field `{name}`",
                    r.path,
                    given.display()
                ),
            )
            .label(format!("`{name}` is taken from {what}"))
            .help(format!(
                "pass a value with a `{name}` field (`input:`), or call an operation whose path has no parameter the value lacks"
            )),
            None => Diagnostic::error(
                Code::E0413,
                op.span,
                format!(
                    "the transition `{written}` finds its entity by `id`, but {what} (`{}`) has no field `id`",
                    given.display()
                ),
            )
            .label("a transition is applied to the entity with this id")
            .help("give the entity an `id` field"),
        };
        if given_span != op.span {
            d = d.secondary(given_span, format!("a `{}`", given.display()));
        }
        out.push(d);
    }
}

/// What the action receives: the saga input, or what `input:` names.
fn given_input<'m>(
    scope: &Scope<'m>,
    step: &Step,
    out: &mut Diagnostics,
) -> Option<(Ty<'m>, Span)> {
    let path = match &step.input {
        None => {
            let at = step.action.as_ref().map_or(step.span, |a| a.span);
            return scope.input.map(|t| (t, at));
        }
        Some(StepInput::Invalid) => return None,
        Some(StepInput::Path(path)) => path,
    };
    let first = path.value.names().next().unwrap_or("");
    if first != "input" && first != "steps" {
        let steps = scope.earlier.iter().chain(scope.later.iter());
        if steps
            .clone()
            .any(|s| s.name.as_ref().is_some_and(|n| n.value == first))
        {
            let text = path.value.text();
            out.push(
                Diagnostic::error(
                    Code::E0411,
                    path.span,
                    format!("`{text}` is not a reference to saga data"),
                )
                .label("a step's output is read through `steps.`")
                .help(format!("write `steps.{text}`")),
            );
            return None;
        }
    }
    let resolved = scope.resolve(&path.value, &std::collections::HashSet::new(), out)?;
    Some((resolved.ty, path.span))
}

/// `onSuccess`/`onFailure` must be events someone publishes.
fn end_events(saga: &Saga, out: &mut Diagnostics) {
    let declared: Vec<&str> = saga
        .publishes
        .iter()
        .map(|p| p.event.value.0.as_str())
        .collect();
    for (key, event) in [
        ("onSuccess", &saga.on_success),
        ("onFailure", &saga.on_failure),
    ] {
        let Some(event) = event else { continue };
        if !declared.contains(&event.value.0.as_str()) {
            let d = Diagnostic::error(
                Code::E0410,
                event.span,
                format!(
                    "`{key}` names `{}`, which the saga does not declare in `publishes:`",
                    event.value.0
                ),
            )
            .label("not declared by the saga");
            let help = suggest::did_you_mean(&event.value.0, declared.iter().copied())
                .unwrap_or_else(|| {
                    format!(
                        "declare it in the saga's `publishes:` (`{}: <the saga's input type>`)",
                        event.value.0
                    )
                });
            out.push(d.help(help));
        }
    }
}

/// A saga publishes its input: each event it declares must carry a type the
/// input is (the input's own type or one it extends).
fn end_payloads(model: &Model, saga: &Saga, input: Option<Ty<'_>>, out: &mut Diagnostics) {
    let Some(input) = input else { return };
    if model.incomplete {
        return;
    }
    for publish in &saga.publishes {
        let Some(declared) = &publish.payload else {
            continue;
        };
        if assignable(model, input, Ty::Expr(declared)) {
            continue;
        }
        let (event, input_type) = (&publish.event.value.0, input.display());
        out.push(
            Diagnostic::error(
                Code::E0414,
                declared.span,
                format!(
                    "`{event}` carries `{}`, but saga `{}` publishes it with its input (`{input_type}`)",
                    declared.display(),
                    saga.name.value,
                ),
            )
            .label(format!("not the saga's input type `{input_type}`"))
            .help(format!("declare `{event}: {input_type}`")),
        );
    }
}

/// A saga whose own events, or those of the operations it runs, are its
/// trigger would start itself again, forever.
fn self_trigger(model: &Model, saga: &Saga, out: &mut Diagnostics) {
    let Some(trigger) = &saga.trigger else { return };
    let own = saga
        .publishes
        .iter()
        .map(|p| (&p.event.value, p.event.span));
    let by_steps = saga
        .all_steps()
        .filter_map(|s| s.action.as_ref())
        .flat_map(|a| {
            signature(model, &a.value)
                .map(|sig| {
                    sig.emits
                        .into_iter()
                        .map(|e| (e, a.span))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        });
    let looping = own.chain(by_steps).find(|(e, _)| **e == trigger.value);
    if let Some((event, span)) = looping {
        out.push(
            Diagnostic::error(Code::E0409, span, format!("saga `{}` publishes `{}`, which starts it again", saga.name.value, event.0))
                .label(format!("publishes `{}`", event.0))
                .secondary(trigger.span, "the saga's trigger")
                .help("end the saga with a different event (for example `Order.completed`), or start it from another one"),
        );
    }
}
