//! Manifest types as Rust types: a struct per object, an enum per
//! enumeration, an internally tagged enum per `oneOf`, each with serde
//! (JSON names as written) and a `validate()` that checks every
//! constraint and reports all violations with their JSON paths.
//!
//! The set and the names of the types are those of the OpenAPI
//! components ([`Components::name`]): a type with `readOnly` fields has a
//! second struct for requests (`OrderInput`), so what a handler receives
//! and returns is exactly what the service's OpenAPI document describes.

use super::names::{RESERVED_TYPES, ident, pascal, snake};
use super::rt;
use crate::ast::{Constraints, Field, Number, Primitive, TypeBody, TypeExpr, TypeExprKind};
use crate::emit::schemas::{Components, Mode};
use crate::load::Node;
use crate::resolve::Model;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use std::collections::{BTreeMap, BTreeSet};

/// The Rust types a crate needs, collected while the rest of the crate is
/// emitted, and emitted together at the end.
pub struct Types<'m> {
    model: &'m Model,
    components: Components<'m>,
    pending: BTreeSet<(usize, Mode)>,
    done: BTreeSet<(usize, Mode)>,
    /// Inline `enum[...]` types by Rust name.
    inline_enums: BTreeMap<String, Vec<String>>,
    /// `pattern:` sources, numbered.
    patterns: BTreeMap<String, usize>,
    /// Default-value functions by name.
    defaults: BTreeMap<String, TokenStream>,
    /// Emitted items by name (sorted output).
    items: BTreeMap<String, TokenStream>,
}

