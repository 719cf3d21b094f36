//! A service as Rust: one module per operation (its `Input`, its `Error`
//! enum of exactly the declared errors plus a generic problem, its
//! `Context` that can publish only the route's `emits`, its route
//! function and route spec), the handler trait, typed clients of `calls`,
//! and the `service()` function that binds the handlers to the runtime.

use super::names::{ident, pascal, snake, snake_ident, url_variable};
use super::types::{Types, docs};
use crate::ast::{Field, Route, Service, TypeExpr, TypeExprKind};
use crate::check::auth::OWNER_FIELDS;
use crate::emit::openapi::{auth_applies, success_status};
use crate::emit::schemas::{Components, Mode, body_mode};
use crate::lower::validate::to_kebab;
use crate::resolve::Model;
use crate::syntax::reference::OperationRef;
use crate::syntax::route::Segment;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The name of the handler trait: `OrderServiceHandlers`.
pub fn trait_name(service: &Service) -> String {
    format!("{}Handlers", service.name.value)
}

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

fn named(name: &str) -> TypeExpr {
    TypeExpr {
        kind: TypeExprKind::Named {
            name: name.to_string(),
            library: false,
        },
        span: crate::source::Span::default(),
    }
}

/// The Rust type of an event's payload (`rt::Json` when unknown).
fn payload_type(model: &Model, types: &mut Types<'_>, event: &str) -> TokenStream {
    let context = format!("{}Payload", pascal(&event.replace('.', "_")));
    event_payload(model, event)
        .map(|t| types.rust_type(&t, Mode::Response, &context))
        .unwrap_or(quote! { rt::Json })
}

/// `Order.created` -> `order_created`.
fn event_fn(event: &str) -> String {
    snake(&event.replace('.', "_"))
}

/// A parameter of a route: where it is, its field.
struct Param<'a> {
    location: &'static str,
    field: Option<&'a Field>,
    name: &'a str,
}

fn params(route: &Route) -> Vec<Param<'_>> {
    let mut out = Vec::new();
    for (seg, _) in &route.segments {
        if let Segment::Param(name) = seg {
            out.push(Param {
                location: "path",
                field: route.params.iter().find(|p| &p.name.value == name),
                name,
            });
        }
    }
    for f in &route.query {
        out.push(Param {
            location: "query",
            field: Some(f),
            name: &f.name.value,
        });
    }
    for f in &route.headers {
        out.push(Param {
            location: "header",
            field: Some(f),
            name: &f.name.value,
        });
    }
    out
}

/// The pieces of an operation's `Input` struct and the code that fills it.
struct InputParts {
    /// Struct members.
    members: Vec<TokenStream>,
    /// Statements decoding and checking (need `req`, `v`).
    decode: Vec<TokenStream>,
    /// Field initialisers.
    init: Vec<TokenStream>,
    /// Statements turning the input into a runtime call (need `input`).
    encode_path: Vec<TokenStream>,
    encode_query: Vec<TokenStream>,
    has_body: bool,
}

