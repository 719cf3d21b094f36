//! Manifest types as JSON Schema (2020-12, the dialect of OpenAPI 3.1 and
//! AsyncAPI 3.0's default), shared by every API-description emitter.
//!
//! Rules, each a decision a reader of the output can rely on:
//! - a named type is a component, referenced with `$ref`;
//! - an optional field is not `required`, and its value may also be `null`;
//! - `extends` is `allOf: [parent, own]`, and no schema is ever closed with
//!   `additionalProperties: false` (inside an `allOf` that rejects every
//!   real value);
//! - `oneOf` unions get one component per variant that adds the
//!   discriminator property, and `discriminator.mapping` points at them;
//! - a type with `readOnly` fields (itself or nested) also gets an `…Input`
//!   component without them, used for request bodies; `writeOnly` fields are
//!   left out of the plain (response) component.

use super::json::object;
use crate::ast::{
    Compensation, Constraints, Field, Number, Origin, Primitive, Route, TypeBody, TypeDef,
    TypeExpr, TypeExprKind,
};
use crate::load::Node;
use crate::resolve::Model;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// Which side of the wire a schema describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    /// Sent by the server: no `writeOnly` fields.
    Response,
    /// Sent by a client: no `readOnly` fields.
    Request,
}

/// The side of the wire a route's request body is on: a client's
/// ([`Mode::Request`], no `readOnly` fields), except for an operation that
/// a saga step runs or compensates with. A saga passes values that
/// services sent (its trigger's payload, the outputs of earlier steps),
/// server-set fields included, so that operation takes its body whole
/// ([`Mode::Response`]): `InventoryService.reserve` needs the id of the
/// Order it holds stock for, as a state transition used as a step gets its
/// entity's.
pub fn body_mode(model: &Model, service: &str, route: &Route) -> Mode {
    let Some(operation) = &route.operation else {
        return Mode::Request;
    };
    let runs = |op: &crate::syntax::reference::OperationRef| {
        op.service == service && op.operation == operation.value
    };
    let saga_called = model
        .ast
        .sagas
        .iter()
        .flat_map(|s| s.all_steps())
        .any(|step| {
            step.action.as_ref().is_some_and(|a| runs(&a.value))
                || matches!(&step.compensate, Some(Compensation::Operation(c)) if runs(&c.value))
        });
    if saga_called {
        Mode::Response
    } else {
        Mode::Request
    }
}

/// Collects the components that the schemas it builds refer to.
pub struct Components<'m> {
    model: &'m Model,
    /// Components still to define, by (type index, mode).
    pending: BTreeSet<(usize, Mode)>,
    /// Finished components by name.
    pub schemas: BTreeMap<String, Value>,
}

impl<'m> Components<'m> {
    /// An empty set.
    pub fn new(model: &'m Model) -> Self {
        Components {
            model,
            pending: BTreeSet::new(),
            schemas: BTreeMap::new(),
        }
    }

    /// The component name of a type in a mode (`Order`, `OrderInput`).
    pub fn name(&self, index: usize, mode: Mode) -> String {
        let Some(def) = self.model.ast.types.get(index) else {
            return "Unknown".into();
        };
        let base = if def.origin == Origin::Library
            && self.model.type_index(&def.name.value, false) != Some(index)
        {
            format!("SchemaOrg{}", def.name.value)
        } else {
            def.name.value.clone()
        };
        if mode != Mode::Request {
            return base;
        }
        // `OrderInput`, unless the project has a type of that name
        let input = format!("{base}Input");
        if self.model.type_index(&input, false).is_some() {
            format!("{base}RequestBody")
        } else {
            input
        }
    }

    /// Whether requests and responses see the type at `index` differently
    /// (computed once per model: [`Model::directional`]).
    pub fn is_directional(&mut self, index: usize) -> bool {
        self.model.directional(index)
    }

