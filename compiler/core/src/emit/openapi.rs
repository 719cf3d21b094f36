//! OpenAPI 3.1, one document per service (OUTPUTS.md "OpenAPI 3.1").
//!
//! Built as a `serde_json::Value` tree (never text). What a client can rely
//! on: every route with its `operationId`, parameters, request body (the
//! `…Input` schema when the type has `readOnly` fields), success response
//! with the right status, and every error it can return as
//! `application/problem+json`: the declared ones with their extra fields,
//! and the built-in ones where they apply (400 for input, 401/403 for auth,
//! 404 for a path parameter, 429 for a rate limit, 500 always).

use super::json::object;
use super::schemas::{Components, Mode, body_mode};
use crate::ast::{ErrorDef, Route, Service};
use crate::resolve::Model;
use crate::syntax::route::{Method, Segment};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Where `svcc-runtime` serves a service locally.
pub const LOCAL_SERVER: &str = "http://127.0.0.1:8080";

/// The OpenAPI document of one service.
pub fn document(model: &Model, service: &Service) -> Value {
    let mut components = Components::new(model);
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let mut tags: BTreeSet<String> = BTreeSet::new();
    let mut used_builtins: BTreeMap<&'static str, ()> = BTreeMap::new();
    let plans = plans(model, service);
    for route in &service.routes {
        let op = operation(
            model,
            service,
            route,
            plans.is_some(),
            &mut components,
            &mut used_builtins,
        );
        tags.extend(route_tags(service, route));
        paths
            .entry(route.path.clone())
            .or_default()
            .insert(method(route.method.value).into(), op);
    }
    for e in &service.errors {
        let schema = problem_schema(model, e, &mut components);
        components.schemas.insert(problem_name(model, e), schema);
    }
    components.finish();
    let mut schemas: Map<String, Value> = components.schemas.into_iter().collect();
    schemas.insert(problem_component(model).into(), problem());
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|t| object!({ "name": t, "description": format!("Operations of {}", service.name.value) }))
        .collect();
    let paths: Map<String, Value> = paths
        .into_iter()
        .map(|(path, item)| (path, Value::Object(item)))
        .collect();
    let mut components = object!({
        "schemas": schemas,
        "responses": builtin_responses(model, &used_builtins),
    });
    if let Some(scheme) = security_scheme(service)
        && let Value::Object(c) = &mut components
    {
        c.insert("securitySchemes".into(), scheme);
    }
    let mut doc = object!({
        "openapi": "3.1.0",
        "info": info(service),
        "servers": servers(model, service),
        "tags": tags,
        "paths": paths,
        "components": components,
    });
    if let Some(plans) = plans
        && let Value::Object(m) = &mut doc
    {
        m.insert("x-svcc-plans".into(), plans);
    }
    doc
}

fn info(service: &Service) -> Value {
    object!({
        "title": service.name.value.as_str(),
        "version": service.version.as_ref().map_or("0.1.0", |v| v.value.as_str()),
        "description": service.description.clone().unwrap_or_else(|| format!("The {} API", service.name.value)),
    })
}

/// Servers: each deployment environment's routes, then the local runtime.
fn servers(model: &Model, service: &Service) -> Vec<Value> {
    let mut out = Vec::new();
    for d in model.ast.deployments.iter().filter(|d| {
        d.service
            .as_ref()
            .is_some_and(|s| s.value == service.name.value)
    }) {
        for env in &d.environments {
            for r in &env.routes {
                let host_path = r.value.trim_end_matches('*').trim_end_matches('/');
                let host_path = host_path.trim_start_matches("*.");
                let (host, _) = host_path.split_once('/').unwrap_or((host_path, ""));
                out.push(object!({ "url": format!("https://{host}"), "description": format!("{} ({})", env.name.value, d.name.value) }));
            }
        }
    }
    out.sort_by_key(|s| s.to_string());
    out.dedup();
    out.push(object!({ "url": LOCAL_SERVER, "description": "local (svcc-runtime)" }));
    out
}

fn method(m: Method) -> &'static str {
    match m {
        Method::Get => "get",
        Method::Post => "post",
        Method::Put => "put",
        Method::Patch => "patch",
        Method::Delete => "delete",
        Method::Head => "head",
        Method::Options => "options",
    }
}

fn route_tags(service: &Service, route: &Route) -> Vec<String> {
    if route.tags.is_empty() {
        vec![service.name.value.clone()]
    } else {
        route.tags.clone()
    }
}

