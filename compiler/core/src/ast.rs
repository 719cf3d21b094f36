//! The lowered manifests: typed, spanned, not yet resolved.
//!
//! Lowering turns document trees into these structs. Names are still
//! strings here; [`crate::resolve`] builds the symbol tables that connect
//! them. Every name and value a diagnostic might point at is `Spanned`.

use crate::load::Node;
pub use crate::number::Number;
use crate::source::{Span, Spanned};
use crate::syntax::cron::Schedule;
use crate::syntax::duration::Duration;
use crate::syntax::path::DataPath;
use crate::syntax::rate::Rate;
use crate::syntax::reference::{EventName, OperationRef};
use crate::syntax::route::{Method, Segment};
pub use crate::syntax::type_expr::{Primitive, TypeExpr, TypeExprKind};
use crate::syntax::when;

/// All documents of a project.
#[derive(Clone, Debug, Default)]
pub struct Ast {
    /// Every named type: the library's first, then the project's.
    pub types: Vec<TypeDef>,
    /// Every service.
    pub services: Vec<Service>,
    /// Every saga.
    pub sagas: Vec<Saga>,
    /// Every pricing document.
    pub pricing: Vec<Pricing>,
    /// Every deployment.
    pub deployments: Vec<Deployment>,
    /// Names of `Types` documents, for duplicate checks.
    pub type_documents: Vec<Spanned<String>>,
}

/// Where a type was defined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The built-in schema.org library.
    Library,
    /// A `Types` document of the project.
    Types,
    /// A service's `types:`; the service's name.
    Service(String),
}

/// A named type.
#[derive(Clone, Debug)]
pub struct TypeDef {
    /// Its name.
    pub name: Spanned<String>,
    /// Docs.
    pub description: Option<String>,
    /// What it is.
    pub body: TypeBody,
    /// Where it came from.
    pub origin: Origin,
    /// Marked deprecated.
    pub deprecated: bool,
}

/// The three kinds of named type.
#[derive(Clone, Debug)]
pub enum TypeBody {
    /// An object with fields, maybe extending another object.
    Object {
        /// `extends:`
        extends: Option<TypeExpr>,
        /// Its own fields, in source order.
        fields: Vec<Field>,
    },
    /// An enumeration.
    Enum(Vec<Spanned<String>>),
    /// A tagged union.
    OneOf {
        /// tag -> variant type.
        variants: Vec<(Spanned<String>, TypeExpr)>,
        /// The tag property.
        discriminator: Spanned<String>,
    },
    /// The definition was malformed (already reported).
    Invalid,
}

/// A field of an object, error, or parameter list.
#[derive(Clone, Debug)]
pub struct Field {
    /// Its name.
    pub name: Spanned<String>,
    /// Its type; `None` when the expression did not parse (already reported).
    pub ty: Option<TypeExpr>,
    /// Its constraints.
    pub constraints: Constraints,
}

impl Field {
    /// Whether the field must be present.
    pub fn is_required(&self) -> bool {
        self.ty.as_ref().is_some_and(|t| !t.is_optional()) && self.constraints.default.is_none()
    }
}

/// Constraints on a field (MANIFESTS.md section 2).
#[derive(Clone, Debug, Default)]
pub struct Constraints {
    /// Docs.
    pub description: Option<String>,
    /// `default:` as written.
    pub default: Option<Node>,
    /// `example:` as written.
    pub example: Option<Node>,
    /// `min:`
    pub min: Option<Spanned<Number>>,
    /// `max:`
    pub max: Option<Spanned<Number>>,
    /// `exclusiveMin:`
    pub exclusive_min: Option<Spanned<Number>>,
    /// `exclusiveMax:`
    pub exclusive_max: Option<Spanned<Number>>,
    /// `minLength:`
    pub min_length: Option<Spanned<u64>>,
    /// `maxLength:`
    pub max_length: Option<Spanned<u64>>,
    /// `pattern:` with its node (for spans inside it).
    pub pattern: Option<(String, Node)>,
    /// `minItems:`
    pub min_items: Option<Spanned<u64>>,
    /// `maxItems:`
    pub max_items: Option<Spanned<u64>>,
    /// `readOnly: true`
    pub read_only: bool,
    /// `writeOnly: true`
    pub write_only: bool,
    /// `deprecated: true`
    pub deprecated: bool,
    /// `sensitive: true`
    pub sensitive: bool,
}

