//! Whole-system lints: event cycles through handlers and sagas, call
//! chains that can outlast their route's timeout, and retries with nowhere
//! to go when they run out.

use super::cycles::Named;
use super::flow::signature;
use crate::ast::{Retry, Service};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::resolve::Model;
use crate::source::Span;
use crate::syntax::duration::Duration;
use std::collections::BTreeMap;

/// Cloudflare Workers stop a request after this long (wall time, paid plan).
pub const CLOUDFLARE_LIMIT_MS: u64 = 30_000;

/// Runs the whole-system lints.
pub fn check(model: &Model, out: &mut Diagnostics) {
    event_cycles(model, out);
    let calls = call_graph(model);
    for service in &model.ast.services {
        call_budget(model, &calls, service, out);
        for sub in &service.subscribes {
            let retries = sub
                .retry
                .as_ref()
                .and_then(|r| r.attempts.as_ref())
                .is_some_and(|a| a.value > 1);
            if retries && !sub.dead_letter {
                out.push(
                    Diagnostic::error(Code::W0010, sub.event.span, format!("`{}` retries `{}` but has no dead-letter queue", service.name.value, sub.event.value.0))
                        .label("`deadLetter: false`")
                        .help("an event that exhausts its retries is lost; keep `deadLetter: true` (the default) so it can be replayed"),
                );
            }
        }
    }
}

/// An edge of the event graph: handling `from` may publish `to`.
struct Edge {
    to: String,
    via: String,
    span: Span,
}

