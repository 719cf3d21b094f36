//! Lowering of `kind: Service` documents (MANIFESTS.md section 3).

use super::read;
use super::types::lower_fields;
use crate::ast::{
    CircuitBreaker, ErrorDef, Job, Publish, Resilience, Role, Route, Service, StateMachine,
    Subscribe, Transition,
};
use crate::diagnostic::Diagnostics;
use crate::load::{Entry, Node, NodeKind};
use crate::source::Spanned;
use crate::syntax::route;

/// Lowers one service document.
pub fn lower_service(root: &Node, name: Spanned<String>, out: &mut Diagnostics) -> Service {
    let events = root.get("events");
    Service {
        name,
        version: root
            .get("version")
            .and_then(|n| Some(Spanned::new(n.scalar_text()?, n.span))),
        description: read::plain(root, "description"),
        auth: read::text(root, "auth"),
        roles: roles(root.get("roles")),
        errors: errors(root.get("errors"), out),
        routes: map_entries(root.get("routes"))
            .filter_map(|e| lower_route(e, out))
            .collect(),
        publishes: map_entries(events.and_then(|e| e.get("publishes")))
            .filter_map(publish)
            .collect(),
        subscribes: map_entries(events.and_then(|e| e.get("subscribes")))
            .filter_map(subscribe)
            .collect(),
        state: root.entry("state").map(state),
        jobs: map_entries(root.get("jobs"))
            .map(|e| Job {
                name: e.key.clone(),
                schedule: e.value.get("schedule").cloned(),
                timeout: read::duration(e.value.get("timeout")),
            })
            .collect(),
        calls: root
            .get("calls")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(read::operation)
            .collect(),
        resilience: root.get("resilience").map(resilience),
        health: read::strings(root.get("health").and_then(|h| h.get("checks"))),
    }
}

fn map_entries(node: Option<&Node>) -> impl Iterator<Item = &Entry> {
    node.and_then(Node::as_map).unwrap_or(&[]).iter()
}

fn roles(node: Option<&Node>) -> Vec<Role> {
    map_entries(node)
        .map(|e| Role {
            name: e.key.clone(),
            grants: read::strings(Some(&e.value)),
        })
        .collect()
}

fn errors(node: Option<&Node>, out: &mut Diagnostics) -> Vec<ErrorDef> {
    map_entries(node)
        .map(|e| ErrorDef {
            name: e.key.clone(),
            status: read::int(&e.value, "status"),
            description: read::plain(&e.value, "description"),
            fields: lower_fields(e.value.get("fields"), out),
        })
        .collect()
}

fn lower_route(e: &Entry, out: &mut Diagnostics) -> Option<Route> {
    let key_node = e.key_node();
    // a key that does not parse was reported by the validator
    let Ok(parsed) = route::parse(&e.key.value) else {
        return None;
    };
    let segments = parsed
        .segments
        .iter()
        .map(|(s, r)| (s.clone(), key_node.sub_span(r.clone())))
        .collect();
    let method = Spanned::new(
        parsed.method,
        key_node.sub_span(parsed.method_range.clone()),
    );
    let mut r = Route {
        key: e.key.clone(),
        method,
        segments,
        path: parsed.path(),
        short: false,
        operation: None,
        summary: None,
        description: None,
        tags: Vec::new(),
        input: None,
        output: None,
        status: None,
        params: Vec::new(),
        query: Vec::new(),
        headers: Vec::new(),
        errors: Vec::new(),
        auth: None,
        permission: None,
        owner: None,
        rate_limit: None,
        idempotent: None,
        timeout: None,
        cache: None,
        emits: Vec::new(),
        deprecated: false,
        is_async: false,
    };
    let v = &e.value;
    match &v.kind {
        NodeKind::Str(_) => {
            r.short = true;
            r.operation = v.as_spanned_str();
        }
        NodeKind::Map(_) => fill_route(&mut r, v, out),
        _ => {}
    }
    Some(r)
}

fn fill_route(r: &mut Route, v: &Node, out: &mut Diagnostics) {
    r.operation = read::text(v, "operation");
    r.summary = read::plain(v, "summary");
    r.description = read::plain(v, "description");
    r.tags = read::strings(v.get("tags"))
        .into_iter()
        .map(|t| t.value)
        .collect();
    r.input = v.get("input").and_then(read::type_expr);
    r.output = v.get("output").and_then(read::type_expr);
    r.status = read::int(v, "status");
    r.params = lower_fields(v.get("params"), out);
    r.query = lower_fields(v.get("query"), out);
    r.headers = lower_fields(v.get("headers"), out);
    r.errors = read::strings(v.get("errors"));
    r.auth = read::text(v, "auth");
    r.permission = read::text(v, "permission");
    r.owner = read::text(v, "owner");
    r.rate_limit = read::rate(v.get("rateLimit"));
    r.idempotent = read::boolean(v, "idempotent");
    r.timeout = read::duration(v.get("timeout"));
    r.cache = read::duration(v.get("cache"));
    r.emits = v
        .get("emits")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(read::event)
        .collect();
    r.deprecated = read::flag(v, "deprecated");
    r.is_async = read::flag(v, "async");
}

fn publish(e: &Entry) -> Option<Publish> {
    let event = read::event(&e.key_node())?;
    let (payload, description) = match &e.value.kind {
        NodeKind::Str(_) => (read::type_expr(&e.value), None),
        NodeKind::Map(_) => (
            e.value.get("payload").and_then(read::type_expr),
            read::plain(&e.value, "description"),
        ),
        _ => (None, None),
    };
    Some(Publish {
        event,
        payload,
        description,
    })
}

fn subscribe(e: &Entry) -> Option<Subscribe> {
    let event = read::event(&e.key_node())?;
    let v = &e.value;
    let mut s = Subscribe {
        event,
        handler: None,
        retry: None,
        dead_letter: true,
        external: None,
        payload: None,
    };
    match &v.kind {
        NodeKind::Str(_) => s.handler = v.as_spanned_str(),
        NodeKind::Map(_) => {
            s.handler = read::text(v, "handler");
            s.retry = v.get("retry").map(read::retry);
            s.dead_letter = read::boolean(v, "deadLetter").is_none_or(|b| b.value);
            s.external = read::boolean(v, "external");
            s.payload = v.get("payload").and_then(read::type_expr);
        }
        _ => {}
    }
    Some(s)
}

fn resilience(n: &Node) -> Resilience {
    Resilience {
        timeout: read::duration(n.get("timeout")),
        retry: n.get("retry").map(read::retry),
        circuit_breaker: n.get("circuitBreaker").map(|c| CircuitBreaker {
            failures: read::int(c, "failures"),
            reset: read::duration(c.get("reset")),
        }),
    }
}

fn state(e: &Entry) -> StateMachine {
    let v = &e.value;
    StateMachine {
        span: e.key.span,
        entity: read::text(v, "entity"),
        field: read::text(v, "field"),
        initial: read::text(v, "initial"),
        transitions: map_entries(v.get("transitions")).map(transition).collect(),
    }
}

fn transition(t: &Entry) -> Transition {
    let v = &t.value;
    let from = match v.get("from") {
        Some(n) if n.as_str().is_some() => n.as_spanned_str().into_iter().collect(),
        other => read::strings(other),
    };
    Transition {
        name: t.key.clone(),
        from,
        to: read::text(v, "to"),
        emits: v.get("emits").and_then(read::event),
    }
}
