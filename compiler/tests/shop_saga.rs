//! The whole shop as five processes on one SQLite file, with the
//! OrderFulfillment saga run by OrderService (it publishes the saga's
//! trigger, `Order.created`): a paid order is reserved, charged, opened as
//! a parcel and confirmed; an unpaid one is released again and cancelled;
//! and with every process SIGKILLed at random moments, again and again,
//! every saga still ends completed or fully compensated, and no side
//! effect (a reservation, a capture, a refund, a parcel, an event)
//! happens twice.
//!
//! The copy of the shop these tests build waits 50 ms instead of 10 s
//! before the `charge` step's retries (`fulfillment-saga.yaml`), so that
//! a payment that arrives after the saga reached `charge` is picked up
//! within a second, and an order never paid fails within about two.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod common;

use common::process::{Built, Reply, Server, build_shop_with, free_port, try_http, with_store};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use svcc_runtime::durable::{outbox, saga};

/// The services, in the order they start (OrderService, the coordinator,
/// last: it calls the others from its first request on).
const SERVICES: [&str; 5] = [
    "inventory-service",
    "payment-service",
    "shipment-service",
    "email-service",
    "order-service",
];

/// What every process verifies tokens with.
const SECRET: &str = "shop-saga-test-secret";

/// A product InventoryService starts with (100 units).
const TSHIRT: (&str, &str) = ("TSHIRT-BLK-M", "2b7e1c1e-3f1a-4f8e-9c55-0d6b1a2f4c11");
/// More products of 100 units, so that held stock does not run out.
const TSHIRT_WHITE: (&str, &str) = ("TSHIRT-WHT-M", "5a0d7c3e-9b1f-4e2a-8c6d-3f4b5a6c7d81");
const MUG: (&str, &str) = ("MUG-LOGO", "c4d5e6f7-8a9b-4c0d-8e1f-2a3b4c5d6e73");
/// A product expensive enough for the `alert-large-order` step (49.90).
const HOODIE: (&str, &str) = ("HOODIE-GRY-L", "8e2f4a6b-1c3d-4e5f-9a7b-2c4d6e8f0a12");

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        build_shop_with(&SERVICES, |dir| {
            let saga = dir.join("manifests/fulfillment-saga.yaml");
            let text = std::fs::read_to_string(&saga).unwrap();
            let fast = text.replace(
                "retry: { attempts: 6, backoff: exponential, delay: 10s, maxDelay: 5m }",
                "retry: { attempts: 6, backoff: exponential, delay: 50ms, maxDelay: 500ms }",
            );
            assert_ne!(fast, text, "the charge step's retry is not where it was");
            std::fs::write(saga, fast).unwrap();
        })
    })
}

/// The five services, each on a port of its own that it keeps across
/// restarts, sharing one database.
struct Shop {
    db: PathBuf,
    ports: BTreeMap<&'static str, u16>,
    running: BTreeMap<&'static str, Server>,
    _data: tempfile::TempDir,
}

