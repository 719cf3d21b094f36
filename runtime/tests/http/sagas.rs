//! Sagas as generated code declares them (operations named, not closures),
//! bound by the server: two services on one database file, over real
//! HTTP. The shop coordinates `Fulfil` (started by its `Order.created`):
//! `hold` calls the warehouse's `POST /holds` (idempotent), undone by the
//! warehouse's `release` transition at `POST /_svcc/transitions/release`;
//! `charge` calls the warehouse's `POST /charges`, which refuses orders
//! over 100; `confirm` is the shop's own transition, run in-process.

use crate::{Server, settings, token};
use serde_json::{Value, json};
use std::time::Duration;
use svcc_runtime::durable::{Store, outbox};
use svcc_runtime::prelude::*;

const fn spec(
    name: &'static str,
    slug: &'static str,
    roles: &'static [RoleSpec],
    transitions: &'static [TransitionSpec],
) -> ServiceSpec {
    ServiceSpec {
        name,
        slug,
        version: "1.0.0",
        auth: AuthKind::Jwt,
        roles,
        plans: &[],
        health_checks: &[],
        schemas: r#"{"$defs": {}}"#,
        subscriptions: &[],
        jobs: &[],
        transitions,
        resilience: ResilienceSpec {
            timeout_ms: 1_000,
            attempts: 1,
            delay_ms: 10,
            exponential: false,
            breaker_failures: 0,
            breaker_reset_ms: 0,
        },
    }
}

static HOLD_TRANSITIONS: [TransitionSpec; 1] = [TransitionSpec {
    name: "release",
    from: &["held"],
    to: "released",
    emits: None,
}];
static HOLDS: Machine = Machine {
    entity: "Hold",
    field: "status",
    transitions: &HOLD_TRANSITIONS,
};
static WAREHOUSE: ServiceSpec = spec(
    "Warehouse",
    "warehouse",
    &[
        RoleSpec {
            name: "service",
            grants: &["holds:write"],
        },
        RoleSpec {
            name: "customer",
            grants: &["holds:read"],
        },
    ],
    &HOLD_TRANSITIONS,
);

static ORDER_TRANSITIONS: [TransitionSpec; 1] = [TransitionSpec {
    name: "confirm",
    from: &["pending"],
    to: "confirmed",
    emits: Some("Order.confirmed"),
}];
static ORDERS: Machine = Machine {
    entity: "Order",
    field: "status",
    transitions: &ORDER_TRANSITIONS,
};
static SHOP: ServiceSpec = spec(
    "Shop",
    "shop",
    &[RoleSpec {
        name: "customer",
        grants: &["orders:create", "orders:read"],
    }],
    &ORDER_TRANSITIONS,
);

const fn route(
    method: &'static str,
    path: &'static str,
    operation: &'static str,
    permission: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        operation,
        auth: RouteAuth::Required,
        permission: Some(permission),
        owner_field: None,
        rate_limit: None,
        idempotent: true,
        timeout_ms: None,
        cache_seconds: None,
        status: 200,
        body: Some(BodySpec {
            schema: r#"{"type":"object"}"#,
            required: true,
        }),
        sensitive: &[],
        deprecated: false,
    }
}

static HOLD: RouteSpec = route("POST", "/holds", "hold", "holds:write");
static CHARGE: RouteSpec = route("POST", "/charges", "charge", "holds:write");
static CREATE: RouteSpec = RouteSpec {
    status: 201,
    ..route("POST", "/orders", "createOrder", "orders:create")
};
static GET: RouteSpec = RouteSpec {
    body: None,
    idempotent: false,
    ..route("GET", "/orders/{id}", "getOrder", "orders:read")
};

static OPERATIONS: [SagaOperation; 4] = [
    SagaOperation {
        service: "Warehouse",
        slug: "warehouse",
        operation: "hold",
        auth: AuthKind::Jwt,
        target: SagaTarget::Route {
            method: "POST",
            path: "/holds",
        },
    },
    SagaOperation {
        service: "Warehouse",
        slug: "warehouse",
        operation: "release",
        auth: AuthKind::Jwt,
        target: SagaTarget::Transition,
    },
    SagaOperation {
        service: "Warehouse",
        slug: "warehouse",
        operation: "charge",
        auth: AuthKind::Jwt,
        target: SagaTarget::Route {
            method: "POST",
            path: "/charges",
        },
    },
    SagaOperation {
        service: "Shop",
        slug: "shop",
        operation: "confirm",
        auth: AuthKind::Jwt,
        target: SagaTarget::Transition,
    },
];

