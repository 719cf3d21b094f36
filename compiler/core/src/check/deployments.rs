//! Checks of Cloudflare deployments (MANIFESTS.md section 6).
//!
//! The one that matters most: secrets never go into `vars` (which wrangler
//! writes in plain text into the config and the dashboard). A var is
//! flagged by its name (`*_KEY`, `*_TOKEN`, ...) and by its value's shape
//! (`sk_live_...`, `ghp_...`, `AKIA...`, JWTs, private keys, URLs with a
//! password, long high-entropy strings), so an unusual name does not let an
//! obvious key through.

use crate::ast::{Binding, Deployment, Strategy, Threshold};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::load::Node;
use crate::resolve::Model;
use crate::source::{Span, Spanned};
use std::collections::HashMap;

/// Binding kinds and the setting each requires.
pub const BINDING_KINDS: [(&str, Option<&str>); 4] = [
    ("kv", None),
    ("r2", Some("bucket")),
    ("d1", Some("database")),
    ("durableObjects", Some("class")),
];

/// Checks every deployment.
pub fn check(model: &Model, out: &mut Diagnostics) {
    for d in &model.ast.deployments {
        let what = format!("deployment `{}` is of", d.name.value);
        if let (_, Some(diag)) = super::named_service(model, d.service.as_ref(), Code::E0600, &what)
        {
            out.push(diag);
        }
        if let Some(date) = &d.compatibility_date {
            check_date(date, out);
        }
        for (key, value) in d
            .vars
            .iter()
            .chain(d.environments.iter().flat_map(|e| e.vars.iter()))
        {
            check_var(key, value, out);
        }
        check_bindings(d, out);
        check_observability(d, out);
        for env in &d.environments {
            for route in &env.routes {
                check_route(route, out);
            }
            if let Some(strategy) = &env.strategy {
                check_strategy(strategy, out);
            }
        }
    }
}

fn check_date(date: &Spanned<String>, out: &mut Diagnostics) {
    if is_real_date(&date.value) {
        if date.value.as_str() < "2021-11-03" {
            out.push(
                Diagnostic::error(
                    Code::E0601,
                    date.span,
                    format!(
                        "`{}` is before the first Workers compatibility date (2021-11-03)",
                        date.value
                    ),
                )
                .label("too early")
                .help("use the date your code was last tested against, like `2025-10-10`"),
            );
        }
        return;
    }
    out.push(
        Diagnostic::error(
            Code::E0601,
            date.span,
            format!("`{}` is not a real date", date.value),
        )
        .label("expected YYYY-MM-DD")
        .help("use the date your code was last tested against, like `2025-10-10`"),
    );
}

/// `YYYY-MM-DD` naming a day that exists (leap years included), from 2021 on
/// (Workers compatibility dates start in 2021).
pub fn is_real_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return false;
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return false;
    }
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<u32>(), m.parse::<u32>(), d.parse::<u32>()) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d) && y >= 1000
}

fn check_var(key: &Spanned<String>, value: &Node, out: &mut Diagnostics) {
    let by_name = secret_name(&key.value);
    let by_value = value
        .as_str()
        .and_then(|v| secret_value(v, !public_name(&key.value)));
    let (span, why) = match (by_name, by_value) {
        (_, Some(why)) => (value.span, why),
        (true, None) => (key.span, "its name says it is a secret".to_string()),
        (false, None) => return,
    };
    out.push(
        Diagnostic::error(Code::E0602, span, format!("`{}` looks like a secret: {why}", key.value))
            .label("secret in plain text")
            .help(format!(
                "move it to `secrets: [{}]` (names only) and set the value with `wrangler secret put {}`; vars are written in plain text",
                key.value, key.value
            )),
    );
}

/// Key names that say "public on purpose" (publishable keys are meant to
/// be seen by browsers).
fn public_name(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    upper.contains("PUBLISHABLE") || upper.contains("PUBLIC")
}

