//! The `rt::RouteSpec` of a route: what the runtime's request pipeline
//! enforces before the handler runs (auth, permission and owner, rate
//! limit, idempotency, timeout, cache, the body's JSON Schema, the
//! sensitive fields kept out of logs).
//!
//! Why it exists: the spec is data the runtime reads, built from many
//! route fields; it is one concern of the operation module, kept apart
//! from the code that decodes the request.

use super::lit::{checked, int, opt_str, opt_u64};
use super::rt::{rate_scope, route_auth};
use crate::ast::{Route, Service, TypeExpr};
use crate::emit::schemas::{Components, body_mode};
use crate::resolve::Model;
use proc_macro2::TokenStream;
use quote::quote;

/// Names of sensitive fields reachable from an expression (known per
/// type once per project: [`Model::sensitive_fields`]).
fn sensitive(model: &Model, expr: &TypeExpr, out: &mut std::collections::BTreeSet<String>) {
    crate::resolve::visit_named(expr, &mut |name, library, _| {
        if let Some(index) = model.type_index(name, library) {
            out.extend(model.sensitive_fields(index).iter().cloned());
        }
    });
}

pub(super) fn route_spec(
    model: &Model,
    service: &Service,
    route: &Route,
    components: &mut Components<'_>,
) -> TokenStream {
    let method = route.method.value.as_str();
    let path = route.path.as_str();
    let operation = route.operation.as_ref().map_or("", |o| o.value.as_str());
    let auth = route_auth(service, route);
    let permission = route
        .permission
        .as_ref()
        .map(|p| p.value.trim_end_matches(":own").to_string());
    let permission = opt_str(permission.as_deref());
    let owner = model.owner_field(route);
    let owner = opt_str(owner.as_deref());
    let rate = match &route.rate_limit {
        Some(r) => {
            let (count, per) = (r.value.count, r.value.window_secs);
            let scope = rate_scope(r.value.scope);
            let (count, per) = (int(count), int(per));
            quote! { Some(rt::RateSpec { count: #count, per_seconds: #per, scope: #scope }) }
        }
        None => quote! { None },
    };
    let idempotent = route.idempotent.as_ref().is_some_and(|i| i.value);
    let timeout = opt_u64(route.timeout.as_ref().map(|t| t.value.millis));
    let cache = opt_u64(route.cache.as_ref().map(|c| c.value.millis / 1000));
    let status = checked(route.success_status());
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
