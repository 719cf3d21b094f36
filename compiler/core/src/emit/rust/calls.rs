//! Typed clients of a service's `calls`: one module per called service,
//! one function per operation, and the lines of `service()` that register
//! the called services' base URLs.
//!
//! Why it exists: a client is the mirror image of an operation module
//! (it encodes what the other decodes); it shares `inputs.rs` and nothing
//! else with the service's own routes.

use super::inputs::{InputParts, input_parts, output_type};
use super::names::{pascal, snake_ident, url_variable};
use super::rt::route_auth_kind;
use super::types::Types;
use crate::ast::{Route, Service};
use crate::emit::schemas::body_mode;
use crate::names::to_kebab;
use crate::resolve::Model;
use crate::syntax::reference::OperationRef;
use proc_macro2::TokenStream;
use quote::quote;

/// Typed clients of `calls`, one module per called service.
pub(super) fn calls(
    model: &Model,
    service: &Service,
    types: &mut Types<'_>,
) -> (TokenStream, TokenStream) {
    let mut by_service: std::collections::BTreeMap<&str, Vec<&OperationRef>> = Default::default();
    for c in &service.calls {
        by_service
            .entry(c.value.service.as_str())
            .or_default()
            .push(&c.value);
    }
    let mut modules = Vec::new();
    let mut registrations = Vec::new();
    for (callee_name, ops) in by_service {
        let Some(callee) = model.service(callee_name) else {
            continue;
        };
        let slug = to_kebab(callee_name);
        registrations.push(quote! { let service = service.calls(#callee_name, #slug); });
        modules.push(client_module(model, callee, &ops, types));
    }
    if modules.is_empty() {
        return (quote! {}, quote! {});
    }
    (
        quote! {
            /// Clients of the services this one calls.
            pub mod calls {
                use super::*;
                #(#modules)*
            }
        },
        quote! { #(#registrations)* },
    )
}

/// The client module of one called service: a function per operation.
fn client_module(
    model: &Model,
    callee: &Service,
    ops: &[&OperationRef],
    types: &mut Types<'_>,
) -> TokenStream {
    let callee_name = callee.name.value.as_str();
    let module = snake_ident(callee_name);
    let fns: Vec<TokenStream> = ops
        .iter()
        .filter_map(|op| client_fn(model, callee, op, types))
        .collect();
    let d = format!(
        " Typed client of {callee_name} (`calls`); its base URL comes from `{}`.",
        url_variable(callee_name)
    );
    quote! {
        #[doc = #d]
        pub mod #module {
            use super::*;
            #(#fns)*
        }
    }
}

/// The client of one operation: its `Input` and `SPEC`, and the function
/// that calls it; `None` when the callee has no such operation.
fn client_fn(
    model: &Model,
    callee: &Service,
    op: &OperationRef,
    types: &mut Types<'_>,
) -> Option<TokenStream> {
    let callee_name = callee.name.value.as_str();
    let route = callee.routes.iter().find(|r| {
        r.operation
            .as_ref()
            .is_some_and(|o| o.value == op.operation)
    })?;
    let context = format!("{callee_name}{}", pascal(&op.operation));
    let parts = input_parts(types, route, &context, body_mode(model, callee_name, route));
    let output = output_type(types, route, &context);
    let op_module = snake_ident(&op.operation);
    let f = snake_ident(&op.operation);
    let operation = op.operation.as_str();
    let spec_module = spec_module(callee, route, operation, &parts);
    let (method, path) = (route.method.value.as_str(), route.path.as_str());
    let slug = to_kebab(callee_name);
    let encode_path = &parts.encode_path;
    let encode_query = &parts.encode_query;
    let body = if parts.has_body {
        quote! { Some(&input.body) }
    } else {
        quote! { None::<&()> }
    };
    let call_doc = format!(
        " Calls `{callee_name}.{operation}` ({method} {path}) with the service's resilience policy."
    );
    let query_mut = if encode_query.is_empty() {
        quote! {}
    } else {
        quote! { mut }
    };
    let input_binding = if parts.members.is_empty() {
        quote! { _input }
    } else {
        quote! { input }
    };
    Some(quote! {
        #spec_module

        #[doc = #call_doc]
        pub async fn #f(ctx: &rt::Context, #input_binding: #op_module::Input) -> Result<#output, rt::Problem> {
            let #query_mut query: Vec<(&str, String)> = Vec::new();
            #(#encode_query)*
            let call = rt::Call {
                spec: &#op_module::SPEC,
                slug: #slug,
                path: vec![#(#encode_path)*],
                query,
                headers: ctx.outbound_headers(),
            };
            ctx.clients().call(call, #body).await
        }
    })
}

/// `pub mod <operation> { Input, SPEC }` of a called operation.
fn spec_module(
    callee: &Service,
    route: &Route,
    operation: &str,
    parts: &InputParts,
) -> TokenStream {
    let callee_name = callee.name.value.as_str();
    let op_module = snake_ident(operation);
    let (method, path) = (route.method.value.as_str(), route.path.as_str());
    let auth = route_auth_kind(callee, route);
    let members = &parts.members;
    let input_doc = format!(" What `{callee_name}.{operation}` takes.");
    let module_doc = format!(" `{callee_name}.{operation}`: its input and where it lives.");
    quote! {
        #[doc = #module_doc]
        pub mod #op_module {
            use super::*;

            #[doc = #input_doc]
            #[derive(Debug, Clone, PartialEq)]
            pub struct Input {
                #(#members)*
            }

            /// Where the operation lives.
            pub static SPEC: rt::CallSpec = rt::CallSpec {
                service: #callee_name,
                operation: #operation,
                method: #method,
                path: #path,
                auth: #auth,
            };
        }
    }
}