impl Shop {
    fn new() -> Shop {
        let data = tempfile::tempdir().unwrap();
        Shop {
            db: data.path().join("state.db"),
            ports: SERVICES.iter().map(|s| (*s, free_port())).collect(),
            running: BTreeMap::new(),
            _data: data,
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![("SVCC_JWT_SECRET".to_string(), SECRET.to_string())];
        for (service, port) in &self.ports {
            env.push((
                format!(
                    "SVCC_{}_URL",
                    service.replace('-', "_").to_ascii_uppercase()
                ),
                format!("http://127.0.0.1:{port}"),
            ));
        }
        env
    }

    /// Starts every service that is not running.
    fn start(&mut self) {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        for service in SERVICES {
            if !self.running.contains_key(service) {
                let s =
                    Server::spawn_at(&built().bin(service), self.ports[service], &env, &self.db);
                self.running.insert(service, s);
            }
        }
    }

    fn addr(&self, service: &str) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.ports[service]).into()
    }

    /// SIGKILLs every service.
    fn kill_all(&mut self) {
        for (_, mut s) in std::mem::take(&mut self.running) {
            s.child.kill().unwrap();
            s.child.wait().unwrap();
        }
    }

    fn logs(&self) -> String {
        self.running
            .iter()
            .map(|(name, s)| {
                let lines: Vec<String> =
                    s.logs().lines().rev().take(15).map(String::from).collect();
                format!(
                    "--- {name} ---\n{}",
                    lines.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A customer's token: the role `customer` on the Business plan
/// (OrderService has plans; PaymentService ignores the claim), signed as
/// the binaries' `token` subcommand signs.
fn customer(sub: &str) -> String {
    svcc_runtime::auth::mint(SECRET, sub, &["customer".into()], Some("Business"), 3600).unwrap()
}

fn admin() -> String {
    let sub = "0b7d8f5e-1c2a-4b3c-8d4e-5f6a7b8c9d0e";
    svcc_runtime::auth::mint(SECRET, sub, &["admin".into()], Some("Enterprise"), 3600).unwrap()
}

fn customer_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

fn checkout(product: (&str, &str), quantity: u32) -> Value {
    json!({
        "items": [{ "productId": product.1, "sku": product.0, "quantity": quantity }],
        "email": "ada@example.com",
        "shippingAddress": {
            "name": "Ada Lovelace", "streetAddress": "12 Example Street",
            "addressLocality": "Berlin", "postalCode": "10115", "addressCountry": "DE"
        }
    })
}

/// A request with a bearer token, an `Idempotency-Key` and a JSON body;
/// `None` when the server died before answering.
fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> Option<Reply> {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(k) = key {
        headers.push(("Idempotency-Key", k));
    }
    let body = body.map(Value::to_string);
    try_http(addr, method, path, &headers, body.as_deref())
}

/// Authorizes the payment of an order with a card that succeeds at once.
fn pay(shop: &Shop, token: &str, order: &Value, key: &str) -> Option<Reply> {
    let body = json!({
        "orderId": order["id"],
        "amount": order["total"],
        "source": { "kind": "card", "token": "tok_visa" }
    });
    send(
        shop.addr("payment-service"),
        "POST",
        "/payments",
        token,
        Some(key),
        Some(&body),
    )
}

/// Every event in the outbox: (name, payload).
fn events(db: &Path) -> Vec<(String, Value)> {
    with_store(db, async |store| {
        outbox::list_events(&store)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.payload))
            .collect()
    })
}

/// How many events of `name` are about the order `id` (their payload is
/// the order, or names it as `orderId`).
fn count(events: &[(String, Value)], name: &str, id: &str) -> usize {
    events
        .iter()
        .filter(|(n, p)| n == name && (p["id"] == id || p["orderId"] == id))
        .count()
}

/// The saga of every order: order id to (status, saga record as JSON).
fn sagas(db: &Path) -> BTreeMap<String, saga::SagaRecord> {
    with_store(db, async |store| {
        let mut out = BTreeMap::new();
        for e in outbox::list_events(&store).await.unwrap() {
            if e.name != "Order.created" {
                continue;
            }
            let id = saga::saga_id("OrderFulfillment", e.id);
            if let Ok(r) = saga::saga(&store, id).await {
                out.insert(e.payload["id"].as_str().unwrap().to_string(), r);
            }
        }
        out
    })
}

/// Rows of a query with one text column and one other.
fn rows(db: &Path, sql: &'static str) -> BTreeMap<String, String> {
    with_store(db, async |store| {
        store
            .read(|c| {
                c.prepare(sql)?
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                    .collect()
            })
            .await
            .unwrap()
    })
}

fn entity(db: &Path, kind: &str, id: &str) -> Option<Value> {
    let (kind, id) = (kind.to_string(), id.to_string());
    with_store(db, async |store| {
        store
            .write(move |tx| Ok(tx.entity(&kind, &id)?.map(|e| e.json)))
            .await
            .unwrap()
    })
}

/// Waits until every saga has ended and the services' deliveries are
/// done, up to `limit`.
fn settle(shop: &Shop, orders: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let all = sagas(&shop.db);
        let ended = all
            .values()
            .filter(|r| matches!(r.status.as_str(), "completed" | "compensated"))
            .count();
        let pending: i64 = with_store(&shop.db, async |store| {
            store
                .read(|c| c.query_row("SELECT COUNT(*) FROM deliveries", [], |r| r.get(0)))
                .await
                .unwrap()
        });
        if all.len() == orders && ended == orders && pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{ended} of {orders} sagas ended ({} started), {pending} deliveries pending: {:?}\n{}",
            all.len(),
            all.iter()
                .filter(|(_, r)| !matches!(r.status.as_str(), "completed" | "compensated"))
                .map(|(id, r)| format!("{id}: {} {:?}", r.status, r.error))
                .collect::<Vec<_>>(),
            shop.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_paid_order_is_fulfilled_and_an_unpaid_one_is_undone_across_five_processes() {
    let mut shop = Shop::new();
    shop.start();
    let order_service = shop.addr("order-service");
    let ada = customer(&customer_id(1));
    let bob = customer(&customer_id(2));

    // Ada pays for 21 hoodies (1,047.90 EUR: the large-order alert runs).
    let r = send(
        order_service,
        "POST",
        "/orders",
        &ada,
        Some("a1"),
        Some(&checkout(HOODIE, 21)),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let paid = r.json();
    // She pays after the saga first tried to charge (as the manifest
    // says customers do): `charge` answered PaymentNotAuthorized, and its
    // retry, with the same Idempotency-Key, must run again, not replay that.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !sagas(&shop.db)
        .get(paid["id"].as_str().unwrap())
        .is_some_and(|r| {
            r.steps
                .iter()
                .any(|s| s.name == "charge" && s.error.is_some())
        })
    {
        assert!(
            Instant::now() < deadline,
            "charge was never tried:\n{}",
            shop.logs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let p = pay(&shop, &ada, &paid, "p1").unwrap();
    assert!(matches!(p.status, 200 | 201), "{}", p.body);
    // Bob never pays for his T-shirt.
    let r = send(
        order_service,
        "POST",
        "/orders",
        &bob,
        Some("b1"),
        Some(&checkout(TSHIRT, 2)),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let unpaid = r.json();
    settle(&shop, 2, Duration::from_secs(60));

    let (paid_id, unpaid_id) = (paid["id"].as_str().unwrap(), unpaid["id"].as_str().unwrap());
    let all = sagas(&shop.db);
    let ok = &all[paid_id];
    assert_eq!(ok.status, "completed", "{ok:?}");
    let steps: Vec<(&str, &str)> = ok
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("reserve-stock", "succeeded"),
            ("charge", "succeeded"),
            ("ship", "succeeded"),
            ("alert-large-order", "succeeded"),
            ("confirm", "succeeded")
        ],
        "{ok:?}"
    );
    let undone = &all[unpaid_id];
    assert_eq!(undone.status, "compensated", "{undone:?}");
    assert_eq!(undone.steps[1].status, "failed");
    assert!(
        undone.steps[1]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("PaymentNotAuthorized")
            || undone.steps[1]
                .error
                .as_deref()
                .unwrap_or("")
                .contains("409"),
        "{:?}",
        undone.steps[1]
    );
    assert_eq!(undone.steps[0].compensation.as_deref(), Some("done"));
    assert_eq!(
        undone.steps[1].attempts, 6,
        "charge is retried as its `retry:` says"
    );

    // What each service did: the paid order is confirmed, its stock held,
    // its money taken and its parcel opened; the unpaid one is cancelled
    // (OrderService's handler of Order.fulfillment_failed) with its stock
    // given back.
    assert_eq!(
        entity(&shop.db, "Order", paid_id).unwrap()["status"],
        "confirmed"
    );
    assert_eq!(
        entity(&shop.db, "Order", unpaid_id).unwrap()["status"],
        "cancelled"
    );
    let reservations = rows(
        &shop.db,
        "SELECT order_id, status FROM inventory_reservations",
    );
    assert_eq!(reservations[paid_id], "held");
    assert_eq!(reservations[unpaid_id], "released");
    let stock = rows(
        &shop.db,
        "SELECT sku, CAST(reserved AS TEXT) FROM inventory_stock",
    );
    assert_eq!(stock["HOODIE-GRY-L"], "21");
    assert_eq!(stock["TSHIRT-BLK-M"], "0");
    let payments = rows(&shop.db, "SELECT order_id, status FROM payment_payments");
    assert_eq!(payments[paid_id], "succeeded");
    assert!(!payments.contains_key(unpaid_id));
    let parcels = rows(
        &shop.db,
        "SELECT order_id, shipment_id FROM shipment_parcels",
    );
    let parcel = entity(&shop.db, "Shipment", &parcels[paid_id]).unwrap();
    assert_eq!(parcel["status"], "preparing");
    let ev = events(&shop.db);
    for (name, n) in [
        ("Order.confirmed", 1),
        ("Order.fulfilled", 1),
        ("Payment.succeeded", 1),
        ("Order.fulfillment_failed", 0),
    ] {
        assert_eq!(count(&ev, name, paid_id), n, "{name} of the paid order");
    }
    for (name, n) in [
        ("Order.fulfillment_failed", 1),
        ("Order.cancelled", 1),
        ("Order.confirmed", 0),
    ] {
        assert_eq!(count(&ev, name, unpaid_id), n, "{name} of the unpaid order");
    }
    let alerts = rows(
        &shop.db,
        "SELECT order_id, template FROM email_sent WHERE template = 'large_order_alert'",
    );
    assert!(alerts.contains_key(paid_id), "{alerts:?}");

    // The history is served by the coordinating service.
    let r = send(
        order_service,
        "GET",
        &format!("/sagas/{}", ok.id),
        &admin(),
        None,
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "completed");
    assert_eq!(r.json()["steps"][1]["name"], "charge");
    shop.kill_all();
}

/// What the clients were told while the shop was being killed.
#[derive(Default)]
struct Told {
    /// Orders answered 201: id to (customer token, whether it was paid).
    orders: BTreeMap<String, (String, bool)>,
    /// Creates no server answered: (token, key, body, pay), sent again.
    unanswered: Vec<(String, String, Value, bool)>,
    /// Orders the customer cancelled (answered 200).
    cancelled: Vec<String>,
}

/// Places one order (and pays for it when `pay`): `false` when a server
/// died on the way.
fn place(
    shop: &Shop,
    told: &Mutex<Told>,
    token: &str,
    key: &str,
    body: &Value,
    paid: bool,
) -> bool {
    let Some(r) = send(
        shop.addr("order-service"),
        "POST",
        "/orders",
        token,
        Some(key),
        Some(body),
    ) else {
        told.lock().unwrap().unanswered.push((
            token.to_string(),
            key.to_string(),
            body.clone(),
            paid,
        ));
        return false;
    };
    if r.status == 409 && r.json()["type"] == "urn:svcc:problem:out-of-stock" {
        // Paid orders hold their stock for good: the shop can sell out.
        return true;
    }
    assert_eq!(r.status, 201, "createOrder: {}", r.body);
    let order = r.json();
    let id = order["id"].as_str().unwrap().to_string();
    told.lock()
        .unwrap()
        .orders
        .insert(id.clone(), (token.to_string(), paid));
    if paid {
        // An unanswered payment may or may not have been taken: the order
        // is then paid or not, and either ending is right for its saga.
        match pay(shop, token, &order, &format!("pay-{key}")) {
            None => return false,
            Some(p) => assert!(
                matches!(p.status, 200 | 201 | 422),
                "createPayment: {}",
                p.body
            ),
        }
    }
    true
}

/// Drives orders until `until` or until a server stops answering: most paid, every fourth
/// not, and every seventh cancelled by its customer right after paying
/// (its saga's `confirm` then finds it cancelled, and everything before is
/// undone).
fn traffic(
    shop: &Shop,
    told: &Mutex<Told>,
    tokens: &Mutex<Vec<String>>,
    next: &Mutex<usize>,
    until: Instant,
) {
    // A few orders a client and round, so that every round has some.
    for _ in 0..4 {
        if Instant::now() >= until {
            return;
        }
        let retry = told.lock().unwrap().unanswered.pop();
        if let Some((token, key, body, paid)) = retry {
            if !place(shop, told, &token, &key, &body, paid) {
                return;
            }
            continue;
        }
        let n = {
            let mut n = next.lock().unwrap();
            *n += 1;
            *n
        };
        let Some(token) = tokens.lock().unwrap().pop() else {
            return;
        };
        let (product, quantity) = match n % 20 {
            0 => (HOODIE, 21),
            k if k % 3 == 0 => (TSHIRT, 1),
            k if k % 3 == 1 => (TSHIRT_WHITE, 1),
            _ => (MUG, 1),
        };
        let paid = n % 4 != 0;
        let key = format!("order-{n}");
        if !place(shop, told, &token, &key, &checkout(product, quantity), paid) {
            return;
        }
        if n % 7 == 0 {
            let id = told
                .lock()
                .unwrap()
                .orders
                .iter()
                .find(|(_, (t, _))| *t == token)
                .map(|(id, _)| id.clone());
            let Some(id) = id else { continue };
            let body = json!({ "reason": "changed_mind" });
            match send(
                shop.addr("order-service"),
                "POST",
                &format!("/orders/{id}/cancel"),
                &token,
                Some(&format!("cancel-{n}")),
                Some(&body),
            ) {
                None => return,
                Some(r) if r.status == 200 => told.lock().unwrap().cancelled.push(id),
                Some(r) => assert_eq!(r.status, 409, "cancelOrder: {}", r.body),
            }
        }
    }
}

/// Runs `SVCC_CRASH_KILLS` (default 20 here) rounds of: start every service,
/// drive orders from two clients, SIGKILL all five processes at a random
/// moment (in a handler, between a commit and its delivery, in the middle
/// of a saga or of its compensation). Then one last start finishes what
/// was left, and every answered order must have a saga that ended, with
/// exactly the side effects its ending implies.
#[test]
fn every_saga_ends_completed_or_compensated_however_often_the_shop_is_killed() {
    let kills: usize = std::env::var("SVCC_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let mut seed: u64 = std::env::var("SVCC_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5a6a_cafe);
    eprintln!("{kills} kills of the whole shop, SVCC_CRASH_SEED={seed}");
    let mut below = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut shop = Shop::new();
    // One customer per order: createOrder allows 10 a minute per user and
    // createPayment 5.
    let tokens: Vec<String> = (0..kills * 8 + 40)
        .map(|i| customer(&customer_id(100 + i)))
        .collect();
    let tokens = Arc::new(Mutex::new(tokens));
    let told = Arc::new(Mutex::new(Told::default()));
    let next = Arc::new(Mutex::new(0usize));
    for _ in 0..kills {
        shop.start();
        let pids: Vec<String> = shop
            .running
            .values()
            .map(|s| s.child.id().to_string())
            .collect();
        let until = Instant::now() + Duration::from_millis(200 + below(1500));
        // Half the rounds die with requests in flight; in the others the
        // clients stop first and only sagas and deliveries are cut short.
        let kill_at = until + Duration::from_millis(below(2) * below(800));
        std::thread::scope(|s| {
            for _ in 0..2 {
                let (shop, told, tokens, next) = (&shop, &told, &tokens, &next);
                s.spawn(move || traffic(shop, told, tokens, next, until));
            }
            std::thread::sleep(kill_at.saturating_duration_since(Instant::now()));
            let killed = std::process::Command::new("kill")
                .arg("-9")
                .args(&pids)
                .status()
                .unwrap();
            assert!(killed.success());
        });
        shop.kill_all();
    }
    // The last start: the creates nobody answered are sent again with
    // their keys, and everything left runs to its end.
    shop.start();
    loop {
        let retry = told.lock().unwrap().unanswered.pop();
        let Some((token, key, body, paid)) = retry else {
            break;
        };
        assert!(
            place(&shop, &told, &token, &key, &body, paid),
            "the last shop died"
        );
    }
    let told = told.lock().unwrap();
    settle(&shop, told.orders.len(), Duration::from_secs(180));

    let all = sagas(&shop.db);
    let ev = events(&shop.db);
    let reservations = rows(
        &shop.db,
        "SELECT order_id, status FROM inventory_reservations",
    );
    let payments = rows(
        &shop.db,
        "SELECT order_id, status FROM payment_payments WHERE status != 'failed'",
    );
    let parcels = rows(
        &shop.db,
        "SELECT order_id, shipment_id FROM shipment_parcels",
    );
    let (mut completed, mut compensated, mut compensations) = (0, 0, 0);
    for (id, (_, _)) in told.orders.iter() {
        // No accepted request lost: every answered order is stored, and
        // its saga started.
        let order = entity(&shop.db, "Order", id).unwrap_or_else(|| panic!("order {id} lost"));
        let saga = all
            .get(id)
            .unwrap_or_else(|| panic!("order {id} has no saga"));
        // No event twice.
        for name in [
            "Order.created",
            "Order.confirmed",
            "Order.fulfilled",
            "Order.fulfillment_failed",
            "Order.cancelled",
            "Payment.succeeded",
            "Payment.refunded",
        ] {
            assert!(
                count(&ev, name, id) <= 1,
                "{name} of {id} published {} times",
                count(&ev, name, id)
            );
        }
        let captured = count(&ev, "Payment.succeeded", id) == 1;
        let refunded = count(&ev, "Payment.refunded", id) == 1;
        match saga.status.as_str() {
            "completed" => {
                completed += 1;
                assert_eq!(order["status"], "confirmed", "{id}: {saga:?}");
                assert_eq!(
                    reservations.get(id).map(String::as_str),
                    Some("held"),
                    "{id}"
                );
                assert!(
                    captured && !refunded,
                    "{id}: captured {captured}, refunded {refunded}"
                );
                assert_eq!(
                    payments.get(id).map(String::as_str),
                    Some("succeeded"),
                    "{id}"
                );
                let parcel = entity(&shop.db, "Shipment", &parcels[id]).unwrap();
                assert_eq!(parcel["status"], "preparing", "{id}");
                assert_eq!(count(&ev, "Order.fulfilled", id), 1);
                assert_eq!(count(&ev, "Order.fulfillment_failed", id), 0);
            }
            "compensated" => {
                compensated += 1;
                compensations += saga
                    .steps
                    .iter()
                    .filter(|s| s.compensation.as_deref() == Some("done"))
                    .count();
                for s in &saga.steps {
                    assert!(
                        s.status != "succeeded"
                            || matches!(s.compensation.as_deref(), Some("done" | "none")),
                        "{id}: step {} succeeded and was not undone: {saga:?}",
                        s.name
                    );
                }
                assert_eq!(order["status"], "cancelled", "{id}: {saga:?}");
                assert_ne!(
                    reservations.get(id).map(String::as_str),
                    Some("held"),
                    "{id}"
                );
                // Money taken is given back, once.
                assert_eq!(
                    captured, refunded,
                    "{id}: captured {captured}, refunded {refunded}"
                );
                if let Some(shipment) = parcels.get(id) {
                    let parcel = entity(&shop.db, "Shipment", shipment).unwrap();
                    assert_eq!(parcel["status"], "cancelled", "{id}");
                }
                assert_eq!(count(&ev, "Order.fulfilled", id), 0);
                assert_eq!(count(&ev, "Order.fulfillment_failed", id), 1);
            }
            other => panic!("{id}: saga {other}: {saga:?}"),
        }
    }
    // Stock held is exactly what the held reservations hold.
    let held: i64 = told
        .orders
        .keys()
        .filter(|id| reservations.get(*id).map(String::as_str) == Some("held"))
        .map(|id| {
            let o = entity(&shop.db, "Order", id).unwrap();
            o["items"][0]["quantity"].as_i64().unwrap()
        })
        .sum();
    let reserved: i64 = rows(
        &shop.db,
        "SELECT sku, CAST(reserved AS TEXT) FROM inventory_stock",
    )
    .values()
    .map(|v| v.parse::<i64>().unwrap())
    .sum();
    assert_eq!(
        reserved, held,
        "units reserved against units of held reservations"
    );
    let dead: i64 = with_store(&shop.db, async |store| {
        store.integrity_check().await.unwrap();
        store
            .read(|c| c.query_row("SELECT COUNT(*) FROM dead_letters", [], |r| r.get(0)))
            .await
            .unwrap()
    });
    assert_eq!(dead, 0, "dead letters");
    eprintln!(
        "{} orders: {completed} sagas completed, {compensated} compensated ({compensations} compensations), {} cancelled by their customer",
        told.orders.len(),
        told.cancelled.len()
    );
    assert!(completed > 0 && compensated > 0 && compensations > 0);
    shop.kill_all();
}