/// A service document.
#[derive(Clone, Debug)]
pub struct Service {
    /// Its name.
    pub name: Spanned<String>,
    /// `version:`
    pub version: Option<Spanned<String>>,
    /// Docs.
    pub description: Option<String>,
    /// `auth:` (`none` when absent).
    pub auth: Option<Spanned<String>>,
    /// `roles:`
    pub roles: Vec<Role>,
    /// `errors:`
    pub errors: Vec<ErrorDef>,
    /// `routes:`
    pub routes: Vec<Route>,
    /// `events.publishes`
    pub publishes: Vec<Publish>,
    /// `events.subscribes`
    pub subscribes: Vec<Subscribe>,
    /// `state:`
    pub state: Option<StateMachine>,
    /// `jobs:`
    pub jobs: Vec<Job>,
    /// `calls:`
    pub calls: Vec<Spanned<OperationRef>>,
    /// `resilience:`
    pub resilience: Option<Resilience>,
    /// `health.checks`
    pub health: Vec<Spanned<String>>,
}

impl Service {
    /// Whether the service authenticates callers.
    pub fn has_auth(&self) -> bool {
        self.auth.as_ref().is_some_and(|a| a.value != "none")
    }
}

/// A role and the permissions it grants.
#[derive(Clone, Debug)]
pub struct Role {
    /// Its name.
    pub name: Spanned<String>,
    /// Permissions: `orders:read`, `orders:read:own`, `*`.
    pub grants: Vec<Spanned<String>>,
}

/// A declared error.
#[derive(Clone, Debug)]
pub struct ErrorDef {
    /// Its name.
    pub name: Spanned<String>,
    /// HTTP status.
    pub status: Option<Spanned<i64>>,
    /// Docs.
    pub description: Option<String>,
    /// Extra problem members.
    pub fields: Vec<Field>,
}

/// A route.
#[derive(Clone, Debug)]
pub struct Route {
    /// The key as written, with its span.
    pub key: Spanned<String>,
    /// The method.
    pub method: Spanned<Method>,
    /// The path's segments.
    pub segments: Vec<(Segment, Span)>,
    /// Canonical path: `/orders/{id}`.
    pub path: String,
    /// Written in the short form `METHOD /path: operation`.
    pub short: bool,
    /// The operation name.
    pub operation: Option<Spanned<String>>,
    /// One line of docs.
    pub summary: Option<String>,
    /// Docs.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Request body.
    pub input: Option<TypeExpr>,
    /// Success body.
    pub output: Option<TypeExpr>,
    /// Success status.
    pub status: Option<Spanned<i64>>,
    /// Path parameter types.
    pub params: Vec<Field>,
    /// Query parameters.
    pub query: Vec<Field>,
    /// Headers.
    pub headers: Vec<Field>,
    /// Declared errors.
    pub errors: Vec<Spanned<String>>,
    /// `auth:` override.
    pub auth: Option<Spanned<String>>,
    /// `permission:`
    pub permission: Option<Spanned<String>>,
    /// `owner:`
    pub owner: Option<Spanned<String>>,
    /// `rateLimit:`
    pub rate_limit: Option<Spanned<Rate>>,
    /// `idempotent:`
    pub idempotent: Option<Spanned<bool>>,
    /// `timeout:`
    pub timeout: Option<Spanned<Duration>>,
    /// `cache:`
    pub cache: Option<Spanned<Duration>>,
    /// `emits:`
    pub emits: Vec<Spanned<EventName>>,
    /// `deprecated:`
    pub deprecated: bool,
    /// `async:`
    pub is_async: bool,
}

/// A published event.
#[derive(Clone, Debug)]
pub struct Publish {
    /// The event.
    pub event: Spanned<EventName>,
    /// Its payload type.
    pub payload: Option<TypeExpr>,
    /// Docs.
    pub description: Option<String>,
}

/// A subscription.
#[derive(Clone, Debug)]
pub struct Subscribe {
    /// The event.
    pub event: Spanned<EventName>,
    /// The handler.
    pub handler: Option<Spanned<String>>,
    /// Retry policy.
    pub retry: Option<Retry>,
    /// Dead-letter queue (default true).
    pub dead_letter: bool,
    /// Published outside the project.
    pub external: Option<Spanned<bool>>,
    /// Payload of an external event.
    pub payload: Option<TypeExpr>,
}

/// A retry policy.
#[derive(Clone, Debug, Default)]
pub struct Retry {
    /// Attempts in all.
    pub attempts: Option<Spanned<i64>>,
    /// `fixed`, `linear`, `exponential`.
    pub backoff: Option<Spanned<String>>,
    /// First delay.
    pub delay: Option<Spanned<Duration>>,
    /// Longest delay.
    pub max_delay: Option<Spanned<Duration>>,
}

