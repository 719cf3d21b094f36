//! Checks of pricing plans (MANIFESTS.md section 5), and the lints that
//! keep pricing honest: a dearer plan never offers less, pricing stays
//! simple, and no limit is out of reach because of a route's own rate limit.

use super::calls::operations;
use crate::ast::{Plan, Pricing, Service};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, suggest};
use crate::load::{Node, NodeKind};
use crate::resolve::Model;
use crate::syntax::rate::Rate;
use std::collections::{BTreeSet, HashMap};

/// Price dimensions above this get W0006.
pub const MAX_DIMENSIONS: usize = 4;

/// The limit every plan may set besides per-operation ones.
pub const REQUESTS: &str = "requests";

/// Checks every pricing document.
pub fn check(model: &Model, out: &mut Diagnostics) {
    for pricing in &model.ast.pricing {
        let what = format!("pricing `{}` is for", pricing.name.value);
        let (service, problem) =
            super::named_service(model, pricing.service.as_ref(), Code::E0500, &what);
        if let Some(d) = problem {
            out.push(d);
        }
        check_plans(pricing, service, out);
        dimensions(pricing, &service.map(operations).unwrap_or_default(), out);
        if let Some(service) = service {
            unreachable_limits(pricing, service, out);
        }
    }
}

fn check_plans(pricing: &Pricing, service: Option<&Service>, out: &mut Diagnostics) {
    let ops: Vec<&str> = service.map(operations).unwrap_or_default();
    let mut names: HashMap<&str, crate::source::Span> = HashMap::new();
    for plan in &pricing.plans {
        if let Some(name) = &plan.name {
            match names.get(name.value.as_str()) {
                Some(first) => out.push(
                    Diagnostic::error(
                        Code::E0503,
                        name.span,
                        format!("plan `{}` is defined more than once", name.value),
                    )
                    .label("defined again here")
                    .secondary(*first, "first defined here")
                    .help("give every plan its own name"),
                ),
                None => {
                    names.insert(&name.value, name.span);
                }
            }
        }
        if let Some(price) = &plan.price {
            check_price(price, out);
        }
        if service.is_some() {
            for f in plan
                .features
                .iter()
                .filter(|f| f.value != "*" && !ops.contains(&f.value.as_str()))
            {
                let d = Diagnostic::error(
                    Code::E0501,
                    f.span,
                    format!(
                        "`{}` is not an operation of `{}`",
                        f.value,
                        pricing.service.as_ref().map_or("", |s| s.value.as_str())
                    ),
                )
                .label("unknown feature");
                let help =
                    suggest::did_you_mean(&f.value, ops.iter().copied()).unwrap_or_else(|| {
                        format!(
                            "features are operations of the service ({}) or `\"*\"`",
                            ops.join(", ")
                        )
                    });
                out.push(d.help(help));
            }
            for (key, _) in plan
                .limits
                .iter()
                .filter(|(k, _)| k.value != REQUESTS && !ops.contains(&k.value.as_str()))
            {
                let mut known = vec![REQUESTS];
                known.extend(ops.iter().copied());
                let d = Diagnostic::error(
                    Code::E0504,
                    key.span,
                    format!("unknown limit `{}`", key.value),
                )
                .label("not `requests` nor an operation of the service");
                let help =
                    suggest::did_you_mean(&key.value, known.iter().copied()).unwrap_or_else(|| {
                        "limit `requests` (all operations) or one operation by name".to_string()
                    });
                out.push(d.help(help));
            }
        }
    }
    if let Some((_, Some(price))) = &pricing.overage
        && price_value(price).is_some_and(|p| p < 0.0)
    {
        out.push(
            Diagnostic::error(Code::E0502, price.span, "the overage price is negative")
                .label("below 0")
                .help("prices are non-negative decimals"),
        );
    }
    dearer_offers_less(pricing, out);
}