/// Key names that say "secret".
pub fn secret_name(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    let words: Vec<&str> = upper.split(['_', '-']).collect();
    let secret_words = [
        "KEY",
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PWD",
        "CREDENTIAL",
        "CREDENTIALS",
        "PRIVATE",
        "APIKEY",
    ];
    let harmless = [
        "KEY_ID",
        "PUBLIC_KEY",
        "PUBLISHABLE_KEY",
        "KEY_PREFIX",
        "PRIMARY_KEY",
        "KEY_NAME",
    ];
    if harmless.iter().any(|h| upper.ends_with(h)) {
        return false;
    }
    words.iter().any(|w| secret_words.contains(w))
}

/// Value shapes of well-known credentials, or a long random-looking string.
/// `guess`: also flag long random-looking strings (off for names that say
/// the value is public on purpose).
pub fn secret_value(value: &str, guess: bool) -> Option<String> {
    let v = value.trim();
    let prefixes = [
        ("sk_live_", "a Stripe secret key"),
        ("sk_test_", "a Stripe secret key"),
        ("rk_live_", "a Stripe restricted key"),
        ("ghp_", "a GitHub token"),
        ("gho_", "a GitHub token"),
        ("ghs_", "a GitHub token"),
        ("github_pat_", "a GitHub token"),
        ("xoxb-", "a Slack token"),
        ("xoxp-", "a Slack token"),
        ("AKIA", "an AWS access key"),
        ("ASIA", "an AWS access key"),
        ("AIza", "a Google API key"),
        ("SG.", "a SendGrid key"),
        ("-----BEGIN", "a private key"),
    ];
    if let Some((_, what)) = prefixes
        .iter()
        .find(|(p, _)| v.starts_with(p) && v.len() >= p.len() + 8)
    {
        return Some(format!("the value is {what}"));
    }
    if v.starts_with("eyJ") && v.matches('.').count() == 2 {
        return Some("the value is a JWT".to_string());
    }
    if let Some((_, rest)) = v.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && userinfo.contains(':')
    {
        return Some("the URL contains a password".to_string());
    }
    let uuid = v.len() == 36 && v.split('-').map(str::len).eq([8, 4, 4, 4, 12]);
    let path_or_url = v.contains("://") || v.starts_with('/') || v.contains(' ') || v.contains('.');
    if guess && !uuid && !path_or_url && v.len() >= 24 && entropy(v) >= 3.5 && classes(v) >= 3 {
        return Some(format!(
            "the value is a long random string ({:.1} bits of entropy per character)",
            entropy(v)
        ));
    }
    None
}

/// Shannon entropy in bits per character.
fn entropy(s: &str) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let n = s.chars().count() as f64;
    counts
        .values()
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// How many of lower, upper, digit, other appear.
fn classes(s: &str) -> usize {
    [
        s.chars().any(|c| c.is_ascii_lowercase()),
        s.chars().any(|c| c.is_ascii_uppercase()),
        s.chars().any(|c| c.is_ascii_digit()),
        s.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|b| **b)
    .count()
}

/// Names svcc generates bindings under (`SVCC_DB`, `SVCC_QUEUE_...`).
pub const RESERVED_PREFIX: &str = "SVCC_";

fn reserved(name: &Spanned<String>, out: &mut Diagnostics) {
    if name.value.to_ascii_uppercase().starts_with(RESERVED_PREFIX) {
        out.push(
            Diagnostic::error(Code::E0603, name.span, format!("`{}` uses the reserved prefix `{RESERVED_PREFIX}`", name.value))
                .label("reserved for the bindings svcc generates")
                .help("svcc names its own bindings `SVCC_DB`, `SVCC_QUEUE_...`, `SVCC_SAGA_...`, `SVCC_RATE_LIMIT_...`: choose another name"),
        );
    }
}

