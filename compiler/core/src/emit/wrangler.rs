//! A wrangler configuration per Deployment (OUTPUTS.md "wrangler config per
//! Deployment", MANIFESTS.md section 6).
//!
//! Built as a `serde_json::Value` tree. What svcc adds on its own, from the
//! service: a D1 database for state and outbox (`SVCC_DB`), a queue producer
//! per published event and a consumer (with `max_retries` from the retry
//! policy and a dead-letter queue) per subscribed one, a cron trigger per
//! job, a SQLite Durable Object per saga the service coordinates (with its
//! migration), and rate-limit bindings. Generated binding names start with
//! `SVCC_` (the prefix is reserved; `svcc check` refuses it in manifests).
//!
//! Wrangler does not inherit bindings or vars into `env.<name>`; svcc does,
//! so every environment repeats them. Secrets never appear: their names are
//! in a comment and in `deploy.sh`'s checks.

use crate::ast::{Deployment, Service};
use crate::load::Node;
use crate::names::{to_kebab, to_screaming};
use crate::resolve::Model;
use serde_json::{Map, Value, json};

/// The queue an event travels on: `Order.created` -> `order-created`.
pub fn queue_name(event: &str) -> String {
    to_kebab(event)
}

/// Its dead-letter queue: `order-created-dlq`.
pub fn dead_letter_queue(event: &str) -> String {
    format!("{}-dlq", queue_name(event))
}

/// The Worker's name: the deployment's name in kebab-case.
pub fn worker_name(d: &Deployment) -> String {
    to_kebab(&d.name.value)
}

/// The bindings every environment repeats.
fn bindings(model: &Model, d: &Deployment, service: &Service) -> Map<String, Value> {
    let mut out = Map::new();
    let of_kind = |kind: &'static str| d.bindings.iter().filter(move |b| b.kind.value == kind);
    let setting = |n: &Node, key: &str| n.get(key).and_then(Node::as_str).unwrap_or("").to_string();
    let kv: Vec<Value> = of_kind("kv")
        .map(|b| json!({ "binding": b.name.value }))
        .collect();
    if !kv.is_empty() {
        out.insert("kv_namespaces".into(), json!(kv));
    }
    let r2: Vec<Value> = of_kind("r2")
        .map(|b| json!({ "binding": b.name.value, "bucket_name": setting(&b.settings, "bucket") }))
        .collect();
    if !r2.is_empty() {
        out.insert("r2_buckets".into(), json!(r2));
    }
    let mut d1: Vec<Value> =
        vec![json!({ "binding": "SVCC_DB", "database_name": format!("{}-state", worker_name(d)) })];
    d1.extend(of_kind("d1").map(
        |b| json!({ "binding": b.name.value, "database_name": setting(&b.settings, "database") }),
    ));
    out.insert("d1_databases".into(), json!(d1));
    let mut objects: Vec<Value> = of_kind("durableObjects")
        .map(|b| json!({ "name": b.name.value, "class_name": setting(&b.settings, "class") }))
        .collect();
    for saga in model.coordinated(service) {
        objects.push(json!({ "name": format!("SVCC_SAGA_{}", to_screaming(&saga.name.value)), "class_name": format!("{}Saga", saga.name.value) }));
    }
    if !objects.is_empty() {
        out.insert("durable_objects".into(), json!({ "bindings": objects }));
    }
    let queues = queues(model, service);
    if !queues.is_empty() {
        out.insert("queues".into(), Value::Object(queues));
    }
    let limits = rate_limits(service);
    if !limits.is_empty() {
        out.insert("ratelimits".into(), json!(limits));
    }
    out
}

