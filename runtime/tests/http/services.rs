//! Hand-written services, shaped like generated ones.

use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use svcc_runtime::prelude::*;

// ---------------------------------------------------------------- Shop (JWT)

const SHOP_SCHEMAS: &str = r##"{"$defs": {
  "CreateOrder": {
    "type": "object",
    "required": ["items"],
    "additionalProperties": false,
    "properties": {
      "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Item"}},
      "note": {"type": "string", "maxLength": 20}
    }
  },
  "Item": {
    "type": "object",
    "required": ["sku", "quantity"],
    "properties": {
      "sku": {"type": "string", "minLength": 1},
      "quantity": {"type": "integer", "minimum": 1}
    }
  }
}}"##;

/// The Shop's spec, as a constant the other specs start from.
const BASE: ServiceSpec = ServiceSpec {
    name: "Shop",
    slug: "shop",
    version: "1.2.0",
    auth: AuthKind::Jwt,
    roles: &[
        RoleSpec {
            name: "admin",
            grants: &["*"],
        },
        RoleSpec {
            name: "customer",
            grants: &["orders:read:own", "orders:create"],
        },
        RoleSpec {
            name: "clerk",
            grants: &["orders:read"],
        },
        RoleSpec {
            name: "guest",
            grants: &[],
        },
    ],
    plans: &[],
    health_checks: &["database", "search"],
    schemas: SHOP_SCHEMAS,
    subscriptions: &[],
    jobs: &[],
    transitions: &[],
    resilience: ResilienceSpec {
        timeout_ms: 2_000,
        attempts: 1,
        delay_ms: 10,
        exponential: false,
        breaker_failures: 0,
        breaker_reset_ms: 0,
    },
};

pub static SHOP: ServiceSpec = BASE;