/// What the generated `sagas::fulfil()` would be.
fn fulfil() -> SagaSpec {
    SagaSpec::new("Fulfil", "Order.created")
        .step(
            StepSpec::new("hold", Action::operation(&OPERATIONS[0]))
                .compensate(Action::operation(&OPERATIONS[1])),
        )
        .step(
            StepSpec::new("charge", Action::operation(&OPERATIONS[2]))
                .input(|s| sagas::at(s, &["input"]).clone())
                // Orders of exactly 13 skip the charge.
                .when(|s| {
                    sagas::compare(sagas::at(s, &["input", "qty"]), Cmp::Ne, &sagas::num("13"))
                }),
        )
        .step(StepSpec::new("confirm", Action::operation(&OPERATIONS[3])))
        .on_success("Order.fulfilled")
        .on_failure("Order.unfulfilled")
}

fn body(req: &mut Request) -> Result<Value, Problem> {
    let mut v = Violations::new();
    let body: Option<Value> = req.body(&mut v);
    v.finish()?;
    present(body, "body")
}

fn warehouse() -> Service {
    Service::new(&WAREHOUSE)
        .database("/nonexistent/overridden-by-settings.db")
        .route(&HOLD, |ctx, mut req| async move {
            let order = body(&mut req)?;
            let id = order["id"].as_str().unwrap_or_default().to_string();
            // The caller is the coordinating service, with the role `service`.
            if ctx.caller().is_none_or(|c| c.roles != ["service"]) {
                return Err(Problem::forbidden("not the saga's minted token"));
            }
            let hold = json!({ "id": id, "status": "held", "qty": order["qty"] });
            let stored = entities::create(&ctx, &HOLDS, "held", &id, hold).await?;
            Reply::json(200, &stored.json)
        })
        .route(&CHARGE, |_ctx, mut req| async move {
            let order = body(&mut req)?;
            if order["qty"].as_i64().unwrap_or(0) > 100 {
                return Err(Problem::new(422, "over-limit", "Over the limit")
                    .with_detail("at most 100 units an order"));
            }
            Reply::json(200, &json!({ "charged": order["qty"] }))
        })
        .transition(&HOLDS, "release", |ctx, id| async move {
            let e = entities::transition(&ctx, &HOLDS, "release", &id, |j| async move { Ok(j) })
                .await?;
            Ok(e.json)
        })
}

fn shop() -> Service {
    Service::new(&SHOP)
        .database("/nonexistent/overridden-by-settings.db")
        .route(&CREATE, |ctx, mut req| async move {
            let order = body(&mut req)?;
            let id = order["id"].as_str().unwrap_or_default().to_string();
            let order = json!({ "id": id, "status": "pending", "qty": order["qty"] });
            let stored = entities::create(&ctx, &ORDERS, "pending", &id, order).await?;
            ctx.publish("Order.created", &stored.json)?;
            Reply::json(201, &stored.json)
        })
        .route(&GET, |ctx, req| async move {
            let id = req
                .path
                .iter()
                .find(|(k, _)| k == "id")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            match entities::get(&ctx, "Order", &id).await? {
                Some(e) => Reply::json(200, &e.json),
                None => Err(Problem::not_found(format!("no order {id}"))),
            }
        })
        .transition(&ORDERS, "confirm", |ctx, id| async move {
            let e = entities::transition(&ctx, &ORDERS, "confirm", &id, |j| async move { Ok(j) })
                .await?;
            Ok(e.json)
        })
        .saga(fulfil())
}

/// The warehouse, then the shop pointed at it, on one database file.
async fn start(
    dir: &tempfile::TempDir,
    warehouse_url: bool,
) -> (Server, Server, std::path::PathBuf) {
    let db = dir.path().join("state.db");
    let mut s = settings();
    s.database = Some(db.clone());
    let w = Server::start(warehouse(), s.clone()).await;
    if warehouse_url {
        s.service_urls.insert("warehouse".into(), w.base.clone());
    }
    let shop = Server::start(shop(), s).await;
    (w, shop, db)
}