fn operation(
    model: &Model,
    service: &Service,
    route: &Route,
    has_plans: bool,
    components: &mut Components<'_>,
    builtins: &mut BTreeMap<&'static str, ()>,
) -> Value {
    let mut op = Map::new();
    if let Some(o) = &route.operation {
        op.insert("operationId".into(), Value::String(o.value.clone()));
    }
    let summary = route
        .summary
        .clone()
        .unwrap_or_else(|| format!("{} {}", route.method.value.as_str(), route.path));
    op.insert("summary".into(), Value::String(summary));
    let description = route.description.clone().unwrap_or_else(|| {
        format!(
            "`{}` of {}.",
            route.operation.as_ref().map_or("", |o| o.value.as_str()),
            service.name.value
        )
    });
    op.insert("description".into(), Value::String(description));
    op.insert("tags".into(), Value::from(route_tags(service, route)));
    if route.deprecated {
        op.insert("deprecated".into(), Value::Bool(true));
    }
    let params = parameters(route, components);
    let has_params = !params.is_empty();
    if has_params {
        op.insert("parameters".into(), Value::Array(params));
    }
    if let Some(input) = &route.input {
        let schema = components.expr(input, body_mode(model, &service.name.value, route));
        let content = object!({ "application/json": object!({ "schema": schema }) });
        op.insert(
            "requestBody".into(),
            object!({ "required": !input.is_optional(), "content": content }),
        );
    }
    // keyed by status code: a sorted map writes them in order
    let mut responses: BTreeMap<String, Value> = BTreeMap::new();
    let status = route.success_status();
    responses.insert(status.to_string(), success(route, status, components));
    for (code, errors) in declared(service, route) {
        responses.insert(code.to_string(), declared_response(model, &errors));
    }
    let mut builtin = |code: &str, name: &'static str| {
        builtins.insert(name, ());
        if !responses.contains_key(code) {
            let reference = object!({ "$ref": format!("#/components/responses/{name}") });
            responses.insert(code.to_string(), reference);
        }
    };
    let idempotent = route.idempotent.as_ref().is_some_and(|i| i.value);
    if has_params || route.input.is_some() || idempotent {
        builtin("400", "BadRequest");
    }
    if service.auth_applies(route) {
        builtin("401", "Unauthorized");
        if route.permission.is_some() || has_plans {
            builtin("403", "Forbidden");
        }
    }
    if route.input.is_some() {
        builtin("413", "ContentTooLarge");
        builtin("415", "UnsupportedMediaType");
    }
    if idempotent {
        builtin("422", "IdempotencyKeyReused");
    }
    if route
        .segments
        .iter()
        .any(|(s, _)| matches!(s, Segment::Param(_)))
    {
        builtin("404", "NotFound");
    }
    if route.rate_limit.is_some() || has_plans {
        builtin("429", "TooManyRequests");
    }
    builtin("500", "InternalError");
    builtin("504", "Timeout");
    op.insert(
        "responses".into(),
        Value::Object(responses.into_iter().collect()),
    );
    op.insert("security".into(), security(service, route));
    extensions(route, &mut op);
    Value::Object(op)
}

fn parameters(route: &Route, components: &mut Components<'_>) -> Vec<Value> {
    let mut out = Vec::new();
    for (seg, _) in &route.segments {
        let Segment::Param(name) = seg else { continue };
        let schema = match route.params.iter().find(|p| &p.name.value == name) {
            Some(f) => components.field(f, Mode::Request),
            None => json!({ "type": "string" }),
        };
        out.push(object!({ "name": name.as_str(), "in": "path", "required": true, "description": format!("The `{name}` path parameter"), "schema": schema }));
    }
    for (place, fields) in [("query", &route.query), ("header", &route.headers)] {
        for f in fields {
            let required = f.is_required();
            let mut p = object!({ "name": f.name.value.as_str(), "in": place, "required": required, "schema": components.field(f, Mode::Request) });
            if let Some(d) = &f.constraints.description
                && let Value::Object(m) = &mut p
            {
                m.insert("description".into(), Value::String(d.clone()));
            }
            out.push(p);
        }
    }
    out
}

