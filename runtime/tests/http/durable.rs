//! A service with a database, over HTTP: an operation's writes and its
//! events commit together when it succeeds and vanish when it fails, times
//! out or panics; the service's own dispatcher delivers committed events to
//! its subscriptions, whose writes commit with the inbox mark.

use crate::{Server, settings};
use serde_json::{Value, json};
use std::time::Duration;
use svcc_runtime::durable::{Store, outbox};
use svcc_runtime::prelude::*;

static TRANSITIONS: [TransitionSpec; 1] = [TransitionSpec {
    name: "confirm",
    from: &["pending"],
    to: "confirmed",
    emits: Some("Order.confirmed"),
}];

static MACHINE: Machine = Machine {
    entity: "Order",
    field: "status",
    transitions: &TRANSITIONS,
};

static SUBSCRIPTIONS: [SubscriptionSpec; 1] = [SubscriptionSpec {
    event: "Order.created",
    handler: "confirmNew",
    retry: RetrySpec {
        attempts: 3,
        backoff: Backoff::Fixed,
        delay_ms: 10,
        max_delay_ms: None,
    },
    dead_letter: true,
}];

static JOBS: [JobSpec; 1] = [JobSpec {
    name: "nightlyAudit",
    schedule: "0 3 * * *",
    cron: "0 3 * * *",
    timeout_ms: Some(5_000),
}];

static LEDGER: ServiceSpec = ServiceSpec {
    name: "Ledger",
    slug: "ledger",
    version: "1.0.0",
    auth: AuthKind::None,
    roles: &[],
    plans: &[],
    health_checks: &[],
    schemas: r#"{"$defs": {}}"#,
    subscriptions: &SUBSCRIPTIONS,
    jobs: &JOBS,
    transitions: &TRANSITIONS,
    resilience: ResilienceSpec {
        timeout_ms: 1_000,
        attempts: 1,
        delay_ms: 10,
        exponential: false,
        breaker_failures: 0,
        breaker_reset_ms: 0,
    },
};

const fn route(method: &'static str, path: &'static str, operation: &'static str) -> RouteSpec {
    RouteSpec {
        method,
        path,
        operation,
        auth: RouteAuth::None,
        permission: None,
        owner_field: None,
        rate_limit: None,
        idempotent: false,
        timeout_ms: Some(300),
        cache_seconds: None,
        status: 200,
        body: None,
        sensitive: &[],
        deprecated: false,
    }
}

static CREATE: RouteSpec = RouteSpec {
    status: 201,
    idempotent: true,
    ..route("POST", "/orders/{id}", "createOrder")
};
static GET: RouteSpec = route("GET", "/orders/{id}", "getOrder");

fn param<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `POST /orders/{id}?then=ok|error|panic|hang`: stores the order and
/// publishes `Order.created`, then ends as `then` says.
async fn create(ctx: Context, req: Request) -> Result<Reply, Problem> {
    let id = param(&req.path, "id").unwrap_or_default().to_string();
    let order = json!({ "id": id, "status": "pending" });
    entities::create(&ctx, &MACHINE, "pending", &id, order.clone()).await?;
    ctx.publish("Order.created", &order)?;
    match param(&req.query, "then") {
        Some("error") => Err(Problem::new(422, "refused", "Refused after writing")),
        Some("panic") => panic!("after writing"),
        Some("hang") => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Reply::json(201, &order)
        }
        _ => Reply::json(201, &order),
    }
}

async fn get(ctx: Context, req: Request) -> Result<Reply, Problem> {
    let id = param(&req.path, "id").unwrap_or_default();
    match entities::get(&ctx, "Order", id).await? {
        Some(e) => Reply::json(200, &e.json),
        None => Err(Problem::not_found(format!("no order {id}"))),
    }
}