    /// The mode whose component describes the type: `Request` only for a
    /// directional type on the request side.
    pub fn effective_mode(&mut self, index: usize, mode: Mode) -> Mode {
        if mode == Mode::Request && self.is_directional(index) {
            Mode::Request
        } else {
            Mode::Response
        }
    }

    /// A `$ref` to the component of the type at `index` (defined later by `finish`).
    pub fn reference(&mut self, index: usize, mode: Mode) -> Value {
        let mode = self.effective_mode(index, mode);
        let name = self.name(index, mode);
        if !self.schemas.contains_key(&name) {
            self.pending.insert((index, mode));
        }
        object!({ "$ref": format!("#/components/schemas/{name}") })
    }

    /// The schema of a type expression.
    pub fn expr(&mut self, expr: &TypeExpr, mode: Mode) -> Value {
        match &expr.kind {
            TypeExprKind::Primitive(p) => primitive(*p),
            TypeExprKind::List(t) => object!({ "type": "array", "items": self.expr(t, mode) }),
            TypeExprKind::Set(t) => {
                object!({ "type": "array", "uniqueItems": true, "items": self.expr(t, mode) })
            }
            TypeExprKind::Map(t) => {
                object!({ "type": "object", "additionalProperties": self.expr(t, mode) })
            }
            TypeExprKind::Optional(t) => nullable(self.expr(t, mode)),
            TypeExprKind::Enum(values) => {
                json!({ "type": "string", "enum": values.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>() })
            }
            TypeExprKind::Named { name, library } => match self.model.type_index(name, *library) {
                Some(i) => self.reference(i, mode),
                None => json!({}),
            },
        }
    }

    /// The schema of a field: its type plus its constraints.
    pub fn field(&mut self, field: &Field, mode: Mode) -> Value {
        let base = field.ty.as_ref().map_or(json!({}), |t| self.expr(t, mode));
        let decimal = field.ty.as_ref().is_some_and(|t| {
            matches!(
                t.required().kind,
                TypeExprKind::Primitive(Primitive::Decimal)
            )
        });
        with_constraints(base, &field.constraints, decimal)
    }

    /// Defines every component referenced so far, and those they refer to.
    pub fn finish(&mut self) {
        while let Some((index, mode)) = self.pending.pop_first() {
            let name = self.name(index, mode);
            if self.schemas.contains_key(&name) {
                continue;
            }
            self.schemas.insert(name.clone(), Value::Null);
            let Some(def) = self.model.ast.types.get(index) else {
                continue;
            };
            let schema = self.definition(def, mode);
            self.schemas.insert(name, schema);
        }
    }

    fn definition(&mut self, def: &'m TypeDef, mode: Mode) -> Value {
        let mut schema = match &def.body {
            TypeBody::Enum(values) => {
                json!({ "type": "string", "enum": values.iter().map(|v| v.value.as_str()).collect::<Vec<_>>() })
            }
            TypeBody::OneOf {
                variants,
                discriminator,
            } => self.union(def, variants, &discriminator.value, mode),
            TypeBody::Object { extends, fields } => {
                let own = self.object(fields, mode);
                match extends.as_ref().and_then(|p| match &p.kind {
                    TypeExprKind::Named { name, library } => self.model.type_index(name, *library),
                    _ => None,
                }) {
                    Some(parent) => object!({ "allOf": vec![self.reference(parent, mode), own] }),
                    None => own,
                }
            }
            TypeBody::Invalid => json!({}),
        };
        if let (Some(d), Value::Object(m)) = (&def.description, &mut schema) {
            m.insert("description".into(), Value::String(d.clone()));
        }
        if def.deprecated
            && let Value::Object(m) = &mut schema
        {
            m.insert("deprecated".into(), Value::Bool(true));
        }
        if def.origin == Origin::Library
            && let Value::Object(m) = &mut schema
        {
            m.insert(
                "externalDocs".into(),
                json!({ "url": format!("https://schema.org/{}", def.name.value) }),
            );
        }
        schema
    }

