//! Project-wide event checks: one publisher per event, every subscription
//! has a publisher (or is external), and every published event is consumed.

use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::resolve::Model;
use std::collections::BTreeSet;

/// Runs the project-wide event checks.
pub fn check(model: &Model, out: &mut Diagnostics) {
    let publishers = model.publishers();
    for (event, list) in publishers {
        if let [first, rest @ ..] = list.as_slice() {
            for again in rest {
                out.push(
                    Diagnostic::error(Code::E0313, again.span, format!("`{event}` is published by both `{}` and `{}`", first.owner, again.owner))
                        .label(format!("published by `{}`", again.owner))
                        .secondary(first.span, format!("first published by `{}`", first.owner))
                        .help("an event has one publisher: rename one of them (for example `Subject.predicate` with another subject)"),
                );
            }
        }
    }
    let mut consumed: BTreeSet<String> = BTreeSet::new();
    for s in &model.ast.services {
        for sub in &s.subscribes {
            consumed.insert(sub.event.value.0.clone());
            let external = sub.external.as_ref().is_some_and(|e| e.value);
            if external {
                if sub.payload.is_none() {
                    out.push(
                        Diagnostic::error(
                            Code::E0101,
                            sub.event.span,
                            format!("missing field `payload`: external event `{}` needs its payload type", sub.event.value.0),
                        )
                        .label("payload type unknown")
                        .help("add `payload: <type>` next to `external: true`"),
                    );
                }
                continue;
            }
            if !publishers.contains_key(&sub.event.value.0) && !model.incomplete {
                let d = Diagnostic::error(
                    Code::E0312,
                    sub.event.span,
                    format!(
                        "`{}` subscribes to `{}`, which no service publishes",
                        s.name.value, sub.event.value.0
                    ),
                )
                .label("never published");
                let help = suggest::did_you_mean(
                    &sub.event.value.0,
                    publishers.keys().map(String::as_str),
                )
                .unwrap_or_else(|| {
                    "publish it from a service, or mark it `external: true` with a `payload`"
                        .to_string()
                });
                out.push(d.help(help));
            }
        }
    }
    for saga in &model.ast.sagas {
        if let Some(t) = &saga.trigger {
            consumed.insert(t.value.0.clone());
        }
    }
    for (event, list) in publishers {
        if consumed.contains(event) {
            continue;
        }
        if let Some(first) = list.first() {
            out.push(
                Diagnostic::error(Code::W0003, first.span, format!("`{event}` is published but never consumed"))
                    .label("no service or saga subscribes to it")
                    .help("subscribe to it somewhere, or stop publishing it; silence with `# svcc: allow W0003`"),
            );
        }
    }
}
