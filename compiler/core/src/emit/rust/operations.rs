//! One operation as Rust: its module (`Input`, the `Error` enum of exactly
//! the declared errors plus a generic problem, the `Context` that can
//! publish only the route's `emits`, the `ROUTE` spec and the `route`
//! function that decodes, runs the handler and encodes the answer), its
//! method of the handler trait and its line of `service()`.
//!
//! Why it exists: an operation is the largest concern of a service's
//! code; here each part of its module is a small function, and the
//! service (`service.rs`) only puts the operations together.

use super::events::{event_fn, payload_type};
use super::inputs::{InputParts, input_parts, output_type};
use super::lit::checked;
use super::names::{ident, pascal, snake_ident};
use super::routes::route_spec;
use super::types::{Types, docs};
use crate::ast::{Route, Service};
use crate::emit::schemas::{Components, body_mode};
use crate::resolve::Model;
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// What one operation adds to the service.
pub(super) struct Operation {
    /// `pub mod <operation> { .. }`.
    pub(super) module: TokenStream,
    /// Its method of the handler trait.
    pub(super) method: TokenStream,
    /// Its line of `service()`.
    pub(super) registration: TokenStream,
}

/// Where the builders of one service's operations write to.
pub(super) struct Ctx<'a, 't, 'c> {
    pub(super) model: &'a Model,
    pub(super) service: &'a Service,
    pub(super) types: &'a mut Types<'t>,
    pub(super) components: &'a mut Components<'c>,
    /// The handler trait's name.
    pub(super) trait_id: &'a Ident,
}

/// The operation of `route`; `None` for a route without an operation.
pub(super) fn operation(cx: &mut Ctx<'_, '_, '_>, route: &Route) -> Option<Operation> {
    let op_name = route.operation.as_ref()?.value.as_str();
    let module = snake_ident(op_name);
    let context = pascal(op_name);
    let body = body_mode(cx.model, &cx.service.name.value, route);
    let parts = input_parts(cx.types, route, &context, body);
    let output = output_type(cx.types, route, &context);
    let publish = publish_fns(cx, route);
    let spec = route_spec(cx.model, cx.service, route, cx.components);
    let module_doc = format!(
        " `{op_name}`: {} {}",
        route.method.value.as_str(),
        route.path
    );
    let input = input_struct(op_name, &parts);
    let error = error_enum(op_name, route);
    let context = context_struct(&publish);
    let route_fn = route_fn(cx.trait_id, route, op_name, &parts);
    let module_items = quote! {
        #[doc = #module_doc]
        pub mod #module {
            use super::*;

            #input

            #error

            #context

            /// The route as the manifest declares it.
            pub static ROUTE: rt::RouteSpec = #spec;

            #route_fn
        }
    };
    Some(Operation {
        module: module_items,
        method: trait_method(route, op_name, &output),
        registration: registration(op_name),
    })
}

/// The `publish_<event>` methods of the route's `Context`, one per event
/// in its `emits`.
fn publish_fns(cx: &mut Ctx<'_, '_, '_>, route: &Route) -> Vec<TokenStream> {
    let mut publish = Vec::new();
    for ev in &route.emits {
        let event = ev.value.0.as_str();
        let f = ident(&format!("publish_{}", event_fn(event)));
        let payload = payload_type(cx.model, cx.types, event);
        let d = format!(" Publishes `{event}` (declared in the route's `emits`).");
        publish.push(quote! {
            #[doc = #d]
            pub fn #f(&self, payload: &#payload) -> Result<(), rt::Problem> {
                self.inner.publish(#event, payload)
            }
        });
    }
    publish
}

/// `pub struct Input`.
fn input_struct(op_name: &str, parts: &InputParts) -> TokenStream {
    let input_doc = format!(" What `{op_name}` receives, parsed and validated.");
    let members = &parts.members;
    quote! {
        #[doc = #input_doc]
        #[derive(Debug, Clone, PartialEq)]
        pub struct Input {
            #(#members)*
        }
    }
}