/// The state machine of a service's core entity.
#[derive(Clone, Debug)]
pub struct StateMachine {
    /// The `state:` key.
    pub span: Span,
    /// The entity type's name.
    pub entity: Option<Spanned<String>>,
    /// The enum field holding the state.
    pub field: Option<Spanned<String>>,
    /// The first state.
    pub initial: Option<Spanned<String>>,
    /// Transitions.
    pub transitions: Vec<Transition>,
}

/// A state transition.
#[derive(Clone, Debug)]
pub struct Transition {
    /// Its name (an operation of the handler trait).
    pub name: Spanned<String>,
    /// States it leaves.
    pub from: Vec<Spanned<String>>,
    /// State it enters.
    pub to: Option<Spanned<String>>,
    /// Event written with it.
    pub emits: Option<Spanned<EventName>>,
}

/// A scheduled job.
#[derive(Clone, Debug)]
pub struct Job {
    /// Its name (the handler).
    pub name: Spanned<String>,
    /// The schedule as written (`@daily`, `every 5m`), for docs and
    /// messages; `None` when absent or not a string.
    pub written: Option<String>,
    /// What the schedule means; its [`Schedule::cron`] is the line that is
    /// deployed and run. `None` when absent or invalid (already reported).
    pub schedule: Option<Spanned<Schedule>>,
    /// Longest run.
    pub timeout: Option<Spanned<Duration>>,
}

/// Outbound call policies.
#[derive(Clone, Debug, Default)]
pub struct Resilience {
    /// Per-call timeout.
    pub timeout: Option<Spanned<Duration>>,
    /// Retry policy.
    pub retry: Option<Retry>,
    /// Circuit breaker.
    pub circuit_breaker: Option<CircuitBreaker>,
}

/// Stop calling a dependency after repeated failures.
#[derive(Clone, Debug, Default)]
pub struct CircuitBreaker {
    /// Consecutive failures that open the circuit.
    pub failures: Option<Spanned<i64>>,
    /// Time before trying again.
    pub reset: Option<Spanned<Duration>>,
}

/// A saga: steps with compensations (MANIFESTS.md section 4).
#[derive(Clone, Debug)]
pub struct Saga {
    /// Its name.
    pub name: Spanned<String>,
    /// The event that starts it; its payload is the saga's input.
    pub trigger: Option<Spanned<EventName>>,
    /// Steps and parallel groups, in order.
    pub steps: Vec<SagaItem>,
    /// Events the saga itself publishes.
    pub publishes: Vec<Publish>,
    /// Published when it succeeds.
    pub on_success: Option<Spanned<EventName>>,
    /// Published when it fails.
    pub on_failure: Option<Spanned<EventName>>,
    /// Longest run.
    pub timeout: Option<Spanned<Duration>>,
}

impl Saga {
    /// Every step, parallel groups flattened, in order.
    pub fn all_steps(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().flat_map(|item| match item {
            SagaItem::Step(s) => std::slice::from_ref(s),
            SagaItem::Parallel { steps, .. } => steps.as_slice(),
        })
    }
}

/// One entry of `steps:`.
// A saga has a handful of items: boxing the step would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum SagaItem {
    /// A single step.
    Step(Step),
    /// Steps that run together.
    Parallel {
        /// The `parallel` key.
        span: Span,
        /// The steps.
        steps: Vec<Step>,
    },
}

/// A saga step.
#[derive(Clone, Debug)]
pub struct Step {
    /// The list item.
    pub span: Span,
    /// Its name.
    pub name: Option<Spanned<String>>,
    /// `Service.operation` it runs.
    pub action: Option<Spanned<OperationRef>>,
    /// What undoes it.
    pub compensate: Option<Compensation>,
    /// What the action receives: `None` for the saga's input.
    pub input: Option<StepInput>,
    /// Run only when this holds (`None` when absent or invalid: already
    /// reported); the span is the whole `when:` value.
    pub when: Option<Spanned<when::Expr>>,
    /// Longest run.
    pub timeout: Option<Spanned<Duration>>,
    /// Retry policy.
    pub retry: Option<Retry>,
}

/// A step's `input:`.
#[derive(Clone, Debug)]
pub enum StepInput {
    /// A path into the saga's data; the span covers the text of the path.
    Path(Spanned<DataPath>),
    /// Written, but not a path (already reported): the step's input is
    /// unknown.
    Invalid,
}