fn check_bindings(d: &Deployment, out: &mut Diagnostics) {
    let mut names: HashMap<&str, (Span, String)> = HashMap::new();
    for (key, _) in &d.vars {
        reserved(key, out);
        names.insert(&key.value, (key.span, "a var".to_string()));
    }
    for s in &d.secrets {
        reserved(s, out);
        if let Some((first, what)) = names.get(s.value.as_str()) {
            out.push(duplicate(&s.value, s.span, *first, what));
        } else {
            names.insert(&s.value, (s.span, "a secret".to_string()));
        }
    }
    for b in &d.bindings {
        reserved(&b.name, out);
        check_binding(b, out);
        if let Some((first, what)) = names.get(b.name.value.as_str()) {
            out.push(duplicate(&b.name.value, b.name.span, *first, what));
        } else {
            names.insert(
                &b.name.value,
                (b.name.span, format!("a `{}` binding", b.kind.value)),
            );
        }
    }
    // an environment's vars join the inherited namespace
    for env in &d.environments {
        for (key, _) in &env.vars {
            if let Some((first, what)) = names.get(key.value.as_str())
                && !what.starts_with("a var")
            {
                out.push(duplicate(&key.value, key.span, *first, what));
            }
        }
    }
}

fn duplicate(name: &str, again: Span, first: Span, what: &str) -> Diagnostic {
    Diagnostic::error(Code::E0603, again, format!("`{name}` is already {what}"))
        .label("same name again")
        .secondary(first, "first used here")
        .help("every binding, var and secret of a Worker shares one namespace (`env.NAME`): rename one")
}

fn check_binding(b: &Binding, out: &mut Diagnostics) {
    let Some((_, required)) = BINDING_KINDS.iter().find(|(k, _)| *k == b.kind.value) else {
        let d = Diagnostic::error(
            Code::E0604,
            b.kind.span,
            format!("unknown binding kind `{}`", b.kind.value),
        )
        .label(format!(
            "expected one of {}",
            BINDING_KINDS
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        ));
        out.push(d.maybe_help(suggest::did_you_mean(
            &b.kind.value,
            BINDING_KINDS.iter().map(|(k, _)| *k),
        )));
        return;
    };
    if b.kind.value == "durableObjects"
        && let Some(class) = b.settings.get("class")
        && let Some(text) = class.as_str()
        && !crate::lower::validate::name_ok(text, crate::lower::shape::Ident::Pascal)
    {
        out.push(
            Diagnostic::error(Code::E0604, class.span, format!("`{text}` is not a class name"))
                .label("expected a PascalCase class, like `CartObject`")
                .help("a Durable Object class is exported by the Worker under this name, and svcc writes its migration"),
        );
    }
    if let Some(setting) = required
        && b.settings.get(setting).and_then(Node::as_str).is_none()
    {
        out.push(
            Diagnostic::error(
                Code::E0604,
                b.name.span,
                format!(
                    "`{}` binding `{}` needs `{setting}`",
                    b.kind.value, b.name.value
                ),
            )
            .label(format!("missing `{setting}`"))
            .help(format!("write `{}: {{ {setting}: <name> }}`", b.name.value)),
        );
    }
}

fn check_observability(d: &Deployment, out: &mut Diagnostics) {
    let sampling = d.observability.as_ref().and_then(|o| o.get("sampling"));
    if let Some(n) = sampling
        && let Some(v) = n.to_json().as_f64()
        && !(0.0..=1.0).contains(&v)
    {
        out.push(
            Diagnostic::error(
                Code::E0106,
                n.span,
                format!("`sampling` is {v}, outside 0 to 1"),
            )
            .label("a share of requests")
            .help("write `0.1` to log one request in ten"),
        );
    }
    let cpu = d.resources.as_ref().and_then(|r| r.get("cpuMs"));
    if let Some(n) = cpu
        && let Some(v) = n.to_json().as_i64()
        && v < 1
    {
        out.push(
            Diagnostic::error(
                Code::E0106,
                n.span,
                format!("`cpuMs` is {v}; a Worker needs some CPU time"),
            )
            .label("expected 1 or more"),
        );
    }
}