/// The `Settle` saga, started by `Order.created`: `hold` (undone by
/// `release`), then `charge`, which fails for good for orders whose id
/// starts with `fail`.
fn settle() -> svcc_runtime::durable::SagaSpec {
    use svcc_runtime::durable::{Action, SagaSpec, StepError, StepSpec};
    SagaSpec::new("Settle", "Order.created")
        .step(
            StepSpec::new(
                "hold",
                Action::new(|call| async move {
                    Ok(json!({ "held": call.input["id"], "trace": call.trace_id }))
                }),
            )
            .compensate(Action::new(|call| async move {
                Ok(json!({ "released": call.input["held"] }))
            })),
        )
        .step(StepSpec::new(
            "charge",
            Action::new(|call| async move {
                let id = call.input["id"].as_str().unwrap_or_default().to_string();
                if id.starts_with("fail") {
                    Err(StepError::permanent("card declined"))
                } else {
                    Ok(json!({ "charged": id }))
                }
            }),
        ))
        .on_success("Order.settled")
        .on_failure("Order.unsettled")
}

fn ledger() -> Service {
    Service::new(&LEDGER)
        .saga(settle())
        .route(&CREATE, create)
        .route(&GET, get)
        .subscribe(&SUBSCRIPTIONS[0], |ctx, event| async move {
            let id = event.payload["id"].as_str().unwrap_or_default().to_string();
            entities::transition(
                &ctx,
                &MACHINE,
                "confirm",
                &id,
                |json| async move { Ok(json) },
            )
            .await?;
            Ok(())
        })
        .job(&JOBS[0], |ctx| async move {
            // The audit's result is an entity of its own, written in the
            // run's transaction; its id is the run's idempotency key.
            let id = ctx.request_id().to_string();
            entities::create(
                &ctx,
                &MACHINE,
                "pending",
                &id,
                json!({ "id": id, "status": "pending" }),
            )
            .await?;
            Ok(())
        })
}

async fn start(dir: &tempfile::TempDir) -> (Server, std::path::PathBuf) {
    let db = dir.path().join("state.db");
    let mut s = settings();
    s.database = Some(db.clone());
    (Server::start(ledger(), s).await, db)
}

async fn events(db: &std::path::Path) -> Vec<(String, Value)> {
    let store = Store::open(db).unwrap();
    outbox::list_events(&store)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.payload))
        .collect()
}

async fn status_of(server: &Server, id: &str) -> Option<String> {
    let r = server.get(&format!("/orders/{id}"), None).await;
    if r.status() == 404 {
        return None;
    }
    let v: Value = r.json().await.unwrap();
    v["status"].as_str().map(str::to_string)
}

#[tokio::test]
async fn a_committed_operation_keeps_its_writes_and_its_event_and_the_subscriber_sees_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, db) = start(&dir).await;
    let r = server
        .client
        .post(server.url("/orders/a1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // The service's own dispatcher delivers Order.created to confirmNew,
    // whose transition writes the state and Order.confirmed.
    let mut status = None;
    for _ in 0..100 {
        status = status_of(&server, "a1").await;
        if status.as_deref() == Some("confirmed") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status.as_deref(), Some("confirmed"));
    server.stop().await.unwrap();
    // (the Settle saga publishes Order.settled too)
    let names: Vec<String> = events(&db)
        .await
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n != "Order.settled")
        .collect();
    assert_eq!(names, ["Order.created", "Order.confirmed"]);
}

