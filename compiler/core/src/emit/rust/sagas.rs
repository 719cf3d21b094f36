//! The sagas a service coordinates, as Rust: one function per saga that
//! builds its `rt::SagaSpec` (steps, `parallel` groups, compensations,
//! the saga's and its steps' timeouts, retries, `when` and `input:` compiled to closures over the
//! saga's state), the operations its steps run as static data, and the
//! registration of the service's own transitions, which sagas run.
//!
//! Why it exists: a saga is a document of its own, but something has to
//! run it. The service that publishes a saga's trigger coordinates it
//! ([`Model::coordinator`]): its process starts the saga from the trigger's
//! delivery and drives it; the runtime binds each named operation to an
//! HTTP call or, for the service's own transitions, to an in-process call
//! (`runtime/src/sagas.rs`).

use super::names::{snake_ident, url_variable};
use super::rt::{retry_spec, route_auth_kind};
use crate::ast::{Compensation, Saga, SagaItem, Service, Step, StepInput};
use crate::names::to_kebab;
use crate::resolve::Model;
use crate::syntax::path::DataPath;
use crate::syntax::reference::OperationRef;
use crate::syntax::when::{CmpOp, Expr, ExprKind};
use proc_macro2::TokenStream;
use quote::quote;

/// Operations of one service's sagas, numbered in the order first used.
struct Operations<'m> {
    model: &'m Model,
    list: Vec<(String, String)>,
    specs: Vec<TokenStream>,
}