    fn object(&mut self, fields: &[Field], mode: Mode) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for f in fields {
            let c = &f.constraints;
            if (mode == Mode::Request && c.read_only) || (mode == Mode::Response && c.write_only) {
                continue;
            }
            properties.insert(f.name.value.clone(), self.field(f, mode));
            if f.is_required() {
                required.push(f.name.value.clone());
            }
        }
        let mut schema = object!({ "type": "object", "properties": properties });
        if !required.is_empty()
            && let Value::Object(m) = &mut schema
        {
            m.insert("required".into(), Value::from(required));
        }
        schema
    }

    fn union(
        &mut self,
        def: &TypeDef,
        variants: &[(crate::source::Spanned<String>, TypeExpr)],
        discriminator: &str,
        mode: Mode,
    ) -> Value {
        let mut one_of = Vec::new();
        let mut mapping = Map::new();
        for (tag, expr) in variants {
            let suffix = if mode == Mode::Request { "Input" } else { "" };
            let name = format!("{}{}{suffix}", def.name.value, pascal(&tag.value));
            let reference = format!("#/components/schemas/{name}");
            let own = json!({
                "type": "object",
                "properties": { discriminator: { "type": "string", "const": tag.value } },
                "required": [discriminator]
            });
            let variant = object!({ "allOf": vec![self.expr(expr, mode), own] });
            self.schemas.insert(name, variant);
            one_of.push(object!({ "$ref": reference.clone() }));
            mapping.insert(tag.value.clone(), Value::String(reference));
        }
        let discriminator = object!({ "propertyName": discriminator, "mapping": mapping });
        object!({ "oneOf": one_of, "discriminator": discriminator })
    }
}

fn pascal(tag: &str) -> String {
    crate::names::to_pascal(tag)
}

/// `T?`: the value may also be null.
fn nullable(mut schema: Value) -> Value {
    if let Value::Object(m) = &mut schema
        && !m.contains_key("$ref")
        && let Some(Value::String(t)) = m.get_mut("type")
    {
        let t = std::mem::take(t);
        m.insert("type".into(), Value::from(vec![t, "null".into()]));
        // `enum` applies to null too: without it, `null` is refused
        if let Some(Value::Array(values)) = m.get_mut("enum") {
            values.push(Value::Null);
        }
        return schema;
    }
    object!({ "anyOf": vec![schema, json!({ "type": "null" })] })
}

/// Built-in scalar types.
pub fn primitive(p: Primitive) -> Value {
    match p {
        Primitive::String => json!({ "type": "string" }),
        Primitive::Boolean => json!({ "type": "boolean" }),
        Primitive::Integer => json!({ "type": "integer", "format": "int64" }),
        Primitive::Int32 => json!({ "type": "integer", "format": "int32" }),
        Primitive::Number => json!({ "type": "number", "format": "double" }),
        Primitive::Decimal => {
            json!({ "type": "string", "format": "decimal", "pattern": "^-?[0-9]+(\\.[0-9]+)?$" })
        }
        Primitive::Date => json!({ "type": "string", "format": "date" }),
        Primitive::Datetime => json!({ "type": "string", "format": "date-time" }),
        Primitive::Time => json!({ "type": "string", "format": "time" }),
        Primitive::Duration => json!({ "type": "string", "format": "duration" }),
        Primitive::Uuid => json!({ "type": "string", "format": "uuid" }),
        Primitive::Email => json!({ "type": "string", "format": "email" }),
        Primitive::Uri => json!({ "type": "string", "format": "uri" }),
        Primitive::Bytes => json!({ "type": "string", "contentEncoding": "base64" }),
        Primitive::Json => json!({}),
    }
}

/// A bound exactly as checked (E0213): integers, and whole floats such as
/// `1e3`, as JSON integers; other floats as floats.
fn number(v: &Number) -> Value {
    match v.as_i64() {
        Some(i) => json!(i),
        None => json!(v.as_f64()),
    }
}