/// A step's `compensate:`.
#[derive(Clone, Debug)]
pub enum Compensation {
    /// `compensate: none`: nothing to undo.
    Nothing(Span),
    /// The operation that undoes the step.
    Operation(Spanned<OperationRef>),
}

/// Pricing plans of a service (MANIFESTS.md section 5).
#[derive(Clone, Debug)]
pub struct Pricing {
    /// Its name.
    pub name: Spanned<String>,
    /// The service priced.
    pub service: Option<Spanned<String>>,
    /// ISO 4217 code.
    pub currency: Option<Spanned<String>>,
    /// The plans.
    pub plans: Vec<Plan>,
    /// Free trial.
    pub trial: Option<Spanned<Duration>>,
    /// Overage pricing: unit and price.
    pub overage: Option<(Option<Spanned<String>>, Option<Node>)>,
}

/// A pricing plan.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The list item.
    pub span: Span,
    /// Its name.
    pub name: Option<Spanned<String>>,
    /// `price:` as written (a number, `0` or `custom`).
    pub price: Option<Node>,
    /// Billing interval.
    pub interval: Option<Spanned<String>>,
    /// Usage limits: name and rate.
    pub limits: Vec<(Spanned<String>, Option<Spanned<Rate>>)>,
    /// Operations included, or `*`.
    pub features: Vec<Spanned<String>>,
}

/// A Cloudflare deployment of a service (MANIFESTS.md section 6).
#[derive(Clone, Debug)]
pub struct Deployment {
    /// Its name.
    pub name: Spanned<String>,
    /// The service deployed.
    pub service: Option<Spanned<String>>,
    /// `compatibilityDate:`
    pub compatibility_date: Option<Spanned<String>>,
    /// Plain variables, inherited by every environment.
    pub vars: Vec<(Spanned<String>, Node)>,
    /// Secret names.
    pub secrets: Vec<Spanned<String>>,
    /// Bindings, inherited by every environment.
    pub bindings: Vec<Binding>,
    /// `resources:` as written.
    pub resources: Option<Node>,
    /// `observability:` as written.
    pub observability: Option<Node>,
    /// Environments.
    pub environments: Vec<Environment>,
}

/// A binding: kind (`kv`, `r2`, `d1`, `durableObjects`), name and settings.
#[derive(Clone, Debug)]
pub struct Binding {
    /// The kind, as written.
    pub kind: Spanned<String>,
    /// The binding name.
    pub name: Spanned<String>,
    /// Its settings.
    pub settings: Node,
}

/// A deployment environment.
#[derive(Clone, Debug)]
pub struct Environment {
    /// Its name.
    pub name: Spanned<String>,
    /// Route patterns.
    pub routes: Vec<Spanned<String>>,
    /// Variables added for this environment.
    pub vars: Vec<(Spanned<String>, Node)>,
    /// Rollout strategy.
    pub strategy: Option<Strategy>,
}

/// How a new version rolls out.
#[derive(Clone, Debug)]
pub struct Strategy {
    /// The `strategy` key.
    pub span: Span,
    /// `rolling`, `canary`, `blue-green`, `immediate`.
    pub kind: Option<Spanned<String>>,
    /// Percent of traffic at each step.
    pub steps: Vec<Spanned<i64>>,
    /// The `steps` key, when present.
    pub steps_span: Option<Span>,
    /// Wait between steps.
    pub interval: Option<Spanned<Duration>>,
    /// Whether `interval` is written (even if it did not parse).
    pub has_interval: bool,
    /// Rollback thresholds.
    pub rollback: Vec<Threshold>,
}

/// A rollback threshold: `errorRate: 1%`, `p95: 500ms`.
#[derive(Clone, Debug)]
pub struct Threshold {
    /// The metric.
    pub key: Spanned<String>,
    /// The value as written, for messages.
    pub value: Node,
    /// What it means; `None` when the key is unknown or the value does not
    /// suit it (the check says which).
    pub limit: Option<Limit>,
}

impl Threshold {
    /// The latency percentiles a threshold can bound.
    pub const LATENCIES: [&'static str; 5] = ["p50", "p75", "p90", "p95", "p99"];
}

/// The bound a rollback threshold sets.
#[derive(Clone, Debug, PartialEq)]
pub enum Limit {
    /// `errorRate`: the share of failed requests in percent, above 0 and
    /// up to 100, the number as written (`0.5` of `0.5%`).
    ErrorRate(String),
    /// `p50` ... `p99`: the latency at that percentile.
    Latency(Duration),
}