/// A route with everything off; each static below changes what it needs.
const fn route(method: &'static str, path: &'static str, operation: &'static str) -> RouteSpec {
    RouteSpec {
        method,
        path,
        operation,
        auth: RouteAuth::Required,
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

pub static CREATE_ORDER: RouteSpec = RouteSpec {
    permission: Some("orders:create"),
    idempotent: true,
    status: 201,
    body: Some(BodySpec {
        schema: "CreateOrder",
        required: true,
    }),
    sensitive: &["note"],
    ..route("POST", "/orders", "createOrder")
};

pub static UPDATE_ORDER: RouteSpec = RouteSpec {
    permission: Some("orders:create"),
    body: Some(BodySpec {
        schema: "CreateOrder",
        required: true,
    }),
    ..route("PUT", "/orders/{id}", "updateOrder")
};

pub static PATCH_ORDER: RouteSpec = RouteSpec {
    permission: Some("orders:create"),
    idempotent: true,
    body: Some(BodySpec {
        schema: "CreateOrder",
        required: true,
    }),
    ..route("PATCH", "/orders/{id}", "patchOrder")
};

pub static GET_ORDER: RouteSpec = RouteSpec {
    permission: Some("orders:read"),
    owner_field: Some("customerId"),
    cache_seconds: Some(30),
    ..route("GET", "/orders/{id}", "getOrder")
};

pub static LIST_ORDERS: RouteSpec = RouteSpec {
    permission: Some("orders:read"),
    owner_field: Some("customerId"),
    ..route("GET", "/orders", "listOrders")
};

pub static LIMITED: RouteSpec = RouteSpec {
    rate_limit: Some(RateSpec {
        count: 3,
        per_seconds: 60,
        scope: Scope::User,
    }),
    ..route("GET", "/limited", "limited")
};

pub static IP_LIMITED: RouteSpec = RouteSpec {
    auth: RouteAuth::None,
    rate_limit: Some(RateSpec {
        count: 2,
        per_seconds: 60,
        scope: Scope::Ip,
    }),
    ..route("GET", "/ip-limited", "ipLimited")
};

pub static SLOW: RouteSpec = RouteSpec {
    auth: RouteAuth::None,
    timeout_ms: Some(200),
    ..route("GET", "/slow", "slow")
};

pub static SLEEP: RouteSpec = RouteSpec {
    auth: RouteAuth::None,
    ..route("GET", "/sleep", "sleep")
};

pub static PUBLIC: RouteSpec = RouteSpec {
    auth: RouteAuth::None,
    cache_seconds: Some(60),
    ..route("GET", "/public", "public")
};

pub static WHOAMI: RouteSpec = RouteSpec {
    auth: RouteAuth::Optional,
    ..route("GET", "/me", "whoami")
};

pub static OLD: RouteSpec = RouteSpec {
    auth: RouteAuth::None,
    deprecated: true,
    status: 204,
    ..route("DELETE", "/public", "oldThing")
};

pub static PANIC: RouteSpec = RouteSpec {
    auth: RouteAuth::None,
    ..route("GET", "/panic", "explode")
};

pub static ENQUEUE: RouteSpec = RouteSpec {
    auth: RouteAuth::None,
    status: 202,
    ..route("POST", "/jobs", "enqueue")
};

pub static CONFLICT: RouteSpec = RouteSpec {
    auth: RouteAuth::None,
    ..route("POST", "/conflict", "conflict")
};

/// What the Shop's handlers share with the tests.
#[derive(Default)]
pub struct ShopState {
    /// Times `createOrder` ran.
    pub creates: AtomicUsize,
    /// How long `createOrder` takes, in ms.
    pub create_delay_ms: AtomicU64,
    /// Makes the `search` health check fail.
    pub search_down: AtomicBool,
    /// Makes the `database` health check hang.
    pub database_hangs: AtomicBool,
    /// Signalled when `/sleep` starts.
    pub sleeping: tokio::sync::Notify,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct CreateOrder {
    items: Vec<Item>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Item {
    sku: String,
    quantity: i64,
}

/// `CreateOrder` as a generated type would be, with checks that refuse all
/// that its schema refuses, for [`Request::body_checked`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckedOrder {
    items: Vec<CheckedItem>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
struct CheckedItem {
    sku: String,
    quantity: i64,
}

fn order_checks(o: &CheckedOrder, at: &At<'_>, out: &mut Violations) {
    let items = At::Field(at, "items");
    check::items(out, &items, o.items.len(), Some(1), None);
    for (i, item) in o.items.iter().enumerate() {
        let at = At::Index(&items, i);
        check::length(out, &At::Field(&at, "sku"), &item.sku, Some(1), None);
        check::range(
            out,
            &At::Field(&at, "quantity"),
            item.quantity,
            Some(1.0),
            None,
            None,
            None,
        );
    }
    if let Some(n) = &o.note {
        check::length(out, &At::Field(at, "note"), n, None, Some(20));
    }
}

fn orders() -> Vec<Value> {
    vec![
        json!({"id": 1, "customerId": "alice", "total": "10.00"}),
        json!({"id": 2, "customerId": "bob", "total": "20.00"}),
        json!({"id": 3, "customerId": "alice", "total": "30.00"}),
        json!({"id": 4, "customerId": 42, "total": "40.00"}),
    ]
}

/// The Shop with its routes bound.
pub fn shop(state: Arc<ShopState>) -> Service {
    let st = state.clone();
    let health_state = state.clone();
    Service::new(&SHOP)
        .route(&CREATE_ORDER, move |ctx, mut req| {
            let st = st.clone();
            async move {
                let mut v = Violations::new();
                let _dry: Option<bool> = req.query("dryRun", false, &mut v);
                let body: Option<CreateOrder> = req.body(&mut v);
                v.finish()?;
                let body = present(body, "body")?;
                let n = st.creates.fetch_add(1, Ordering::SeqCst) + 1;
                if body.note.as_deref() == Some("taken") {
                    return Err(Problem::conflict("that order exists already")
                        .with_header("location", "/orders/1"));
                }
                if body.note.as_deref() == Some("refused") {
                    return Err(Problem::new(422, "refused", "Refused")
                        .with_detail("this order can never be placed")
                        .with_header("location", "/orders/1"));
                }
                let delay = st.create_delay_ms.load(Ordering::SeqCst);
                if delay > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                }
                Reply::json(
                    201,
                    &json!({
                        "id": 100 + n,
                        "customerId": ctx.subject(),
                        "items": body.items.len(),
                    }),
                )
            }
        })
        .route(&UPDATE_ORDER, |_ctx, mut req| async move {
            let mut v = Violations::new();
            let id: Option<i64> = req.path("id", &mut v);
            let _notify: Option<bool> = req.query("notify", false, &mut v);
            // decoded without the schema unless something is wrong
            let body: Option<CheckedOrder> = req.body_checked(&mut v, order_checks);
            v.finish()?;
            let (id, body) = (present(id, "id")?, present(body, "body")?);
            Reply::json(200, &json!({"id": id, "items": body.items.len()}))
        })
        .route(&PATCH_ORDER, |_ctx, mut req| async move {
            let mut v = Violations::new();
            let id: Option<i64> = req.path("id", &mut v);
            let body: Option<CreateOrder> = req.body(&mut v);
            v.finish()?;
            let (id, body) = (present(id, "id")?, present(body, "body")?);
            Reply::json(200, &json!({"id": id, "items": body.items.len()}))
        })
        .route(&GET_ORDER, |_ctx, req| async move {
            let mut v = Violations::new();
            let id: Option<i64> = req.path("id", &mut v);
            v.finish()?;
            let id = present(id, "id")?;
            match orders().into_iter().find(|o| o["id"] == id) {
                Some(o) => Reply::json(200, &o),
                None => Err(Problem::not_found(format!("no order {id}"))),
            }
        })
        .route(&LIST_ORDERS, |_ctx, req| async move {
            let mut v = Violations::new();
            let limit: Option<i64> = req.query("limit", false, &mut v);
            if let Some(l) = limit {
                check::range(
                    &mut v,
                    &At::Param("query", "limit"),
                    l,
                    Some(1.0),
                    Some(100.0),
                    None,
                    None,
                );
            }
            v.finish()?;
            let mut all = orders();
            all.truncate(usize::try_from(limit.unwrap_or(20)).unwrap_or(20));
            Reply::json(200, &all)
        })
        .route(&LIMITED, |ctx, _req| async move {
            Reply::json(200, &json!({"caller": ctx.subject()}))
        })
        .route(&IP_LIMITED, |_ctx, _req| async move {
            Reply::json(200, &json!({"ok": true}))
        })
        .route(&SLOW, |_ctx, _req| async move {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            Reply::json(200, &json!({"late": true}))
        })
        .route(&SLEEP, {
            let st = state.clone();
            move |_ctx, req| {
                let st = st.clone();
                async move {
                    let mut v = Violations::new();
                    let ms: Option<i64> = req.query("ms", true, &mut v);
                    v.finish()?;
                    let ms = present(ms, "ms")?;
                    st.sleeping.notify_one();
                    tokio::time::sleep(std::time::Duration::from_millis(ms.unsigned_abs())).await;
                    Reply::json(200, &json!({"slept": ms}))
                }
            }
        })
        .route(&PUBLIC, |ctx, _req| async move {
            Reply::json(
                200,
                &json!({"traceId": ctx.trace_id(), "requestId": ctx.request_id()}),
            )
        })
        .route(&WHOAMI, |ctx, _req| async move {
            Reply::json(200, &json!({"subject": ctx.subject()}))
        })
        .route(&OLD, |_ctx, _req| async move { Ok(Reply::empty(204)) })
        .route(&PANIC, |_ctx, _req| async move {
            if std::hint::black_box(true) {
                panic!("the handler has a bug");
            }
            Ok(Reply::empty(204))
        })
        .route(&ENQUEUE, |_ctx, _req| async move { Ok(Reply::empty(202)) })
        .route(&CONFLICT, |_ctx, _req| async move {
            Err(Problem::conflict("order 1 exists")
                .with_header("Location", "/orders/1")
                .with_header("X-Conflict-Reason", "duplicate"))
        })
        .health(move |check| {
            let st = health_state.clone();
            async move {
                if check == "database" && st.database_hangs.load(Ordering::SeqCst) {
                    std::future::pending::<()>().await;
                }
                if check == "search" && st.search_down.load(Ordering::SeqCst) {
                    Err("the search index is unreachable".to_string())
                } else {
                    Ok(())
                }
            }
        })
}

// ------------------------------------------------------------ Vault (API keys)

pub static VAULT: ServiceSpec = ServiceSpec {
    name: "Vault",
    slug: "vault",
    auth: AuthKind::ApiKey,
    roles: &[
        RoleSpec {
            name: "reader",
            grants: &["things:read"],
        },
        RoleSpec {
            name: "writer",
            grants: &["things:*"],
        },
    ],
    health_checks: &[],
    schemas: "{}",
    ..BASE
};

pub static LIST_THINGS: RouteSpec = RouteSpec {
    permission: Some("things:read"),
    ..route("GET", "/things", "listThings")
};

pub static DELETE_THINGS: RouteSpec = RouteSpec {
    permission: Some("things:write"),
    status: 204,
    ..route("DELETE", "/things", "deleteThings")
};

/// The Vault, keyed by API keys.
pub fn vault() -> Service {
    Service::new(&VAULT)
        .route(&LIST_THINGS, |ctx, _req| async move {
            Reply::json(200, &json!({"caller": ctx.subject(), "things": []}))
        })
        .route(
            &DELETE_THINGS,
            |_ctx, _req| async move { Ok(Reply::empty(204)) },
        )
}

// ---------------------------------------------------------- Metered (plans)

pub static METERED: ServiceSpec = ServiceSpec {
    name: "Metered",
    slug: "metered",
    roles: &[RoleSpec {
        name: "user",
        grants: &["*"],
    }],
    plans: &[
        PlanSpec {
            name: "free",
            features: &["getA"],
            requests: Some((2, 3600)),
        },
        PlanSpec {
            name: "pro",
            features: &["*"],
            requests: None,
        },
    ],
    health_checks: &[],
    schemas: "{}",
    ..BASE
};

pub static GET_A: RouteSpec = route("GET", "/a", "getA");
pub static GET_B: RouteSpec = route("GET", "/b", "getB");

/// A service with pricing plans.
pub fn metered() -> Service {
    Service::new(&METERED)
        .route(&GET_A, |_ctx, _req| async move {
            Reply::json(200, &json!({"a": 1}))
        })
        .route(&GET_B, |_ctx, _req| async move {
            Reply::json(200, &json!({"b": 2}))
        })
}

// ------------------------------------------------- Front calls Stock (calls:)

pub static STOCK: ServiceSpec = ServiceSpec {
    name: "Stock",
    slug: "stock",
    roles: &[RoleSpec {
        name: "user",
        grants: &["*"],
    }],
    health_checks: &[],
    schemas: "{}",
    ..BASE
};

pub static GET_LEVEL: RouteSpec = route("GET", "/levels/{sku}", "getLevel");
pub static BROKEN: RouteSpec = route("GET", "/broken", "broken");

/// The called service: says who called it and in which trace; `/broken`
/// always fails and counts its calls.
pub fn stock(broken_calls: Arc<AtomicUsize>) -> Service {
    Service::new(&STOCK)
        .route(&BROKEN, move |_ctx, _req| {
            let calls = broken_calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Err::<Reply, _>(Problem::internal("the stock database is corrupt"))
            }
        })
        .route(&GET_LEVEL, |ctx, req| async move {
            let mut v = Violations::new();
            let sku: Option<String> = req.path("sku", &mut v);
            v.finish()?;
            Reply::json(
                200,
                &json!({
                    "sku": sku,
                    "level": 7,
                    "seenBy": ctx.subject(),
                    "roles": ctx.caller().map(|c| c.roles.clone()),
                    "traceId": ctx.trace_id(),
                    "requestId": ctx.request_id(),
                }),
            )
        })
}

pub static FRONT: ServiceSpec = ServiceSpec {
    name: "Front",
    slug: "front",
    roles: &[RoleSpec {
        name: "user",
        grants: &["*"],
    }],
    health_checks: &["Stock"],
    schemas: "{}",
    resilience: ResilienceSpec {
        timeout_ms: 2_000,
        attempts: 2,
        delay_ms: 10,
        exponential: false,
        breaker_failures: 2,
        breaker_reset_ms: 60_000,
    },
    ..BASE
};

pub static CHECK_STOCK: RouteSpec = route("GET", "/stock/{sku}", "checkStock");

pub static CALL_BROKEN: CallSpec = CallSpec {
    service: "Stock",
    operation: "broken",
    method: "GET",
    path: "/broken",
    auth: AuthKind::None,
};

pub static USE_BROKEN: RouteSpec = route("GET", "/broken", "useBroken");

pub static CALL_GET_LEVEL: CallSpec = CallSpec {
    service: "Stock",
    operation: "getLevel",
    method: "GET",
    path: "/levels/{sku}",
    auth: AuthKind::Jwt,
};

/// The calling service.
pub fn front() -> Service {
    Service::new(&FRONT)
        .calls("Stock", "stock")
        .route(&USE_BROKEN, |ctx, _req| async move {
            let answer: Value = ctx
                .clients()
                .call(
                    Call {
                        spec: &CALL_BROKEN,
                        slug: "stock",
                        path: Vec::new(),
                        query: Vec::new(),
                        headers: ctx.outbound_headers(),
                    },
                    None::<&()>,
                )
                .await?;
            Reply::json(200, &answer)
        })
        .route(&CHECK_STOCK, |ctx, req| async move {
            let mut v = Violations::new();
            let sku: Option<String> = req.path("sku", &mut v);
            v.finish()?;
            let sku = present(sku, "sku")?;
            let answer: Value = ctx
                .clients()
                .call(
                    Call {
                        spec: &CALL_GET_LEVEL,
                        slug: "stock",
                        path: vec![("sku", sku)],
                        query: Vec::new(),
                        headers: ctx.outbound_headers(),
                    },
                    None::<&()>,
                )
                .await?;
            Reply::json(
                200,
                &json!({"stock": answer, "traceId": ctx.trace_id(), "requestId": ctx.request_id()}),
            )
        })
}