fn queues(model: &Model, service: &Service) -> Map<String, Value> {
    let mut published: Vec<String> = service
        .publishes
        .iter()
        .map(|p| p.event.value.0.clone())
        .collect();
    published.extend(service.transition_events().into_iter().map(|(e, _)| e));
    for saga in model.coordinated(service) {
        published.extend(saga.publishes.iter().map(|p| p.event.value.0.clone()));
    }
    published.sort();
    published.dedup();
    let producers: Vec<Value> = published
        .iter()
        .map(|e| json!({ "binding": format!("SVCC_QUEUE_{}", to_screaming(e)), "queue": queue_name(e) }))
        .collect();
    let mut consumers: Vec<Value> = Vec::new();
    for sub in &service.subscribes {
        let attempts = sub
            .retry
            .as_ref()
            .and_then(|r| r.attempts.as_ref())
            .map_or(4, |a| a.value.max(1));
        let mut c = json!({ "queue": queue_name(&sub.event.value.0), "max_retries": attempts - 1 });
        if sub.dead_letter
            && let Value::Object(m) = &mut c
        {
            m.insert(
                "dead_letter_queue".into(),
                Value::String(dead_letter_queue(&sub.event.value.0)),
            );
        }
        consumers.push(c);
    }
    for saga in model.coordinated(service) {
        if let Some(t) = &saga.trigger
            && !service.subscribes.iter().any(|s| s.event.value == t.value)
        {
            consumers.push(json!({ "queue": queue_name(&t.value.0), "max_retries": 3, "dead_letter_queue": dead_letter_queue(&t.value.0) }));
        }
    }
    let mut out = Map::new();
    if !producers.is_empty() {
        out.insert("producers".into(), json!(producers));
    }
    if !consumers.is_empty() {
        out.insert("consumers".into(), json!(consumers));
    }
    out
}

/// Cloudflare's rate-limit binding counts per 10 or 60 seconds; rates per
/// second or minute map onto it exactly. Hourly and daily rates are
/// enforced by the runtime from D1 instead (no binding).
fn rate_limits(service: &Service) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, route) in service.routes.iter().enumerate() {
        let (Some(rate), Some(op)) = (&route.rate_limit, &route.operation) else {
            continue;
        };
        let (limit, period) = match rate.value.window_secs {
            1 => (u64::from(rate.value.count) * 10, 10),
            60 => (u64::from(rate.value.count), 60),
            _ => continue,
        };
        out.push(json!({
            "name": format!("SVCC_RATE_LIMIT_{}", to_screaming(&op.value)),
            "namespace_id": (1001 + i).to_string(),
            "simple": { "limit": limit, "period": period },
        }));
    }
    out
}

