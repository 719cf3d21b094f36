//! Whole-system lints: event cycles through handlers and sagas, call
//! chains that can outlast their route's timeout, and retries with nowhere
//! to go when they run out.

use super::flow::signature;
use crate::ast::{Retry, Service};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};
use crate::resolve::Model;
use crate::source::Span;
use crate::syntax::duration::Duration;
use std::collections::{BTreeMap, BTreeSet};

/// Cloudflare Workers stop a request after this long (wall time, paid plan).
pub const CLOUDFLARE_LIMIT_MS: u64 = 30_000;

/// Runs the whole-system lints.
pub fn check(model: &Model, out: &mut Diagnostics) {
    event_cycles(model, out);
    for service in &model.ast.services {
        call_budget(model, service, out);
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

/// W0008: each simple cycle once, found from its smallest event.
fn event_cycles(model: &Model, out: &mut Diagnostics) {
    let graph = event_graph(model);
    let mut reported: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in graph.keys() {
        let mut path: Vec<(&str, &Edge)> = Vec::new();
        walk(&graph, start, start, &mut path, &mut |cycle| {
            let mut key: Vec<String> = cycle.iter().map(|(e, _)| (*e).to_string()).collect();
            key.sort();
            if !reported.insert(key) {
                return;
            }
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
            out.push(d);
        });
    }
}

/// A path through the event graph: each event with the edge taken from it.
type EventPath<'g> = [(&'g str, &'g Edge)];

fn walk<'g>(
    graph: &'g BTreeMap<String, Vec<Edge>>,
    start: &'g str,
    current: &'g str,
    path: &mut Vec<(&'g str, &'g Edge)>,
    report: &mut dyn FnMut(&EventPath<'g>),
) {
    if path.len() > 32 {
        return;
    }
    for edge in graph.get(current).into_iter().flatten() {
        if edge.to == start {
            path.push((current, edge));
            report(path);
            path.pop();
        } else if edge.to.as_str() > start
            && !path.iter().any(|(e, _)| *e == edge.to)
            && edge.to != current
        {
            path.push((current, edge));
            walk(graph, start, &edge.to, path, report);
            path.pop();
        }
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
/// The worst case of a service's synchronous calls, level by level: its own
/// calls (each attempt running to the timeout, plus the waits between
/// attempts), plus the same for each service it calls, down the chain.
/// Returns the total and one line of arithmetic per level.
fn chain_cost(model: &Model, service: &Service, seen: &mut Vec<String>) -> (u64, Vec<String>) {
    if seen.contains(&service.name.value) || seen.len() > 16 || service.calls.is_empty() {
        return (0, Vec::new());
    }
    seen.push(service.name.value.clone());
    let mut total = 0;
    let mut lines = Vec::new();
    if let Some(res) = &service.resilience
        && let Some(timeout) = &res.timeout
    {
        let (one, arithmetic) = call_cost(timeout.value, res.retry.as_ref());
        let calls = service.calls.len() as u64;
        total = one.saturating_mul(calls);
        let line = if calls > 1 {
            format!("{calls} calls x ({arithmetic})")
        } else {
            arithmetic
        };
        lines.push(format!("{}: {line} = {}", service.name.value, ms(total)));
    }
    let mut callees: Vec<&str> = service
        .calls
        .iter()
        .map(|c| c.value.service.as_str())
        .collect();
    callees.sort_unstable();
    callees.dedup();
    for callee in callees {
        if let Some(next) = model.service(callee) {
            let (cost, more) = chain_cost(model, next, seen);
            total = total.saturating_add(cost);
            lines.extend(more);
        }
    }
    seen.pop();
    (total, lines)
}

/// W0009: the chain's worst case against each route's timeout (or
/// Cloudflare's limit when a route sets none).
fn call_budget(model: &Model, service: &Service, out: &mut Diagnostics) {
    let Some(first_call) = service.calls.first() else {
        return;
    };
    let (total, lines) = chain_cost(model, service, &mut Vec::new());
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
