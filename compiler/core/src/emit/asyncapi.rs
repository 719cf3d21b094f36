//! AsyncAPI 3.0, one document per project: every event as a channel with
//! its message and payload schema (the same schemas as OpenAPI's), which
//! service sends it and which receive it.

use super::json::object;
use super::schemas::{Components, Mode};
use crate::resolve::Model;
use serde_json::{Map, Value, json};

/// The project's AsyncAPI document.
pub fn document(model: &Model, project: &str, version: &str) -> Value {
    let mut components = Components::new(model);
    let mut channels = Map::new();
    let mut messages = Map::new();
    let mut operations = Map::new();
    let mut events: Vec<(String, Value, Option<String>)> = Vec::new();
    for s in &model.ast.services {
        for p in &s.publishes {
            let schema = p
                .payload
                .as_ref()
                .map_or(json!({}), |t| components.expr(t, Mode::Response));
            events.push((p.event.value.0.clone(), schema, p.description.clone()));
        }
        let entity = s
            .state
            .as_ref()
            .and_then(|sm| sm.entity.as_ref())
            .and_then(|e| model.type_index(&e.value, false));
        for (event, _) in s.transition_events() {
            let schema = entity.map_or(json!({}), |i| components.reference(i, Mode::Response));
            events.push((
                event,
                schema,
                Some(format!("Written by a state transition of {}", s.name.value)),
            ));
        }
        for sub in s
            .subscribes
            .iter()
            .filter(|s| s.external.as_ref().is_some_and(|e| e.value))
        {
            let schema = sub
                .payload
                .as_ref()
                .map_or(json!({}), |t| components.expr(t, Mode::Response));
            events.push((
                sub.event.value.0.clone(),
                schema,
                Some("Published outside this project".into()),
            ));
        }
    }
    for saga in &model.ast.sagas {
        for p in &saga.publishes {
            let schema = p
                .payload
                .as_ref()
                .map_or(json!({}), |t| components.expr(t, Mode::Response));
            events.push((
                p.event.value.0.clone(),
                schema,
                Some(format!("Published by saga {}", saga.name.value)),
            ));
        }
    }
    // first declaration wins (a stable sort keeps declaration order per name)
    events.sort_by(|a, b| a.0.cmp(&b.0));
    events.dedup_by(|a, b| a.0 == b.0);
    for (event, payload, description) in events {
        let event = &event;
        let id = channel_id(event);
        let message = object!({
            "name": event.as_str(),
            "title": event.as_str(),
            "summary": description.unwrap_or_else(|| format!("The `{event}` event")),
            "contentType": "application/json",
            "payload": payload,
        });
        messages.insert(id.clone(), message);
        channels.insert(
            id.clone(),
            json!({
                "address": queue_name(event),
                "messages": { id.clone(): { "$ref": format!("#/components/messages/{id}") } },
            }),
        );
        if let Some(sender) = model.publisher(event) {
            operations.insert(
                format!("{}Sends{id}", operation_prefix(sender)),
                json!({
                    "action": "send",
                    "channel": { "$ref": format!("#/channels/{id}") },
                    "summary": format!("{sender} publishes `{event}`"),
                }),
            );
        }
        for s in &model.ast.services {
            for sub in s
                .subscribes
                .iter()
                .filter(|sub| &sub.event.value.0 == event)
            {
                operations.insert(format!("{}Receives{id}", operation_prefix(&s.name.value)), json!({
                    "action": "receive",
                    "channel": { "$ref": format!("#/channels/{id}") },
                    "summary": format!("{} handles `{event}` with `{}`", s.name.value, sub.handler.as_ref().map_or("", |h| h.value.as_str())),
                }));
            }
        }
        for saga in model
            .ast
            .sagas
            .iter()
            .filter(|s| s.trigger.as_ref().is_some_and(|t| &t.value.0 == event))
        {
            operations.insert(
                format!("{}Receives{id}", operation_prefix(&saga.name.value)),
                json!({
                    "action": "receive",
                    "channel": { "$ref": format!("#/channels/{id}") },
                    "summary": format!("saga {} starts", saga.name.value),
                }),
            );
        }
    }
    components.finish();
    let mut schemas: Map<String, Value> = components.schemas.into_iter().collect();
    for schema in schemas.values_mut() {
        asyncapi_discriminators(schema);
    }
    object!({
        "asyncapi": "3.0.0",
        "info": json!({ "title": format!("{project} events"), "version": version, "description": format!("Every event of the {project} project") }),
        "channels": channels,
        "operations": operations,
        "components": object!({
            "messages": messages,
            "schemas": schemas,
        }),
    })
}

/// AsyncAPI's schema dialect names the discriminator property with a plain
/// string (OpenAPI's is an object with a mapping).
fn asyncapi_discriminators(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("discriminator")
                .and_then(|d| d.get("propertyName"))
                .cloned()
            {
                map.insert("discriminator".into(), name);
            }
            for v in map.values_mut() {
                asyncapi_discriminators(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(asyncapi_discriminators),
        _ => {}
    }
}

/// `Order.created` -> `OrderCreated`.
fn channel_id(event: &str) -> String {
    crate::names::to_pascal(event)
}

fn operation_prefix(owner: &str) -> String {
    crate::names::to_camel(owner)
}

/// The queue an event travels on: `Order.created` -> `order-created` (the
/// one documented mapping, shared with the wrangler emitter).
pub fn queue_name(event: &str) -> String {
    crate::names::to_kebab(event)
}