fn doc(text: &str) -> TokenStream {
    let lines: Vec<String> = text.lines().map(|l| format!(" {}", l.trim_end())).collect();
    quote! { #(#[doc = #lines])* }
}

/// Doc attributes for optional text.
pub fn docs(text: Option<&str>) -> TokenStream {
    text.map(doc).unwrap_or_default()
}

/// A bound as the `f64` the check functions take: exact, since `svcc
/// check` refuses bounds that are not finite or not exact as an `f64`
/// (E0213), so `1.0` here is exactly the manifest's `1`.
fn opt_f64(v: Option<&Number>) -> TokenStream {
    match v.map(Number::as_f64) {
        Some(v) => {
            let lit = proc_macro2::Literal::f64_unsuffixed(v);
            quote! { Some(#lit) }
        }
        None => quote! { None },
    }
}

fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(v) => {
            let v = proc_macro2::Literal::u64_unsuffixed(v);
            quote! { Some(#v) }
        }
        None => quote! { None },
    }
}

impl<'m> Types<'m> {
    /// An empty set for a model.
    pub fn new(model: &'m Model) -> Self {
        Types {
            model,
            components: Components::new(model),
            pending: BTreeSet::new(),
            done: BTreeSet::new(),
            inline_enums: BTreeMap::new(),
            patterns: BTreeMap::new(),
            defaults: BTreeMap::new(),
            items: BTreeMap::new(),
        }
    }

    /// The Rust name of a named type in a mode; registers it for emission.
    pub fn named(&mut self, index: usize, mode: Mode) -> String {
        let mode = self.components.effective_mode(index, mode);
        if !self.done.contains(&(index, mode)) {
            self.pending.insert((index, mode));
        }
        let name = self.components.name(index, mode);
        if RESERVED_TYPES.contains(&name.as_str()) {
            format!("{name}Type")
        } else {
            name
        }
    }

    /// Whether `name` is taken by a type of the crate (for naming inline enums).
    fn taken(&self, name: &str) -> bool {
        self.model.type_index(name, false).is_some()
            || self
                .model
                .type_index(name.trim_end_matches("Input"), false)
                .is_some()
    }

    /// The Rust type of an expression. `context` names inline enums
    /// (`CancelOrder` + `reason` -> `CancelOrderReason`).
    pub fn rust_type(&mut self, expr: &TypeExpr, mode: Mode, context: &str) -> TokenStream {
        match &expr.kind {
            TypeExprKind::Primitive(p) => primitive(*p),
            TypeExprKind::List(t) | TypeExprKind::Set(t) => {
                let inner = self.rust_type(t, mode, context);
                quote! { Vec<#inner> }
            }
            TypeExprKind::Map(t) => {
                let inner = self.rust_type(t, mode, context);
                quote! { std::collections::BTreeMap<String, #inner> }
            }
            TypeExprKind::Optional(t) => {
                let inner = self.rust_type(t, mode, context);
                quote! { Option<#inner> }
            }
            TypeExprKind::Enum(values) => {
                let mut name = pascal(context);
                if self.taken(&name) {
                    name.push_str("Value");
                }
                let values: Vec<String> = values.iter().map(|(v, _)| v.clone()).collect();
                let name = match self.inline_enums.get(&name) {
                    Some(existing) if *existing != values => {
                        let mut i = 2;
                        while self.inline_enums.contains_key(&format!("{name}{i}")) {
                            i += 1;
                        }
                        format!("{name}{i}")
                    }
                    _ => name,
                };
                self.inline_enums.insert(name.clone(), values);
                qualified(&name)
            }
            TypeExprKind::Named { name, library } => match self.model.type_index(name, *library) {
                Some(i) => {
                    let name = self.named(i, mode);
                    qualified(&name)
                }
                None => quote! { rt::Json },
            },
        }
    }

    /// Whether values of the expression have a `validate()` worth calling.
    fn validates(&self, expr: &TypeExpr) -> bool {
        match &expr.kind {
            TypeExprKind::List(t)
            | TypeExprKind::Set(t)
            | TypeExprKind::Map(t)
            | TypeExprKind::Optional(t) => self.validates(t),
            TypeExprKind::Named { name, library } => {
                self.model.type_named(name, *library).is_some_and(|d| {
                    matches!(d.body, TypeBody::Object { .. } | TypeBody::OneOf { .. })
                })
            }
            _ => false,
        }
    }

    /// Whether values of the expression hold, outside named types, a
    /// `uuid`, `date` or `date-time`, whose parsers accept more than the
    /// schema's formats: such values decode through `rt::Strict`.
    pub fn strict(&self, expr: &TypeExpr) -> bool {
        match &expr.kind {
            TypeExprKind::List(t)
            | TypeExprKind::Set(t)
            | TypeExprKind::Map(t)
            | TypeExprKind::Optional(t) => self.strict(t),
            TypeExprKind::Primitive(p) => {
                matches!(p, Primitive::Uuid | Primitive::Date | Primitive::Datetime)
            }
            _ => false,
        }
    }

    /// Whether the typed decode and the checks of values of the expression
    /// refuse everything their JSON Schema refuses. Not when a `pattern`
    /// or a length applies to a value that is parsed (a decimal, a date, a
    /// UUID...): the checks see its canonical text, the schema the text
    /// as sent. Those bodies are checked against the schema first.
    pub fn exact(&self, expr: &TypeExpr) -> bool {
        // once per model for every type, not a walk per route
        let mut exact = true;
        crate::resolve::visit_named(expr, &mut |name, library, _| {
            if let Some(index) = self.model.type_index(name, library) {
                exact &= !self.model.checks_parsed_text(index);
            }
        });
        exact
    }

    fn pattern(&mut self, source: &str) -> syn::Ident {
        let n = self.patterns.len();
        let i = *self.patterns.entry(source.to_string()).or_insert(n);
        format_ident!("PATTERN_{}", i)
    }

    /// Statements checking the value `x` (a `&T` in scope) against the
    /// constraints; `at` is in scope as `&rt::At`, `out` as
    /// `&mut rt::Violations`.
    pub fn checks(&mut self, expr: &TypeExpr, c: &Constraints) -> TokenStream {
        let value = quote! { x };
        match &expr.kind {
            TypeExprKind::Optional(inner) => {
                let body = self.checks(inner, c);
                if body.is_empty() {
                    quote! {}
                } else {
                    quote! { if let Some(x) = x { #body } }
                }
            }
            TypeExprKind::Primitive(p) => self.primitive_checks(value, *p, c),
            TypeExprKind::List(inner) | TypeExprKind::Set(inner) => {
                let mut out = TokenStream::new();
                if c.min_items.is_some() || c.max_items.is_some() {
                    let f = rt::check("items");
                    let min = opt_u64(c.min_items.as_ref().map(|v| v.value));
                    let max = opt_u64(c.max_items.as_ref().map(|v| v.value));
                    out.extend(quote! { #f(out, at, #value.len(), #min, #max); });
                }
                if matches!(expr.kind, TypeExprKind::Set(_)) {
                    let f = rt::check("unique");
                    out.extend(quote! { #f(out, at, #value); });
                }
                if self.validates(inner) {
                    out.extend(quote! { rt::Validate::validate_at(#value, at, out); });
                }
                out
            }
            TypeExprKind::Map(inner) => {
                if self.validates(inner) {
                    quote! { rt::Validate::validate_at(#value, at, out); }
                } else {
                    quote! {}
                }
            }
            TypeExprKind::Named { .. } => {
                if self.validates(expr) {
                    quote! { rt::Validate::validate_at(#value, at, out); }
                } else {
                    quote! {}
                }
            }
            TypeExprKind::Enum(_) => quote! {},
        }
    }

    fn primitive_checks(
        &mut self,
        value: TokenStream,
        p: Primitive,
        c: &Constraints,
    ) -> TokenStream {
        let mut out = TokenStream::new();
        fn v(s: &Option<crate::source::Spanned<Number>>) -> Option<&Number> {
            s.as_ref().map(|x| &x.value)
        }
        if p.is_numeric()
            && (c.min.is_some()
                || c.max.is_some()
                || c.exclusive_min.is_some()
                || c.exclusive_max.is_some())
        {
            let f = rt::check("range");
            let (min, max, emin, emax) = (
                opt_f64(v(&c.min)),
                opt_f64(v(&c.max)),
                opt_f64(v(&c.exclusive_min)),
                opt_f64(v(&c.exclusive_max)),
            );
            let arg = if p == Primitive::Decimal {
                quote! { #value }
            } else {
                quote! { *#value }
            };
            out.extend(quote! { #f(out, at, #arg, #min, #max, #emin, #emax); });
        }
        if p.is_stringy() {
            let text = match p {
                Primitive::String
                | Primitive::Email
                | Primitive::Uri
                | Primitive::Time
                | Primitive::Duration => {
                    quote! { #value.as_str() }
                }
                _ => quote! { #value.to_string().as_str() },
            };
            if c.min_length.is_some() || c.max_length.is_some() {
                let f = rt::check("length");
                let min = opt_u64(c.min_length.as_ref().map(|x| x.value));
                let max = opt_u64(c.max_length.as_ref().map(|x| x.value));
                out.extend(quote! { #f(out, at, #text, #min, #max); });
            }
            if let Some((source, _)) = &c.pattern {
                let id = self.pattern(source);
                let f = rt::check("pattern");
                out.extend(quote! { #f(out, at, #text, &#id); });
            }
            // string formats, checked as JSON Schema checks them
            let format = match p {
                Primitive::Email => Some("email"),
                Primitive::Uri => Some("uri"),
                Primitive::Time => Some("time"),
                Primitive::Duration => Some("duration"),
                _ => None,
            };
            if let Some(name) = format {
                let f = rt::check(name);
                out.extend(quote! { #f(out, at, #text); });
            }
        }
        out
    }

    /// The Rust value of a `default:` literal, when the type takes one
    /// directly (scalars and enums).
    pub fn default_value(
        &mut self,
        expr: &TypeExpr,
        node: &Node,
        context: &str,
    ) -> Option<TokenStream> {
        let json = node.to_json();
        match (&expr.kind, &json) {
            (
                TypeExprKind::Primitive(Primitive::Integer | Primitive::Int32),
                serde_json::Value::Number(n),
            ) => {
                let i = n.as_i64()?;
                let lit = proc_macro2::Literal::i64_unsuffixed(i);
                Some(quote! { #lit })
            }
            (TypeExprKind::Primitive(Primitive::Number), serde_json::Value::Number(n)) => {
                let f = proc_macro2::Literal::f64_unsuffixed(n.as_f64()?);
                Some(quote! { #f })
            }
            (TypeExprKind::Primitive(Primitive::Boolean), serde_json::Value::Bool(b)) => {
                Some(quote! { #b })
            }
            (
                TypeExprKind::Primitive(Primitive::String | Primitive::Email | Primitive::Uri),
                serde_json::Value::String(s),
            ) => Some(quote! { #s.to_string() }),
            (TypeExprKind::Enum(_), serde_json::Value::String(s)) => {
                let ty = self.rust_type(expr, Mode::Request, context);
                let variant = ident(&pascal(s));
                Some(quote! { #ty::#variant })
            }
            (TypeExprKind::Named { name, library }, serde_json::Value::String(s)) => {
                let def = self.model.type_named(name, *library)?;
                let TypeBody::Enum(values) = &def.body else {
                    return None;
                };
                let names =
                    variant_names(&values.iter().map(|v| v.value.clone()).collect::<Vec<_>>());
                let pos = values.iter().position(|v| &v.value == s)?;
                let ty = self.rust_type(expr, Mode::Request, context);
                let variant = ident(&names[pos]);
                Some(quote! { #ty::#variant })
            }
            _ => None,
        }
    }

    /// Emits every registered type (and those they need), then the inline
    /// enums, patterns and default functions: the types half of
    /// `generated.rs`, one item (or pattern, or function) per part.
    pub fn finish(mut self) -> Vec<TokenStream> {
        while let Some((index, mode)) = self.pending.pop_first() {
            if !self.done.insert((index, mode)) {
                continue;
            }
            let Some(def) = self.model.ast.types.get(index) else {
                continue;
            };
            let name = self.named(index, mode);
            let item = match &def.body {
                TypeBody::Object { .. } => {
                    let fields: Vec<&Field> = self
                        .model
                        .all_fields(def)
                        .into_iter()
                        .map(|(f, _)| f)
                        .collect();
                    self.object(&name, def.description.as_deref(), &fields, mode, index)
                }
                TypeBody::Enum(values) => {
                    let values: Vec<String> = values.iter().map(|v| v.value.clone()).collect();
                    enumeration(&name, def.description.as_deref(), &values)
                }
                TypeBody::OneOf {
                    variants,
                    discriminator,
                } => self.union(
                    &name,
                    def.description.as_deref(),
                    variants,
                    &discriminator.value,
                    mode,
                ),
                TypeBody::Invalid => continue,
            };
            self.items.insert(name, item);
        }
        for (name, values) in std::mem::take(&mut self.inline_enums) {
            let item = enumeration(&name, None, &values);
            self.items.insert(name, item);
        }
        let mut out: Vec<TokenStream> = std::mem::take(&mut self.items).into_values().collect();
        for (source, i) in &self.patterns {
            let id = format_ident!("PATTERN_{}", i);
            let d = format!(" `{source}`");
            out.push(quote! {
                #[doc = #d]
                static #id: rt::Pattern = rt::Pattern::new(#source);
            });
        }
        out.extend(std::mem::take(&mut self.defaults).into_values());
        out
    }

    fn object(
        &mut self,
        name: &str,
        description: Option<&str>,
        fields: &[&Field],
        mode: Mode,
        index: usize,
    ) -> TokenStream {
        let id = ident(name);
        let mut members = Vec::new();
        let mut checks = Vec::new();
        let mut debug_fields = Vec::new();
        let mut used = BTreeSet::new();
        // every declaration of each field name in the type and its
        // ancestors, looked up by name (once per type, not once per field)
        let mut declared: std::collections::HashMap<&str, Vec<&Field>> =
            std::collections::HashMap::new();
        if let Some(def) = self.model.ast.types.get(index) {
            for a in declarations(self.model, def) {
                declared.entry(a.name.value.as_str()).or_default().push(a);
            }
        }
        for f in fields {
            let c = &f.constraints;
            if (mode == Mode::Request && c.read_only) || (mode == Mode::Response && c.write_only) {
                continue;
            }
            let Some(ty) = &f.ty else { continue };
            let json_name = f.name.value.as_str();
            let mut rust_name = snake(json_name);
            while !used.insert(rust_name.clone()) {
                rust_name.push('_');
            }
            let field_id = ident(&rust_name);
            debug_fields.push((json_name.to_string(), field_id.clone(), c.sensitive));
            let context = format!("{}{}", name.trim_end_matches("Input"), pascal(json_name));
            let mut rust_ty = self.rust_type(ty, mode, &context);
            // a type that holds itself by value needs a Box: this field's
            // type holds this type back (this type holds it through the field)
            if let TypeExprKind::Named { name: n, library } = &ty.required().kind
                && let Some(target) = self.model.type_index(n, *library)
                && self.model.held_in_cycle(target, index)
            {
                let inner = self.rust_type(ty.required(), mode, &context);
                rust_ty = if ty.is_optional() {
                    quote! { Option<Box<#inner>> }
                } else {
                    quote! { Box<#inner> }
                };
            }
            let mut attrs = Vec::new();
            if rust_name != json_name {
                attrs.push(quote! { rename = #json_name });
            }
            let mut optional = ty.is_optional();
            if !optional && let Some(d) = &c.default {
                match self.default_value(ty, d, &context) {
                    Some(value) => {
                        let fn_name = format!(
                            "default_{}_{}",
                            snake(name),
                            rust_name.trim_start_matches("r#")
                        );
                        let fn_id = ident(&fn_name);
                        let ret = rust_ty.clone();
                        self.defaults.insert(
                            fn_name.clone(),
                            quote! {
                                fn #fn_id() -> #ret { #value }
                            },
                        );
                        attrs.push(quote! { default = #fn_name });
                    }
                    None => {
                        // a default the type cannot spell as a literal: the field is optional
                        rust_ty = quote! { Option<#rust_ty> };
                        optional = true;
                    }
                }
            }
            if optional {
                attrs.push(quote! { default, skip_serializing_if = "Option::is_none" });
            }
            // exactly as strict as the schema: formats as JSON Schema
            // checks them, and no `null` where the schema has none
            let strict = self.strict(ty);
            let defaulted = optional && !ty.is_optional();
            let with = match (strict, defaulted) {
                (true, false) => Some("rt::strict"),
                (true, true) => Some("rt::strict_not_null"),
                (false, true) => Some("rt::not_null"),
                (false, false) => None,
            };
            if let Some(with) = with {
                attrs.push(quote! { deserialize_with = #with });
            }
            let serde_attr = if attrs.is_empty() {
                quote! {}
            } else {
                quote! { #[serde(#(#attrs),*)] }
            };
            let mut doc_text = c.description.clone().unwrap_or_default();
            if c.sensitive {
                if !doc_text.is_empty() {
                    doc_text.push_str("\n\n");
                }
                doc_text.push_str("Personal data: redacted in logs.");
            }
            if c.deprecated {
                if !doc_text.is_empty() {
                    doc_text.push_str("\n\n");
                }
                doc_text.push_str("Deprecated.");
            }
            let field_doc = if doc_text.is_empty() {
                quote! {}
            } else {
                doc(&doc_text)
            };
            members.push(quote! {
                #field_doc
                #serde_attr
                pub #field_id: #rust_ty,
            });
            let expr_ty = if optional && !ty.is_optional() {
                TypeExpr {
                    kind: TypeExprKind::Optional(Box::new(ty.clone())),
                    span: ty.span,
                }
            } else {
                ty.clone()
            };
            let mut body = self.checks(&expr_ty, c);
            // a redeclared field is also held to what its ancestors said
            // (the schema is `allOf: [parent, own]`)
            let own = body.to_string();
            let mut seen = vec![own];
            for &a in declared.get(json_name).into_iter().flatten() {
                if std::ptr::eq(a, *f) {
                    continue;
                }
                let more = self.checks(&expr_ty, &a.constraints);
                let text = more.to_string();
                if !more.is_empty() && !seen.contains(&text) {
                    seen.push(text);
                    body.extend(more);
                }
            }
            if !body.is_empty() {
                checks.push(quote! {
                    {
                        let at = &rt::At::Field(at, #json_name);
                        let x = &self.#field_id;
                        #body
                    }
                });
            }
        }
        let derives = rt::serde_derives(true, true);
        let type_doc = docs(description);
        // personal data never reaches a log through `{:?}`
        let (debug_derive, debug_impl) = if debug_fields.iter().any(|(_, _, sensitive)| *sensitive)
        {
            let entries = debug_fields.iter().map(|(json, fid, sensitive)| {
                if *sensitive {
                    quote! { .field(#json, &"[redacted]") }
                } else {
                    quote! { .field(#json, &self.#fid) }
                }
            });
            (
                quote! {},
                quote! {
                    impl std::fmt::Debug for #id {
                        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                            f.debug_struct(#name) #(#entries)* .finish()
                        }
                    }
                },
            )
        } else {
            (quote! { Debug, }, quote! {})
        };
        let (at, out) = if checks.is_empty() {
            (quote! { _at }, quote! { _out })
        } else {
            (quote! { at }, quote! { out })
        };
        quote! {
            #type_doc
            #[derive(#debug_derive Clone, PartialEq)]
            #derives
            pub struct #id {
                #(#members)*
            }

            #debug_impl

            impl rt::Validate for #id {
                fn validate_at(&self, #at: &rt::At<'_>, #out: &mut rt::Violations) {
                    #(#checks)*
                }
            }
        }
    }

    fn union(
        &mut self,
        name: &str,
        description: Option<&str>,
        variants: &[(crate::source::Spanned<String>, TypeExpr)],
        discriminator: &str,
        mode: Mode,
    ) -> TokenStream {
        let id = ident(name);
        let tags: Vec<String> = variants.iter().map(|(t, _)| t.value.clone()).collect();
        let names = variant_names(&tags);
        let mut arms = Vec::new();
        let mut checks = Vec::new();
        for ((tag, expr), vname) in variants.iter().zip(&names) {
            let v = ident(vname);
            let ty = self.rust_type(expr, mode, &format!("{name}{vname}"));
            let tag = tag.value.as_str();
            arms.push(quote! {
                #[serde(rename = #tag)]
                #v(#ty),
            });
            checks.push(quote! { Self::#v(v) => rt::Validate::validate_at(v, at, out), });
        }
        let derives = rt::serde_derives(true, true);
        let type_doc = docs(description);
        quote! {
            #type_doc
            #[derive(Debug, Clone, PartialEq)]
            #derives
            #[serde(tag = #discriminator)]
            pub enum #id {
                #(#arms)*
            }

            impl rt::Validate for #id {
                fn validate_at(&self, at: &rt::At<'_>, out: &mut rt::Violations) {
                    match self {
                        #(#checks)*
                    }
                }
            }
        }
    }
}

/// Every field declaration of an object type and its ancestors,
/// redeclared ones included (`Model::all_fields` keeps the last).
fn declarations<'m>(model: &'m Model, def: &'m crate::ast::TypeDef) -> Vec<&'m Field> {
    model
        .extends_chain(def)
        .into_iter()
        .flat_map(|d| match &d.body {
            TypeBody::Object { fields, .. } => fields.as_slice(),
            _ => &[],
        })
        .collect()
}

/// Names that generated modules define for themselves (`create_order::Input`,
/// `Error`, `Context`; the user's `Handlers`): a project type of such a
/// name is written with its full path so it is never shadowed.
const SHADOWED: [&str; 4] = ["Input", "Error", "Context", "Handlers"];

/// A reference to a type of `generated.rs`, qualified when a module-local
/// name could shadow it.
fn qualified(name: &str) -> TokenStream {
    let id = ident(name);
    if SHADOWED.contains(&name) {
        quote! { crate::generated::#id }
    } else {
        quote! { #id }
    }
}

/// Rust variant names for enum values, unique.
pub fn variant_names(values: &[String]) -> Vec<String> {
    let mut used = BTreeSet::new();
    values
        .iter()
        .map(|v| {
            let base = pascal(v);
            let mut n = base.clone();
            let mut i = 2;
            while !used.insert(n.clone()) {
                n = format!("{base}{i}");
                i += 1;
            }
            n
        })
        .collect()
}

fn enumeration(name: &str, description: Option<&str>, values: &[String]) -> TokenStream {
    let id = ident(name);
    let names = variant_names(values);
    let variants: Vec<TokenStream> = values
        .iter()
        .zip(&names)
        .map(|(v, n)| {
            let vid = ident(n);
            quote! {
                #[serde(rename = #v)]
                #vid,
            }
        })
        .collect();
    let arms: Vec<TokenStream> = values
        .iter()
        .zip(&names)
        .map(|(v, n)| {
            let vid = ident(n);
            quote! { Self::#vid => #v, }
        })
        .collect();
    let all: Vec<TokenStream> = names
        .iter()
        .map(|n| {
            let vid = ident(n);
            quote! { Self::#vid }
        })
        .collect();
    let count = values.len();
    let derives = rt::serde_derives(true, true);
    let type_doc = docs(description);
    let message = format!(
        "`{{s}}` is not one of: {}",
        values.join(", ").replace('{', "{{").replace('}', "}}")
    );
    quote! {
        #type_doc
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #derives
        pub enum #id {
            #(#variants)*
        }

        impl #id {
            /// Every value, in the manifest's order.
            pub const ALL: [Self; #count] = [#(#all),*];

            /// The value as written in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    #(#arms)*
                }
            }
        }

        impl std::fmt::Display for #id {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl rt::FromParam for #id {
            fn from_param(s: &str) -> Result<Self, String> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!(#message))
            }
        }

        impl std::str::FromStr for #id {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <Self as rt::FromParam>::from_param(s)
            }
        }

        impl rt::Validate for #id {
            fn validate_at(&self, _at: &rt::At<'_>, _out: &mut rt::Violations) {}
        }
    }
}

/// The Rust type of a primitive.
pub fn primitive(p: Primitive) -> TokenStream {
    match p {
        Primitive::String
        | Primitive::Email
        | Primitive::Uri
        | Primitive::Time
        | Primitive::Duration => {
            quote! { String }
        }
        Primitive::Boolean => quote! { bool },
        Primitive::Integer => quote! { i64 },
        Primitive::Int32 => quote! { i32 },
        Primitive::Number => quote! { f64 },
        Primitive::Decimal => quote! { rt::Decimal },
        Primitive::Date => quote! { rt::Date },
        Primitive::Datetime => quote! { rt::DateTime },
        Primitive::Uuid => quote! { rt::Uuid },
        Primitive::Bytes => quote! { rt::Bytes },
        Primitive::Json => quote! { rt::Json },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_become_the_exact_f64_literal() {
        // what `svcc check` lets through (E0213) is exact as an f64, so the
        // literal reads back as the manifest's number
        let cases = [
            Number::Int(9_007_199_254_740_992),
            Number::Int(-9_007_199_254_740_994),
            Number::Int(i64::MIN),
            Number::Int(7),
            Number::Float(1e18, "1e18".into()),
            Number::Float(-0.1, "-0.1".into()),
        ];
        for n in cases {
            let text = opt_f64(Some(&n)).to_string();
            let lit = text
                .strip_prefix("Some (")
                .and_then(|t| t.strip_suffix(')'))
                .map(|t| t.replace(' ', ""))
                .unwrap_or_default();
            assert!(
                lit.contains('.') || lit.contains('e'),
                "{lit}: not an f64 literal"
            );
            assert_eq!(lit.parse::<f64>().ok(), Some(n.as_f64()), "{lit}");
            if let Number::Int(i) = n {
                assert_eq!(lit.parse::<f64>().map(|f| f as i64).ok(), Some(i), "{lit}");
            }
        }
    }
}
