//! Lowering of `kind: Service` documents (MANIFESTS.md section 3).

use super::read;
use super::types::lower_fields;
use crate::ast::{
    CircuitBreaker, ErrorDef, Job, Publish, Resilience, Role, Route, Service, StateMachine,
    Subscribe, Transition,
};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::load::{Entry, Node, NodeKind};
use crate::source::{Span, Spanned};
use crate::syntax::cron::{self, Schedule, ScheduleError};
use crate::syntax::reference::EventName;
use crate::syntax::route::{Method, Segment};
use std::collections::HashMap;

/// Schedules read so far, by text: projects repeat the same few, and the
/// second opinion from croner is the costly part of reading one.
pub type Schedules = HashMap<String, Result<Schedule, ScheduleError>>;

/// Lowers one service document.
pub fn lower_service(
    root: &Node,
    name: Spanned<String>,
    schedules: &mut Schedules,
    out: &mut Diagnostics,
) -> Service {
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
            .filter_map(|e| publish(e, out))
            .collect(),
        subscribes: map_entries(events.and_then(|e| e.get("subscribes")))
            .filter_map(|e| subscribe(e, out))
            .collect(),
        state: root.entry("state").map(|e| state(e, out)),
        jobs: map_entries(root.get("jobs"))
            .map(|e| job(e, schedules, out))
            .collect(),
        calls: root
            .get("calls")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(|c| read::operation(c, out))
            .collect(),
        resilience: root.get("resilience").map(|r| resilience(r, out)),
        health: read::strings(root.get("health").and_then(|h| h.get("checks"))),
    }
}

/// A job, its schedule read (E0319 when Cloudflare would refuse it).
fn job(e: &Entry, schedules: &mut Schedules, out: &mut Diagnostics) -> Job {
    let node = e.value.get("schedule");
    let written = node.and_then(Node::as_str);
    let schedule = node.zip(written).and_then(|(node, text)| {
        let result = schedules
            .entry(text.to_string())
            .or_insert_with(|| cron::parse_schedule(text));
        match result {
            Ok(schedule) => Some(Spanned::new(schedule.clone(), node.span)),
            Err(err) => {
                let d = Diagnostic::error(
                    Code::E0319,
                    node.sub_span(err.start..err.end),
                    format!(
                        "invalid schedule for job `{}`: {}",
                        e.key.value, err.message
                    ),
                )
                .label("invalid here");
                out.push(d.maybe_help(err.help.clone()));
                None
            }
        }
    });
    Job {
        name: e.key.clone(),
        written: written.map(str::to_string),
        schedule,
        timeout: read::duration(e.value.get("timeout"), out),
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
    let Some(parsed) = read::route_key(&key_node, out) else {
        // not a route, but its contract is read for the errors in it
        let get = Spanned::new(Method::Get, e.key.span);
        fill(&mut route(e, get, Vec::new(), String::new()), &e.value, out);
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
    let mut r = route(e, method, segments, parsed.path());
    fill(&mut r, &e.value, out);
    Some(r)
}

/// A route of `method` and path with nothing of its contract read yet.
fn route(
    e: &Entry,
    method: Spanned<Method>,
    segments: Vec<(Segment, Span)>,
    path: String,
) -> Route {
    Route {
        key: e.key.clone(),
        method,
        segments,
        path,
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
    }
}

/// Reads a route's value: the short form (an operation name) or its contract.
fn fill(r: &mut Route, v: &Node, out: &mut Diagnostics) {
    match &v.kind {
        NodeKind::Str(_) => {
            r.short = true;
            r.operation = v.as_spanned_str();
        }
        NodeKind::Map(_) => fill_route(r, v, out),
        _ => {}
    }
}

fn fill_route(r: &mut Route, v: &Node, out: &mut Diagnostics) {
    r.operation = read::text(v, "operation");
    r.summary = read::plain(v, "summary");
    r.description = read::plain(v, "description");
    r.tags = read::strings(v.get("tags"))
        .into_iter()
        .map(|t| t.value)
        .collect();
    r.input = v.get("input").and_then(|t| read::type_expr(t, out));
    r.output = v.get("output").and_then(|t| read::type_expr(t, out));
    r.status = read::int(v, "status");
    r.params = lower_fields(v.get("params"), out);
    r.query = lower_fields(v.get("query"), out);
    r.headers = lower_fields(v.get("headers"), out);
    r.errors = read::strings(v.get("errors"));
    r.auth = read::text(v, "auth");
    r.permission = read::text(v, "permission");
    r.owner = read::text(v, "owner");
    r.rate_limit = read::rate(v.get("rateLimit"), out);
    r.idempotent = read::boolean(v, "idempotent");
    r.timeout = read::duration(v.get("timeout"), out);
    r.cache = read::duration(v.get("cache"), out);
    r.emits = v
        .get("emits")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|e| read::event(e, out))
        .collect();
    r.deprecated = read::flag(v, "deprecated");
    r.is_async = read::flag(v, "async");
}

fn publish(e: &Entry, out: &mut Diagnostics) -> Option<Publish> {
    let (payload, description) = match &e.value.kind {
        NodeKind::Str(_) => (read::type_expr(&e.value, out), None),
        NodeKind::Map(_) => (
            e.value.get("payload").and_then(|t| read::type_expr(t, out)),
            read::plain(&e.value, "description"),
        ),
        _ => (None, None),
    };
    Some(Publish {
        event: read::event(&e.key_node(), out)?,
        payload,
        description,
    })
}

fn subscribe(e: &Entry, out: &mut Diagnostics) -> Option<Subscribe> {
    let v = &e.value;
    let mut s = Subscribe {
        event: Spanned::new(EventName(String::new()), e.key.span),
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
            s.retry = v.get("retry").map(|r| read::retry(r, out));
            s.dead_letter = read::boolean(v, "deadLetter").is_none_or(|b| b.value);
            s.external = read::boolean(v, "external");
            s.payload = v.get("payload").and_then(|t| read::type_expr(t, out));
        }
        _ => {}
    }
    s.event = read::event(&e.key_node(), out)?;
    Some(s)
}

fn resilience(n: &Node, out: &mut Diagnostics) -> Resilience {
    Resilience {
        timeout: read::duration(n.get("timeout"), out),
        retry: n.get("retry").map(|r| read::retry(r, out)),
        circuit_breaker: n.get("circuitBreaker").map(|c| CircuitBreaker {
            failures: read::int(c, "failures"),
            reset: read::duration(c.get("reset"), out),
        }),
    }
}

fn state(e: &Entry, out: &mut Diagnostics) -> StateMachine {
    let v = &e.value;
    StateMachine {
        span: e.key.span,
        entity: read::text(v, "entity"),
        field: read::text(v, "field"),
        initial: read::text(v, "initial"),
        transitions: map_entries(v.get("transitions"))
            .map(|t| transition(t, out))
            .collect(),
    }
}

fn transition(t: &Entry, out: &mut Diagnostics) -> Transition {
    let v = &t.value;
    let from = match v.get("from") {
        Some(n) if n.as_str().is_some() => n.as_spanned_str().into_iter().collect(),
        other => read::strings(other),
    };
    Transition {
        name: t.key.clone(),
        from,
        to: read::text(v, "to"),
        emits: v.get("emits").and_then(|e| read::event(e, out)),
    }
}
