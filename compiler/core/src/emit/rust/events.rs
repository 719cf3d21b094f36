//! The Rust types of event payloads, and the names generated code gives
//! events (`Order.created` -> `publish_order_created`).
//!
//! Why it exists: a payload type is needed where a route publishes
//! (`operations.rs`), where the service subscribes and in the handler
//! stubs (`service.rs`), and for a state machine's entity (`state.rs`);
//! each reads it here, so none of them imports another.

use super::names::{pascal, snake};
use super::types::Types;
use crate::ast::{TypeExpr, TypeExprKind};
use crate::emit::schemas::Mode;
use crate::resolve::Model;
use proc_macro2::TokenStream;
use quote::quote;

/// The payload type of an event, from its publisher (or `external`).
pub fn event_payload(model: &Model, event: &str) -> Option<TypeExpr> {
    for s in &model.ast.services {
        if let Some(p) = s.publishes.iter().find(|p| p.event.value.0 == event) {
            return p.payload.clone();
        }
    }
    for s in &model.ast.services {
        if let Some(sm) = &s.state
            && sm
                .transitions
                .iter()
                .any(|t| t.emits.as_ref().is_some_and(|e| e.value.0 == event))
            && let Some(entity) = &sm.entity
        {
            return Some(named(&entity.value));
        }
    }
    for saga in &model.ast.sagas {
        if let Some(p) = saga.publishes.iter().find(|p| p.event.value.0 == event) {
            return p.payload.clone();
        }
    }
    for s in &model.ast.services {
        if let Some(sub) = s
            .subscribes
            .iter()
            .find(|x| x.event.value.0 == event && x.payload.is_some())
        {
            return sub.payload.clone();
        }
    }
    None
}

pub(super) fn named(name: &str) -> TypeExpr {
    TypeExpr {
        kind: TypeExprKind::Named {
            name: name.to_string(),
            library: false,
        },
        span: crate::source::Span::default(),
    }
}

/// The Rust type of an event's payload (`rt::Json` when unknown).
pub(super) fn payload_type(model: &Model, types: &mut Types<'_>, event: &str) -> TokenStream {
    let context = format!("{}Payload", pascal(&event.replace('.', "_")));
    event_payload(model, event)
        .map(|t| types.rust_type(&t, Mode::Response, &context))
        .unwrap_or(quote! { rt::Json })
}

/// `Order.created` -> `order_created`.
pub(super) fn event_fn(event: &str) -> String {
    snake(&event.replace('.', "_"))
}