fn success(route: &Route, status: i64, components: &mut Components<'_>) -> Value {
    let description = match status {
        201 => "Created",
        202 => "Accepted: the work continues in the background",
        204 => "No content",
        _ => "Success",
    };
    if route.is_async {
        return json!({
            "description": description,
            "content": { "application/json": { "schema": {
                "type": "object",
                "properties": { "jobId": { "type": "string", "format": "uuid" }, "status": { "type": "string", "format": "uri-reference", "description": "Where the job's status is served (`GET /jobs/{id}`)" } },
                "required": ["jobId", "status"]
            } } }
        });
    }
    match (&route.output, status) {
        (Some(output), s) if s != 204 => {
            let schema = components.expr(output, Mode::Response);
            let content = object!({ "application/json": object!({ "schema": schema }) });
            object!({ "description": description, "content": content })
        }
        _ => json!({ "description": description }),
    }
}

fn declared<'s>(service: &'s Service, route: &Route) -> BTreeMap<i64, Vec<&'s ErrorDef>> {
    let mut by_status: BTreeMap<i64, Vec<&ErrorDef>> = BTreeMap::new();
    for name in &route.errors {
        if let Some(e) = service.errors.iter().find(|e| e.name.value == name.value)
            && let Some(status) = &e.status
        {
            by_status.entry(status.value).or_default().push(e);
        }
    }
    by_status
}

/// The name of the RFC 9457 schema: `Problem`, unless the project has a
/// type of that name.
fn problem_component(model: &Model) -> &'static str {
    if model.type_index("Problem", false).is_some() {
        "SvccProblem"
    } else {
        "Problem"
    }
}

/// `OutOfStockProblem`, unless the project has a type of that name.
fn problem_name(model: &Model, e: &ErrorDef) -> String {
    let name = format!("{}Problem", e.name.value);
    if model.type_index(&name, false).is_some() {
        format!("{}ErrorProblem", e.name.value)
    } else {
        name
    }
}

fn declared_response(model: &Model, errors: &[&ErrorDef]) -> Value {
    let mut refs: Vec<Value> = errors
        .iter()
        .map(|e| object!({ "$ref": format!("#/components/schemas/{}", problem_name(model, e)) }))
        .collect();
    let schema = if refs.len() == 1
        && let Some(only) = refs.pop()
    {
        only
    } else {
        object!({ "oneOf": refs })
    };
    let description = errors
        .iter()
        .map(|e| {
            e.description
                .clone()
                .unwrap_or_else(|| e.name.value.clone())
        })
        .collect::<Vec<_>>()
        .join("; ");
    let content = object!({ "application/problem+json": object!({ "schema": schema }) });
    object!({ "description": description, "content": content })
}

/// RFC 9457 problem details.
fn problem() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": { "type": "string", "format": "uri-reference", "description": "Identifies the problem type" },
            "title": { "type": "string", "description": "Short summary of the problem type" },
            "status": { "type": "integer", "format": "int32", "description": "The HTTP status code" },
            "detail": { "type": "string", "description": "What happened this time" },
            "instance": { "type": "string", "format": "uri-reference", "description": "Identifies this occurrence" }
        },
        "required": ["type", "title", "status"]
    })
}

fn problem_schema(model: &Model, e: &ErrorDef, components: &mut Components<'_>) -> Value {
    let problem_base = problem_component(model);
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in &e.fields {
        properties.insert(f.name.value.clone(), components.field(f, Mode::Response));
        if f.is_required() {
            required.push(f.name.value.clone());
        }
    }
    let mut own = object!({ "type": "object", "properties": properties });
    if !required.is_empty()
        && let Value::Object(m) = &mut own
    {
        m.insert("required".into(), Value::from(required));
    }
    let base = object!({ "$ref": format!("#/components/schemas/{problem_base}") });
    let mut schema = object!({ "allOf": vec![base, own] });
    if let Value::Object(m) = &mut schema {
        let d = e.description.clone().unwrap_or_else(|| {
            format!(
                "{} ({})",
                e.name.value,
                e.status.as_ref().map_or(0, |s| s.value)
            )
        });
        m.insert("description".into(), Value::String(d));
    }
    schema
}

fn builtin_responses(model: &Model, used: &BTreeMap<&'static str, ()>) -> Value {
    let problem_base = problem_component(model);
    let all = [
        (
            "BadRequest",
            "The request's parameters or body do not match the contract",
        ),
        ("Unauthorized", "No valid credentials"),
        (
            "Forbidden",
            "The caller's role does not grant this operation",
        ),
        ("NotFound", "No resource with this identifier"),
        (
            "ContentTooLarge",
            "The request body is larger than the server accepts",
        ),
        (
            "UnsupportedMediaType",
            "The request body is not `application/json`",
        ),
        (
            "IdempotencyKeyReused",
            "This `Idempotency-Key` was used with a different request",
        ),
        (
            "TooManyRequests",
            "A rate limit or plan quota is used up; see `Retry-After`",
        ),
        ("InternalError", "The service failed"),
        ("Timeout", "The operation did not finish in time"),
    ];
    let mut out = Map::new();
    for (name, description) in all.iter().filter(|(n, _)| used.contains_key(n)) {
        let mut r = json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": format!("#/components/schemas/{problem_base}") } } } });
        if *name == "TooManyRequests"
            && let Value::Object(m) = &mut r
        {
            m.insert("headers".into(), json!({ "Retry-After": { "description": "Seconds to wait", "schema": { "type": "integer", "format": "int32" } } }));
        }
        out.insert((*name).to_string(), r);
    }
    Value::Object(out)
}

