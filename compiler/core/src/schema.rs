//! The JSON Schema (draft-07) of the manifest format, generated from the
//! same shape table the validator uses ([`crate::lower::shape`]), so the
//! editor schema and the checker cannot disagree about which keys exist.
//!
//! `svcc schema` prints it; `schemas/svcc.schema.json` is the committed copy
//! (a test fails when it is stale). The VS Code YAML extension reads it for
//! completion and checks while typing.

use crate::lower::shape::{self, Block, Ident, Value};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// The whole schema, pretty-printed, with a final newline.
pub fn manifest_schema() -> String {
    let mut defs: BTreeMap<&'static str, Json> = BTreeMap::new();
    let documents: Vec<&Block> = shape::KINDS
        .iter()
        .filter_map(|k| shape::document(k))
        .collect();
    for block in &documents {
        define(block, &mut defs);
    }
    let branches: Vec<Json> = documents
        .iter()
        .map(|b| {
            json!({
                "if": { "properties": { "kind": { "const": b.name } }, "required": ["kind"] },
                "then": { "$ref": format!("#/definitions/{}", b.name) }
            })
        })
        .collect();
    let schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "svcc manifest",
        "description": "A document of an svcc project: kind Types, Service, Saga, Pricing or Deployment",
        "type": "object",
        "required": ["kind", "name"],
        "properties": { "kind": { "enum": shape::KINDS } },
        "allOf": branches,
        "definitions": defs,
    });
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

fn define(block: &'static Block, defs: &mut BTreeMap<&'static str, Json>) {
    if defs.contains_key(block.name) {
        return;
    }
    defs.insert(block.name, Json::Null);
    let mut properties = Map::new();
    for f in block.fields {
        let mut schema = value_schema(&f.value, defs);
        if let Json::Object(m) = &mut schema {
            m.insert(
                "description".into(),
                Json::String(f.description.to_string()),
            );
        }
        properties.insert(f.key.to_string(), schema);
    }
    let required: Vec<&str> = block
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.key)
        .collect();
    let mut def = json!({
        "type": "object",
        "description": block.description,
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty()
        && let Json::Object(m) = &mut def
    {
        m.insert("required".into(), json!(required));
    }
    defs.insert(block.name, def);
}

fn pattern(rule: Ident) -> &'static str {
    match rule {
        Ident::Pascal => "^[A-Z][A-Za-z0-9]*$",
        Ident::CamelOrSnake => "^[a-z][A-Za-z0-9]*$|^[a-z][a-z0-9_]*$",
        Ident::Kebab => "^[a-z][a-z0-9]*(-[a-z0-9]+)*$",
        Ident::Wrangler => "^[A-Za-z_][A-Za-z0-9_-]*$",
    }
}

fn value_schema(value: &Value, defs: &mut BTreeMap<&'static str, Json>) -> Json {
    match value {
        Value::String | Value::RouteKey => json!({ "type": "string" }),
        Value::Name(rule) => json!({ "type": "string", "pattern": pattern(*rule) }),
        Value::Integer => json!({ "type": "integer" }),
        Value::Number => json!({ "type": "number" }),
        Value::Boolean => json!({ "type": "boolean" }),
        Value::Any => json!({}),
        Value::Duration => json!({ "type": "string", "pattern": "^([0-9]+(ms|s|m|h|d))+$" }),
        Value::Rate => {
            json!({ "type": "string", "pattern": "^[1-9][0-9]* ?/ ?(s|min|h|day)( +per +(user|ip|key|global))?$" })
        }
        Value::Type => json!({ "type": "string" }),
        Value::Version => json!({ "type": ["string", "number"] }),
        Value::Event => {
            json!({ "type": "string", "pattern": "^(\\$\\.)?[A-Z][A-Za-z0-9]*\\.[a-z][a-z0-9_]*$" })
        }
        Value::Operation => {
            json!({ "type": "string", "pattern": "^(\\$\\.)?[A-Z][A-Za-z0-9]*\\.[A-Za-z][A-Za-z0-9_]*$" })
        }
        Value::OneOf(values) => json!({ "enum": values }),
        Value::List(item) => json!({ "type": "array", "items": value_schema(item, defs) }),
        Value::Map { key, value } => {
            let mut m =
                json!({ "type": "object", "additionalProperties": value_schema(value, defs) });
            if let (Value::Name(rule), Json::Object(obj)) = (key, &mut m) {
                obj.insert("propertyNames".into(), json!({ "pattern": pattern(*rule) }));
            }
            m
        }
        Value::Block(block) => {
            define(block, defs);
            json!({ "$ref": format!("#/definitions/{}", block.name) })
        }
        Value::Either(a, b) => json!({ "anyOf": [value_schema(a, defs), value_schema(b, defs)] }),
    }
}