/// `pub enum Error`: the route's declared errors and any other problem,
/// and its conversions from and into `rt::Problem`.
fn error_enum(op_name: &str, route: &Route) -> TokenStream {
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    for err in &route.errors {
        let v = ident(&err.value);
        variants.push(quote! { #v(super::errors::#v), });
        arms.push(quote! { Error::#v(e) => e.into(), });
    }
    let error_doc = format!(
        " The errors `{op_name}` may answer with: its declared errors, or any other problem."
    );
    quote! {
        #[doc = #error_doc]
        #[derive(Debug)]
        pub enum Error {
            #(#variants)*
            /// Any other problem (404, 409, 500...).
            Problem(rt::Problem),
        }

        impl From<rt::Problem> for Error {
            fn from(p: rt::Problem) -> Self {
                Error::Problem(p)
            }
        }

        impl From<Error> for rt::Problem {
            fn from(e: Error) -> rt::Problem {
                match e {
                    #(#arms)*
                    Error::Problem(p) => p,
                }
            }
        }
    }
}

/// `pub struct Context` over the runtime's, with the route's publishers.
fn context_struct(publish: &[TokenStream]) -> TokenStream {
    quote! {
        /// The request's context: caller, request id, and the events this route may publish.
        #[derive(Debug, Clone)]
        pub struct Context {
            inner: rt::Context,
        }

        impl std::ops::Deref for Context {
            type Target = rt::Context;
            fn deref(&self) -> &rt::Context {
                &self.inner
            }
        }

        impl Context {
            #(#publish)*
        }
    }
}

/// `route()`: decodes and validates the request, runs the handler,
/// encodes the answer.
fn route_fn(trait_id: &Ident, route: &Route, op_name: &str, parts: &InputParts) -> TokenStream {
    let decode = &parts.decode;
    let init = &parts.init;
    let allow_unused_v = if decode.is_empty() {
        quote! { let _ = &mut v; }
    } else {
        quote! {}
    };
    let req_binding = if decode.is_empty() {
        quote! { _req }
    } else if parts.has_body {
        quote! { mut req }
    } else {
        quote! { req }
    };
    let reply = reply(route, op_name);
    quote! {
        /// Decodes and validates the request, runs the handler, encodes the answer.
        pub(crate) async fn route<H: #trait_id>(h: std::sync::Arc<H>, ctx: rt::Context, #req_binding: rt::Request) -> Result<rt::Reply, rt::Problem> {
            let mut v = rt::Violations::new();
            #allow_unused_v
            #(#decode)*
            v.finish()?;
            let input = Input { #(#init)* };
            #reply
        }
    }
}

/// The end of `route()`: the handler's call and the success answer.
fn reply(route: &Route, op_name: &str) -> TokenStream {
    let method_id = snake_ident(op_name);
    let status_code = route.success_status();
    let status = checked(status_code);
    let call = quote! { h.#method_id(Context { inner: ctx }, input).await? };
    if route.output.is_some() && status_code != 204 {
        quote! {
            let out = #call;
            rt::Reply::json(#status, &out)
        }
    } else {
        quote! {
            #call;
            Ok(rt::Reply::empty(#status))
        }
    }
}

/// The operation's method of the handler trait, documented with the
/// route's summary and description.
fn trait_method(route: &Route, op_name: &str, output: &TokenStream) -> TokenStream {
    let module = snake_ident(op_name);
    let method_id = snake_ident(op_name);
    let mut method_doc = route
        .summary
        .clone()
        .unwrap_or_else(|| format!("`{} {}`", route.method.value.as_str(), route.path));
    if let Some(d) = &route.description {
        method_doc.push_str("\n\n");
        method_doc.push_str(d);
    }
    if route.deprecated {
        method_doc.push_str("\n\nDeprecated.");
    }
    let method_docs = docs(Some(&method_doc));
    quote! {
        #method_docs
        fn #method_id(&self, ctx: #module::Context, input: #module::Input) -> impl Future<Output = Result<#output, #module::Error>> + Send;
    }
}

/// The operation's line of `service()`: its route bound to the handlers.
fn registration(op_name: &str) -> TokenStream {
    let module = snake_ident(op_name);
    quote! {
        let service = {
            let h = handlers.clone();
            service.route(&#module::ROUTE, move |ctx, req| #module::route(h.clone(), ctx, req))
        };
    }
}