fn event_graph(model: &Model) -> BTreeMap<String, Vec<Edge>> {
    let mut graph: BTreeMap<String, Vec<Edge>> = BTreeMap::new();
    for s in &model.ast.services {
        for sub in &s.subscribes {
            let Some(handler) = &sub.handler else {
                continue;
            };
            let op = crate::syntax::reference::OperationRef {
                service: s.name.value.clone(),
                operation: handler.value.clone(),
            };
            // a handler named like an operation or transition runs it
            for e in signature(model, &op)
                .map(|sig| sig.emits)
                .unwrap_or_default()
            {
                graph
                    .entry(sub.event.value.0.clone())
                    .or_default()
                    .push(Edge {
                        to: e.0.clone(),
                        via: format!("{}.{}", s.name.value, handler.value),
                        span: sub.event.span,
                    });
            }
        }
    }
    for saga in &model.ast.sagas {
        let Some(trigger) = &saga.trigger else {
            continue;
        };
        let mut emitted: Vec<String> = saga
            .publishes
            .iter()
            .map(|p| p.event.value.0.clone())
            .collect();
        for a in saga.all_steps().filter_map(|s| s.action.as_ref()) {
            emitted.extend(
                signature(model, &a.value)
                    .map(|sig| {
                        sig.emits
                            .into_iter()
                            .map(|e| e.0.clone())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default(),
            );
        }
        for to in emitted.into_iter().filter(|e| *e != trigger.value.0) {
            graph
                .entry(trigger.value.0.clone())
                .or_default()
                .push(Edge {
                    to,
                    via: format!("saga {}", saga.name.value),
                    span: trigger.span,
                });
        }
    }
    graph
}

/// W0008: each group of events that lead to each other in cycles, once,
/// with a shortest cycle through its first event.
fn event_cycles(model: &Model, out: &mut Diagnostics) {
    let graph = event_graph(model);
    let events = Named::new(
        graph.keys().map(String::as_str),
        graph
            .iter()
            .flat_map(|(from, edges)| edges.iter().map(move |e| (from.as_str(), e.to.as_str()))),
    );
    let names = &events.names;
    for found in events.graph.cycles() {
        // each hop through the first edge that takes it
        let hops: Option<Vec<(&str, &Edge)>> = found
            .path
            .iter()
            .zip(found.path.iter().cycle().skip(1))
            .map(|(&from, &to)| {
                let edge = graph.get(names[from])?.iter().find(|e| e.to == names[to])?;
                Some((names[from], edge))
            })
            .collect();
        let Some(cycle) = hops else { continue };
        let steps: Vec<String> = cycle
            .iter()
            .map(|(event, edge)| format!("`{event}` -> {} -> `{}`", edge.via, edge.to))
            .collect();
        let (_, first) = cycle[0];
        let mut d = Diagnostic::error(Code::W0008, first.span, format!("events form a cycle: {}", steps.join(", ")))
            .label("the cycle starts here")
            .help("a cycle of events can run forever (an event storm); break it, or make sure a handler stops it on a condition");
        for (_, edge) in &cycle[1..] {
            d = d.secondary(edge.span, format!("then {}", edge.via));
        }
        if found.members.len() > cycle.len() {
            let members: Vec<String> = found
                .members
                .iter()
                .map(|&i| format!("`{}`", names[i]))
                .collect();
            d = d.note(format!(
                "{} events lead to each other in cycles ({}); this is one of the cycles among them",
                members.len(),
                members.join(", ")
            ));
        }
        out.push(d);
    }
}

/// Worst-case time of one call: every attempt runs to the timeout, plus the
/// waits between attempts. Returns the total and the arithmetic.
pub fn call_cost(timeout: Duration, retry: Option<&Retry>) -> (u64, String) {
    let attempts = retry
        .and_then(|r| r.attempts.as_ref())
        .map_or(1, |a| a.value.clamp(1, 100) as u64);
    let delay = retry
        .and_then(|r| r.delay.as_ref())
        .map_or(0, |d| d.value.millis);
    let cap = retry
        .and_then(|r| r.max_delay.as_ref())
        .map_or(u64::MAX, |d| d.value.millis);
    let backoff = retry
        .and_then(|r| r.backoff.as_ref())
        .map_or("fixed", |b| b.value.as_str());
    let waits: Vec<u64> = (1..attempts)
        .map(|i| {
            let w = match backoff {
                "exponential" => delay.saturating_mul(1u64 << (i - 1).min(30)),
                "linear" => delay.saturating_mul(i),
                _ => delay,
            };
            w.min(cap)
        })
        .collect();
    let total = attempts
        .saturating_mul(timeout.millis)
        .saturating_add(waits.iter().sum());
    let mut text = format!("{attempts} x {}", ms(timeout.millis));
    if !waits.is_empty() && delay > 0 {
        text.push_str(&format!(
            " + waits {}",
            waits.iter().map(|w| ms(*w)).collect::<Vec<_>>().join(" + ")
        ));
    }
    (total, text)
}

/// `1.5s`, `200ms`.
pub fn ms(millis: u64) -> String {
    if millis >= 1000 && millis.is_multiple_of(100) {
        let s = millis as f64 / 1000.0;
        format!("{s}s")
    } else {
        format!("{millis}ms")
    }
}

/// W0009: the service's synchronous calls, each at its worst, against each
/// route's timeout (or Cloudflare's limit).
/// The worst case of a service's synchronous calls: its own calls (each
/// attempt running to the timeout, plus the waits between attempts), plus
/// the same for every service it reaches through calls, each once.
/// Returns the total and one line of arithmetic per service.
fn chain_cost(model: &Model, calls: &Named<'_>, service: &Service) -> (u64, Vec<String>) {
    let Some(from) = calls.index(&service.name.value) else {
        return (0, Vec::new());
    };
    let mut total: u64 = 0;
    let mut lines = Vec::new();
    for node in calls.graph.reachable(from) {
        let Some(s) = model.service(calls.names[node]) else {
            continue;
        };
        let Some(timeout) = s.resilience.as_ref().and_then(|r| r.timeout.as_ref()) else {
            continue;
        };
        if s.calls.is_empty() {
            continue;
        }
        let retry = s.resilience.as_ref().and_then(|r| r.retry.as_ref());
        let (one, arithmetic) = call_cost(timeout.value, retry);
        let count = s.calls.len() as u64;
        let own = one.saturating_mul(count);
        total = total.saturating_add(own);
        let line = if count > 1 {
            format!("{count} calls x ({arithmetic})")
        } else {
            arithmetic
        };
        lines.push(format!("{}: {line} = {}", s.name.value, ms(own)));
    }
    (total, lines)
}

/// The services and their synchronous calls to other services.
fn call_graph(model: &Model) -> Named<'_> {
    Named::new(
        model.ast.services.iter().map(|s| s.name.value.as_str()),
        model.ast.services.iter().flat_map(|s| {
            s.calls
                .iter()
                .filter(|c| c.value.service != s.name.value)
                .map(|c| (s.name.value.as_str(), c.value.service.as_str()))
        }),
    )
}

/// W0009: the chain's worst case against each route's timeout (or
/// Cloudflare's limit when a route sets none).
fn call_budget(model: &Model, calls: &Named<'_>, service: &Service, out: &mut Diagnostics) {
    let Some(first_call) = service.calls.first() else {
        return;
    };
    let (total, lines) = chain_cost(model, calls, service);
    if total == 0 {
        return;
    }
    let shown = if lines.len() > 1 {
        format!("{}; total {}", lines.join(" + "), ms(total))
    } else {
        lines.join("")
    };
    let at = service
        .resilience
        .as_ref()
        .and_then(|r| r.timeout.as_ref())
        .map_or(first_call.span, |t| t.span);
    let mut without_timeout = false;
    for route in &service.routes {
        match &route.timeout {
            Some(t) if total > t.value.millis => out.push(
                Diagnostic::error(Code::W0009, t.span, format!("`{}` can wait {} on its synchronous calls, longer than its own timeout of {}", route.key.value, ms(total), ms(t.value.millis)))
                    .label(format!("timeout {}", ms(t.value.millis)))
                    .secondary(at, format!("worst case per request: {shown}"))
                    .help("retry at one level only, lower the call timeouts, raise the route's timeout, or replace a call with an event"),
            ),
            Some(_) => {}
            None => without_timeout |= total > CLOUDFLARE_LIMIT_MS,
        }
    }
    if without_timeout {
        out.push(
            Diagnostic::error(Code::W0009, first_call.span, format!("`{}`'s synchronous calls can take {}, longer than Cloudflare's {} limit for a request", service.name.value, ms(total), ms(CLOUDFLARE_LIMIT_MS)))
                .label("worst case of the calls")
                .secondary(at, format!("per request: {shown}"))
                .help("lower `resilience.timeout` or the retries, or replace a call with an event"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_case_of_a_call() {
        let (total, text) = call_cost(Duration { millis: 2000 }, None);
        assert_eq!((total, text.as_str()), (2000, "1 x 2s"));
    }
}
