//! Synchronous calls between services: targets exist, no self-calls, no
//! cycles, a lint for deep chains, and health checks that name real
//! dependencies.

use super::cycles::{Digraph, Named};
use crate::ast::Service;
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::resolve::Model;
use std::collections::{BTreeMap, BTreeSet};

/// Chains of this many calls or more get W0004.
pub const DEEP_CHAIN: usize = 3;

/// The operations a service offers to callers: route operations and state
/// transitions.
pub fn operations(service: &Service) -> Vec<&str> {
    let mut ops: Vec<&str> = service
        .routes
        .iter()
        .filter_map(|r| r.operation.as_ref())
        .map(|o| o.value.as_str())
        .collect();
    if let Some(sm) = &service.state {
        ops.extend(sm.transitions.iter().map(|t| t.name.value.as_str()));
    }
    ops
}

/// Runs the call checks.
pub fn check(model: &Model, out: &mut Diagnostics) {
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in &model.ast.services {
        let edges = graph.entry(&s.name.value).or_default();
        for call in &s.calls {
            let target = &call.value;
            if target.service == s.name.value {
                out.push(
                    Diagnostic::error(
                        Code::E0322,
                        call.span,
                        format!(
                            "`{}` calls its own operation `{}`",
                            s.name.value, target.operation
                        ),
                    )
                    .label("a call to itself")
                    .help(
                        "call the code directly inside the service; `calls` is for other services",
                    ),
                );
                continue;
            }
            let Some(callee) = model.service(&target.service) else {
                if !model.incomplete {
                    let d = Diagnostic::error(
                        Code::E0320,
                        part_span(call, true),
                        format!("unknown service `{}`", target.service),
                    )
                    .label("no service with this name");
                    out.push(d.maybe_help(suggest::did_you_mean(
                        &target.service,
                        model.service_names(),
                    )));
                }
                continue;
            };
            let ops = operations(callee);
            if !ops.contains(&target.operation.as_str()) {
                let d = Diagnostic::error(
                    Code::E0320,
                    part_span(call, false),
                    format!(
                        "`{}` has no operation `{}`",
                        target.service, target.operation
                    ),
                )
                .label("unknown operation")
                .secondary(callee.name.span, "the service");
                out.push(d.maybe_help(suggest::did_you_mean(
                    &target.operation,
                    ops.iter().copied(),
                )));
                continue;
            }
            edges.insert(&callee.name.value);
        }
        check_health(model, s, out);
        check_version(s, out);
    }
    let calls = Named::new(
        graph.keys().copied(),
        graph
            .iter()
            .flat_map(|(&from, tos)| tos.iter().map(move |&to| (from, to))),
    );
    cycles(model, &calls, out);
    deep_chains(model, &calls, out);
}

/// The span of the service (or operation) part of `Service.operation`,
/// when the reference is written verbatim; else the whole reference.
fn part_span(
    call: &crate::source::Spanned<crate::syntax::reference::OperationRef>,
    service: bool,
) -> crate::source::Span {
    let r = &call.value;
    let len = (call.span.end - call.span.start) as usize;
    let prefix = len.saturating_sub(r.service.len() + 1 + r.operation.len());
    if prefix != 0 && prefix != 2 {
        return call.span;
    }
    let start = call.span.start as usize + prefix;
    let (a, b) = if service {
        (start, start + r.service.len())
    } else {
        (
            start + r.service.len() + 1,
            start + r.service.len() + 1 + r.operation.len(),
        )
    };
    crate::source::Span::new(call.span.file, a, b)
}

fn check_health(model: &Model, s: &Service, out: &mut Diagnostics) {
    let called: Vec<&str> = s.calls.iter().map(|c| c.value.service.as_str()).collect();
    for check in &s.health {
        if check.value != "database" && !called.contains(&check.value.as_str()) {
            let mut options = called.clone();
            options.push("database");
            let d = Diagnostic::error(
                Code::E0326,
                check.span,
                format!("unknown health check `{}`", check.value),
            )
            .label("neither `database` nor a service this one calls");
            let help = match (
                suggest::did_you_mean(&check.value, options),
                model.service(&check.value),
            ) {
                (Some(h), _) => h,
                (None, Some(_)) => format!(
                    "`{}` is not in `calls`: health checks cover synchronous dependencies; add a call to it, or remove the check",
                    check.value
                ),
                (None, None) => "list `database` or services this one calls".to_string(),
            };
            out.push(d.help(help));
        }
    }
}

