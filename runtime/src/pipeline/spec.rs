//! The static description of a service that generated code hands to the
//! runtime: what the manifest declared, as plain data.
//!
//! Generated crates build these tables as `static` items; the runtime reads
//! them to route, authenticate, authorize, limit and document. Everything
//! here is `'static` and `Copy`-cheap so a route lookup costs nothing.

/// How a service authenticates callers (`auth:` in the manifest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// No authentication.
    None,
    /// `Authorization: Bearer <JWT>`.
    Jwt,
    /// `X-API-Key: <key>`.
    ApiKey,
}

/// Whether a route needs a caller (`auth:` on the route).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteAuth {
    /// A valid credential is required (401 without one).
    Required,
    /// A credential is checked when present; anonymous callers pass.
    Optional,
    /// Credentials are ignored.
    None,
}

/// Whom a rate limit counts (`per user|ip|key|global`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The authenticated subject (falls back to the IP for anonymous calls).
    User,
    /// The client's IP address.
    Ip,
    /// The credential (API key or token); falls back to the IP.
    Key,
    /// Every caller together.
    Global,
}

/// `rateLimit: 10/min per user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateSpec {
    /// Requests allowed per period.
    pub count: u32,
    /// The period in seconds.
    pub per_seconds: u64,
    /// Whom it counts.
    pub scope: Scope,
}

/// A role and the permissions it grants (`orders:read`, `orders:read:own`, `*`).
#[derive(Clone, Copy, Debug)]
pub struct RoleSpec {
    /// The role's name, as it appears in tokens and API-key files.
    pub name: &'static str,
    /// Its grants.
    pub grants: &'static [&'static str],
}

/// A pricing plan (compiler/docs/language.md, "Pricing").
#[derive(Clone, Copy, Debug)]
pub struct PlanSpec {
    /// The plan's name, as it appears in tokens (`plan` claim) and API-key files.
    pub name: &'static str,
    /// Operations included; `*` for all.
    pub features: &'static [&'static str],
    /// Request quota: count per period in seconds (`requests: 1000/day`).
    pub requests: Option<(u32, u64)>,
}

/// One route as the manifest declared it.
#[derive(Clone, Copy, Debug)]
pub struct RouteSpec {
    /// `GET`, `POST`, ...
    pub method: &'static str,
    /// The path template, `/orders/{id}`.
    pub path: &'static str,
    /// The operation name (`createOrder`).
    pub operation: &'static str,
    /// Whether a caller is needed.
    pub auth: RouteAuth,
    /// The permission to hold, without any `:own` suffix.
    pub permission: Option<&'static str>,
    /// The output's owner field, for `:own` grants (`customerId`).
    pub owner_field: Option<&'static str>,
    /// `rateLimit:`
    pub rate_limit: Option<RateSpec>,
    /// `idempotent: true` (honours `Idempotency-Key`).
    pub idempotent: bool,
    /// `timeout:` in milliseconds; the server default applies otherwise.
    pub timeout_ms: Option<u64>,
    /// `cache:` in seconds (GET only).
    pub cache_seconds: Option<u64>,
    /// The success status.
    pub status: u16,
    /// The request body's schema component, when the route takes a body.
    pub body: Option<BodySpec>,
    /// Field names whose values are personal data, redacted in logs.
    pub sensitive: &'static [&'static str],
    /// Deprecated (answers carry a `Deprecation` header).
    pub deprecated: bool,
}

impl RouteSpec {
    /// A route of the runtime's own: no caller needed, no permission,
    /// limits, timeout, cache or body, answering 200. Built-in routes
    /// start from it and set what differs (`..RouteSpec::builtin(..)`).
    pub const fn builtin(
        method: &'static str,
        path: &'static str,
        operation: &'static str,
    ) -> RouteSpec {
        RouteSpec {
            method,
            path,
            operation,
            auth: RouteAuth::None,
            permission: None,
            owner_field: None,
            rate_limit: None,
            idempotent: false,
            timeout_ms: None,
            cache_seconds: None,
            status: 200,
            body: None,
            sensitive: &[],
            deprecated: false,
        }
    }
}

/// A request body.
#[derive(Clone, Copy, Debug)]
pub struct BodySpec {
    /// Its JSON Schema, whose `$ref`s point into the service's schemas
    /// (`{"$ref":"#/$defs/CreateOrderInput"}`), or the name of one of
    /// those components (`CreateOrderInput`).
    pub schema: &'static str,
    /// Whether a body must be sent.
    pub required: bool,
}

/// A subscription: an event and the handler it is delivered to, at least
/// once, with the manifest's retry policy.
#[derive(Clone, Copy, Debug)]
pub struct SubscriptionSpec {
    /// The event (`Order.created`).
    pub event: &'static str,
    /// The handler's name as the manifest writes it.
    pub handler: &'static str,
    /// The retry policy (`retry:`).
    pub retry: RetrySpec,
    /// Whether an event that exhausts its attempts is kept as a dead
    /// letter (`deadLetter:`, default true) rather than dropped.
    pub dead_letter: bool,
}

/// How delays between attempts grow (`backoff:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay every time.
    Fixed,
    /// The delay grows by the first delay after each failed attempt.
    Linear,
    /// The delay doubles after each failed attempt.
    Exponential,
}