fn scheme_name(service: &Service) -> Option<&'static str> {
    match service.auth.as_ref().map(|a| a.value.as_str()) {
        Some("jwt") => Some("bearerAuth"),
        Some("apiKey") => Some("apiKeyAuth"),
        _ => None,
    }
}

fn security_scheme(service: &Service) -> Option<Value> {
    Some(match scheme_name(service)? {
        "bearerAuth" => {
            json!({ "bearerAuth": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } })
        }
        _ => json!({ "apiKeyAuth": { "type": "apiKey", "in": "header", "name": "X-API-Key" } }),
    })
}

/// An operation's `security`: with the service's scheme as the route's
/// `auth` says, or `[]` (public, said explicitly, as linters ask) where
/// the service authenticates nobody.
fn security(service: &Service, route: &Route) -> Value {
    let Some(name) = scheme_name(service) else {
        return json!([]);
    };
    match route.auth.as_ref().map_or("required", |a| a.value.as_str()) {
        "none" => json!([]),
        "optional" => json!([{ name: [] }, {}]),
        _ => json!([{ name: [] }]),
    }
}

fn extensions(route: &Route, op: &mut Map<String, Value>) {
    if let Some(r) = &route.rate_limit {
        let unit = match r.value.window_secs {
            1 => "s",
            60 => "min",
            3600 => "h",
            _ => "day",
        };
        let scope = match r.value.scope {
            Some(crate::syntax::rate::Scope::User) => "user",
            Some(crate::syntax::rate::Scope::Ip) => "ip",
            Some(crate::syntax::rate::Scope::Global) => "global",
            _ => "key",
        };
        op.insert(
            "x-svcc-rate-limit".into(),
            json!({ "limit": r.value.count, "window": unit, "per": scope }),
        );
    }
    if route.idempotent.as_ref().is_some_and(|i| i.value) {
        op.insert(
            "x-svcc-idempotent".into(),
            json!({ "header": "Idempotency-Key" }),
        );
    }
    if !route.emits.is_empty() {
        op.insert(
            "x-svcc-emits".into(),
            json!(
                route
                    .emits
                    .iter()
                    .map(|e| e.value.0.as_str())
                    .collect::<Vec<_>>()
            ),
        );
    }
    if let Some(c) = &route.cache {
        op.insert("x-svcc-cache-seconds".into(), json!(c.value.millis / 1000));
    }
    if let Some(t) = &route.timeout {
        op.insert("x-svcc-timeout-ms".into(), json!(t.value.millis));
    }
    if let Some(p) = &route.permission {
        op.insert("x-svcc-permission".into(), Value::String(p.value.clone()));
    }
}

/// The service's pricing plans, for `x-svcc-plans`.
fn plans(model: &Model, service: &Service) -> Option<Value> {
    let pricing: Vec<_> = model.pricing_of(service).collect();
    if pricing.is_empty() {
        return None;
    }
    let plans: Vec<Value> = pricing
        .iter()
        .flat_map(|p| {
            p.plans.iter().map(move |plan| {
                object!({
                    "name": plan.name.as_ref().map_or("", |n| n.value.as_str()),
                    "price": plan.price.as_ref().map_or(Value::Null, |n| n.to_json()),
                    "currency": p.currency.as_ref().map(|c| c.value.clone()),
                    "interval": plan.interval.as_ref().map(|i| i.value.clone()),
                    "features": plan.features.iter().map(|f| f.value.as_str()).collect::<Vec<_>>(),
                    "limits": plan.limits.iter().filter_map(|(k, r)| {
                        let r = r.as_ref()?;
                        Some((k.value.clone(), json!({ "limit": r.value.count, "windowSeconds": r.value.window_secs })))
                    }).collect::<Map<String, Value>>(),
                })
            })
        })
        .collect();
    Some(Value::Array(plans))
}