fn check_version(s: &Service, out: &mut Diagnostics) {
    let Some(v) = &s.version else { return };
    if is_semver(&v.value) {
        return;
    }
    let parts: Vec<&str> = v.value.trim_start_matches('v').split('.').collect();
    let padded = match parts.as_slice() {
        [a] => format!("{a}.0.0"),
        [a, b] => format!("{a}.{b}.0"),
        _ => String::new(),
    };
    let help = if !padded.is_empty() && is_semver(&padded) {
        format!("write `{padded}` (quoted in YAML if it looks like a number)")
    } else {
        "write MAJOR.MINOR.PATCH, like `1.2.0`".to_string()
    };
    out.push(
        Diagnostic::error(
            Code::E0110,
            v.span,
            format!("`{}` is not a semantic version", v.value),
        )
        .label("expected MAJOR.MINOR.PATCH")
        .help(help),
    );
}

/// `1.2.3`, optionally with `-pre` and `+build`.
pub fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// E0321: each group of services that call each other in cycles, once,
/// with a shortest cycle through its first service.
fn cycles(model: &Model, calls: &Named<'_>, out: &mut Diagnostics) {
    for cycle in calls.graph.cycles() {
        let path = calls.names_of(&cycle.path);
        report_cycle(model, &path, &calls.names_of(&cycle.members), out);
    }
}

fn call_span(model: &Model, from: &str, to: &str) -> Option<crate::source::Span> {
    model
        .service(from)?
        .calls
        .iter()
        .find(|c| c.value.service == to)
        .map(|c| c.span)
}

fn report_cycle(model: &Model, cycle: &[&str], members: &[&str], out: &mut Diagnostics) {
    let mut names: Vec<&str> = cycle.to_vec();
    names.push(cycle[0]);
    let Some(first) = call_span(model, cycle[0], cycle.get(1).copied().unwrap_or(cycle[0])) else {
        return;
    };
    let mut d = Diagnostic::error(
        Code::E0321,
        first,
        format!("synchronous calls form a cycle: {}", names.join(" -> ")),
    )
    .label("this call starts the cycle")
    .help("break the cycle: replace one call with an event the other service subscribes to");
    for pair in names.windows(2).skip(1) {
        if let Some(span) = call_span(model, pair[0], pair[1]) {
            d = d.secondary(span, format!("`{}` calls `{}`", pair[0], pair[1]));
        }
    }
    if members.len() > cycle.len() {
        d = d.note(format!(
            "{} services call each other in cycles ({}); this is one of the cycles among them, and svcc reports the next once it is broken",
            members.len(),
            members.join(", ")
        ));
    }
    out.push(d);
}

/// W0004: the longest chain of calls from each service (leaving the
/// cycles E0321 reports), when it is deep.
fn deep_chains(model: &Model, calls: &Named<'_>, out: &mut Diagnostics) {
    let best = calls.graph.longest_chains();
    for (i, &service) in calls.names.iter().enumerate() {
        if best[i].0 <= DEEP_CHAIN {
            continue;
        }
        let chain = calls.names_of(&Digraph::chain(&best, i));
        let Some(span) = chain
            .get(1)
            .and_then(|next| call_span(model, service, next))
        else {
            continue;
        };
        out.push(
            Diagnostic::error(Code::W0004, span, format!("`{service}` depends on a chain of {} synchronous calls: {}", chain.len() - 1, chain.join(" -> ")))
                .label("first call of the chain")
                .help("every link adds latency and a way to fail; publish an event instead, or keep a copy of the data you need"),
        );
    }
}