/// The typed input of a route; `body` is the side of the wire its body is
/// on ([`body_mode`]).
fn input_parts(types: &mut Types<'_>, route: &Route, context: &str, body: Mode) -> InputParts {
    let mut parts = InputParts {
        members: Vec::new(),
        decode: Vec::new(),
        init: Vec::new(),
        encode_path: Vec::new(),
        encode_query: Vec::new(),
        has_body: false,
    };
    let mut used = std::collections::BTreeSet::new();
    for p in params(route) {
        let mut rust = snake(p.name);
        while !used.insert(rust.clone()) || rust == "body" {
            rust.push('_');
        }
        let id = ident(&rust);
        let local = format_ident!("p_{}", rust.trim_start_matches("r#"));
        let name = p.name;
        let location = p.location;
        let string = TypeExpr {
            kind: TypeExprKind::Primitive(crate::ast::Primitive::String),
            span: crate::source::Span::default(),
        };
        let expr = p.field.and_then(|f| f.ty.clone()).unwrap_or(string);
        let constraints = p.field.map(|f| f.constraints.clone()).unwrap_or_default();
        let ctx_name = format!("{context}{}", pascal(name));
        let required_expr = expr.required().clone();
        let is_list = matches!(
            required_expr.kind,
            TypeExprKind::List(_) | TypeExprKind::Set(_)
        );
        let item_ty = match &required_expr.kind {
            TypeExprKind::List(t) | TypeExprKind::Set(t) => {
                types.rust_type(t, Mode::Request, &ctx_name)
            }
            _ => types.rust_type(&required_expr, Mode::Request, &ctx_name),
        };
        let default = if expr.is_optional() {
            None
        } else {
            constraints
                .default
                .as_ref()
                .and_then(|d| types.default_value(&required_expr, d, &ctx_name))
        };
        let required = !expr.is_optional() && default.is_none() && !is_list;
        let description = constraints.description.clone();
        let field_doc = docs(Some(
            description
                .as_deref()
                .unwrap_or(&format!("The `{name}` {location} parameter.")),
        ));
        let (member_ty, get) = if is_list {
            (
                quote! { Vec<#item_ty> },
                quote! { let #local = req.query_list::<#item_ty>(#name, &mut v); },
            )
        } else {
            let getter = match location {
                "path" => quote! { req.path::<#item_ty>(#name, &mut v) },
                "query" => quote! { req.query::<#item_ty>(#name, #required, &mut v) },
                _ => quote! { req.header::<#item_ty>(#name, #required, &mut v) },
            };
            match (&default, required) {
                (Some(d), _) if d.to_string().contains("to_string") => (
                    item_ty.clone(),
                    quote! { let #local = #getter.unwrap_or_else(|| #d); },
                ),
                (Some(d), _) => (
                    item_ty.clone(),
                    quote! { let #local = #getter.unwrap_or(#d); },
                ),
                (None, true) => (item_ty.clone(), quote! { let #local = #getter; }),
                (None, false) => (
                    quote! { Option<#item_ty> },
                    quote! { let #local = #getter; },
                ),
            }
        };
        parts
            .members
            .push(quote! { #field_doc pub #id: #member_ty, });
        parts.decode.push(get);
        // constraints on the value
        let check_expr = if required && default.is_none() {
            // Option<T> local that must be there
            TypeExpr {
                kind: TypeExprKind::Optional(Box::new(required_expr.clone())),
                span: required_expr.span,
            }
        } else if default.is_some() || is_list {
            required_expr.clone()
        } else {
            expr.clone()
        };
        let body = types.checks(&check_expr, &constraints);
        if !body.is_empty() {
            parts.decode.push(quote! {
                {
                    let at = &rt::At::Param(#location, #name);
                    let out = &mut v;
                    let x = &#local;
                    #body
                }
            });
        }
        if required && default.is_none() {
            parts
                .init
                .push(quote! { #id: rt::present(#local, #name)?, });
        } else {
            parts.init.push(quote! { #id: #local, });
        }
        // client side
        let to_string = quote! { v.to_string() };
        match location {
            "path" => parts
                .encode_path
                .push(quote! { (#name, input.#id.to_string()), }),
            "query" if is_list => parts
                .encode_query
                .push(quote! { query.extend(input.#id.iter().map(|v| (#name, #to_string))); }),
            "query" if required || default.is_some() => parts
                .encode_query
                .push(quote! { query.push((#name, input.#id.to_string())); }),
            "query" => parts
                .encode_query
                .push(quote! { if let Some(v) = &input.#id { query.push((#name, #to_string)); } }),
            _ => {}
        }
    }
    if let Some(input) = &route.input {
        parts.has_body = true;
        let ty = types.rust_type(input, body, &format!("{context}Body"));
        let optional = input.is_optional();
        let inner = if optional {
            let inner_expr = input.required().clone();
            types.rust_type(&inner_expr, body, &format!("{context}Body"))
        } else {
            ty.clone()
        };
        // decoded and checked without the JSON Schema validator unless
        // something is wrong (`Request::body_checked`)
        let body_checks = types.checks(input.required(), &Default::default());
        let strict = types.strict(input.required());
        let exact = types.exact(input.required());
        let decode = match (strict, body_checks.is_empty()) {
            // the schema first, then the checks
            _ if !exact && body_checks.is_empty() => quote! { req.body::<#inner>(&mut v) },
            _ if !exact => quote! {
                req.body::<#inner>(&mut v).inspect(|x| {
                    let (at, out) = (&rt::At::Body, &mut v);
                    #body_checks
                })
            },
            (false, true) => quote! { req.body_checked::<#inner, _>(&mut v, |_, _, _| {}) },
            (false, false) => {
                quote! { req.body_checked::<#inner, _>(&mut v, |x, at, out| { #body_checks }) }
            }
            (true, true) => quote! {
                req.body_checked::<rt::Strictly<#inner>, _>(&mut v, |_, _, _| {}).map(|b| b.0)
            },
            (true, false) => quote! {
                req.body_checked::<rt::Strictly<#inner>, _>(&mut v, |x, at, out| {
                    let x = &x.0;
                    #body_checks
                })
                .map(|b| b.0)
            },
        };
        parts.decode.push(quote! { let body = #decode; });
        parts
            .members
            .push(quote! { #[doc = " The request body."] pub body: #ty, });
        if optional {
            parts.init.push(quote! { body, });
        } else {
            parts
                .init
                .push(quote! { body: rt::present(body, "body")?, });
        }
    }
    parts
}

fn output_type(types: &mut Types<'_>, route: &Route, context: &str) -> TokenStream {
    match &route.output {
        Some(o) if success_status(route) != 204 => {
            types.rust_type(o, Mode::Response, &format!("{context}Output"))
        }
        _ => quote! { () },
    }
}

/// The owner field of an `:own` route's output.
fn owner_field(model: &Model, route: &Route) -> Option<String> {
    if !route
        .permission
        .as_ref()
        .is_some_and(|p| p.value.ends_with(":own"))
    {
        return None;
    }
    if let Some(o) = &route.owner {
        return Some(o.value.clone());
    }
    let out = route.output.as_ref()?;
    let inner = match &out.required().kind {
        TypeExprKind::List(t) | TypeExprKind::Set(t) => t.required(),
        _ => out.required(),
    };
    let def = model.named(inner)?;
    let fields = model.all_fields(def);
    OWNER_FIELDS
        .iter()
        .find(|o| fields.iter().any(|(f, _)| f.name.value == **o))
        .map(|o| (*o).to_string())
}

/// Names of sensitive fields reachable from an expression (known per
/// type once per project: [`Model::sensitive_fields`]).
fn sensitive(model: &Model, expr: &TypeExpr, out: &mut std::collections::BTreeSet<String>) {
    crate::resolve::visit_named(expr, &mut |name, library, _| {
        if let Some(index) = model.type_index(name, library) {
            out.extend(model.sensitive_fields(index).iter().cloned());
        }
    });
}

/// `rt::RetrySpec` of a `retry:` (absent: 4 attempts, as Cloudflare Queues
/// retry 3 times by default, exponential from 1 s up to 1 min).
pub(super) fn retry_spec(retry: Option<&crate::ast::Retry>) -> TokenStream {
    let r = retry.cloned().unwrap_or_default();
    let attempts = checked(r.attempts.as_ref().map_or(4, |a| a.value));
    let backoff = match r.backoff.as_ref().map(|b| b.value.as_str()) {
        Some("fixed") => quote! { rt::Backoff::Fixed },
        Some("linear") => quote! { rt::Backoff::Linear },
        _ => quote! { rt::Backoff::Exponential },
    };
    let delay = int(r.delay.as_ref().map_or(1_000, |d| d.value.millis));
    let max = match (&r.max_delay, &r.delay) {
        (Some(m), _) => opt_u64(Some(m.value.millis)),
        (None, None) => opt_u64(Some(60_000)),
        (None, Some(_)) => opt_u64(None),
    };
    quote! { rt::RetrySpec { attempts: #attempts, backoff: #backoff, delay_ms: #delay, max_delay_ms: #max } }
}

fn opt_str(v: Option<&str>) -> TokenStream {
    match v {
        Some(s) => quote! { Some(#s) },
        None => quote! { None },
    }
}

/// An integer literal without a type suffix (`201`, not `201u16`).
fn int(v: impl Into<u64>) -> proc_macro2::Literal {
    proc_macro2::Literal::u64_unsuffixed(v.into())
}

/// A manifest number the checks keep in range of the field it goes to
/// (`attempts` 1-100, a route's `status` 200-399 and an error's 400-599,
/// `failures` within `u32`), as it is written: nothing is converted or
/// clamped here.
fn checked(v: i64) -> proc_macro2::Literal {
    proc_macro2::Literal::i64_unsuffixed(v)
}

fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(n) => {
            let n = int(n);
            quote! { Some(#n) }
        }
        None => quote! { None },
    }
}

fn route_spec(
    model: &Model,
    service: &Service,
    route: &Route,
    components: &mut Components<'_>,
) -> TokenStream {
    let method = route.method.value.as_str();
    let path = route.path.as_str();
    let operation = route.operation.as_ref().map_or("", |o| o.value.as_str());
    let auth = if !auth_applies(service, route) {
        quote! { rt::RouteAuth::None }
    } else if route.auth.as_ref().is_some_and(|a| a.value == "optional") {
        quote! { rt::RouteAuth::Optional }
    } else {
        quote! { rt::RouteAuth::Required }
    };
    let permission = route
        .permission
        .as_ref()
        .map(|p| p.value.trim_end_matches(":own").to_string());
    let permission = opt_str(permission.as_deref());
    let owner = owner_field(model, route);
    let owner = opt_str(owner.as_deref());
    let rate = match &route.rate_limit {
        Some(r) => {
            let (count, per) = (r.value.count, r.value.window_secs);
            let scope = match r.value.scope {
                Some(crate::syntax::rate::Scope::User) => quote! { rt::Scope::User },
                Some(crate::syntax::rate::Scope::Ip) => quote! { rt::Scope::Ip },
                Some(crate::syntax::rate::Scope::Global) => quote! { rt::Scope::Global },
                Some(crate::syntax::rate::Scope::Key) | None => quote! { rt::Scope::Key },
            };
            let (count, per) = (int(count), int(per));
            quote! { Some(rt::RateSpec { count: #count, per_seconds: #per, scope: #scope }) }
        }
        None => quote! { None },
    };
    let idempotent = route.idempotent.as_ref().is_some_and(|i| i.value);
    let timeout = opt_u64(route.timeout.as_ref().map(|t| t.value.millis));
    let cache = opt_u64(route.cache.as_ref().map(|c| c.value.millis / 1000));
    let status = checked(success_status(route));
    let body = match &route.input {
        Some(input) => {
            let schema = components
                .expr(input, body_mode(model, &service.name.value, route))
                .to_string()
                .replace("#/components/schemas/", "#/$defs/");
            let required = !input.is_optional();
            quote! { Some(rt::BodySpec { schema: #schema, required: #required }) }
        }
        None => quote! { None },
    };
    let mut names = std::collections::BTreeSet::new();
    for e in route.input.iter().chain(route.output.iter()) {
        sensitive(model, e, &mut names);
    }
    let names: Vec<&String> = names.iter().collect();
    let deprecated = route.deprecated;
    quote! {
        rt::RouteSpec {
            method: #method,
            path: #path,
            operation: #operation,
            auth: #auth,
            permission: #permission,
            owner_field: #owner,
            rate_limit: #rate,
            idempotent: #idempotent,
            timeout_ms: #timeout,
            cache_seconds: #cache,
            status: #status,
            body: #body,
            sensitive: &[#(#names),*],
            deprecated: #deprecated,
        }
    }
}

/// Everything of `generated.rs` but the types: returns the items, in
/// groups of whole top-level items (one per operation module).
pub fn service_items(
    model: &Model,
    service: &Service,
    types: &mut Types<'_>,
    schemas_file: &str,
    project_root: &str,
) -> Vec<TokenStream> {
    let mut components = Components::new(model);
    let trait_id = ident(&trait_name(service));
    let mut op_modules = Vec::new();
    let mut trait_methods = Vec::new();
    let mut registrations = Vec::new();
    let mut error_items = Vec::new();
    for e in &service.errors {
        let name = ident(&e.name.value);
        let mut members = Vec::new();
        for f in &e.fields {
            let Some(t) = &f.ty else { continue };
            let json = f.name.value.as_str();
            let rust = snake(json);
            let id = ident(&rust);
            let ty = types.rust_type(
                t,
                Mode::Response,
                &format!("{}{}", e.name.value, pascal(json)),
            );
            let rename = if rust != json {
                quote! { #[serde(rename = #json)] }
            } else {
                quote! {}
            };
            let skip = if t.is_optional() {
                quote! { #[serde(skip_serializing_if = "Option::is_none")] }
            } else {
                quote! {}
            };
            let d = docs(f.constraints.description.as_deref());
            members.push(quote! { #d #rename #skip pub #id: #ty, });
        }
        let status = checked(e.status.as_ref().map_or(500, |s| s.value));
        let title = e
            .description
            .clone()
            .unwrap_or_else(|| e.name.value.clone());
        let json_name = e.name.value.as_str();
        let derives = super::rt::serde_derives(true, false);
        let d = docs(Some(&format!("{title}\n\nAnswered as a {status} problem.")));
        error_items.push(quote! {
            #d
            #[derive(Debug, Clone, PartialEq)]
            #derives
            pub struct #name {
                #(#members)*
            }

            impl From<#name> for rt::Problem {
                fn from(e: #name) -> rt::Problem {
                    rt::Problem::declared(#json_name, #status, #title, rt::serde_json::to_value(&e).unwrap_or_default())
                }
            }
        });
    }
    for route in &service.routes {
        let Some(op) = &route.operation else { continue };
        let op_name = op.value.as_str();
        let module = snake_ident(op_name);
        let method_id = snake_ident(op_name);
        let context = pascal(op_name);
        let body = body_mode(model, &service.name.value, route);
        let parts = input_parts(types, route, &context, body);
        let output = output_type(types, route, &context);
        // errors
        let mut variants = Vec::new();
        let mut arms = Vec::new();
        for err in &route.errors {
            let v = ident(&err.value);
            variants.push(quote! { #v(super::errors::#v), });
            arms.push(quote! { Error::#v(e) => e.into(), });
        }
        // events the route may publish
        let mut publish = Vec::new();
        for ev in &route.emits {
            let event = ev.value.0.as_str();
            let f = ident(&format!("publish_{}", event_fn(event)));
            let payload = payload_type(model, types, event);
            let d = format!(" Publishes `{event}` (declared in the route's `emits`).");
            publish.push(quote! {
                #[doc = #d]
                pub fn #f(&self, payload: &#payload) -> Result<(), rt::Problem> {
                    self.inner.publish(#event, payload)
                }
            });
        }
        let spec = route_spec(model, service, route, &mut components);
        let members = &parts.members;
        let decode = &parts.decode;
        let init = &parts.init;
        let status_code = success_status(route);
        let status = checked(status_code);
        let call = quote! { h.#method_id(Context { inner: ctx }, input).await? };
        let reply = if route.output.is_some() && status_code != 204 {
            quote! {
                let out = #call;
                rt::Reply::json(#status, &out)
            }
        } else {
            quote! {
                #call;
                Ok(rt::Reply::empty(#status))
            }
        };
        let summary = route
            .summary
            .clone()
            .unwrap_or_else(|| format!("`{} {}`", route.method.value.as_str(), route.path));
        let module_doc = format!(
            " `{op_name}`: {} {}",
            route.method.value.as_str(),
            route.path
        );
        let input_doc = format!(" What `{op_name}` receives, parsed and validated.");
        let error_doc = format!(
            " The errors `{op_name}` may answer with: its declared errors, or any other problem."
        );
        let mut method_doc = summary.clone();
        if let Some(d) = &route.description {
            method_doc.push_str("\n\n");
            method_doc.push_str(d);
        }
        if route.deprecated {
            method_doc.push_str("\n\nDeprecated.");
        }
        let method_docs = docs(Some(&method_doc));
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
        op_modules.push(quote! {
            #[doc = #module_doc]
            pub mod #module {
                use super::*;

                #[doc = #input_doc]
                #[derive(Debug, Clone, PartialEq)]
                pub struct Input {
                    #(#members)*
                }

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

                /// The route as the manifest declares it.
                pub static ROUTE: rt::RouteSpec = #spec;

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
        });
        trait_methods.push(quote! {
            #method_docs
            fn #method_id(&self, ctx: #module::Context, input: #module::Input) -> impl Future<Output = Result<#output, #module::Error>> + Send;
        });
        registrations.push(quote! {
            let service = {
                let h = handlers.clone();
                service.route(&#module::ROUTE, move |ctx, req| #module::route(h.clone(), ctx, req))
            };
        });
    }
    // event handlers, jobs, transitions: trait methods for the durable runtime
    let mut subscriptions = Vec::new();
    for sub in &service.subscribes {
        let Some(handler) = &sub.handler else {
            continue;
        };
        let event = sub.event.value.0.as_str();
        let m = snake_ident(&handler.value);
        let payload = payload_type(model, types, event);
        let d = format!(
            " Handles `{event}`. Delivery is at least once; the runtime deduplicates by event id."
        );
        trait_methods.push(quote! {
            #[doc = #d]
            fn #m(&self, ctx: rt::Context, event: rt::Event<#payload>) -> impl Future<Output = Result<(), rt::Problem>> + Send;
        });
        let h = handler.value.as_str();
        let retry = retry_spec(sub.retry.as_ref());
        let dead_letter = sub.dead_letter;
        subscriptions.push(quote! { rt::SubscriptionSpec { event: #event, handler: #h, retry: #retry, dead_letter: #dead_letter }, });
        let index = proc_macro2::Literal::usize_unsuffixed(subscriptions.len() - 1);
        registrations.push(quote! {
            let service = {
                let h = handlers.clone();
                service.subscribe(&SUBSCRIPTIONS[#index], move |ctx, event| {
                    let h = h.clone();
                    async move { h.#m(ctx, event.decode()?).await }
                })
            };
        });
    }
    let mut jobs = Vec::new();
    for job in &service.jobs {
        let m = snake_ident(&job.name.value);
        let schedule = job.written.as_deref().unwrap_or_default();
        let d = format!(" The `{}` job (`{schedule}`).", job.name.value);
        trait_methods.push(quote! {
            #[doc = #d]
            fn #m(&self, ctx: rt::Context) -> impl Future<Output = Result<(), rt::Problem>> + Send;
        });
        let name = job.name.value.as_str();
        let cron = job.schedule.as_ref().map_or("", |s| s.value.cron());
        let timeout = opt_u64(job.timeout.as_ref().map(|t| t.value.millis));
        jobs.push(quote! {
            rt::JobSpec { name: #name, schedule: #schedule, cron: #cron, timeout_ms: #timeout },
        });
        let index = proc_macro2::Literal::usize_unsuffixed(jobs.len() - 1);
        registrations.push(quote! {
            let service = {
                let h = handlers.clone();
                service.job(&JOBS[#index], move |ctx| {
                    let h = h.clone();
                    async move { h.#m(ctx).await }
                })
            };
        });
    }
    let mut state_module = quote! {};
    let mut has_state = false;
    if let Some(sm) = &service.state
        && let Some(entity) = &sm.entity
    {
        has_state = true;
        let entity_ty = types.rust_type(&named(&entity.value), Mode::Response, &entity.value);
        let mut transitions = Vec::new();
        let mut transition_fns = Vec::new();
        for t in &sm.transitions {
            let m = snake_ident(&t.name.value);
            let from: Vec<&str> = t.from.iter().map(|f| f.value.as_str()).collect();
            let to = t.to.as_ref().map_or("", |x| x.value.as_str());
            let d = format!(
                " The `{}` transition ({} -> {to}): a hook that may change the entity before the runtime sets its state and writes its event (unchanged unless implemented). Run it with `state::{}`.",
                t.name.value,
                from.join(", "),
                snake(&t.name.value)
            );
            trait_methods.push(quote! {
                #[doc = #d]
                fn #m(&self, ctx: rt::Context, entity: #entity_ty) -> impl Future<Output = Result<#entity_ty, rt::Problem>> + Send {
                    let _ = ctx;
                    async { Ok(entity) }
                }
            });
            let name = t.name.value.as_str();
            let emits_event = t.emits.as_ref().map(|e| e.value.0.as_str());
            let emits = opt_str(emits_event);
            transitions.push(quote! { rt::TransitionSpec { name: #name, from: &[#(#from),*], to: #to, emits: #emits }, });
            registrations.push(quote! {
                let service = {
                    let h = handlers.clone();
                    service.transition(&state::MACHINE, #name, move |ctx, id| {
                        let h = h.clone();
                        async move { rt::entities::to_json(&state::#m(&*h, &ctx, id).await?) }
                    })
                };
            });
            let fd = format!(
                " `{name}` ({} -> {to}): 404 when there is no {} with this id, 409 when it is in another state; else runs the handlers' `{}` hook and writes the new state{} in the operation's transaction.",
                from.join(", "),
                entity.value,
                snake(name),
                emits_event.map_or(String::new(), |e| format!(" and `{e}`"))
            );
            transition_fns.push(quote! {
                #[doc = #fd]
                pub async fn #m<H: #trait_id>(handlers: &H, ctx: &rt::Context, id: impl std::fmt::Display) -> Result<#entity_ty, rt::Problem> {
                    let stored = rt::entities::transition(ctx, &MACHINE, #name, &id.to_string(), |json| async move {
                        let entity = handlers.#m(ctx.clone(), rt::entities::from_json(json)?).await?;
                        rt::entities::to_json(&entity)
                    })
                    .await?;
                    rt::entities::decode(stored)
                }
            });
        }
        let kind = entity.value.as_str();
        let field = sm.field.as_ref().map_or("", |f| f.value.as_str());
        let initial = sm.initial.as_ref().map_or("", |f| f.value.as_str());
        let count = proc_macro2::Literal::usize_unsuffixed(transitions.len());
        let module_doc = format!(
            " `{kind}`, the entity of {}'s state machine, kept by the runtime in the service's database: reads, creation, saves, and one function per transition, all in the operation's transaction (`ctx.tx()`).",
            service.name.value
        );
        let create_doc = format!(
            " Stores a new {kind} in its initial state `{initial}` (whatever its `{field}` says); 409 when one with this id exists."
        );
        let save_doc = format!(
            " Saves changes to the {kind} with this id, keeping its state: 404 when there is none, 409 when `{field}` differs (states change only through transitions)."
        );
        let get_doc = format!(" Reads the {kind} with this id.");
        let list_doc = format!(" Every {kind}, by id.");
        state_module = quote! {
            #[doc = #module_doc]
            pub mod state {
                use super::*;

                /// The transitions as the manifest declares them.
                pub static TRANSITIONS: [rt::TransitionSpec; #count] = [#(#transitions)*];

                /// The state machine.
                pub static MACHINE: rt::Machine = rt::Machine { entity: #kind, field: #field, transitions: &TRANSITIONS };

                /// The state a new entity starts in.
                pub const INITIAL: &str = #initial;

                #[doc = #get_doc]
                pub async fn get(ctx: &rt::Context, id: impl std::fmt::Display) -> Result<Option<#entity_ty>, rt::Problem> {
                    rt::entities::get(ctx, #kind, &id.to_string()).await?.map(rt::entities::decode).transpose()
                }

                #[doc = #list_doc]
                pub async fn list(ctx: &rt::Context) -> Result<Vec<#entity_ty>, rt::Problem> {
                    rt::entities::list(ctx, #kind).await?.into_iter().map(rt::entities::decode).collect()
                }

                #[doc = #create_doc]
                pub async fn create(ctx: &rt::Context, id: impl std::fmt::Display, entity: &#entity_ty) -> Result<#entity_ty, rt::Problem> {
                    let stored = rt::entities::create(ctx, &MACHINE, INITIAL, &id.to_string(), rt::entities::to_json(entity)?).await?;
                    rt::entities::decode(stored)
                }

                #[doc = #save_doc]
                pub async fn save(ctx: &rt::Context, id: impl std::fmt::Display, entity: &#entity_ty) -> Result<#entity_ty, rt::Problem> {
                    let stored = rt::entities::save(ctx, &MACHINE, &id.to_string(), rt::entities::to_json(entity)?).await?;
                    rt::entities::decode(stored)
                }

                #(#transition_fns)*
            }
        };
    }
    let durable = has_state
        || !service.publishes.is_empty()
        || !service.subscribes.is_empty()
        || !service.jobs.is_empty();
    let database = if durable {
        let path = format!("/{project_root}.svcc/state.db");
        quote! {
            // State and events live in the project's database (`SVCC_DATABASE` overrides it).
            let service = service.database(concat!(env!("CARGO_MANIFEST_DIR"), #path));
        }
    } else {
        quote! {}
    };
    let (call_modules, call_registrations) = calls(model, service, types);
    let (sagas_module, saga_registrations) = super::sagas::saga_items(model, service);
    registrations.extend(saga_registrations);
    let health_checks: Vec<&str> = service.health.iter().map(|h| h.value.as_str()).collect();
    let own_checks: Vec<&str> = health_checks
        .iter()
        .copied()
        .filter(|c| model.service(c).is_none())
        .collect();
    let health_doc = format!(
        " Answers the service's own health checks ({}); `Err` with a reason marks it failing.",
        if own_checks.is_empty() {
            "none declared".to_string()
        } else {
            own_checks.join(", ")
        }
    );
    trait_methods.push(quote! {
        #[doc = #health_doc]
        fn health(&self, check: &'static str) -> impl Future<Output = Result<(), String>> + Send {
            let _ = check;
            async { Ok(()) }
        }
    });
    let service_spec = service_spec(
        model,
        service,
        schemas_file,
        &health_checks,
        subscriptions.len(),
        jobs.len(),
        has_state,
    );
    let trait_doc = docs(Some(&format!(
        "{}'s handlers: one method per operation, event handler, job and state transition.\n\nImplement it in `src/handlers.rs`.",
        service.name.value
    )));
    let errors_module = if error_items.is_empty() {
        quote! {}
    } else {
        quote! {
            /// The service's declared errors (RFC 9457 problems with these extra members).
            pub mod errors {
                use super::*;
                #(#error_items)*
            }
        }
    };
    let subscription_count = proc_macro2::Literal::usize_unsuffixed(subscriptions.len());
    let job_count = proc_macro2::Literal::usize_unsuffixed(jobs.len());
    let head = quote! {
        #service_spec

        /// The event subscriptions, with their retry policies.
        pub static SUBSCRIPTIONS: [rt::SubscriptionSpec; #subscription_count] = [#(#subscriptions)*];

        /// The scheduled jobs (cron in Cloudflare's dialect, UTC).
        pub static JOBS: [rt::JobSpec; #job_count] = [#(#jobs)*];

        #trait_doc
        pub trait #trait_id: Send + Sync + 'static {
            #(#trait_methods)*
        }

        /// Binds the handlers to the runtime: the service, ready to serve.
        pub fn service<H: #trait_id>(handlers: H) -> rt::Service {
            let handlers = std::sync::Arc::new(handlers);
            let service = rt::Service::new(&SERVICE);
            #database
            #(#registrations)*
            #call_registrations
            let h = handlers.clone();
            service.health(move |check| {
                let h = h.clone();
                async move { h.health(check).await }
            })
        }

        #errors_module

        #state_module

        #sagas_module
    };
    // top-level items in groups, each rendered on its own (`files::render_parts`)
    let mut parts = Vec::with_capacity(op_modules.len() + 2);
    parts.push(head);
    parts.extend(op_modules);
    parts.push(call_modules);
    parts
}

#[allow(clippy::too_many_arguments)]
fn service_spec(
    model: &Model,
    service: &Service,
    schemas_file: &str,
    health: &[&str],
    subscriptions: usize,
    jobs: usize,
    has_state: bool,
) -> TokenStream {
    let jobs = if jobs == 0 {
        quote! { &[] }
    } else {
        quote! { &JOBS }
    };
    let subscriptions = if subscriptions == 0 {
        quote! { &[] }
    } else {
        quote! { &SUBSCRIPTIONS }
    };
    let transitions = if has_state {
        quote! { &state::TRANSITIONS }
    } else {
        quote! { &[] }
    };
    let name = service.name.value.as_str();
    let slug = to_kebab(name);
    let version = service
        .version
        .as_ref()
        .map_or("0.1.0", |v| v.value.as_str());
    let auth = match service.auth.as_ref().map(|a| a.value.as_str()) {
        Some("jwt") => quote! { rt::AuthKind::Jwt },
        Some("apiKey") => quote! { rt::AuthKind::ApiKey },
        _ => quote! { rt::AuthKind::None },
    };
    let roles: Vec<TokenStream> = service
        .roles
        .iter()
        .map(|r| {
            let n = r.name.value.as_str();
            let grants: Vec<&str> = r.grants.iter().map(|g| g.value.as_str()).collect();
            quote! { rt::RoleSpec { name: #n, grants: &[#(#grants),*] }, }
        })
        .collect();
    let mut plans = Vec::new();
    for pricing in model.ast.pricing.iter().filter(|p| {
        p.service
            .as_ref()
            .is_some_and(|s| s.value == service.name.value)
    }) {
        for plan in &pricing.plans {
            let Some(n) = &plan.name else { continue };
            let n = n.value.as_str();
            let features: Vec<&str> = plan.features.iter().map(|f| f.value.as_str()).collect();
            let requests = plan
                .limits
                .iter()
                .find(|(k, _)| k.value == "requests")
                .and_then(|(_, r)| r.as_ref())
                .map(|r| (r.value.count, r.value.window_secs));
            let requests = match requests {
                Some((c, w)) => {
                    let (c, w) = (int(c), int(w));
                    quote! { Some((#c, #w)) }
                }
                None => quote! { None },
            };
            plans.push(quote! { rt::PlanSpec { name: #n, features: &[#(#features),*], requests: #requests }, });
        }
    }
    let r = service.resilience.clone().unwrap_or_default();
    let timeout = r.timeout.as_ref().map_or(10_000, |t| t.value.millis);
    let retry = r.retry.clone().unwrap_or_default();
    let attempts = checked(retry.attempts.as_ref().map_or(1, |a| a.value));
    let delay = retry.delay.as_ref().map_or(100, |d| d.value.millis);
    let exponential = retry
        .backoff
        .as_ref()
        .is_some_and(|b| b.value == "exponential");
    let cb = r.circuit_breaker.clone().unwrap_or_default();
    let failures = checked(cb.failures.as_ref().map_or(0, |f| f.value));
    let reset = cb.reset.as_ref().map_or(0, |d| d.value.millis);
    let (timeout, delay, reset) = (int(timeout), int(delay), int(reset));
    quote! {
        /// The service as the manifest declares it.
        pub static SERVICE: rt::ServiceSpec = rt::ServiceSpec {
            name: #name,
            slug: #slug,
            version: #version,
            auth: #auth,
            roles: &[#(#roles)*],
            plans: &[#(#plans)*],
            health_checks: &[#(#health),*],
            schemas: include_str!(#schemas_file),
            subscriptions: #subscriptions,
            jobs: #jobs,
            transitions: #transitions,
            resilience: rt::ResilienceSpec {
                timeout_ms: #timeout,
                attempts: #attempts,
                delay_ms: #delay,
                exponential: #exponential,
                breaker_failures: #failures,
                breaker_reset_ms: #reset,
            },
        };
    }
}

/// `rt::AuthKind` of what a route of `service` asks of its callers.
pub(super) fn route_auth_kind(service: &Service, route: &Route) -> TokenStream {
    if !auth_applies(service, route) {
        return quote! { rt::AuthKind::None };
    }
    match service.auth.as_ref().map(|a| a.value.as_str()) {
        Some("jwt") => quote! { rt::AuthKind::Jwt },
        Some("apiKey") => quote! { rt::AuthKind::ApiKey },
        _ => quote! { rt::AuthKind::None },
    }
}

/// Typed clients of `calls`, one module per called service.
fn calls(model: &Model, service: &Service, types: &mut Types<'_>) -> (TokenStream, TokenStream) {
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
        let module = snake_ident(callee_name);
        let mut fns = Vec::new();
        for op in ops {
            let Some(route) = callee.routes.iter().find(|r| {
                r.operation
                    .as_ref()
                    .is_some_and(|o| o.value == op.operation)
            }) else {
                continue;
            };
            let context = format!("{callee_name}{}", pascal(&op.operation));
            let parts = input_parts(types, route, &context, body_mode(model, callee_name, route));
            let output = output_type(types, route, &context);
            let op_module = snake_ident(&op.operation);
            let f = snake_ident(&op.operation);
            let method = route.method.value.as_str();
            let path = route.path.as_str();
            let operation = op.operation.as_str();
            let auth = route_auth_kind(callee, route);
            let members = &parts.members;
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
            let input_doc = format!(" What `{callee_name}.{operation}` takes.");
            let module_doc = format!(" `{callee_name}.{operation}`: its input and where it lives.");
            let query_mut = if encode_query.is_empty() {
                quote! {}
            } else {
                quote! { mut }
            };
            let input_binding = if members.is_empty() {
                quote! { _input }
            } else {
                quote! { input }
            };
            fns.push(quote! {
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
            });
        }
        let d = format!(
            " Typed client of {callee_name} (`calls`); its base URL comes from `{}`.",
            url_variable(callee_name)
        );
        modules.push(quote! {
            #[doc = #d]
            pub mod #module {
                use super::*;
                #(#fns)*
            }
        });
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

/// The stub methods of `handlers.rs`: every method of the trait, each
/// answering 501 until the user fills it in.
pub fn stubs(model: &Model, service: &Service) -> Vec<TokenStream> {
    let mut types = Types::new(model);
    let mut out = Vec::new();
    for route in &service.routes {
        let Some(op) = &route.operation else { continue };
        let name = op.value.as_str();
        let m = snake_ident(name);
        let module = snake_ident(name);
        let output = output_type(&mut types, route, &pascal(name));
        out.push(quote! {
            async fn #m(&self, _ctx: #module::Context, _input: #module::Input) -> Result<#output, #module::Error> {
                Err(rt::Problem::not_implemented(#name).into())
            }
        });
    }
    for sub in &service.subscribes {
        let Some(handler) = &sub.handler else {
            continue;
        };
        let event = sub.event.value.0.as_str();
        let name = handler.value.as_str();
        let m = snake_ident(name);
        let payload = payload_type(model, &mut types, event);
        out.push(quote! {
            async fn #m(&self, _ctx: rt::Context, _event: rt::Event<#payload>) -> Result<(), rt::Problem> {
                Err(rt::Problem::not_implemented(#name))
            }
        });
    }
    for job in &service.jobs {
        let name = job.name.value.as_str();
        let m = snake_ident(name);
        out.push(quote! {
            async fn #m(&self, _ctx: rt::Context) -> Result<(), rt::Problem> {
                Err(rt::Problem::not_implemented(#name))
            }
        });
    }
    out
}
