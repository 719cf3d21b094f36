//! An operation's typed input: its path, query and header parameters and
//! its body, as the members of the generated `Input` struct, the
//! statements that decode and validate a request into it, and (for typed
//! clients) the statements that encode it into a call; and the Rust type
//! of its output.
//!
//! Why it exists: the operation modules (`operations.rs`) decode requests
//! and the clients of `calls` (`calls.rs`) encode them; both read one
//! description of a route's parameters.

use super::names::{ident, pascal, snake};
use super::types::{Types, docs};
use crate::ast::{Field, Route, TypeExpr, TypeExprKind};
use crate::emit::schemas::Mode;
use crate::syntax::route::Segment;
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// A parameter of a route: where it is, its field.
pub(super) struct Param<'a> {
    pub(super) location: &'static str,
    pub(super) field: Option<&'a Field>,
    pub(super) name: &'a str,
}

pub(super) fn params(route: &Route) -> Vec<Param<'_>> {
    let mut out = Vec::new();
    for (seg, _) in &route.segments {
        if let Segment::Param(name) = seg {
            out.push(Param {
                location: "path",
                field: route.params.iter().find(|p| &p.name.value == name),
                name,
            });
        }
    }
    for f in &route.query {
        out.push(Param {
            location: "query",
            field: Some(f),
            name: &f.name.value,
        });
    }
    for f in &route.headers {
        out.push(Param {
            location: "header",
            field: Some(f),
            name: &f.name.value,
        });
    }
    out
}

/// The pieces of an operation's `Input` struct and the code that fills it.
pub(super) struct InputParts {
    /// Struct members.
    pub(super) members: Vec<TokenStream>,
    /// Statements decoding and checking (need `req`, `v`).
    pub(super) decode: Vec<TokenStream>,
    /// Field initialisers.
    pub(super) init: Vec<TokenStream>,
    /// Statements turning the input into a runtime call (need `input`).
    pub(super) encode_path: Vec<TokenStream>,
    pub(super) encode_query: Vec<TokenStream>,
    pub(super) has_body: bool,
}

/// The typed input of a route; `body` is the side of the wire its body is
/// on ([`body_mode`]).
pub(super) fn input_parts(
    types: &mut Types<'_>,
    route: &Route,
    context: &str,
    body: Mode,
) -> InputParts {
    let mut parts = InputParts {
        members: Vec::new(),
        decode: Vec::new(),
        init: Vec::new(),
        encode_path: Vec::new(),
        encode_query: Vec::new(),
        has_body: false,
    };
    let mut used = std::collections::BTreeSet::new();
    for p in params(route) {
        let mut rust = snake(p.name);
        while !used.insert(rust.clone()) || rust == "body" {
            rust.push('_');
        }
        param(types, &p, &rust, context, &mut parts);
    }
    if let Some(input) = &route.input {
        body_part(types, input, &format!("{context}Body"), body, &mut parts);
    }
    parts
}

/// A parameter's type as the generated code reads it.
struct ParamType {
    /// As declared (`string` when undeclared).
    expr: TypeExpr,
    /// Without its `?`.
    required_expr: TypeExpr,
    constraints: crate::ast::Constraints,
    /// A list or set: repeated query parameters.
    is_list: bool,
    /// The Rust type of one value.
    item_ty: TokenStream,
    /// Its default, for a parameter that is not optional.
    default: Option<TokenStream>,
    /// Whether a request without it is refused.
    required: bool,
}

fn param_type(types: &mut Types<'_>, p: &Param<'_>, context: &str) -> ParamType {
    let string = TypeExpr {
        kind: TypeExprKind::Primitive(crate::ast::Primitive::String),
        span: crate::source::Span::default(),
    };
    let expr = p.field.and_then(|f| f.ty.clone()).unwrap_or(string);
    let constraints = p.field.map(|f| f.constraints.clone()).unwrap_or_default();
    let ctx_name = format!("{context}{}", pascal(p.name));
    let required_expr = expr.required().clone();
    let is_list = matches!(
        required_expr.kind,
        TypeExprKind::List(_) | TypeExprKind::Set(_)
    );
    let item_ty = match &required_expr.kind {
        TypeExprKind::List(t) | TypeExprKind::Set(t) => {
            types.rust_type(t, Mode::Request, &ctx_name)
        }
        _ => types.rust_type(&required_expr, Mode::Request, &ctx_name),
    };
    let default = if expr.is_optional() {
        None
    } else {
        constraints
            .default
            .as_ref()
            .and_then(|d| types.default_value(&required_expr, d, &ctx_name))
    };
    let required = !expr.is_optional() && default.is_none() && !is_list;
    ParamType {
        expr,
        required_expr,
        constraints,
        is_list,
        item_ty,
        default,
        required,
    }
}