/// `api.example.com/orders/*`, `*.example.com/*`, `example.com`.
pub fn route_ok(route: &str) -> bool {
    let route = route
        .strip_prefix("https://")
        .or_else(|| route.strip_prefix("http://"))
        .unwrap_or(route);
    if route.contains("://") || route.contains(' ') {
        return false;
    }
    let (host, path) = route.split_once('/').unwrap_or((route, ""));
    let host = host
        .strip_prefix("*.")
        .or_else(|| host.strip_prefix('*'))
        .unwrap_or(host);
    let host_ok = host.contains('.')
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && !host.split(':').next().unwrap_or("").is_empty();
    // a wildcard is allowed only at the very end of the path
    let wildcard_ok = path.find('*').is_none_or(|i| i + 1 == path.len());
    let path_ok = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~/*%{}".contains(c));
    host_ok && path_ok && wildcard_ok
}

fn check_route(route: &Spanned<String>, out: &mut Diagnostics) {
    if route_ok(&route.value) {
        return;
    }
    let scheme = route.value.split_once("://");
    let rest = scheme.map_or(route.value.as_str(), |(_, rest)| rest);
    let path = rest.split_once('/').map_or("", |(_, path)| path);
    let d = Diagnostic::error(
        Code::E0607,
        route.span,
        format!("`{}` is not a Cloudflare route pattern", route.value),
    )
    .label("expected `host/path`, like `api.example.com/orders/*`");
    out.push(match scheme {
        Some((scheme, f)) if route_ok(f) => d.help(format!(
            "a route's scheme is `http://` or `https://` (or none), not `{scheme}://`: write `{f}`"
        )),
        _ if path.contains('?') => d.help(format!(
            "a route has no query string; end the path with `*` to match any: `{}*`",
            route.value.split('?').next().unwrap_or_default().trim_end_matches('*')
        )),
        _ if path.trim_end_matches('*').contains('*') => d.help(
            "a `*` may only end the path (and start the host): match the whole path below it, like `/orders/*`",
        ),
        _ => d.help("a route is a host with a dot (optionally starting with `*`), then an optional path that may end in `*`"),
    });
}

fn check_strategy(s: &Strategy, out: &mut Diagnostics) {
    let kind = s.kind.as_ref().map(|k| k.value.as_str());
    let stepped = matches!(kind, Some("canary" | "rolling"));
    if stepped && s.steps.is_empty() {
        out.push(
            Diagnostic::error(
                Code::E0608,
                s.span,
                format!("a `{}` rollout needs `steps`", kind.unwrap_or("")),
            )
            .label("no steps")
            .help("add `steps: [5, 25, 100]` (percent of traffic at each step)"),
        );
    }
    if stepped && !s.has_interval {
        out.push(
            Diagnostic::error(
                Code::E0608,
                s.span,
                format!(
                    "a `{}` rollout needs an `interval` between steps",
                    kind.unwrap_or("")
                ),
            )
            .label("no interval")
            .help("add `interval: 10m`"),
        );
    }
    if matches!(kind, Some("immediate" | "blue-green"))
        && let Some(span) = s.steps_span
    {
        out.push(
            Diagnostic::error(
                Code::E0608,
                span,
                format!("an `{}` rollout takes no `steps`", kind.unwrap_or(""))
                    .replace("an `blue", "a `blue"),
            )
            .label("steps are ignored")
            .help("remove `steps`, or use `canary`"),
        );
    }
    check_steps(s, out);
    for threshold in &s.rollback {
        check_threshold(threshold, out);
    }
}

fn check_steps(s: &Strategy, out: &mut Diagnostics) {
    let mut previous: Option<&Spanned<i64>> = None;
    for step in &s.steps {
        if !(1..=100).contains(&step.value) {
            out.push(
                Diagnostic::error(
                    Code::E0605,
                    step.span,
                    format!("{} is not a percentage of traffic", step.value),
                )
                .label("expected 1 to 100"),
            );
        } else if let Some(p) = previous
            && step.value <= p.value
        {
            out.push(
                Diagnostic::error(
                    Code::E0605,
                    step.span,
                    format!(
                        "rollout steps must rise: {} comes after {}",
                        step.value, p.value
                    ),
                )
                .label("not above the previous step")
                .secondary(p.span, "previous step"),
            );
        }
        previous = Some(step);
    }
    if let Some(last) = s.steps.last()
        && last.value != 100
        && (1..=100).contains(&last.value)
    {
        out.push(
            Diagnostic::error(
                Code::E0605,
                last.span,
                format!(
                    "the last rollout step is {}%, so the new version never takes all traffic",
                    last.value
                ),
            )
            .label("expected 100")
            .help("end the steps with 100"),
        );
    }
}

fn check_threshold(threshold: &Threshold, out: &mut Diagnostics) {
    let (key, value) = (&threshold.key, &threshold.value);
    let latency = Threshold::LATENCIES.contains(&key.value.as_str());
    if key.value != "errorRate" && !latency {
        let mut known = vec!["errorRate"];
        known.extend(Threshold::LATENCIES);
        let d = Diagnostic::error(
            Code::E0606,
            key.span,
            format!("unknown rollback threshold `{}`", key.value),
        )
        .label(format!("expected one of {}", known.join(", ")));
        out.push(d.maybe_help(suggest::did_you_mean(&key.value, known.iter().copied())));
        return;
    }
    if threshold.limit.is_some() {
        return;
    }
    let expected = if latency {
        "a duration, like `300ms`"
    } else {
        "a percentage above 0 and up to 100, like `0.5%`"
    };
    let text = value.scalar_text().unwrap_or_default();
    out.push(
        Diagnostic::error(
            Code::E0606,
            value.span,
            format!("`{text}` is not a valid `{}` threshold", key.value),
        )
        .label(format!("expected {expected}")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_by_name_and_by_value() {
        assert!(secret_name("STRIPE_KEY"));
        assert!(secret_name("api_token"));
        assert!(!secret_name("SMTP_HOST"));
        assert!(!secret_name("STRIPE_PUBLISHABLE_KEY"));
        assert!(secret_value("sk_live_51H8abcdEFGHijkl", true).is_some());
        assert!(secret_value("sk_live_51H8abcdEFGHijkl", false).is_some());
        assert!(secret_value("ghp_abcdefghijklmnopqrstuvwxyz0123456789", true).is_some());
        assert!(secret_value("AKIAIOSFODNN7EXAMPLE", true).is_some());
        assert!(secret_value("postgres://app:hunter2@db.example.com/app", true).is_some());
        assert!(secret_value("q8Zr2LxT9vKp4NwY7cFm3HsJ", true).is_some());
        assert!(secret_value("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", true).is_some());
        assert!(secret_value("q8Zr2LxT9vKp4NwY7cFm3HsJ", false).is_none());
        assert!(secret_value("3f2b9c1e-8d4a-4e6b-9a7c-1b2d3e4f5a6b", true).is_none());
        assert!(secret_value("smtp.example.com", true).is_none());
        assert!(secret_value("production", true).is_none());
        assert!(secret_value("https://api.example.com/v1", true).is_none());
        assert!(!secret_name("AUTH_URL"));
    }

    #[test]
    fn dates_and_routes() {
        assert!(is_real_date("2025-10-10"));
        assert!(is_real_date("2024-02-29"));
        assert!(!is_real_date("2025-02-29"));
        assert!(!is_real_date("2025-13-01"));
        assert!(route_ok("api.example.com/orders/*"));
        assert!(route_ok("*.example.com/*"));
        assert!(route_ok("https://api.example.com/orders"));
        assert!(!route_ok("api.example.com/*/orders"));
        assert!(!route_ok("localhost/orders"));
    }
}