/// A retry policy as the manifest writes it (`retry: { attempts: 5,
/// backoff: exponential, delay: 1s, maxDelay: 1m }`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetrySpec {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// How the delay grows.
    pub backoff: Backoff,
    /// The delay before the first retry, in milliseconds.
    pub delay_ms: u64,
    /// The longest delay, in milliseconds.
    pub max_delay_ms: Option<u64>,
}

/// A scheduled job.
#[derive(Clone, Copy, Debug)]
pub struct JobSpec {
    /// The job's name.
    pub name: &'static str,
    /// Its schedule as the manifest writes it (`@daily`, `every 5m`), for
    /// messages.
    pub schedule: &'static str,
    /// The 5-field cron line the compiler checked it as (macros and
    /// intervals expanded), the one the wrangler config deploys: what the
    /// scheduler reads.
    pub cron: &'static str,
    /// Longest run in milliseconds.
    pub timeout_ms: Option<u64>,
}

/// A state transition of the service's entity.
#[derive(Clone, Copy, Debug)]
pub struct TransitionSpec {
    /// Its name.
    pub name: &'static str,
    /// States it leaves.
    pub from: &'static [&'static str],
    /// State it enters.
    pub to: &'static str,
    /// The event written with it.
    pub emits: Option<&'static str>,
}

/// A synchronous dependency (`calls:`): where its operation lives.
#[derive(Clone, Copy, Debug)]
pub struct CallSpec {
    /// The service called (`InventoryService`).
    pub service: &'static str,
    /// Its operation.
    pub operation: &'static str,
    /// Method.
    pub method: &'static str,
    /// Path template.
    pub path: &'static str,
    /// How the called route authenticates its callers.
    pub auth: AuthKind,
}

/// An operation a saga step runs (`action:` or `compensate:`), as the
/// manifest names it: a route of a service, called over HTTP, or a state
/// transition, run in-process when it is the coordinating service's own
/// and else called at the owner's `POST /_svcc/transitions/{name}`.
#[derive(Clone, Copy, Debug)]
pub struct SagaOperation {
    /// The service (`InventoryService`).
    pub service: &'static str,
    /// Its kebab-case name, for its URL (`SVCC_INVENTORY_SERVICE_URL`).
    pub slug: &'static str,
    /// The operation or transition (`reserve`).
    pub operation: &'static str,
    /// How the service authenticates its callers.
    pub auth: AuthKind,
    /// A route, or a transition.
    pub target: SagaTarget,
}

/// What a [`SagaOperation`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaTarget {
    /// A route: `path` parameters are filled from the step input's fields
    /// of the same names, and the input is the body unless the method
    /// takes none.
    Route {
        /// Method.
        method: &'static str,
        /// Path template.
        path: &'static str,
    },
    /// A state transition: the input is the entity (its `id` says which).
    Transition,
}

/// Outbound call policy (`resilience:`).
#[derive(Clone, Copy, Debug)]
pub struct ResilienceSpec {
    /// Per-attempt timeout in milliseconds.
    pub timeout_ms: u64,
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// First retry delay in milliseconds.
    pub delay_ms: u64,
    /// Whether delays double each time.
    pub exponential: bool,
    /// Consecutive failures that open the circuit (0 = no breaker).
    pub breaker_failures: u32,
    /// How long an open circuit stays open, in milliseconds.
    pub breaker_reset_ms: u64,
}

/// Everything the runtime needs to know about a service.
#[derive(Clone, Copy, Debug)]
pub struct ServiceSpec {
    /// PascalCase name (`OrderService`).
    pub name: &'static str,
    /// kebab-case name (`order-service`), used for environment variables and metrics.
    pub slug: &'static str,
    /// `version:`
    pub version: &'static str,
    /// `auth:`
    pub auth: AuthKind,
    /// `roles:`
    pub roles: &'static [RoleSpec],
    /// Pricing plans, empty when the service has none.
    pub plans: &'static [PlanSpec],
    /// `health.checks`
    pub health_checks: &'static [&'static str],
    /// JSON Schema (2020-12) of every component, as one object of `$defs`.
    pub schemas: &'static str,
    /// `events.subscribes`
    pub subscriptions: &'static [SubscriptionSpec],
    /// `jobs`
    pub jobs: &'static [JobSpec],
    /// `state.transitions`
    pub transitions: &'static [TransitionSpec],
    /// Outbound call policy.
    pub resilience: ResilienceSpec,
}

impl Default for ResilienceSpec {
    fn default() -> Self {
        ResilienceSpec {
            timeout_ms: 10_000,
            attempts: 1,
            delay_ms: 100,
            exponential: false,
            breaker_failures: 0,
            breaker_reset_ms: 0,
        }
    }
}

/// The role saga calls are made with: services grant the permissions of
/// the operations sagas call to it (`service: [stock:reserve]`), and the
/// runtime's transition endpoints accept it.
pub const SERVICE_ROLE: &str = "service";

/// The permission of `POST /_svcc/transitions/{name}`: granted by `*` and
/// to callers holding [`SERVICE_ROLE`].
pub const TRANSITION_PERMISSION: &str = "svcc:transitions";

/// Where the runtime serves a service's transition `name`.
pub fn transition_path(name: &str) -> String {
    format!("/_svcc/transitions/{name}")
}
