//! A service as Rust: puts together what each concern of the service
//! builds (the operation modules, `operations.rs`; the typed clients of
//! `calls`, `calls.rs`; the state machine, `state.rs`; the sagas it
//! coordinates, `sagas.rs`) with what is the service's own: its declared
//! errors, its event subscriptions and jobs, the `SERVICE` spec, the
//! handler trait and the `service()` function that binds the handlers to
//! the runtime; and the stubs of `handlers.rs`.

use super::calls::calls;
use super::events::payload_type;
use super::inputs::output_type;
use super::lit::{checked, int, opt_u64};
use super::names::{ident, pascal, snake, snake_ident};
use super::operations::{Ctx, operation};
use super::rt::{auth_kind, retry_spec};
use super::state::state;
use super::types::{Types, docs};
use crate::ast::{ErrorDef, Field, Plan, Service};
use crate::emit::schemas::{Components, Mode};
use crate::names::to_kebab;
use crate::resolve::Model;
use proc_macro2::{Ident, TokenStream};
use quote::quote;

/// The name of the handler trait: `OrderServiceHandlers`.
pub fn trait_name(service: &Service) -> String {
    format!("{}Handlers", service.name.value)
}

/// The lines of code one concern adds to the handler trait and to
/// `service()`, in the order they are written.
#[derive(Default)]
struct Bindings {
    /// Methods of the handler trait.
    methods: Vec<TokenStream>,
    /// Lines of `service()`.
    registrations: Vec<TokenStream>,
}

