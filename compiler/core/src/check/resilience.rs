//! Retry policies and circuit breakers: numbers that make sense.

use crate::ast::{Retry, Service};
use crate::diagnostic::{Code, Diagnostic, Diagnostics};

/// Checks the retry policies of subscriptions and outbound calls.
pub fn check(service: &Service, out: &mut Diagnostics) {
    for sub in &service.subscribes {
        if let Some(r) = &sub.retry {
            check_retry(r, out);
        }
    }
    let Some(res) = &service.resilience else {
        return;
    };
    if let Some(r) = &res.retry {
        check_retry(r, out);
    }
    let Some(failures) = res
        .circuit_breaker
        .as_ref()
        .and_then(|c| c.failures.as_ref())
    else {
        return;
    };
    if failures.value < 1 {
        out.push(
            Diagnostic::error(
                Code::E0106,
                failures.span,
                format!(
                    "`failures` is {}, but a circuit opens after at least one failure",
                    failures.value
                ),
            )
            .label("expected 1 or more"),
        );
    } else if u32::try_from(failures.value).is_err() {
        out.push(
            Diagnostic::error(
                Code::E0106,
                failures.span,
                format!(
                    "`failures` is {}, more than a circuit breaker counts ({})",
                    failures.value,
                    u32::MAX
                ),
            )
            .label(format!("expected 1 to {}", u32::MAX)),
        );
    }
}

pub(super) fn check_retry(r: &Retry, out: &mut Diagnostics) {
    if let Some(a) = &r.attempts
        && !(1..=100).contains(&a.value)
    {
        out.push(
            Diagnostic::error(Code::E0106, a.span, format!("`attempts` is {}, outside 1-100", a.value))
                .label("attempts in all, the first included")
                .help("`attempts: 1` means no retry; use a dead-letter queue rather than retrying forever"),
        );
    }
    if let (Some(d), Some(m)) = (&r.delay, &r.max_delay)
        && d.value > m.value
    {
        out.push(
            Diagnostic::error(Code::E0106, d.span, "`delay` is longer than `maxDelay`")
                .label("first delay")
                .secondary(m.span, "longest delay")
                .help("swap them, or raise `maxDelay`"),
        );
    }
}
