//! What flows through sagas: operation signatures, the types of values,
//! and paths into them (`input.total.amount`, `steps.charge.output.id`).
//!
//! Shared by the saga checks (step inputs and compensations) and the `when`
//! type checker, so both agree on what a path means.

use crate::ast::{Field, Saga, TypeBody, TypeDef, TypeExpr, TypeExprKind};
use crate::resolve::Model;
use crate::syntax::reference::{EventName, OperationRef};

/// The type of a value in a saga.
#[derive(Clone, Copy, Debug)]
pub enum Ty<'m> {
    /// Written as a type expression.
    Expr(&'m TypeExpr),
    /// A named type (a state machine's entity).
    Def(&'m TypeDef),
}

impl<'m> Ty<'m> {
    /// The named type behind it, through `?`.
    pub fn def(self, model: &'m Model) -> Option<&'m TypeDef> {
        match self {
            Ty::Def(d) => Some(d),
            Ty::Expr(e) => model.named(e),
        }
    }

    /// Whether the value may be absent.
    pub fn is_optional(self) -> bool {
        matches!(self, Ty::Expr(e) if e.is_optional())
    }

    /// How it is written, for messages.
    pub fn display(self) -> String {
        match self {
            Ty::Expr(e) => e.display(),
            Ty::Def(d) => d.name.value.clone(),
        }
    }
}

/// What an operation takes and returns.
#[derive(Clone, Debug)]
pub struct Signature<'m> {
    /// The request body type, if any.
    pub input: Option<Ty<'m>>,
    /// The success body type, if any.
    pub output: Option<Ty<'m>>,
    /// Events it may publish.
    pub emits: Vec<&'m EventName>,
}

/// The signature of `Service.operation`: a route operation, or a state
/// transition (which takes and returns the entity).
pub fn signature<'m>(model: &'m Model, op: &OperationRef) -> Option<Signature<'m>> {
    let service = model.service(&op.service)?;
    if let Some(route) = service.routes.iter().find(|r| {
        r.operation
            .as_ref()
            .is_some_and(|o| o.value == op.operation)
    }) {
        return Some(Signature {
            input: route.input.as_ref().map(Ty::Expr),
            output: route.output.as_ref().map(Ty::Expr),
            emits: route.emits.iter().map(|e| &e.value).collect(),
        });
    }
    let sm = service.state.as_ref()?;
    let t = sm
        .transitions
        .iter()
        .find(|t| t.name.value == op.operation)?;
    let entity = sm
        .entity
        .as_ref()
        .and_then(|e| model.type_named(&e.value, false))
        .map(Ty::Def);
    Some(Signature {
        input: entity,
        output: entity,
        emits: t.emits.iter().map(|e| &e.value).collect(),
    })
}

/// Every `Service.operation` of the project, for did-you-mean.
pub fn all_operations(model: &Model) -> Vec<String> {
    let mut all = Vec::new();
    for s in &model.ast.services {
        for op in super::calls::operations(s) {
            all.push(format!("{}.{op}", s.name.value));
        }
    }
    all
}

/// The payload type of an event: its publisher's (a state transition's
/// event carries the entity), else an external subscription's.
pub fn payload<'m>(model: &'m Model, event: &EventName) -> Option<Ty<'m>> {
    let services = model.ast.services.iter();
    let published = services
        .clone()
        .flat_map(|s| s.publishes.iter())
        .chain(model.ast.sagas.iter().flat_map(|s| s.publishes.iter()))
        .find(|p| &p.event.value == event)
        .and_then(|p| p.payload.as_ref());
    if let Some(p) = published {
        return Some(Ty::Expr(p));
    }
    for s in services.clone() {
        let Some(sm) = &s.state else { continue };
        if sm
            .transitions
            .iter()
            .any(|t| t.emits.as_ref().is_some_and(|e| &e.value == event))
        {
            return sm
                .entity
                .as_ref()
                .and_then(|e| model.type_named(&e.value, false))
                .map(Ty::Def);
        }
    }
    services
        .flat_map(|s| s.subscribes.iter())
        .find(|s| &s.event.value == event && s.external.as_ref().is_some_and(|e| e.value))
        .and_then(|s| s.payload.as_ref())
        .map(Ty::Expr)
}

/// Whether a value of type `given` can be passed where `expected` is wanted.
pub fn assignable(model: &Model, given: Ty<'_>, expected: Ty<'_>) -> bool {
    match (given, expected) {
        (Ty::Expr(g), Ty::Expr(e)) => super::types::narrows(model, g, e),
        _ => {
            if given.is_optional() && !expected.is_optional() {
                return false;
            }
            match (given.def(model), expected.def(model)) {
                (Some(g), Some(e)) => std::ptr::eq(g, e) || extends(model, g, e),
                _ => false,
            }
        }
    }
}

fn extends(model: &Model, child: &TypeDef, ancestor: &TypeDef) -> bool {
    let mut current = child;
    for _ in 0..64 {
        let TypeBody::Object {
            extends: Some(p), ..
        } = &current.body
        else {
            return false;
        };
        let Some(next) = model.named(p) else {
            return false;
        };
        if std::ptr::eq(next, ancestor) {
            return true;
        }
        current = next;
    }
    false
}

/// The fields of an object type value.
pub fn fields<'m>(model: &'m Model, ty: Ty<'m>) -> Option<Vec<&'m Field>> {
    let def = ty.def(model)?;
    matches!(def.body, TypeBody::Object { .. })
        .then(|| model.all_fields(def).into_iter().map(|(f, _)| f).collect())
}

/// Where a step sits: steps of one parallel group share a position.
pub fn positions(saga: &Saga) -> Vec<(usize, &crate::ast::Step)> {
    let mut out = Vec::new();
    for (i, item) in saga.steps.iter().enumerate() {
        match item {
            crate::ast::SagaItem::Step(s) => out.push((i, s)),
            crate::ast::SagaItem::Parallel { steps, .. } => {
                out.extend(steps.iter().map(|s| (i, s)))
            }
        }
    }
    out
}

/// Whether the value is a list, set or map (paths cannot go into them).
pub fn is_collection(ty: Ty<'_>) -> bool {
    matches!(ty, Ty::Expr(e) if matches!(e.required().kind, TypeExprKind::List(_) | TypeExprKind::Set(_) | TypeExprKind::Map(_)))
}