/// A price as a number: `None` for `custom` (and for invalid ones).
fn price_value(node: &Node) -> Option<f64> {
    match &node.kind {
        NodeKind::Int(i) => Some(*i as f64),
        NodeKind::Float(f, _) => Some(*f),
        NodeKind::Str(s) => s.parse().ok(),
        _ => None,
    }
}

fn check_price(node: &Node, out: &mut Diagnostics) {
    let ok = match &node.kind {
        NodeKind::Str(s) if s == "custom" => true,
        NodeKind::Str(s) => s.parse::<f64>().is_ok_and(|v| v >= 0.0 && v.is_finite()),
        NodeKind::Int(i) => *i >= 0,
        NodeKind::Float(f, _) => *f >= 0.0 && f.is_finite(),
        _ => false,
    };
    if !ok {
        let text = node
            .scalar_text()
            .unwrap_or_else(|| node.describe().to_string());
        out.push(
            Diagnostic::error(Code::E0502, node.span, format!("`{text}` is not a valid price"))
                .label("expected a non-negative number, `0` or `custom`")
                .help("write the price in the pricing's currency, like `29` or `0.5`, or `custom` for a negotiated price"),
        );
    }
}

/// The features a plan includes: `None` means all (`*`).
fn features(plan: &Plan) -> Option<BTreeSet<&str>> {
    if plan.features.iter().any(|f| f.value == "*") {
        None
    } else {
        Some(plan.features.iter().map(|f| f.value.as_str()).collect())
    }
}

fn plan_name(plan: &Plan) -> &str {
    plan.name.as_ref().map_or("?", |n| n.value.as_str())
}

