//! The shape of the manifest format: every block, its fields, their value kinds.
//!
//! This table is the single source of truth for what keys exist. The generic
//! shape validator ([`super::validate`]) reports unknown fields (with a
//! did-you-mean over the block's own fields), missing required fields, wrong
//! value types and bad identifiers from it, and [`crate::schema`] generates
//! the editor JSON Schema (`schemas/svcc.schema.json`) from it. The typed
//! lowering then only reads keys listed here.

/// Naming rules for identifiers (MANIFESTS.md section 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ident {
    /// `OrderService`, `Money`: `[A-Z][A-Za-z0-9]*`.
    Pascal,
    /// `createOrder` or `customer_id`.
    CamelOrSnake,
    /// `my-shop`.
    Kebab,
    /// Environment and binding names: `[A-Za-z_][A-Za-z0-9_-]*`.
    Wrangler,
}

/// What a value may be.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// Any string.
    String,
    /// A string naming something, checked against a naming rule.
    Name(Ident),
    /// A whole number.
    Integer,
    /// A number (integer or decimal).
    Number,
    /// `true` / `false`.
    Boolean,
    /// Anything (defaults and examples).
    Any,
    /// A string in the duration grammar.
    Duration,
    /// A semantic version; a YAML number like `1.2` is accepted here so the
    /// check can say "write `1.2.0`" instead of "quote it".
    Version,
    /// A string in the rate grammar.
    Rate,
    /// A string in the type-expression grammar.
    Type,
    /// A string in the event-name grammar.
    Event,
    /// A string in the `Service.operation` grammar.
    Operation,
    /// A string in the route-key grammar (map keys only).
    RouteKey,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// A list of values.
    List(&'static Value),
    /// A mapping with free keys.
    Map {
        /// What the keys are.
        key: &'static Value,
        /// What the values are.
        value: &'static Value,
    },
    /// A mapping with fixed keys.
    Block(&'static Block),
    /// A short form (a scalar) or a long form (a block), told apart by the
    /// node's kind: the first alternative whose kind matches is used.
    Either(&'static Value, &'static Value),
}

/// A mapping with a fixed set of keys.
#[derive(Debug)]
pub struct Block {
    /// Name used in messages and as the JSON Schema definition name.
    pub name: &'static str,
    /// What the block is, for editors.
    pub description: &'static str,
    /// Its keys.
    pub fields: &'static [Field],
}

/// One key of a block.
#[derive(Debug)]
pub struct Field {
    /// The key.
    pub key: &'static str,
    /// Its value.
    pub value: Value,
    /// Whether it must be present.
    pub required: bool,
    /// What it means, for editors.
    pub description: &'static str,
}

impl Block {
    /// The field called `key`.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// Every key, for did-you-mean.
    pub fn keys(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().map(|f| f.key)
    }
}

const fn req(key: &'static str, value: Value, description: &'static str) -> Field {
    Field {
        key,
        value,
        required: true,
        description,
    }
}

const fn opt(key: &'static str, value: Value, description: &'static str) -> Field {
    Field {
        key,
        value,
        required: false,
        description,
    }
}

/// The document kinds.
pub const KINDS: [&str; 5] = ["Types", "Service", "Saga", "Pricing", "Deployment"];

// ---------------------------------------------------------------- types

const CONSTRAINTS: [Field; 17] = [
    req("type", Value::Type, "The field's type expression"),
    opt("description", Value::String, "What the field means"),
    opt(
        "default",
        Value::Any,
        "Value used when the field is absent; must satisfy the constraints",
    ),
    opt(
        "example",
        Value::Any,
        "An example value; must satisfy the constraints",
    ),
    opt("min", Value::Number, "Smallest allowed number"),
    opt("max", Value::Number, "Largest allowed number"),
    opt(
        "exclusiveMin",
        Value::Number,
        "Numbers must be greater than this",
    ),
    opt(
        "exclusiveMax",
        Value::Number,
        "Numbers must be less than this",
    ),
    opt("minLength", Value::Integer, "Shortest allowed string"),
    opt("maxLength", Value::Integer, "Longest allowed string"),
    opt(
        "pattern",
        Value::String,
        "Regular expression strings must match",
    ),
    opt("minItems", Value::Integer, "Fewest items in a list or set"),
    opt("maxItems", Value::Integer, "Most items in a list or set"),
    opt(
        "readOnly",
        Value::Boolean,
        "Set by the server; left out of request bodies",
    ),
    opt(
        "writeOnly",
        Value::Boolean,
        "Accepted in requests; left out of responses",
    ),
    opt("deprecated", Value::Boolean, "Still accepted, going away"),
    opt(
        "sensitive",
        Value::Boolean,
        "Personal data: redacted in logs, marked in OpenAPI",
    ),
];

/// `name: { type: T, ...constraints }`.
pub static FIELD: Block = Block {
    name: "Field",
    description: "A field: its type and constraints",
    fields: &CONSTRAINTS,
};

/// `name: T` or `name: { type: T, ... }`.
pub const FIELD_VALUE: Value = Value::Either(&Value::Type, &Value::Block(&FIELD));

/// A map of fields.
pub const FIELDS: Value = Value::Map {
    key: &Value::Name(Ident::CamelOrSnake),
    value: &FIELD_VALUE,
};

/// One named type.
pub static TYPE_DEF: Block = Block {
    name: "TypeDefinition",
    description: "A named type: an object (`fields`), an enumeration (`enum`) or a tagged union (`oneOf`)",
    fields: &[
        opt("description", Value::String, "What the type is"),
        opt("fields", FIELDS, "The object's fields"),
        opt(
            "extends",
            Value::Type,
            "A type whose fields this one inherits (narrowing only)",
        ),
        opt(
            "enum",
            Value::List(&Value::String),
            "The values of an enumeration",
        ),
        opt(
            "oneOf",
            Value::Map {
                key: &Value::String,
                value: &Value::Type,
            },
            "Variants of a tagged union: tag -> object type",
        ),
        opt(
            "discriminator",
            Value::String,
            "The property that tells the variants apart (default `type`)",
        ),
        opt("example", Value::Any, "An example value"),
        opt("deprecated", Value::Boolean, "The type is going away"),
    ],
};

const TYPES_MAP: Value = Value::Map {
    key: &Value::Name(Ident::Pascal),
    value: &Value::Block(&TYPE_DEF),
};

/// `kind: Types`.
pub static TYPES_DOC: Block = Block {
    name: "Types",
    description: "A document of shared types",
    fields: &[
        req("kind", Value::OneOf(&KINDS), "The document kind"),
        req("name", Value::Name(Ident::Pascal), "The document's name"),
        opt("description", Value::String, "What these types are for"),
        req("types", TYPES_MAP, "The types, by name"),
    ],
};

// ---------------------------------------------------------------- services

/// Retry policy for events and calls.
pub static RETRY: Block = Block {
    name: "Retry",
    description: "How to retry",
    fields: &[
        opt(
            "attempts",
            Value::Integer,
            "Attempts in all, the first included",
        ),
        opt(
            "backoff",
            Value::OneOf(&["fixed", "linear", "exponential"]),
            "How the delay grows",
        ),
        opt("delay", Value::Duration, "First delay"),
        opt("maxDelay", Value::Duration, "Longest delay"),
    ],
};

static ERROR_DEF: Block = Block {
    name: "Error",
    description: "A declared error, served as an RFC 9457 problem",
    fields: &[
        req("status", Value::Integer, "HTTP status, 400-599"),
        opt("description", Value::String, "What went wrong"),
        opt("fields", FIELDS, "Extra members of the problem body"),
    ],
};

const ROUTE_AUTH: [&str; 3] = ["required", "optional", "none"];

/// One route's contract.
pub static ROUTE: Block = Block {
    name: "Route",
    description: "A route's contract",
    fields: &[
        req(
            "operation",
            Value::Name(Ident::CamelOrSnake),
            "The operation's name, unique in the service",
        ),
        opt("summary", Value::String, "One line for docs"),
        opt("description", Value::String, "Longer docs"),
        opt("tags", Value::List(&Value::String), "Grouping tags"),
        opt(
            "input",
            Value::Type,
            "Request body type (not on GET, HEAD, DELETE)",
        ),
        opt(
            "output",
            Value::Type,
            "Success body type; absent means no body",
        ),
        opt(
            "status",
            Value::Integer,
            "Success status (default 200, 201 for POST with output, 204 without output)",
        ),
        opt("params", FIELDS, "Path parameter types"),
        opt("query", FIELDS, "Query parameters"),
        opt(
            "headers",
            Value::Map {
                key: &Value::String,
                value: &FIELD_VALUE,
            },
            "Request headers",
        ),
        opt(
            "errors",
            Value::List(&Value::Name(Ident::Pascal)),
            "Declared errors this route may return",
        ),
        opt(
            "auth",
            Value::OneOf(&ROUTE_AUTH),
            "Whether a caller must authenticate",
        ),
        opt(
            "permission",
            Value::String,
            "Permission a caller's role must grant (`:own` for owner-only)",
        ),
        opt(
            "owner",
            Value::Name(Ident::CamelOrSnake),
            "Field of the output that holds the owner's id",
        ),
        opt(
            "rateLimit",
            Value::Rate,
            "`N/s|min|h|day`, optionally `per user|ip|key|global`",
        ),
        opt(
            "idempotent",
            Value::Boolean,
            "Honour an Idempotency-Key header (POST, PATCH)",
        ),
        opt("timeout", Value::Duration, "Handler timeout"),
        opt("cache", Value::Duration, "Cache lifetime (GET only)"),
        opt(
            "emits",
            Value::List(&Value::Event),
            "Events this operation may publish",
        ),
        opt("deprecated", Value::Boolean, "The route is going away"),
        opt("async", Value::Boolean, "Returns 202 with a job id"),
    ],
};

static PUBLISH: Block = Block {
    name: "Publish",
    description: "A published event",
    fields: &[
        req("payload", Value::Type, "The event's payload type"),
        opt("description", Value::String, "What happened"),
    ],
};

static SUBSCRIBE: Block = Block {
    name: "Subscribe",
    description: "A subscription",
    fields: &[
        opt(
            "handler",
            Value::Name(Ident::CamelOrSnake),
            "Handler name, unique in the service",
        ),
        opt("retry", Value::Block(&RETRY), "Retry policy"),
        opt(
            "deadLetter",
            Value::Boolean,
            "Move events that exhaust their retries to a dead-letter queue (default true)",
        ),
        opt("external", Value::Boolean, "Published outside this project"),
        opt("payload", Value::Type, "Payload type of an external event"),
        opt("description", Value::String, "Why the service listens"),
    ],
};

static EVENTS: Block = Block {
    name: "Events",
    description: "Events the service publishes and consumes",
    fields: &[
        opt(
            "publishes",
            Value::Map {
                key: &Value::Event,
                value: &Value::Either(&Value::Type, &Value::Block(&PUBLISH)),
            },
            "Event -> payload type",
        ),
        opt(
            "subscribes",
            Value::Map {
                key: &Value::Event,
                value: &Value::Either(&Value::Name(Ident::CamelOrSnake), &Value::Block(&SUBSCRIBE)),
            },
            "Event -> handler",
        ),
    ],
};

static TRANSITION: Block = Block {
    name: "Transition",
    description: "A state transition",
    fields: &[
        req(
            "from",
            Value::Either(&Value::String, &Value::List(&Value::String)),
            "State(s) it leaves",
        ),
        req("to", Value::String, "State it enters"),
        opt(
            "emits",
            Value::Event,
            "Event written in the same transaction",
        ),
        opt("description", Value::String, "What it means"),
    ],
};

static STATE: Block = Block {
    name: "State",
    description: "The service's core entity as a state machine",
    fields: &[
        req("entity", Value::Name(Ident::Pascal), "The entity type"),
        req(
            "field",
            Value::Name(Ident::CamelOrSnake),
            "Its enum field that holds the state",
        ),
        req("initial", Value::String, "The first state"),
        req(
            "transitions",
            Value::Map {
                key: &Value::Name(Ident::CamelOrSnake),
                value: &Value::Block(&TRANSITION),
            },
            "Transitions by name",
        ),
    ],
};

static JOB: Block = Block {
    name: "Job",
    description: "A scheduled job",
    fields: &[
        req(
            "schedule",
            Value::String,
            "Cron (5 fields, Cloudflare), `@daily`..., or `every 5m`",
        ),
        opt("timeout", Value::Duration, "Longest run"),
        opt("description", Value::String, "What it does"),
    ],
};

static CIRCUIT_BREAKER: Block = Block {
    name: "CircuitBreaker",
    description: "Stop calling a failing dependency",
    fields: &[
        opt(
            "failures",
            Value::Integer,
            "Consecutive failures that open the circuit",
        ),
        opt("reset", Value::Duration, "Time before trying again"),
    ],
};

static RESILIENCE: Block = Block {
    name: "Resilience",
    description: "Policies for every outbound call",
    fields: &[
        opt("timeout", Value::Duration, "Per call"),
        opt("retry", Value::Block(&RETRY), "Retry policy"),
        opt(
            "circuitBreaker",
            Value::Block(&CIRCUIT_BREAKER),
            "Circuit breaker",
        ),
    ],
};

static HEALTH: Block = Block {
    name: "Health",
    description: "What `GET /health` checks",
    fields: &[opt(
        "checks",
        Value::List(&Value::String),
        "`database` or names of called services",
    )],
};

/// `kind: Service`.
pub static SERVICE_DOC: Block = Block {
    name: "Service",
    description: "A service: routes, events, state machine, jobs, calls",
    fields: &[
        req("kind", Value::OneOf(&KINDS), "The document kind"),
        req("name", Value::Name(Ident::Pascal), "The service's name"),
        opt("version", Value::Version, "Semantic version"),
        opt("description", Value::String, "What the service does"),
        opt(
            "auth",
            Value::OneOf(&["none", "jwt", "apiKey"]),
            "How callers authenticate",
        ),
        opt(
            "roles",
            Value::Map {
                key: &Value::String,
                value: &Value::List(&Value::String),
            },
            "Role -> permissions",
        ),
        opt(
            "errors",
            Value::Map {
                key: &Value::Name(Ident::Pascal),
                value: &Value::Block(&ERROR_DEF),
            },
            "Declared errors",
        ),
        opt("types", TYPES_MAP, "Types, global to the project"),
        opt(
            "routes",
            Value::Map {
                key: &Value::RouteKey,
                value: &Value::Either(&Value::Name(Ident::CamelOrSnake), &Value::Block(&ROUTE)),
            },
            "`METHOD /path` -> contract",
        ),
        opt(
            "events",
            Value::Block(&EVENTS),
            "Published and consumed events",
        ),
        opt(
            "state",
            Value::Block(&STATE),
            "State machine of the core entity",
        ),
        opt(
            "jobs",
            Value::Map {
                key: &Value::Name(Ident::CamelOrSnake),
                value: &Value::Block(&JOB),
            },
            "Scheduled jobs",
        ),
        opt(
            "calls",
            Value::List(&Value::Operation),
            "Synchronous dependencies: `Service.operation`",
        ),
        opt(
            "resilience",
            Value::Block(&RESILIENCE),
            "Outbound call policies",
        ),
        opt("health", Value::Block(&HEALTH), "Health checks"),
    ],
};

// ------------------------------------------------- sagas, pricing, deployments
//
// Their full semantics arrive with "svcc check, part 2"; their shapes are
// here now so that the JSON Schema and unknown-field checks cover them.

static SAGA_STEP: Block = Block {
    name: "SagaStep",
    description: "A step, or a `parallel` group of steps",
    fields: &[
        opt(
            "name",
            Value::Name(Ident::Kebab),
            "Unique step name, kebab-case like `reserve-inventory`",
        ),
        opt("action", Value::Operation, "`Service.operation` to run"),
        opt(
            "compensate",
            Value::String,
            "`Service.operation` that undoes it, or `none`",
        ),
        opt(
            "input",
            Value::String,
            "What the action receives (`input.amount`, `steps.debit.output`)",
        ),
        opt("timeout", Value::Duration, "Longest run"),
        opt("retry", Value::Block(&RETRY), "Retry policy"),
        opt("when", Value::String, "Run only when this expression holds"),
        opt(
            "parallel",
            Value::List(&Value::Block(&SAGA_STEP)),
            "Steps run together",
        ),
    ],
};

/// `kind: Saga`.
pub static SAGA_DOC: Block = Block {
    name: "Saga",
    description: "A saga: steps with compensations",
    fields: &[
        req("kind", Value::OneOf(&KINDS), "The document kind"),
        req("name", Value::Name(Ident::Pascal), "The saga's name"),
        opt("description", Value::String, "What it does"),
        req(
            "trigger",
            Value::Event,
            "Event whose payload is the saga's input",
        ),
        req("steps", Value::List(&Value::Block(&SAGA_STEP)), "The steps"),
        opt(
            "publishes",
            Value::Map {
                key: &Value::Event,
                value: &Value::Type,
            },
            "Events the saga publishes",
        ),
        opt("onSuccess", Value::Event, "Published when it succeeds"),
        opt("onFailure", Value::Event, "Published when it fails"),
        opt("timeout", Value::Duration, "Longest run"),
    ],
};

static PLAN: Block = Block {
    name: "Plan",
    description: "A pricing plan",
    fields: &[
        req("name", Value::String, "Unique plan name"),
        opt("price", Value::Any, "Non-negative decimal, 0, or `custom`"),
        opt(
            "interval",
            Value::OneOf(&["month", "year"]),
            "Billing interval",
        ),
        opt(
            "limits",
            Value::Map {
                key: &Value::String,
                value: &Value::Rate,
            },
            "Usage limits",
        ),
        opt(
            "features",
            Value::List(&Value::String),
            "Operations included, or `*`",
        ),
        opt("description", Value::String, "Who it is for"),
    ],
};

static OVERAGE: Block = Block {
    name: "Overage",
    description: "Price of usage beyond a plan's limits",
    fields: &[
        req("unit", Value::String, "`1000 requests`"),
        req("price", Value::Number, "Price per unit"),
    ],
};

/// `kind: Pricing`.
pub static PRICING_DOC: Block = Block {
    name: "Pricing",
    description: "Pricing plans of a service",
    fields: &[
        req("kind", Value::OneOf(&KINDS), "The document kind"),
        req("name", Value::Name(Ident::Pascal), "The pricing's name"),
        req("service", Value::String, "The service priced"),
        opt("currency", Value::String, "ISO 4217 code"),
        req("plans", Value::List(&Value::Block(&PLAN)), "The plans"),
        opt("trial", Value::Duration, "Free trial length"),
        opt("overage", Value::Block(&OVERAGE), "Overage pricing"),
    ],
};

static STRATEGY: Block = Block {
    name: "Strategy",
    description: "How a new version rolls out",
    fields: &[
        req(
            "type",
            Value::OneOf(&["rolling", "canary", "blue-green", "immediate"]),
            "The strategy",
        ),
        opt(
            "steps",
            Value::List(&Value::Integer),
            "Percent of traffic at each step, rising to 100",
        ),
        opt("interval", Value::Duration, "Wait between steps"),
        opt(
            "rollback",
            Value::Map {
                key: &Value::String,
                value: &Value::Any,
            },
            "Thresholds that roll back: `errorRate: 1%`, `p95: 500ms`",
        ),
    ],
};

static ENVIRONMENT: Block = Block {
    name: "Environment",
    description: "A deployment environment",
    fields: &[
        opt("routes", Value::List(&Value::String), "Route patterns"),
        opt(
            "vars",
            Value::Map {
                key: &Value::Name(Ident::Wrangler),
                value: &Value::Any,
            },
            "Plain variables",
        ),
        opt("strategy", Value::Block(&STRATEGY), "Rollout strategy"),
    ],
};

static RESOURCES: Block = Block {
    name: "Resources",
    description: "Limits of the Worker",
    fields: &[opt(
        "cpuMs",
        Value::Integer,
        "CPU time per request, in milliseconds (Cloudflare `limits.cpu_ms`)",
    )],
};

static OBSERVABILITY: Block = Block {
    name: "Observability",
    description: "Workers logs",
    fields: &[
        opt("logs", Value::Boolean, "Keep Workers logs"),
        opt(
            "sampling",
            Value::Number,
            "Share of requests logged, 0 to 1",
        ),
    ],
};

/// `kind: Deployment`.
pub static DEPLOYMENT_DOC: Block = Block {
    name: "Deployment",
    description: "How a service deploys to Cloudflare Workers",
    fields: &[
        req("kind", Value::OneOf(&KINDS), "The document kind"),
        req("name", Value::Name(Ident::Pascal), "The deployment's name"),
        req(
            "service",
            Value::Name(Ident::Pascal),
            "The service deployed",
        ),
        req("target", Value::OneOf(&["cloudflare"]), "Where it runs"),
        opt(
            "compatibilityDate",
            Value::String,
            "Workers compatibility date",
        ),
        opt(
            "vars",
            Value::Map {
                key: &Value::Name(Ident::Wrangler),
                value: &Value::Any,
            },
            "Plain variables (never secrets)",
        ),
        opt(
            "secrets",
            Value::List(&Value::Name(Ident::Wrangler)),
            "Secret names; values are never written",
        ),
        opt(
            "bindings",
            Value::Map {
                key: &Value::String,
                value: &Value::Map {
                    key: &Value::Name(Ident::Wrangler),
                    value: &Value::Any,
                },
            },
            "kv, r2, d1, durableObjects bindings",
        ),
        opt(
            "resources",
            Value::Block(&RESOURCES),
            "Limits such as `cpuMs`",
        ),
        opt(
            "observability",
            Value::Block(&OBSERVABILITY),
            "Logs and sampling",
        ),
        opt(
            "environments",
            Value::Map {
                key: &Value::Name(Ident::Wrangler),
                value: &Value::Block(&ENVIRONMENT),
            },
            "Environments by name",
        ),
    ],
};

/// The block for a document kind.
pub fn document(kind: &str) -> Option<&'static Block> {
    Some(match kind {
        "Types" => &TYPES_DOC,
        "Service" => &SERVICE_DOC,
        "Saga" => &SAGA_DOC,
        "Pricing" => &PRICING_DOC,
        "Deployment" => &DEPLOYMENT_DOC,
        _ => return None,
    })
}