/// One parameter: its member of `Input`, the statements that read and
/// check it, its initialiser and (for clients) its encoding.
fn param(types: &mut Types<'_>, p: &Param<'_>, rust: &str, context: &str, parts: &mut InputParts) {
    let id = ident(rust);
    let local = format_ident!("p_{}", rust.trim_start_matches("r#"));
    let (name, location) = (p.name, p.location);
    let pt = param_type(types, p, context);
    let field_doc = docs(Some(
        pt.constraints
            .description
            .as_deref()
            .unwrap_or(&format!("The `{name}` {location} parameter.")),
    ));
    let (member_ty, get) = param_read(p, &pt, &local);
    parts
        .members
        .push(quote! { #field_doc pub #id: #member_ty, });
    parts.decode.push(get);
    if let Some(checks) = param_checks(types, p, &pt, &local) {
        parts.decode.push(checks);
    }
    if pt.required && pt.default.is_none() {
        parts
            .init
            .push(quote! { #id: rt::present(#local, #name)?, });
    } else {
        parts.init.push(quote! { #id: #local, });
    }
    param_encode(p, &pt, &id, parts);
}

/// The member's Rust type and the statement reading the parameter into
/// `local`.
fn param_read(p: &Param<'_>, pt: &ParamType, local: &Ident) -> (TokenStream, TokenStream) {
    let (name, item_ty, required) = (p.name, &pt.item_ty, pt.required);
    if pt.is_list {
        return (
            quote! { Vec<#item_ty> },
            quote! { let #local = req.query_list::<#item_ty>(#name, &mut v); },
        );
    }
    let getter = match p.location {
        "path" => quote! { req.path::<#item_ty>(#name, &mut v) },
        "query" => quote! { req.query::<#item_ty>(#name, #required, &mut v) },
        _ => quote! { req.header::<#item_ty>(#name, #required, &mut v) },
    };
    match (&pt.default, required) {
        (Some(d), _) if d.to_string().contains("to_string") => (
            item_ty.clone(),
            quote! { let #local = #getter.unwrap_or_else(|| #d); },
        ),
        (Some(d), _) => (
            item_ty.clone(),
            quote! { let #local = #getter.unwrap_or(#d); },
        ),
        (None, true) => (item_ty.clone(), quote! { let #local = #getter; }),
        (None, false) => (
            quote! { Option<#item_ty> },
            quote! { let #local = #getter; },
        ),
    }
}

/// The checks of the parameter's constraints, if it has any.
fn param_checks(
    types: &mut Types<'_>,
    p: &Param<'_>,
    pt: &ParamType,
    local: &Ident,
) -> Option<TokenStream> {
    let check_expr = if pt.required && pt.default.is_none() {
        // Option<T> local that must be there
        TypeExpr {
            kind: TypeExprKind::Optional(Box::new(pt.required_expr.clone())),
            span: pt.required_expr.span,
        }
    } else if pt.default.is_some() || pt.is_list {
        pt.required_expr.clone()
    } else {
        pt.expr.clone()
    };
    let body = types.checks(&check_expr, &pt.constraints);
    if body.is_empty() {
        return None;
    }
    let (name, location) = (p.name, p.location);
    Some(quote! {
        {
            let at = &rt::At::Param(#location, #name);
            let out = &mut v;
            let x = &#local;
            #body
        }
    })
}

/// How a client puts the parameter into its call.
fn param_encode(p: &Param<'_>, pt: &ParamType, id: &Ident, parts: &mut InputParts) {
    let name = p.name;
    let to_string = quote! { v.to_string() };
    match p.location {
        "path" => parts
            .encode_path
            .push(quote! { (#name, input.#id.to_string()), }),
        "query" if pt.is_list => parts
            .encode_query
            .push(quote! { query.extend(input.#id.iter().map(|v| (#name, #to_string))); }),
        "query" if pt.required || pt.default.is_some() => parts
            .encode_query
            .push(quote! { query.push((#name, input.#id.to_string())); }),
        "query" => parts
            .encode_query
            .push(quote! { if let Some(v) = &input.#id { query.push((#name, #to_string)); } }),
        _ => {}
    }
}

/// The request body: its member of `Input`, decoded and checked.
fn body_part(
    types: &mut Types<'_>,
    input: &TypeExpr,
    context: &str,
    body: Mode,
    parts: &mut InputParts,
) {
    parts.has_body = true;
    let ty = types.rust_type(input, body, context);
    let optional = input.is_optional();
    let inner = if optional {
        let inner_expr = input.required().clone();
        types.rust_type(&inner_expr, body, context)
    } else {
        ty.clone()
    };
    let decode = body_decode(types, input, &inner);
    parts.decode.push(quote! { let body = #decode; });
    parts
        .members
        .push(quote! { #[doc = " The request body."] pub body: #ty, });
    if optional {
        parts.init.push(quote! { body, });
    } else {
        parts
            .init
            .push(quote! { body: rt::present(body, "body")?, });
    }
}

/// The expression decoding the body: checked without the JSON Schema
/// validator unless something is wrong (`Request::body_checked`).
fn body_decode(types: &mut Types<'_>, input: &TypeExpr, inner: &TokenStream) -> TokenStream {
    let body_checks = types.checks(input.required(), &Default::default());
    let strict = types.strict(input.required());
    let exact = types.exact(input.required());
    match (strict, body_checks.is_empty()) {
        // the schema first, then the checks
        _ if !exact && body_checks.is_empty() => quote! { req.body::<#inner>(&mut v) },
        _ if !exact => quote! {
            req.body::<#inner>(&mut v).inspect(|x| {
                let (at, out) = (&rt::At::Body, &mut v);
                #body_checks
            })
        },
        (false, true) => quote! { req.body_checked::<#inner, _>(&mut v, |_, _, _| {}) },
        (false, false) => {
            quote! { req.body_checked::<#inner, _>(&mut v, |x, at, out| { #body_checks }) }
        }
        (true, true) => quote! {
            req.body_checked::<rt::Strictly<#inner>, _>(&mut v, |_, _, _| {}).map(|b| b.0)
        },
        (true, false) => quote! {
            req.body_checked::<rt::Strictly<#inner>, _>(&mut v, |x, at, out| {
                let x = &x.0;
                #body_checks
            })
            .map(|b| b.0)
        },
    }
}

pub(super) fn output_type(types: &mut Types<'_>, route: &Route, context: &str) -> TokenStream {
    match &route.output {
        Some(o) if route.success_status() != 204 => {
            types.rust_type(o, Mode::Response, &format!("{context}Output"))
        }
        _ => quote! { () },
    }
}