async fn order(shop: &Server, id: &str, qty: i64) {
    let r = shop
        .client
        .post(shop.url("/orders"))
        .bearer_auth(token("c1", &["customer"]))
        .json(&json!({ "id": id, "qty": qty }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// The saga `Fulfil` of order `id`, once it has ended.
async fn ended(db: &std::path::Path, id: &str) -> svcc_runtime::durable::saga::SagaRecord {
    let store = Store::open(db).unwrap();
    for _ in 0..200 {
        if let Some(e) = outbox::list_events(&store)
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.name == "Order.created" && e.payload["id"] == id)
        {
            let saga = svcc_runtime::durable::saga::saga_id("Fulfil", e.id);
            if let Ok(r) = svcc_runtime::durable::saga::saga(&store, saga).await
                && matches!(r.status.as_str(), "completed" | "compensated" | "stuck")
            {
                return r;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the saga of order {id} did not end");
}

async fn entity(db: &std::path::Path, kind: &str, id: &str) -> Option<Value> {
    let store = Store::open(db).unwrap();
    let (kind, id) = (kind.to_string(), id.to_string());
    store
        .write(move |tx| Ok(tx.entity(&kind, &id)?.map(|e| e.json)))
        .await
        .unwrap()
}

async fn event_names(db: &std::path::Path) -> Vec<String> {
    let store = Store::open(db).unwrap();
    outbox::list_events(&store)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect()
}

#[tokio::test]
async fn a_bound_saga_calls_the_other_service_and_runs_its_own_transition() {
    let dir = tempfile::tempdir().unwrap();
    let (w, shop, db) = start(&dir, true).await;
    order(&shop, "o1", 3).await;
    let saga = ended(&db, "o1").await;
    assert_eq!(saga.status, "completed", "{saga:?}");
    let steps: Vec<(&str, &str)> = saga
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("hold", "succeeded"),
            ("charge", "succeeded"),
            ("confirm", "succeeded")
        ]
    );
    assert_eq!(saga.steps[1].output, Some(json!({ "charged": 3 })));
    // The warehouse holds the stock; the shop's transition ran in-process
    // and its event committed with it.
    assert_eq!(entity(&db, "Hold", "o1").await.unwrap()["status"], "held");
    assert_eq!(
        entity(&db, "Order", "o1").await.unwrap()["status"],
        "confirmed"
    );
    let names = event_names(&db).await;
    assert_eq!(
        names,
        ["Order.created", "Order.confirmed", "Order.fulfilled"],
        "{names:?}"
    );
    // `when` turned `charge` off for an order of 13.
    order(&shop, "o13", 13).await;
    let saga = ended(&db, "o13").await;
    assert_eq!(saga.status, "completed");
    assert_eq!(saga.steps[1].status, "skipped");
    shop.stop().await.unwrap();
    w.stop().await.unwrap();
}

#[tokio::test]
async fn a_refused_step_is_compensated_through_the_other_services_transition() {
    let dir = tempfile::tempdir().unwrap();
    let (w, shop, db) = start(&dir, true).await;
    order(&shop, "big", 500).await;
    let saga = ended(&db, "big").await;
    assert_eq!(saga.status, "compensated", "{saga:?}");
    assert_eq!(saga.steps[1].status, "failed");
    let error = saga.steps[1].error.clone().unwrap_or_default();
    assert!(
        error.contains("Warehouse.charge answered 422") && error.contains("at most 100"),
        "{error}"
    );
    assert_eq!(saga.steps[0].compensation.as_deref(), Some("done"));
    assert_eq!(
        entity(&db, "Hold", "big").await.unwrap()["status"],
        "released"
    );
    assert_eq!(
        entity(&db, "Order", "big").await.unwrap()["status"],
        "pending"
    );
    assert!(
        event_names(&db)
            .await
            .contains(&"Order.unfulfilled".to_string())
    );
    shop.stop().await.unwrap();
    w.stop().await.unwrap();
}

#[tokio::test]
async fn transition_endpoints_take_the_service_role_and_replay_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let (w, shop, db) = start(&dir, true).await;
    order(&shop, "o2", 1).await;
    assert_eq!(ended(&db, "o2").await.status, "completed");
    let release = |t: Option<String>, key: &'static str| {
        let mut r = w
            .client
            .post(w.url("/_svcc/transitions/release"))
            .header("idempotency-key", key)
            .json(&json!({ "id": "o2" }));
        if let Some(t) = t {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    assert_eq!(release(None, "k1").await.unwrap().status(), 401);
    let customer = token("c1", &["customer"]);
    assert_eq!(release(Some(customer), "k1").await.unwrap().status(), 403);
    let service = token("s1", &["service"]);
    let first = release(Some(service.clone()), "k1").await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "released");
    // The same key: the first answer, not a 409 for a hold already released.
    let again = release(Some(service.clone()), "k1").await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    // Another key: the hold is already released, which is what was asked.
    let other = release(Some(service.clone()), "k2").await.unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(other.json::<Value>().await.unwrap()["status"], "released");
    // An unknown hold is still a 404.
    let r = w
        .client
        .post(w.url("/_svcc/transitions/release"))
        .bearer_auth(service)
        .json(&json!({ "id": "nope" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    shop.stop().await.unwrap();
    w.stop().await.unwrap();
}

#[tokio::test]
async fn a_saga_whose_services_are_not_configured_is_not_started() {
    let dir = tempfile::tempdir().unwrap();
    let (w, shop, db) = start(&dir, false).await;
    order(&shop, "o3", 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = Store::open(&db).unwrap();
    assert!(
        svcc_runtime::durable::saga::list(&store, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        entity(&db, "Order", "o3").await.unwrap()["status"],
        "pending"
    );
    // No coordinator: no saga history route either.
    assert_eq!(
        shop.get(&format!("/sagas/{}", uuid::Uuid::nil()), None)
            .await
            .status(),
        404
    );
    shop.stop().await.unwrap();
    w.stop().await.unwrap();
}