/// Adds a field's constraints to its schema. Decimal bounds are
/// `x-svcc-minimum`/`x-svcc-maximum`: decimals are JSON strings, and JSON
/// Schema's numeric keywords do not apply to strings.
pub fn with_constraints(mut schema: Value, c: &Constraints, decimal: bool) -> Value {
    let Value::Object(m) = &mut schema else {
        return schema;
    };
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    let (min, max, emin, emax) = if decimal {
        (
            "x-svcc-minimum",
            "x-svcc-maximum",
            "x-svcc-exclusiveMinimum",
            "x-svcc-exclusiveMaximum",
        )
    } else {
        ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
    };
    if let Some(d) = &c.description {
        put("description", Value::String(d.clone()));
    }
    if let Some(v) = &c.min {
        put(min, number(&v.value));
    }
    if let Some(v) = &c.max {
        put(max, number(&v.value));
    }
    if let Some(v) = &c.exclusive_min {
        put(emin, number(&v.value));
    }
    if let Some(v) = &c.exclusive_max {
        put(emax, number(&v.value));
    }
    if let Some(v) = &c.min_length {
        put("minLength", json!(v.value));
    }
    if let Some(v) = &c.max_length {
        put("maxLength", json!(v.value));
    }
    if let Some((p, _)) = &c.pattern {
        put("pattern", Value::String(p.clone()));
    }
    if let Some(v) = &c.min_items {
        put("minItems", json!(v.value));
    }
    if let Some(v) = &c.max_items {
        put("maxItems", json!(v.value));
    }
    if c.read_only {
        put("readOnly", Value::Bool(true));
    }
    if c.write_only {
        put("writeOnly", Value::Bool(true));
    }
    if c.deprecated {
        put("deprecated", Value::Bool(true));
    }
    if c.sensitive {
        put("x-svcc-sensitive", Value::Bool(true));
    }
    if let Some(d) = &c.default {
        put("default", literal(d));
    }
    if let Some(e) = &c.example {
        put("examples", Value::Array(vec![literal(e)]));
    }
    schema
}

/// A manifest literal as JSON.
pub fn literal(node: &Node) -> Value {
    node.to_json()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{FileId, Span, Spanned};

    fn at(n: Number) -> Option<Spanned<Number>> {
        Some(Spanned::new(n, Span::new(FileId(0), 0, 0)))
    }

    #[test]
    fn bounds_that_pass_check_are_emitted_exactly() {
        // integers past 2^53 used to become floats, rounded
        let c = Constraints {
            min: at(Number::Int(-9_007_199_254_740_992)),
            max: at(Number::Int(9_007_199_254_740_994)),
            exclusive_min: at(Number::Float(-1e18, "-1e18".into())),
            exclusive_max: at(Number::Float(0.5, "0.5".into())),
            ..Constraints::default()
        };
        let s = with_constraints(json!({ "type": "integer" }), &c, false);
        assert_eq!(s["minimum"].as_i64(), Some(-9_007_199_254_740_992));
        assert_eq!(s["maximum"].as_i64(), Some(9_007_199_254_740_994));
        assert_eq!(
            s["exclusiveMinimum"].as_i64(),
            Some(-1_000_000_000_000_000_000)
        );
        assert_eq!(s["exclusiveMaximum"].as_f64(), Some(0.5));
        assert_eq!(
            serde_json::to_string(&s["maximum"]).unwrap_or_default(),
            "9007199254740994"
        );
    }

    #[test]
    fn an_optional_inline_enum_takes_null() {
        let s = nullable(json!({ "type": "string", "enum": ["a", "b"] }));
        assert_eq!(
            s,
            json!({ "type": ["string", "null"], "enum": ["a", "b", null] })
        );
        let s = nullable(json!({ "$ref": "#/components/schemas/E" }));
        assert_eq!(
            s,
            json!({ "anyOf": [{ "$ref": "#/components/schemas/E" }, { "type": "null" }] })
        );
    }
}