/// The W3C trace ids of the outbox events about order `id`, by event name,
/// once `names` are all there.
async fn traces_of(
    db: &std::path::Path,
    id: &str,
    names: &[&str],
) -> Vec<(String, Option<String>)> {
    let store = Store::open(db).unwrap();
    for _ in 0..100 {
        let about: Vec<_> = outbox::list_events(&store)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.payload["id"] == id)
            .collect();
        if names.iter().all(|n| about.iter().any(|e| e.name == *n)) {
            return about.into_iter().map(|e| (e.name, e.trace_id)).collect();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{names:?} of {id} never came");
}

#[tokio::test]
async fn one_trace_runs_from_the_request_through_its_events_subscribers_and_saga() {
    use svcc_runtime::durable::saga;
    let dir = tempfile::tempdir().unwrap();
    let (server, db) = start(&dir).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = server
        .client
        .post(server.url("/orders/t1"))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = server
        .client
        .post(server.url("/orders/t2"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // the request's event, the subscriber's transition's event and the
    // saga's end all carry the request's trace
    let names = ["Order.created", "Order.confirmed", "Order.settled"];
    let t1 = traces_of(&db, "t1", &names).await;
    assert_eq!(t1.len(), 3, "{t1:?}");
    for (name, got) in &t1 {
        assert_eq!(got.as_deref(), Some(trace), "{name}");
    }
    // without a traceparent, the request starts a trace its work keeps
    let t2 = traces_of(&db, "t2", &names).await;
    let first = t2[0].1.clone().unwrap();
    assert_ne!(first, trace);
    assert!(
        t2.iter().all(|(_, t)| t.as_deref() == Some(first.as_str())),
        "{t2:?}"
    );
    server.stop().await.unwrap();
    // the saga's record names its trace, and its steps were given it
    let store = Store::open(&db).unwrap();
    let created = outbox::list_events(&store)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == "Order.created" && e.payload["id"] == "t1")
        .unwrap();
    let record = saga::saga(&store, saga::saga_id("Settle", created.id))
        .await
        .unwrap();
    assert_eq!(record.trace_id.as_deref(), Some(trace));
    let hold = record.steps.iter().find(|s| s.name == "hold").unwrap();
    assert_eq!(hold.output.as_ref().unwrap()["trace"], trace);
}

#[tokio::test]
async fn an_operation_that_fails_times_out_or_panics_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let (server, db) = start(&dir).await;
    for (id, then, status) in [
        ("e1", "error", 422),
        ("p1", "panic", 500),
        ("h1", "hang", 504),
    ] {
        let r = server
            .client
            .post(server.url(&format!("/orders/{id}?then={then}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{then}");
        assert_eq!(
            status_of(&server, id).await,
            None,
            "{then}: the write is gone"
        );
    }
    // The transactions were rolled back, not left holding the write lock:
    // the next operation commits at once.
    let r = server
        .client
        .post(server.url("/orders/ok1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    server.stop().await.unwrap();
    let ids: Vec<Value> = events(&db)
        .await
        .into_iter()
        .filter(|(n, _)| n == "Order.created")
        .map(|(_, p)| p["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [json!("ok1")],
        "only the committed operation's event exists"
    );
}

#[tokio::test]
async fn a_second_create_of_the_same_entity_is_a_conflict_and_writes_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let (server, db) = start(&dir).await;
    let url = server.url("/orders/c1");
    assert_eq!(server.client.post(&url).send().await.unwrap().status(), 201);
    let r = server.client.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 409);
    server.stop().await.unwrap();
    let created = events(&db)
        .await
        .into_iter()
        .filter(|(n, _)| n == "Order.created")
        .count();
    assert_eq!(created, 1);
}

#[tokio::test]
async fn without_a_database_a_handler_asking_for_one_gets_a_500_not_a_hang() {
    let server = Server::start(ledger(), settings()).await;
    let r = server
        .client
        .post(server.url("/orders/n1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_job_missed_while_the_service_was_down_runs_once_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    // The job was first seen two days ago and has not run since: two
    // nightly runs were missed.
    let store = Store::open(&db).unwrap();
    let two_days_ago = svcc_runtime::durable::now_ms() - 2 * 86_400_000;
    store
        .write(|tx| {
            tx.with_conn(|c| {
                c.execute(
                    "INSERT INTO jobs (job, since) VALUES ('Ledger/nightlyAudit', ?1)",
                    [two_days_ago],
                )
            })
        })
        .await
        .unwrap();
    drop(store);
    let mut s = settings();
    s.database = Some(db.clone());
    let server = Server::start(ledger(), s).await;
    let store = Store::open(&db).unwrap();
    let mut runs = Vec::new();
    for _ in 0..100 {
        runs = svcc_runtime::durable::jobs::runs(&store, "Ledger/nightlyAudit")
            .await
            .unwrap();
        if runs.iter().any(|r| r.status == "succeeded") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await.unwrap();
    assert_eq!(runs.len(), 1, "one run for the missed nights: {runs:?}");
    assert_eq!(runs[0].status, "succeeded", "{runs:?}");
    // What the job wrote committed, under the run's idempotency key.
    let key = format!("Ledger/nightlyAudit@{}", runs[0].scheduled);
    let written = store
        .read(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM entities WHERE type = 'Order' AND id = ?1",
                [&key],
                |r| r.get::<_, i64>(0),
            )
        })
        .await
        .unwrap();
    assert_eq!(written, 1);
}

/// The saga started by the `Order.created` of order `id`.
async fn saga_of(db: &std::path::Path, id: &str) -> uuid::Uuid {
    let store = Store::open(db).unwrap();
    let event = outbox::list_events(&store)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == "Order.created" && e.payload["id"] == id)
        .unwrap();
    svcc_runtime::durable::saga::saga_id("Settle", event.id)
}

async fn saga_status(server: &Server, saga: uuid::Uuid, want: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let r = server.get(&format!("/sagas/{saga}"), None).await;
        if r.status() == 200 {
            last = r.json().await.unwrap();
            if last["status"] == want {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("saga {saga} is not {want}: {last}");
}

#[tokio::test]
async fn a_saga_starts_from_its_trigger_and_its_history_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let (server, db) = start(&dir).await;
    for id in ["s1", "fail1"] {
        let r = server
            .client
            .post(server.url(&format!("/orders/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let ok = saga_status(&server, saga_of(&db, "s1").await, "completed").await;
    assert_eq!(ok["name"], "Settle");
    assert_eq!(ok["steps"][0]["output"]["held"], "s1");
    assert_eq!(ok["steps"][1]["status"], "succeeded");
    let failed = saga_status(&server, saga_of(&db, "fail1").await, "compensated").await;
    assert_eq!(failed["steps"][1]["status"], "failed");
    assert_eq!(failed["steps"][0]["compensation"], "done", "{failed}");
    let unknown = server
        .get(&format!("/sagas/{}", uuid::Uuid::nil()), None)
        .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(server.get("/sagas/not-a-uuid", None).await.status(), 400);
    server.stop().await.unwrap();
    let names: Vec<String> = events(&db).await.into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names.iter().filter(|n| *n == "Order.settled").count(),
        1,
        "{names:?}"
    );
    assert_eq!(
        names.iter().filter(|n| *n == "Order.unsettled").count(),
        1,
        "{names:?}"
    );
}

#[tokio::test]
async fn an_idempotency_key_outlives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (server, db) = start(&dir).await;
    let post = |server: &Server, path: &str| {
        server
            .client
            .post(server.url(path))
            .header("idempotency-key", "checkout-1")
            .send()
    };
    let first = post(&server, "/orders/k1").await.unwrap();
    assert_eq!(first.status(), 201);
    let first_body = first.text().await.unwrap();
    server.stop().await.unwrap();
    // A new process on the same database: the retry gets the stored
    // answer, and the order is not created twice (that would be a 409).
    let mut s = settings();
    s.database = Some(db.clone());
    let server = Server::start(ledger(), s).await;
    let again = post(&server, "/orders/k1").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(
        again
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(again.text().await.unwrap(), first_body);
    // The same key for another request is refused, before and after the
    // stored answer was loaded into memory.
    let other = post(&server, "/orders/k2").await.unwrap();
    assert_eq!(other.status(), 422);
    assert_eq!(post(&server, "/orders/k1").await.unwrap().status(), 201);
    server.stop().await.unwrap();
    let created = events(&db)
        .await
        .into_iter()
        .filter(|(n, _)| n == "Order.created")
        .count();
    assert_eq!(created, 1);
}
