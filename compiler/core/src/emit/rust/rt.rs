//! Paths from generated code into svcc-runtime, and the runtime values
//! that more than one builder writes.
//!
//! Generated files import the runtime's prelude once, as `rt`
//! (`use svcc_runtime::prelude as rt;`, from [`import`]), and name
//! everything through that alias. This module is the only one of the
//! emitter that spells the runtime's crate path; the names after `rt::` are
//! the prelude's API (`runtime/src/lib.rs`), which is the whole surface
//! generated code may use. The specs and enum values shared by builders
//! (`rt::RetrySpec`, `rt::AuthKind`, `rt::RouteAuth`, `rt::Scope`) are
//! built here, so the builders do not import each other; the other
//! `rt::` names are still written in the builder that uses them.

use super::lit::{checked, int, opt_u64};
use crate::ast::{Route, Service};
use crate::syntax::rate::Scope;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// The import every generated module starts with.
pub fn import() -> TokenStream {
    quote! { use svcc_runtime::prelude as rt; }
}

/// `rt::<name>`, for a runtime item (`Problem`, `Uuid`, `RouteSpec`...).
pub fn item(name: &str) -> TokenStream {
    let id = format_ident!("{}", name);
    quote! { rt::#id }
}

/// The serde derive attributes of a generated type (serde is reached
/// through the runtime, so a generated crate depends on it alone).
pub fn serde_derives(serialize: bool, deserialize: bool) -> TokenStream {
    let mut derives = Vec::new();
    if serialize {
        derives.push(quote! { rt::serde::Serialize });
    }
    if deserialize {
        derives.push(quote! { rt::serde::Deserialize });
    }
    quote! {
        #[derive(#(#derives),*)]
        #[serde(crate = "rt::serde")]
    }
}

/// `rt::check::<name>`, a constraint check.
pub fn check(name: &str) -> TokenStream {
    let id = format_ident!("{}", name);
    quote! { rt::check::#id }
}

/// `rt::RetrySpec` of a `retry:` (absent: 4 attempts, as Cloudflare Queues
/// retry 3 times by default, exponential from 1 s up to 1 min).
pub(super) fn retry_spec(retry: Option<&crate::ast::Retry>) -> TokenStream {
    let r = retry.cloned().unwrap_or_default();
    let attempts = checked(r.attempts.as_ref().map_or(4, |a| a.value));
    let backoff = match r.backoff.as_ref().map(|b| b.value.as_str()) {
        Some("fixed") => quote! { rt::Backoff::Fixed },
        Some("linear") => quote! { rt::Backoff::Linear },
        _ => quote! { rt::Backoff::Exponential },
    };
    let delay = int(r.delay.as_ref().map_or(1_000, |d| d.value.millis));
    let max = match (&r.max_delay, &r.delay) {
        (Some(m), _) => opt_u64(Some(m.value.millis)),
        (None, None) => opt_u64(Some(60_000)),
        (None, Some(_)) => opt_u64(None),
    };
    quote! { rt::RetrySpec { attempts: #attempts, backoff: #backoff, delay_ms: #delay, max_delay_ms: #max } }
}

/// `rt::AuthKind` of what a route of `service` asks of its callers.
pub(super) fn route_auth_kind(service: &Service, route: &Route) -> TokenStream {
    if !service.auth_applies(route) {
        return quote! { rt::AuthKind::None };
    }
    auth_kind(service)
}

/// `rt::AuthKind` of the service's `auth`.
pub(super) fn auth_kind(service: &Service) -> TokenStream {
    match service.auth.as_ref().map(|a| a.value.as_str()) {
        Some("jwt") => quote! { rt::AuthKind::Jwt },
        Some("apiKey") => quote! { rt::AuthKind::ApiKey },
        _ => quote! { rt::AuthKind::None },
    }
}

/// `rt::RouteAuth` of a route of `service`: whether callers must, may or
/// need not authenticate.
pub(super) fn route_auth(service: &Service, route: &Route) -> TokenStream {
    if !service.auth_applies(route) {
        quote! { rt::RouteAuth::None }
    } else if route.auth.as_ref().is_some_and(|a| a.value == "optional") {
        quote! { rt::RouteAuth::Optional }
    } else {
        quote! { rt::RouteAuth::Required }
    }
}

/// `rt::Scope` of a rate limit (absent: per API key).
pub(super) fn rate_scope(scope: Option<Scope>) -> TokenStream {
    match scope {
        Some(Scope::User) => quote! { rt::Scope::User },
        Some(Scope::Ip) => quote! { rt::Scope::Ip },
        Some(Scope::Global) => quote! { rt::Scope::Global },
        Some(Scope::Key) | None => quote! { rt::Scope::Key },
    }
}