/// W0005: walking plans from cheap to dear, none may offer less.
fn dearer_offers_less(pricing: &Pricing, out: &mut Diagnostics) {
    // compare per month, and leave plans with an invalid price to E0502
    let price = |p: &Plan| -> Option<f64> {
        let per = if p.interval.as_ref().is_some_and(|i| i.value == "year") {
            12.0
        } else {
            1.0
        };
        match &p.price {
            Some(n) if n.as_str() == Some("custom") => Some(f64::INFINITY),
            Some(n) => price_value(n).filter(|v| *v >= 0.0).map(|v| v / per),
            None => Some(0.0),
        }
    };
    for cheap in &pricing.plans {
        let Some(cheap_price) = price(cheap) else {
            continue;
        };
        for dear in pricing
            .plans
            .iter()
            .filter(|d| price(d).is_some_and(|p| p > cheap_price))
        {
            let at = dear.name.as_ref().map_or(dear.span, |n| n.span);
            if let (Some(c), d) = (features(cheap), features(dear))
                && d.as_ref().is_some_and(|d| !c.is_subset(d))
            {
                let missing: Vec<&str> = c.difference(d.as_ref().unwrap_or(&c)).copied().collect();
                out.push(
                    Diagnostic::error(
                        Code::W0005,
                        at,
                        format!(
                            "plan `{}` costs more than `{}` but lacks {}",
                            plan_name(dear),
                            plan_name(cheap),
                            missing
                                .iter()
                                .map(|m| format!("`{m}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .label("dearer plan, fewer features")
                    .secondary(
                        cheap.name.as_ref().map_or(cheap.span, |n| n.span),
                        "the cheaper plan",
                    )
                    .help("give dearer plans every feature of cheaper ones"),
                );
            }
            for (key, rate) in &cheap.limits {
                let Some(c_rate) = rate else { continue };
                let Some((d_key, Some(d_rate))) =
                    dear.limits.iter().find(|(k, _)| k.value == key.value)
                else {
                    continue;
                };
                if d_rate.value.per_second() < c_rate.value.per_second() {
                    out.push(
                        Diagnostic::error(
                            Code::W0005,
                            d_key.span,
                            format!(
                                "plan `{}` costs more than `{}` but allows fewer `{}`",
                                plan_name(dear),
                                plan_name(cheap),
                                key.value
                            ),
                        )
                        .label(format!("{} here", rate_text(&d_rate.value)))
                        .secondary(
                            key.span,
                            format!("{} in the cheaper plan", rate_text(&c_rate.value)),
                        )
                        .help("raise the dearer plan's limit"),
                    );
                }
            }
        }
    }
}

fn rate_text(r: &Rate) -> String {
    let unit = match r.window_secs {
        1 => "s",
        60 => "min",
        3600 => "h",
        _ => "day",
    };
    format!("{}/{unit}", r.count)
}

/// W0006: more than four things a buyer pays for.
fn dimensions(pricing: &Pricing, ops: &[&str], out: &mut Diagnostics) {
    let mut dims: BTreeSet<String> = BTreeSet::new();
    if pricing.plans.iter().any(|p| {
        p.price
            .as_ref()
            .and_then(price_value)
            .is_some_and(|v| v > 0.0)
    }) {
        dims.insert("a plan price".to_string());
    }
    for plan in &pricing.plans {
        for (key, rate) in &plan.limits {
            let known = key.value == REQUESTS || ops.contains(&key.value.as_str());
            if known && rate.is_some() {
                dims.insert(format!("`{}` limits", key.value));
            }
        }
    }
    if pricing.overage.is_some() {
        dims.insert("overage".to_string());
    }
    if pricing.trial.is_some() {
        dims.insert("a trial".to_string());
    }
    let intervals: BTreeSet<&str> = pricing
        .plans
        .iter()
        .filter_map(|p| p.interval.as_ref())
        .map(|i| i.value.as_str())
        .collect();
    if intervals.len() > 1 {
        dims.insert("several billing intervals".to_string());
    }
    if dims.len() > MAX_DIMENSIONS {
        out.push(
            Diagnostic::error(
                Code::W0006,
                pricing.name.span,
                format!(
                    "pricing `{}` has {} price dimensions: {}",
                    pricing.name.value,
                    dims.len(),
                    dims.into_iter().collect::<Vec<_>>().join(", ")
                ),
            )
            .label("complex pricing")
            .help(format!(
                "buyers compare plans at a glance: keep to {MAX_DIMENSIONS} dimensions or fewer"
            )),
        );
    }
}

/// W0007: a plan limit above what the service's own rate limits let a
/// caller reach.
fn unreachable_limits(pricing: &Pricing, service: &Service, out: &mut Diagnostics) {
    for plan in &pricing.plans {
        let included = features(plan);
        for (key, rate) in &plan.limits {
            let Some(rate) = rate else { continue };
            let covered: Vec<_> = service
                .routes
                .iter()
                .filter(|r| {
                    let Some(op) = &r.operation else { return false };
                    let in_plan = included
                        .as_ref()
                        .is_none_or(|f| f.contains(op.value.as_str()));
                    in_plan && (key.value == REQUESTS || key.value == op.value)
                })
                .collect();
            if covered.is_empty() || covered.iter().any(|r| r.rate_limit.is_none()) {
                continue;
            }
            let reachable: f64 = covered
                .iter()
                .filter_map(|r| r.rate_limit.as_ref())
                .map(|l| l.value.per_second())
                .sum();
            if reachable < rate.value.per_second() {
                let window = rate.value.window_secs as f64;
                let sum: Vec<String> = covered
                    .iter()
                    .filter_map(|r| r.rate_limit.as_ref())
                    .map(|l| rate_text(&l.value))
                    .collect();
                out.push(
                    Diagnostic::error(Code::W0007, rate.span, format!("plan `{}` allows {} but the routes' own limits ({}) allow at most {:.0} per {}", plan_name(plan), rate_text(&rate.value), sum.join(" + "), reachable * window, unit_word(rate.value.window_secs)))
                        .label("can never be reached")
                        .help("raise the routes' `rateLimit`, or lower the plan's limit to what callers can use"),
                );
            }
        }
    }
}

fn unit_word(secs: u64) -> &'static str {
    match secs {
        1 => "second",
        60 => "minute",
        3600 => "hour",
        _ => "day",
    }
}