/// Everything of `generated.rs` but the types: returns the items, in
/// groups of whole top-level items (one per operation module).
pub fn service_items(
    model: &Model,
    service: &Service,
    types: &mut Types<'_>,
    schemas_file: &str,
    project_root: &str,
) -> Vec<TokenStream> {
    let mut components = Components::new(model);
    let trait_id = ident(&trait_name(service));
    let errors_module = errors_module(service, types);
    let mut bindings = Bindings::default();
    let mut op_modules = Vec::new();
    let mut cx = Ctx {
        model,
        service,
        types,
        components: &mut components,
        trait_id: &trait_id,
    };
    for route in &service.routes {
        if let Some(op) = operation(&mut cx, route) {
            op_modules.push(op.module);
            bindings.methods.push(op.method);
            bindings.registrations.push(op.registration);
        }
    }
    let subscriptions = subscriptions(model, service, types, &mut bindings);
    let jobs = jobs(service, &mut bindings);
    let state = state(service, types, &trait_id);
    let has_state = state.is_some();
    let state_module = match state {
        Some(s) => {
            bindings.methods.extend(s.methods);
            bindings.registrations.extend(s.registrations);
            s.module
        }
        None => quote! {},
    };
    let (call_modules, call_registrations) = calls(model, service, types);
    let (sagas_module, saga_registrations) = super::sagas::saga_items(model, service);
    bindings.registrations.extend(saga_registrations);
    let health_checks: Vec<&str> = service.health.iter().map(|h| h.value.as_str()).collect();
    bindings.methods.push(health_method(model, &health_checks));
    let spec_parts = SpecParts {
        health: &health_checks,
        subscriptions: subscriptions.len(),
        jobs: jobs.len(),
        has_state,
    };
    let service_spec = service_spec(model, service, schemas_file, &spec_parts);
    let database = database(service, has_state, project_root);
    let handlers = handler_trait(service, &trait_id, &bindings.methods);
    let service_fn = service_fn(
        &trait_id,
        &database,
        &bindings.registrations,
        &call_registrations,
    );
    let subscription_count = proc_macro2::Literal::usize_unsuffixed(subscriptions.len());
    let job_count = proc_macro2::Literal::usize_unsuffixed(jobs.len());
    let head = quote! {
        #service_spec

        /// The event subscriptions, with their retry policies.
        pub static SUBSCRIPTIONS: [rt::SubscriptionSpec; #subscription_count] = [#(#subscriptions)*];

        /// The scheduled jobs (cron in Cloudflare's dialect, UTC).
        pub static JOBS: [rt::JobSpec; #job_count] = [#(#jobs)*];

        #handlers

        #service_fn

        #errors_module

        #state_module

        #sagas_module
    };
    // top-level items in groups, each rendered on its own (`files::render_parts`)
    let mut parts = Vec::with_capacity(op_modules.len() + 2);
    parts.push(head);
    parts.extend(op_modules);
    parts.push(call_modules);
    parts
}

/// The `errors` module: one struct per declared error, each a problem
/// with extra members (empty when the service declares none).
fn errors_module(service: &Service, types: &mut Types<'_>) -> TokenStream {
    let error_items: Vec<TokenStream> = service
        .errors
        .iter()
        .map(|e| error_item(e, types))
        .collect();
    if error_items.is_empty() {
        return quote! {};
    }
    quote! {
        /// The service's declared errors (RFC 9457 problems with these extra members).
        pub mod errors {
            use super::*;
            #(#error_items)*
        }
    }
}

/// One declared error: its struct and its conversion into `rt::Problem`.
fn error_item(e: &ErrorDef, types: &mut Types<'_>) -> TokenStream {
    let name = ident(&e.name.value);
    let members: Vec<TokenStream> = e
        .fields
        .iter()
        .filter_map(|f| error_member(&e.name.value, f, types))
        .collect();
    let status = checked(e.status.as_ref().map_or(500, |s| s.value));
    let title = e
        .description
        .clone()
        .unwrap_or_else(|| e.name.value.clone());
    let json_name = e.name.value.as_str();
    let derives = super::rt::serde_derives(true, false);
    let d = docs(Some(&format!("{title}\n\nAnswered as a {status} problem.")));
    quote! {
        #d
        #[derive(Debug, Clone, PartialEq)]
        #derives
        pub struct #name {
            #(#members)*
        }

        impl From<#name> for rt::Problem {
            fn from(e: #name) -> rt::Problem {
                rt::Problem::declared(#json_name, #status, #title, rt::serde_json::to_value(&e).unwrap_or_default())
            }
        }
    }
}

/// A member of a declared error's struct; `None` for a field without a
/// type.
fn error_member(error: &str, f: &Field, types: &mut Types<'_>) -> Option<TokenStream> {
    let t = f.ty.as_ref()?;
    let json = f.name.value.as_str();
    let rust = snake(json);
    let id = ident(&rust);
    let ty = types.rust_type(t, Mode::Response, &format!("{error}{}", pascal(json)));
    let rename = if rust != json {
        quote! { #[serde(rename = #json)] }
    } else {
        quote! {}
    };
    let skip = if t.is_optional() {
        quote! { #[serde(skip_serializing_if = "Option::is_none")] }
    } else {
        quote! {}
    };
    let d = docs(f.constraints.description.as_deref());
    Some(quote! { #d #rename #skip pub #id: #ty, })
}

/// The `rt::SubscriptionSpec`s of the service's event handlers; adds
/// their trait methods and registrations to `bindings`.
fn subscriptions(
    model: &Model,
    service: &Service,
    types: &mut Types<'_>,
    bindings: &mut Bindings,
) -> Vec<TokenStream> {
    let mut specs = Vec::new();
    for sub in &service.subscribes {
        let Some(handler) = &sub.handler else {
            continue;
        };
        let event = sub.event.value.0.as_str();
        let m = snake_ident(&handler.value);
        let payload = payload_type(model, types, event);
        let d = format!(
            " Handles `{event}`. Delivery is at least once; the runtime deduplicates by event id."
        );
        bindings.methods.push(quote! {
            #[doc = #d]
            fn #m(&self, ctx: rt::Context, event: rt::Event<#payload>) -> impl Future<Output = Result<(), rt::Problem>> + Send;
        });
        let h = handler.value.as_str();
        let retry = retry_spec(sub.retry.as_ref());
        let dead_letter = sub.dead_letter;
        specs.push(quote! { rt::SubscriptionSpec { event: #event, handler: #h, retry: #retry, dead_letter: #dead_letter }, });
        let index = proc_macro2::Literal::usize_unsuffixed(specs.len() - 1);
        bindings.registrations.push(quote! {
            let service = {
                let h = handlers.clone();
                service.subscribe(&SUBSCRIPTIONS[#index], move |ctx, event| {
                    let h = h.clone();
                    async move { h.#m(ctx, event.decode()?).await }
                })
            };
        });
    }
    specs
}

/// The `rt::JobSpec`s of the service's jobs (the schedule as written for
/// messages, the canonical cron line the runtime reads); adds their trait
/// methods and registrations to `bindings`.
fn jobs(service: &Service, bindings: &mut Bindings) -> Vec<TokenStream> {
    let mut specs = Vec::new();
    for job in &service.jobs {
        let m = snake_ident(&job.name.value);
        let schedule = job.written.as_deref().unwrap_or_default();
        let d = format!(" The `{}` job (`{schedule}`).", job.name.value);
        bindings.methods.push(quote! {
            #[doc = #d]
            fn #m(&self, ctx: rt::Context) -> impl Future<Output = Result<(), rt::Problem>> + Send;
        });
        let name = job.name.value.as_str();
        let cron = job.schedule.as_ref().map_or("", |s| s.value.cron());
        let timeout = opt_u64(job.timeout.as_ref().map(|t| t.value.millis));
        specs.push(quote! {
            rt::JobSpec { name: #name, schedule: #schedule, cron: #cron, timeout_ms: #timeout },
        });
        let index = proc_macro2::Literal::usize_unsuffixed(specs.len() - 1);
        bindings.registrations.push(quote! {
            let service = {
                let h = handlers.clone();
                service.job(&JOBS[#index], move |ctx| {
                    let h = h.clone();
                    async move { h.#m(ctx).await }
                })
            };
        });
    }
    specs
}

/// The line of `service()` that opens the project's database, for a
/// service with state, events or jobs.
fn database(service: &Service, has_state: bool, project_root: &str) -> TokenStream {
    let durable = has_state
        || !service.publishes.is_empty()
        || !service.subscribes.is_empty()
        || !service.jobs.is_empty();
    if !durable {
        return quote! {};
    }
    let path = format!("/{project_root}.svcc/state.db");
    quote! {
        // State and events live in the project's database (`SVCC_DATABASE` overrides it).
        let service = service.database(concat!(env!("CARGO_MANIFEST_DIR"), #path));
    }
}

/// The trait's `health` method, answering the service's own checks (those
/// that do not name a called service).
fn health_method(model: &Model, health_checks: &[&str]) -> TokenStream {
    let own_checks: Vec<&str> = health_checks
        .iter()
        .copied()
        .filter(|c| model.service(c).is_none())
        .collect();
    let health_doc = format!(
        " Answers the service's own health checks ({}); `Err` with a reason marks it failing.",
        if own_checks.is_empty() {
            "none declared".to_string()
        } else {
            own_checks.join(", ")
        }
    );
    quote! {
        #[doc = #health_doc]
        fn health(&self, check: &'static str) -> impl Future<Output = Result<(), String>> + Send {
            let _ = check;
            async { Ok(()) }
        }
    }
}

/// The handler trait: one method per operation, event handler, job and
/// transition, and `health`.
fn handler_trait(service: &Service, trait_id: &Ident, methods: &[TokenStream]) -> TokenStream {
    let trait_doc = docs(Some(&format!(
        "{}'s handlers: one method per operation, event handler, job and state transition.\n\nImplement it in `src/handlers.rs`.",
        service.name.value
    )));
    quote! {
        #trait_doc
        pub trait #trait_id: Send + Sync + 'static {
            #(#methods)*
        }
    }
}

/// `service()`: binds the handlers to the runtime.
fn service_fn(
    trait_id: &Ident,
    database: &TokenStream,
    registrations: &[TokenStream],
    call_registrations: &TokenStream,
) -> TokenStream {
    quote! {
        /// Binds the handlers to the runtime: the service, ready to serve.
        pub fn service<H: #trait_id>(handlers: H) -> rt::Service {
            let handlers = std::sync::Arc::new(handlers);
            let service = rt::Service::new(&SERVICE);
            #database
            #(#registrations)*
            #call_registrations
            let h = handlers.clone();
            service.health(move |check| {
                let h = h.clone();
                async move { h.health(check).await }
            })
        }
    }
}

/// What else `SERVICE` refers to: whether the service has subscriptions,
/// jobs and a state machine, and its health checks.
struct SpecParts<'a> {
    health: &'a [&'a str],
    subscriptions: usize,
    jobs: usize,
    has_state: bool,
}

/// `pub static SERVICE: rt::ServiceSpec`.
fn service_spec(
    model: &Model,
    service: &Service,
    schemas_file: &str,
    parts: &SpecParts<'_>,
) -> TokenStream {
    let or_empty = |present: bool, items: TokenStream| {
        if present {
            items
        } else {
            quote! { &[] }
        }
    };
    let jobs = or_empty(parts.jobs > 0, quote! { &JOBS });
    let subscriptions = or_empty(parts.subscriptions > 0, quote! { &SUBSCRIPTIONS });
    let transitions = or_empty(parts.has_state, quote! { &state::TRANSITIONS });
    let health = parts.health;
    let name = service.name.value.as_str();
    let slug = to_kebab(name);
    let version = service
        .version
        .as_ref()
        .map_or("0.1.0", |v| v.value.as_str());
    let auth = auth_kind(service);
    let roles = roles(service);
    let plans: Vec<TokenStream> = model
        .pricing_of(service)
        .flat_map(|p| p.plans.iter())
        .filter_map(plan_spec)
        .collect();
    let resilience = resilience_spec(service);
    quote! {
        /// The service as the manifest declares it.
        pub static SERVICE: rt::ServiceSpec = rt::ServiceSpec {
            name: #name,
            slug: #slug,
            version: #version,
            auth: #auth,
            roles: &[#(#roles)*],
            plans: &[#(#plans)*],
            health_checks: &[#(#health),*],
            schemas: include_str!(#schemas_file),
            subscriptions: #subscriptions,
            jobs: #jobs,
            transitions: #transitions,
            resilience: #resilience,
        };
    }
}

/// `rt::RoleSpec { .. },` per role.
fn roles(service: &Service) -> Vec<TokenStream> {
    service
        .roles
        .iter()
        .map(|r| {
            let n = r.name.value.as_str();
            let grants: Vec<&str> = r.grants.iter().map(|g| g.value.as_str()).collect();
            quote! { rt::RoleSpec { name: #n, grants: &[#(#grants),*] }, }
        })
        .collect()
}

/// `rt::PlanSpec { .. },` of a named plan; `None` for an unnamed one.
fn plan_spec(plan: &Plan) -> Option<TokenStream> {
    let n = plan.name.as_ref()?.value.as_str();
    let features: Vec<&str> = plan.features.iter().map(|f| f.value.as_str()).collect();
    let requests = plan
        .limits
        .iter()
        .find(|(k, _)| k.value == "requests")
        .and_then(|(_, r)| r.as_ref())
        .map(|r| (r.value.count, r.value.window_secs));
    let requests = match requests {
        Some((c, w)) => {
            let (c, w) = (int(c), int(w));
            quote! { Some((#c, #w)) }
        }
        None => quote! { None },
    };
    Some(quote! { rt::PlanSpec { name: #n, features: &[#(#features),*], requests: #requests }, })
}

/// `rt::ResilienceSpec` of the service's outbound calls (absent: 10 s,
/// one attempt, no breaker).
fn resilience_spec(service: &Service) -> TokenStream {
    let r = service.resilience.clone().unwrap_or_default();
    let timeout = r.timeout.as_ref().map_or(10_000, |t| t.value.millis);
    let retry = r.retry.clone().unwrap_or_default();
    let attempts = checked(retry.attempts.as_ref().map_or(1, |a| a.value));
    let delay = retry.delay.as_ref().map_or(100, |d| d.value.millis);
    let exponential = retry
        .backoff
        .as_ref()
        .is_some_and(|b| b.value == "exponential");
    let cb = r.circuit_breaker.clone().unwrap_or_default();
    let failures = checked(cb.failures.as_ref().map_or(0, |f| f.value));
    let reset = cb.reset.as_ref().map_or(0, |d| d.value.millis);
    let (timeout, delay, reset) = (int(timeout), int(delay), int(reset));
    quote! {
        rt::ResilienceSpec {
            timeout_ms: #timeout,
            attempts: #attempts,
            delay_ms: #delay,
            exponential: #exponential,
            breaker_failures: #failures,
            breaker_reset_ms: #reset,
        }
    }
}

/// The stub methods of `handlers.rs`: every method of the trait, each
/// answering 501 until the user fills it in.
pub fn stubs(model: &Model, service: &Service) -> Vec<TokenStream> {
    let mut types = Types::new(model);
    let mut out = Vec::new();
    for route in &service.routes {
        let Some(op) = &route.operation else { continue };
        let name = op.value.as_str();
        let m = snake_ident(name);
        let module = snake_ident(name);
        let output = output_type(&mut types, route, &pascal(name));
        out.push(quote! {
            async fn #m(&self, _ctx: #module::Context, _input: #module::Input) -> Result<#output, #module::Error> {
                Err(rt::Problem::not_implemented(#name).into())
            }
        });
    }
    for sub in &service.subscribes {
        let Some(handler) = &sub.handler else {
            continue;
        };
        let event = sub.event.value.0.as_str();
        let name = handler.value.as_str();
        let m = snake_ident(name);
        let payload = payload_type(model, &mut types, event);
        out.push(quote! {
            async fn #m(&self, _ctx: rt::Context, _event: rt::Event<#payload>) -> Result<(), rt::Problem> {
                Err(rt::Problem::not_implemented(#name))
            }
        });
    }
    for job in &service.jobs {
        let name = job.name.value.as_str();
        let m = snake_ident(name);
        out.push(quote! {
            async fn #m(&self, _ctx: rt::Context) -> Result<(), rt::Problem> {
                Err(rt::Problem::not_implemented(#name))
            }
        });
    }
    out
}