impl Operations<'_> {
    /// `rt::Action::operation(&OPERATIONS[i])` for `op`.
    fn action(&mut self, op: &OperationRef) -> TokenStream {
        let key = (op.service.clone(), op.operation.clone());
        let index = match self.list.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                self.specs.push(operation_spec(self.model, op));
                self.list.push(key);
                self.list.len() - 1
            }
        };
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        quote! { rt::Action::operation(&OPERATIONS[#index]) }
    }
}

/// The static description of an operation a step runs.
fn operation_spec(model: &Model, op: &OperationRef) -> TokenStream {
    let service = model.service(&op.service);
    let route = service.and_then(|s| {
        s.routes.iter().find(|r| {
            r.operation
                .as_ref()
                .is_some_and(|o| o.value == op.operation)
        })
    });
    let (auth, target) = match (service, route) {
        (Some(s), Some(r)) => {
            let (method, path) = (r.method.value.as_str(), r.path.as_str());
            (
                route_auth_kind(s, r),
                quote! { rt::SagaTarget::Route { method: #method, path: #path } },
            )
        }
        // A transition: its endpoint takes the service's credentials.
        _ => (
            match service
                .and_then(|s| s.auth.as_ref())
                .map(|a| a.value.as_str())
            {
                Some("jwt") => quote! { rt::AuthKind::Jwt },
                Some("apiKey") => quote! { rt::AuthKind::ApiKey },
                _ => quote! { rt::AuthKind::None },
            },
            quote! { rt::SagaTarget::Transition },
        ),
    };
    let (name, operation) = (op.service.as_str(), op.operation.as_str());
    let slug = to_kebab(name);
    quote! {
        rt::SagaOperation { service: #name, slug: #slug, operation: #operation, auth: #auth, target: #target },
    }
}

/// `rt::sagas::at(s, &["input", "total"])` for a path into the saga's data.
fn path(path: &DataPath) -> TokenStream {
    let segments = path.names();
    quote! { rt::sagas::at(s, &[#(#segments),*]) }
}

/// A `when` operand as a `&rt::Json`.
fn operand(e: &Expr) -> TokenStream {
    match &e.kind {
        ExprKind::Path(p) => path(p),
        ExprKind::Str(s) => quote! { &rt::Json::from(#s) },
        ExprKind::Num(literal) => quote! { &rt::sagas::num(#literal) },
        ExprKind::Bool(b) => quote! { &rt::Json::Bool(#b) },
        ExprKind::Null => quote! { &rt::Json::Null },
        // Not an operand: the grammar puts these above comparisons.
        _ => {
            let cond = condition(e);
            quote! { &rt::Json::Bool(#cond) }
        }
    }
}

/// A `when` expression as a `bool` over the state `s`.
fn condition(e: &Expr) -> TokenStream {
    match &e.kind {
        // `&&` binds tighter than `||` in Rust as in `when`: only a
        // disjunction inside a conjunction, and either under `not`, needs
        // parentheses.
        ExprKind::Or(v) => {
            let parts = v.iter().map(condition);
            quote! { #(#parts)||* }
        }
        ExprKind::And(v) => {
            let parts = v.iter().map(|x| match x.kind {
                ExprKind::Or(_) => parenthesized(x),
                _ => condition(x),
            });
            quote! { #(#parts)&&* }
        }
        ExprKind::Not(x) => {
            let inner = match x.kind {
                ExprKind::Or(_) | ExprKind::And(_) => parenthesized(x),
                _ => condition(x),
            };
            quote! { !#inner }
        }
        ExprKind::Compare(l, op, r) => {
            let (l, r) = (operand(l), operand(r));
            let op = match op.value {
                CmpOp::Eq => quote! { rt::Cmp::Eq },
                CmpOp::Ne => quote! { rt::Cmp::Ne },
                CmpOp::Lt => quote! { rt::Cmp::Lt },
                CmpOp::Le => quote! { rt::Cmp::Le },
                CmpOp::Gt => quote! { rt::Cmp::Gt },
                CmpOp::Ge => quote! { rt::Cmp::Ge },
            };
            quote! { rt::sagas::compare(#l, #op, #r) }
        }
        ExprKind::Bool(b) => quote! { #b },
        _ => {
            let v = operand(e);
            quote! { rt::sagas::truthy(#v) }
        }
    }
}

fn parenthesized(e: &Expr) -> TokenStream {
    let inner = condition(e);
    quote! { (#inner) }
}

fn millis(ms: u64) -> TokenStream {
    let ms = proc_macro2::Literal::u64_unsuffixed(ms);
    quote! { std::time::Duration::from_millis(#ms) }
}

/// `rt::StepSpec::new(...)` with everything the manifest says of `step`.
fn step(step: &Step, ops: &mut Operations<'_>) -> Option<TokenStream> {
    let name = step.name.as_ref()?.value.as_str();
    let action = ops.action(&step.action.as_ref()?.value);
    let mut out = quote! { rt::StepSpec::new(#name, #action) };
    if let Some(Compensation::Operation(op)) = &step.compensate {
        let c = ops.action(&op.value);
        out = quote! { #out.compensate(#c) };
    }
    if let Some(StepInput::Path(p)) = &step.input {
        let at = path(&p.value);
        out = quote! { #out.input(|s| #at.clone()) };
    }
    if let Some(when) = &step.when {
        let cond = condition(&when.value);
        out = quote! { #out.when(|s| #cond) };
    }
    if let Some(t) = &step.timeout {
        let t = millis(t.value.millis);
        out = quote! { #out.timeout(#t) };
    }
    if let Some(r) = &step.retry {
        let spec = retry_spec(Some(r));
        out = quote! { #out.retry(rt::RetryPolicy::from_spec(#spec, false)) };
    }
    Some(out)
}

/// The function that builds one saga's spec.
fn saga_fn(saga: &Saga, ops: &mut Operations<'_>) -> Option<TokenStream> {
    let name = saga.name.value.as_str();
    let trigger = saga.trigger.as_ref()?.value.0.as_str();
    let f = snake_ident(name);
    let mut body = quote! { rt::SagaSpec::new(#name, #trigger) };
    for item in &saga.steps {
        match item {
            SagaItem::Step(s) => {
                let s = step(s, ops)?;
                body = quote! { #body.step(#s) };
            }
            SagaItem::Parallel { steps, .. } => {
                let steps = steps
                    .iter()
                    .map(|s| step(s, ops))
                    .collect::<Option<Vec<_>>>()?;
                body = quote! { #body.parallel(vec![#(#steps),*]) };
            }
        }
    }
    if let Some(t) = &saga.timeout {
        let t = millis(t.value.millis);
        body = quote! { #body.timeout(#t) };
    }
    if let Some(e) = &saga.on_success {
        let e = e.value.0.as_str();
        body = quote! { #body.on_success(#e) };
    }
    if let Some(e) = &saga.on_failure {
        let e = e.value.0.as_str();
        body = quote! { #body.on_failure(#e) };
    }
    let ends = match (&saga.on_success, &saga.on_failure) {
        (Some(s), Some(f)) => format!(" It ends by publishing `{}` or `{}`.", s.value.0, f.value.0),
        (Some(s), None) => format!(" It ends by publishing `{}` when it succeeds.", s.value.0),
        (None, Some(f)) => format!(" It ends by publishing `{}` when it fails.", f.value.0),
        (None, None) => String::new(),
    };
    let doc =
        format!(" `{name}`, started by each `{trigger}` this service's dispatcher delivers.{ends}");
    Some(quote! {
        #[doc = #doc]
        pub fn #f() -> rt::SagaSpec {
            #body
        }
    })
}

/// The `sagas` module of `service` (empty when it coordinates none) and
/// the lines of `service()` that register its sagas.
pub fn saga_items(model: &Model, service: &Service) -> (TokenStream, Vec<TokenStream>) {
    let sagas = model.coordinated(service);
    if sagas.is_empty() {
        return (quote! {}, Vec::new());
    }
    let mut ops = Operations {
        model,
        list: Vec::new(),
        specs: Vec::new(),
    };
    let mut fns = Vec::new();
    let mut registrations = Vec::new();
    for saga in sagas {
        if let Some(f) = saga_fn(saga, &mut ops) {
            fns.push(f);
            let id = snake_ident(&saga.name.value);
            registrations.push(quote! { let service = service.saga(sagas::#id()); });
        }
    }
    let count = proc_macro2::Literal::usize_unsuffixed(ops.specs.len());
    let specs = &ops.specs;
    let names: Vec<String> = {
        let mut others: Vec<&str> = ops
            .list
            .iter()
            .map(|(s, _)| s.as_str())
            .filter(|s| *s != service.name.value)
            .collect();
        others.sort_unstable();
        others.dedup();
        others.iter().map(|s| url_variable(s)).collect()
    };
    let module_doc = format!(
        " The sagas {} coordinates (it publishes their triggers). The runtime calls the services their steps name at their URLs ({}), each call with the step's idempotency key and the credential of the role `service`; it runs {}'s own transitions in-process. A saga whose services are not all configured is not run, and the log says what is missing.",
        service.name.value,
        if names.is_empty() {
            "none needed".to_string()
        } else {
            names.join(", ")
        },
        service.name.value
    );
    let module = quote! {
        #[doc = #module_doc]
        pub mod sagas {
            use super::*;

            /// The operations the steps run, bound by the runtime when the service starts.
            pub static OPERATIONS: [rt::SagaOperation; #count] = [#(#specs)*];

            #(#fns)*
        }
    };
    (module, registrations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(text: &str) -> String {
        let at = |r: std::ops::Range<usize>| {
            crate::source::Span::new(crate::source::FileId(0), r.start, r.end)
        };
        let expr = crate::syntax::when::parse(text, &at).unwrap();
        condition(&expr).to_string()
    }

    #[test]
    fn when_compiles_to_comparisons_over_the_state() {
        assert_eq!(
            cond(r#"input.total.amount >= 1000 and input.total.currency == "EUR""#),
            quote! {
                rt::sagas::compare(rt::sagas::at(s, &["input", "total", "amount"]), rt::Cmp::Ge, &rt::sagas::num("1000"))
                    && rt::sagas::compare(rt::sagas::at(s, &["input", "total", "currency"]), rt::Cmp::Eq, &rt::Json::from("EUR"))
            }
            .to_string()
        );
        assert_eq!(
            cond("not input.express or input.note != null"),
            quote! {
                !rt::sagas::truthy(rt::sagas::at(s, &["input", "express"]))
                    || rt::sagas::compare(rt::sagas::at(s, &["input", "note"]), rt::Cmp::Ne, &rt::Json::Null)
            }
            .to_string()
        );
        assert_eq!(
            cond("not (input.a == 1 or input.b == 2) and (input.c or input.d)"),
            quote! {
                !(rt::sagas::compare(rt::sagas::at(s, &["input", "a"]), rt::Cmp::Eq, &rt::sagas::num("1"))
                    || rt::sagas::compare(rt::sagas::at(s, &["input", "b"]), rt::Cmp::Eq, &rt::sagas::num("2")))
                    && (rt::sagas::truthy(rt::sagas::at(s, &["input", "c"])) || rt::sagas::truthy(rt::sagas::at(s, &["input", "d"])))
            }
            .to_string()
        );
        assert_eq!(
            cond("steps.charge.output.amount.amount < 0.5"),
            quote! {
                rt::sagas::compare(rt::sagas::at(s, &["steps", "charge", "output", "amount", "amount"]), rt::Cmp::Lt, &rt::sagas::num("0.5"))
            }
            .to_string()
        );
    }
}