fn crons(service: &Service) -> Vec<String> {
    let mut out: Vec<String> = service
        .jobs
        .iter()
        .filter_map(|j| Some(j.schedule.as_ref()?.value.cron().to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn vars(d: &Deployment, env: Option<&crate::ast::Environment>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in d
        .vars
        .iter()
        .chain(env.into_iter().flat_map(|e| e.vars.iter()))
    {
        let value = match v.scalar_text() {
            Some(t) => Value::String(t),
            None => v.to_json(),
        };
        out.insert(k.value.clone(), value);
    }
    out
}

fn routes(env: &crate::ast::Environment) -> Vec<Value> {
    env.routes
        .iter()
        .map(|r| {
            let pattern = r
                .value
                .strip_prefix("https://")
                .or_else(|| r.value.strip_prefix("http://"))
                .unwrap_or(&r.value);
            let host = pattern
                .split('/')
                .next()
                .unwrap_or("")
                .trim_start_matches("*.")
                .trim_start_matches('*');
            let labels: Vec<&str> = host.split('.').collect();
            let zone = labels[labels.len().saturating_sub(2)..].join(".");
            json!({ "pattern": pattern, "zone_name": zone })
        })
        .collect()
}

/// The wrangler configuration (as JSON) of one deployment.
pub fn config(model: &Model, d: &Deployment, out_depth: usize) -> Option<Value> {
    let service = model.service(&d.service.as_ref()?.value)?;
    let crate_dir = format!("../../rust/{}", to_kebab(&service.name.value));
    let up = "../".repeat(out_depth + 2);
    let mut c = Map::new();
    c.insert(
        "$schema".into(),
        json!(format!("{up}node_modules/wrangler/config-schema.json")),
    );
    c.insert("name".into(), json!(worker_name(d)));
    c.insert("main".into(), json!(format!("{crate_dir}/build/index.js")));
    c.insert(
        "build".into(),
        json!({ "command": "worker-build --release", "cwd": crate_dir }),
    );
    if let Some(date) = &d.compatibility_date {
        c.insert("compatibility_date".into(), json!(date.value));
    }
    let v = vars(d, None);
    if !v.is_empty() {
        c.insert("vars".into(), Value::Object(v));
    }
    c.extend(bindings(model, d, service));
    let sagas = model.coordinated(service);
    let mut classes: Vec<String> = d
        .bindings
        .iter()
        .filter(|b| b.kind.value == "durableObjects")
        .filter_map(|b| {
            b.settings
                .get("class")
                .and_then(Node::as_str)
                .map(str::to_string)
        })
        .collect();
    classes.extend(sagas.iter().map(|s| format!("{}Saga", s.name.value)));
    classes.sort();
    classes.dedup();
    if !classes.is_empty() {
        c.insert(
            "migrations".into(),
            json!([{ "tag": "v1", "new_sqlite_classes": classes }]),
        );
    }
    let crons = crons(service);
    if !crons.is_empty() {
        c.insert("triggers".into(), json!({ "crons": crons }));
    }
    if let Some(cpu) = d
        .resources
        .as_ref()
        .and_then(|r| r.get("cpuMs"))
        .and_then(|n| n.to_json().as_i64())
    {
        c.insert("limits".into(), json!({ "cpu_ms": cpu }));
    }
    if let Some(o) = &d.observability {
        let enabled = o
            .get("logs")
            .and_then(|n| n.to_json().as_bool())
            .unwrap_or(true);
        let mut obs = json!({ "enabled": enabled });
        if let (Some(rate), Value::Object(m)) = (
            o.get("sampling").and_then(|n| n.to_json().as_f64()),
            &mut obs,
        ) {
            m.insert("head_sampling_rate".into(), json!(rate));
        }
        c.insert("observability".into(), obs);
    }
    let mut envs = Map::new();
    for env in &d.environments {
        let mut e = Map::new();
        let v = vars(d, Some(env));
        if !v.is_empty() {
            e.insert("vars".into(), Value::Object(v));
        }
        e.extend(bindings(model, d, service));
        let r = routes(env);
        if !r.is_empty() {
            e.insert("routes".into(), json!(r));
        }
        envs.insert(env.name.value.clone(), Value::Object(e));
    }
    if !envs.is_empty() {
        c.insert("env".into(), Value::Object(envs));
    }
    Some(Value::Object(c))
}

fn secrets_comment(d: &Deployment, marker: &str) -> String {
    let mut out = format!(
        "{marker} wrangler configuration of the `{}` deployment, generated by svcc: do not edit.\n",
        d.name.value
    );
    if d.secrets.is_empty() {
        out.push_str(&format!("{marker} Secrets: none.\n"));
    } else {
        let names: Vec<&str> = d.secrets.iter().map(|s| s.value.as_str()).collect();
        out.push_str(&format!("{marker} Secrets (values never written here; set each with `wrangler secret put NAME --env ENV`): {}\n", names.join(", ")));
    }
    out
}

/// The config as JSONC: a header comment (what it is, the secrets to set),
/// then the JSON.
pub fn jsonc(d: &Deployment, config: &Value) -> String {
    let mut out = secrets_comment(d, "//");
    out.push_str(&serde_json::to_string_pretty(config).unwrap_or_default());
    out.push('\n');
    out
}

/// The config as `wrangler.toml` (`--wrangler-format toml`).
pub fn toml(d: &Deployment, config: &Value) -> String {
    let mut out = secrets_comment(d, "#");
    out.push_str(&toml::to_string_pretty(config).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use crate::SourceInput;

    /// A saga started by an external event runs in the first service (by
    /// name) that subscribes to it; that service's Worker binds the saga's
    /// Durable Object. (The wrangler emitter used to look only for the
    /// trigger's publisher, so this Worker lacked the binding its code
    /// uses.)
    const PROJECT: &str = r#"
kind: Service
name: AuditService
types:
  Payment: { fields: { id: uuid } }
events:
  subscribes:
    Payment.settled: { handler: onSettled, external: true, payload: Payment }
---
kind: Saga
name: Settlement
trigger: Payment.settled
steps: []
---
kind: Deployment
name: AuditEdge
service: AuditService
target: cloudflare
compatibilityDate: 2025-10-10
"#;

    #[test]
    fn the_worker_running_a_saga_binds_its_object() {
        let analysis = crate::check_project(None, &[SourceInput::new("p.yaml", PROJECT)]);
        let model = &analysis.model;
        let d = &model.ast.deployments[0];
        let config = super::config(model, d, 1).map(|c| c.to_string());
        let config = config.unwrap_or_default();
        assert!(config.contains("SVCC_SAGA_SETTLEMENT"), "{config}");
        assert!(config.contains("SettlementSaga"), "{config}");
    }
}
