//! The shop's InventoryService, PaymentService, ShipmentService and
//! EmailService as real processes (`examples/shop/handlers/*.rs`), spoken
//! to over HTTP as the OrderFulfillment saga, the warehouse, finance and
//! customers would, with the events other services publish written into
//! their shared database the way another process of the project writes
//! them.
//!
//! What is checked is what a caller notices: a step the saga repeats
//! (with the same `Idempotency-Key`, or another) changes nothing the
//! second time; the declared errors come with their fields; events reach
//! the services that subscribe to them, across processes.
//!
//! The crates are built once (`common::process::build_shop`), into the
//! shared `target/generated-crates` folder.

// Test code: a panic is a test failure, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod common;

use common::process::{Built, Reply, Server, build_shop, http, with_store};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use svcc_runtime::durable::NewEvent;

const SERVICES: [&str; 4] = [
    "inventory-service",
    "payment-service",
    "shipment-service",
    "email-service",
];

/// The products InventoryService starts with (its `SCHEMA`).
const TSHIRT: (&str, &str) = ("TSHIRT-BLK-M", "2b7e1c1e-3f1a-4f8e-9c55-0d6b1a2f4c11");
const HOODIE: (&str, &str) = ("HOODIE-GRY-L", "8e2f4a6b-1c3d-4e5f-9a7b-2c4d6e8f0a12");
const MUG: (&str, &str) = ("MUG-LOGO", "c4d5e6f7-8a9b-4c0d-8e1f-2a3b4c5d6e73");

const ADA: &str = "6f1c2a4e-8a3b-4c7d-9e2f-1a2b3c4d5e6f";
const BOB: &str = "9d8e7f6a-5b4c-4d3e-8f2a-1b0c9d8e7f6a";

const WEBHOOK_SECRET: &str = "whsec_test_0123456789";
/// PaymentService's environment: the provider's signing secret.
const WEBHOOK_ENV: [(&str, &str); 1] = [("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)];

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| build_shop(&SERVICES))
}

/// A service of the shop on a free port, on the database `db`.
fn start(package: &str, db: &Path, env: &[(&str, &str)]) -> Server {
    Server::spawn(&built().bin(package), env, db)
}

/// A development token for a role (minted by a service that has it: the
/// binary refuses roles its manifest does not know; every service shares
/// the development secret).
fn token(sub: &str, role: &str) -> String {
    let service = match role {
        "warehouse" => "inventory-service",
        "finance" => "payment-service",
        _ => "email-service",
    };
    common::process::token(&built().bin(service), sub, &[role], None, None)
}

/// The OrderFulfillment saga's token.
fn saga() -> String {
    token("order-fulfillment", "service")
}

/// A request with a token, an optional `Idempotency-Key` and a JSON body.
fn send(
    s: &Server,
    method: &str,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> Reply {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if let Some(k) = key {
        headers.push(("Idempotency-Key", k));
    }
    http(s.addr, method, path, &headers, Some(&body.to_string()))
}

/// An Order as OrderService publishes it (and the saga passes it on): the
/// lines at 10.00 EUR a unit.
fn order(customer: &str, email: &str, lines: &[((&str, &str), i64)]) -> Value {
    let items: Vec<Value> = lines
        .iter()
        .map(|((sku, product), quantity)| {
            json!({
                "productId": product, "sku": sku, "quantity": quantity,
                "unitPrice": {"amount": "10.00", "currency": "EUR"}
            })
        })
        .collect();
    let units: i64 = lines.iter().map(|(_, q)| q).sum();
    json!({
        "id": uuid(),
        "customerId": customer,
        "email": email,
        "items": items,
        "total": {"amount": format!("{}.00", units * 10), "currency": "EUR"},
        "status": "pending",
        "shippingAddress": {
            "name": "Ada Lovelace", "streetAddress": "12 Example Street",
            "addressLocality": "Berlin", "postalCode": "10115", "addressCountry": "DE"
        },
        "createdAt": "2026-11-22T04:00:00Z"
    })
}

fn uuid() -> String {
    svcc_runtime::prelude::Uuid::new_v4().to_string()
}

/// Publishes an event into the shared database, as its publisher would;
/// returns its id.
fn publish(db: &Path, name: &str, key: &str, payload: &Value) -> String {
    with_store(db, async |store| {
        store
            .write(|tx| {
                tx.append(NewEvent {
                    name,
                    entity_key: Some(key),
                    payload,
                    source: Some("shop_services test"),
                    request_id: None,
                    trace_id: None,
                })
            })
            .await
            .unwrap()
            .to_string()
    })
}

/// Events of a name in the outbox whose payload has `field` = `value`.
fn events(db: &Path, name: &str, field: &str, value: &str) -> usize {
    with_store(db, async |store| {
        let payloads: Vec<String> = store
            .read(|c| {
                c.prepare("SELECT payload FROM outbox WHERE name = ?1")?
                    .query_map([name], |r| r.get(0))?
                    .collect()
            })
            .await
            .unwrap();
        payloads
            .iter()
            .filter(|p| serde_json::from_str::<Value>(p).unwrap()[field] == value)
            .count()
    })
}

/// Whether a service's handler has run for an event (its inbox mark).
fn handled(db: &Path, handler: &str, event_id: &str) -> bool {
    with_store(db, async |store| {
        store
            .read(|c| {
                c.query_row(
                    "SELECT COUNT(*) FROM inbox WHERE handler = ?1 AND event_id = ?2",
                    [handler, event_id],
                    |r| r.get::<_, i64>(0),
                )
            })
            .await
            .unwrap()
            == 1
    })
}

/// Polls `f` until it holds (events cross processes within a dispatcher
/// pass, 200 ms when idle).
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn stock(inv: &Server, product: &str) -> Value {
    let r = inv.call("GET", &format!("/stock/{product}"), None, None);
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[test]
fn reserve_holds_stock_once_per_order_and_release_gives_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let inv = start("inventory-service", &dir.path().join("shop.db"), &[]);
    let saga = saga();
    let before = stock(&inv, TSHIRT.1);
    assert_eq!(
        (&before["onHand"], &before["reserved"], &before["sku"]),
        (&json!(100), &json!(0), &json!("TSHIRT-BLK-M"))
    );

    let o = order(
        ADA,
        "ada@example.com",
        &[(TSHIRT, 2), (MUG, 1), (TSHIRT, 1)],
    );
    let key = format!("{}/reserve-stock", uuid());
    let first = send(&inv, "POST", "/reservations", &saga, Some(&key), &o);
    assert_eq!(first.status, 201, "{}", first.body);
    let r = first.json();
    assert_eq!(r["status"], "held");
    assert_eq!(r["orderId"], o["id"]);
    assert_eq!(r["items"], o["items"]);
    // the same key: the runtime's answer again
    let again = send(&inv, "POST", "/reservations", &saga, Some(&key), &o);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.json(), r);
    // another key, the same order: the same reservation, nothing more held
    let other = send(&inv, "POST", "/reservations", &saga, Some("another"), &o);
    assert_eq!(other.status, 201, "{}", other.body);
    assert_eq!(other.json()["id"], r["id"]);
    assert_eq!(stock(&inv, TSHIRT.1)["reserved"], 3);
    assert_eq!(stock(&inv, MUG.1)["reserved"], 1);

    let release = |key: &str| send(&inv, "POST", "/reservations/release", &saga, Some(key), &r);
    let released = release("release-1");
    assert_eq!(released.status, 200, "{}", released.body);
    assert_eq!(released.json()["status"], "released");
    assert_eq!(stock(&inv, TSHIRT.1)["reserved"], 0);
    let version = stock(&inv, TSHIRT.1)["version"].clone();
    // releasing again changes nothing
    let twice = release("release-2");
    assert_eq!(
        (twice.status, twice.json()["status"].clone()),
        (200, json!("released"))
    );
    assert_eq!(stock(&inv, TSHIRT.1)["version"], version);
    // nor does reserving the order again: its reservation is over
    let late = send(&inv, "POST", "/reservations", &saga, Some("late"), &o);
    assert_eq!(late.json()["status"], "released", "{}", late.body);
    assert_eq!(stock(&inv, TSHIRT.1)["reserved"], 0);

    let warehouse = token("warehouse-1", "warehouse");
    let path = format!("/reservations/{}", r["id"].as_str().unwrap());
    let fetched = inv.call("GET", &path, Some(&warehouse), None);
    assert_eq!(fetched.json()["status"], "released", "{}", fetched.body);
    // a release of an order with no reservation
    let mut unknown = r.clone();
    unknown["orderId"] = json!(uuid());
    let none = send(&inv, "POST", "/reservations/release", &saga, None, &unknown);
    assert_eq!(none.status, 404, "{}", none.body);
}

#[test]
fn a_short_order_holds_nothing_and_levels_change_only_from_the_version_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let inv = start("inventory-service", &db, &[]);
    let saga = saga();

    let o = order(ADA, "ada@example.com", &[(MUG, 1), (HOODIE, 150)]);
    let r = send(&inv, "POST", "/reservations", &saga, None, &o);
    assert_eq!(r.status, 409, "{}", r.body);
    let p = r.json();
    assert_eq!(p["type"], "urn:svcc:problem:insufficient-stock");
    assert_eq!(p["shortages"], json!([o["items"][1]]));
    assert_eq!(stock(&inv, MUG.1)["reserved"], 0, "all or nothing");

    let socks = order(ADA, "ada@example.com", &[(("SOCKS-RED-S", TSHIRT.1), 1)]);
    let r = send(&inv, "POST", "/reservations", &saga, None, &socks);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["productId"], TSHIRT.1);

    let check = json!({"items": [
        {"productId": MUG.1, "sku": MUG.0, "quantity": 101},
        {"productId": TSHIRT.1, "sku": TSHIRT.0, "quantity": 1}
    ]});
    let r = send(&inv, "POST", "/stock/check", &saga, None, &check);
    assert_eq!(r.status, 200, "{}", r.body);
    let c = r.json();
    assert_eq!(c["available"], false);
    assert_eq!(c["shortages"].as_array().unwrap().len(), 1);
    assert_eq!(c["shortages"][0]["sku"], MUG.0);

    let warehouse = format!("Bearer {}", token("warehouse-1", "warehouse"));
    let put = |version: &str, level: &Value| {
        let headers = [("Authorization", warehouse.as_str()), ("If-Match", version)];
        http(
            inv.addr,
            "PUT",
            &format!("/stock/{}", MUG.1),
            &headers,
            Some(&level.to_string()),
        )
    };
    let stale = put("\"7\"", &json!({"onHand": 40}));
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(stale.json()["currentVersion"], 1);
    let set = put("\"1\"", &json!({"onHand": 40, "lowStockThreshold": 10}));
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(
        (&set.json()["onHand"], &set.json()["version"]),
        (&json!(40), &json!(2))
    );
    assert_eq!(events(&db, "Stock.low", "sku", MUG.0), 0);
    // under the threshold: Stock.low
    let low = put("2", &json!({"onHand": 4}));
    assert_eq!(low.status, 200, "{}", low.body);
    assert_eq!(events(&db, "Stock.low", "sku", MUG.0), 1);

    let import = json!({"levels": {"TSHIRT-BLK-M": 7, "NOPE-0000": 3}});
    let r = send(
        &inv,
        "POST",
        "/stock/import",
        &token("w", "warehouse"),
        None,
        &import,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"updated": 1, "unknownSkus": ["NOPE-0000"]})
    );
    assert_eq!(stock(&inv, TSHIRT.1)["onHand"], 7);
    let listed = inv
        .call(
            "GET",
            "/stock?belowThreshold=true",
            Some(&token("w", "warehouse")),
            None,
        )
        .json();
    let skus: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["sku"])
        .collect();
    assert_eq!(skus, ["MUG-LOGO"], "{listed}");
}

/// A `Stripe-Signature` header for `body`, signed at `t`.
fn signature(body: &str, t: i64) -> String {
    use sha2::{Digest, Sha256};
    let mut key = [0u8; 64];
    key[..WEBHOOK_SECRET.len()].copy_from_slice(WEBHOOK_SECRET.as_bytes());
    let inner = Sha256::new()
        .chain_update(key.map(|b| b ^ 0x36))
        .chain_update(format!("{t}.{body}"))
        .finalize();
    let mac = Sha256::new()
        .chain_update(key.map(|b| b ^ 0x5c))
        .chain_update(inner)
        .finalize();
    let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

fn now() -> i64 {
    svcc_runtime::prelude::DateTime::now().as_second()
}

/// A provider event about the payment with `reference`, as its canonical
/// body (compact JSON, fields in the order the generated type has them).
fn provider_event(id: &str, kind: &str, reference: &str) -> String {
    json!({
        "created": "2026-11-22T04:00:00Z",
        "data": {"object": {"id": reference}},
        "id": id,
        "type": kind
    })
    .to_string()
}

fn webhook(pay: &Server, body: &str, signature: &str) -> Reply {
    http(
        pay.addr,
        "POST",
        "/webhooks/payment-provider",
        &[("Stripe-Signature", signature)],
        Some(body),
    )
}

fn card(order: &Value, token: &str) -> Value {
    json!({
        "orderId": order["id"],
        "amount": order["total"],
        "source": {"kind": "card", "token": token}
    })
}

#[test]
fn charge_captures_an_authorized_payment_once_and_refund_gives_it_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let pay = start("payment-service", &db, &WEBHOOK_ENV);
    let saga = saga();
    let ada = token(ADA, "customer");
    let o = order(ADA, "ada@example.com", &[(TSHIRT, 2)]);

    let early = send(&pay, "POST", "/charges", &saga, Some("s/charge"), &o);
    assert_eq!(early.status, 409, "{}", early.body);
    assert_eq!(
        early.json()["type"],
        "urn:svcc:problem:payment-not-authorized"
    );
    assert_eq!(early.json()["orderId"], o["id"]);

    // an authorization for another amount, never captured, is replaced
    let mut cheap = card(&o, "tok_visa_4242");
    cheap["amount"]["amount"] = json!("1.00");
    let replaced = send(&pay, "POST", "/payments", &ada, None, &cheap).json();
    let created = send(
        &pay,
        "POST",
        "/payments",
        &ada,
        Some("click"),
        &card(&o, "tok_visa_4242"),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let p = created.json();
    assert_eq!(
        (&p["status"], &p["customerId"]),
        (&json!("pending"), &json!(ADA))
    );
    assert_eq!(
        p["source"],
        json!({"kind": "card", "brand": "visa", "last4": "4242"})
    );
    // a second click with another key: the same payment
    let double = send(
        &pay,
        "POST",
        "/payments",
        &ada,
        Some("click-2"),
        &card(&o, "tok_visa_4242"),
    );
    assert_eq!(double.json()["id"], p["id"], "{}", double.body);

    assert_ne!(p["id"], replaced["id"]);
    let path = format!("/payments/{}", replaced["id"].as_str().unwrap());
    let first = pay.call("GET", &path, Some(&ada), None).json();
    assert_eq!(first["status"], "failed", "{first}");

    let charged = send(&pay, "POST", "/charges", &saga, Some("s/charge-2"), &o);
    assert_eq!(charged.status, 200, "{}", charged.body);
    let c = charged.json();
    assert_eq!((&c["id"], &c["status"]), (&p["id"], &json!("succeeded")));
    let again = send(&pay, "POST", "/charges", &saga, Some("s/charge-3"), &o);
    assert_eq!(again.json(), c, "{}", again.body);
    let id = c["id"].as_str().unwrap();
    assert_eq!(
        events(&db, "Payment.succeeded", "id", id),
        1,
        "captured once"
    );

    let refunded = send(&pay, "POST", "/refunds", &saga, Some("s/refund"), &c);
    assert_eq!(refunded.status, 200, "{}", refunded.body);
    let r = refunded.json();
    assert_eq!(r["status"], "refunded");
    assert_eq!(r["refundedAmount"], o["total"]);
    let twice = send(&pay, "POST", "/refunds", &saga, Some("s/refund-2"), &c);
    assert_eq!(twice.json(), r, "{}", twice.body);
    assert_eq!(
        events(&db, "Payment.refunded", "id", id),
        1,
        "refunded once"
    );

    // customers see their own payments only
    let path = format!("/payments/{id}");
    assert_eq!(pay.call("GET", &path, Some(&ada), None).status, 200);
    assert_eq!(
        pay.call("GET", &path, Some(&token(BOB, "customer")), None)
            .status,
        403
    );
}

#[test]
fn payments_follow_the_order_total_3_d_secure_and_signed_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let pay = start("payment-service", &db, &WEBHOOK_ENV);
    let saga = saga();
    let ada = token(ADA, "customer");

    // once Order.created has arrived, the amount must be the order's total
    let o = order(ADA, "ada@example.com", &[(HOODIE, 3)]);
    let event = publish(&db, "Order.created", "Order/1", &o);
    eventually("recordAmountDue ran", || {
        handled(&db, "PaymentService/recordAmountDue", &event)
    });
    let mut cheap = card(&o, "tok_visa_4242");
    cheap["amount"]["amount"] = json!("1.00");
    let r = send(&pay, "POST", "/payments", &ada, None, &cheap);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["expected"], o["total"]);
    let r = send(
        &pay,
        "POST",
        "/payments",
        &token(BOB, "customer"),
        None,
        &card(&o, "tok_visa_4242"),
    );
    assert_eq!(r.status, 403, "Bob cannot pay for Ada's order: {}", r.body);
    let declined = send(
        &pay,
        "POST",
        "/payments",
        &ada,
        None,
        &card(&o, "tok_decline_0002"),
    );
    assert_eq!(declined.status, 402, "{}", declined.body);
    assert_eq!(declined.json()["declineCode"], "card_declined");

    // 3-D Secure: not capturable until the provider says so
    let p = send(
        &pay,
        "POST",
        "/payments",
        &ada,
        None,
        &card(&o, "tok_3ds_4000"),
    );
    assert_eq!(p.status, 201, "{}", p.body);
    let reference = p.json()["providerReference"].as_str().unwrap().to_string();
    let r = send(&pay, "POST", "/charges", &saga, None, &o);
    assert_eq!(r.status, 409, "{}", r.body);

    let body = provider_event(
        "evt_1",
        "payment_intent.amount_capturable_updated",
        &reference,
    );
    let forged = webhook(&pay, &body, &format!("t={},v1={}", now(), "00".repeat(32)));
    assert_eq!(forged.status, 401, "{}", forged.body);
    assert_eq!(forged.json()["type"], "urn:svcc:problem:invalid-signature");
    let stale = webhook(&pay, &body, &signature(&body, now() - 3600));
    assert_eq!(
        stale.status, 401,
        "an old signature is refused: {}",
        stale.body
    );
    assert_eq!(send(&pay, "POST", "/charges", &saga, None, &o).status, 409);
    let signed = webhook(&pay, &body, &signature(&body, now()));
    assert_eq!(signed.status, 204, "{}", signed.body);
    let charged = send(&pay, "POST", "/charges", &saga, None, &o);
    assert_eq!(charged.status, 200, "{}", charged.body);
    assert_eq!(charged.json()["status"], "succeeded");

    // a late failure report does not undo a capture
    let failed = provider_event("evt_2", "payment_intent.payment_failed", &reference);
    assert_eq!(
        webhook(&pay, &failed, &signature(&failed, now())).status,
        204
    );
    let path = format!("/payments/{}", charged.json()["id"].as_str().unwrap());
    assert_eq!(
        pay.call("GET", &path, Some(&ada), None).json()["status"],
        "succeeded"
    );

    // finance refunds part of it, then no more than is left
    let finance = token("finance-1", "finance");
    let refunds = format!("{path}/refunds");
    let part =
        json!({"amount": {"amount": "12.50", "currency": "EUR"}, "reason": "a damaged sleeve"});
    let r = send(&pay, "POST", &refunds, &finance, None, &part);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "partially_refunded");
    let too_much = json!({"amount": {"amount": "20.00", "currency": "EUR"}, "reason": "again"});
    let r = send(&pay, "POST", &refunds, &finance, None, &too_much);
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["refundable"],
        json!({"amount": "17.50", "currency": "EUR"})
    );

    // an order paid by bank transfer is captured when the money arrives
    let b = order(ADA, "ada@example.com", &[(MUG, 1)]);
    let bank = json!({"orderId": b["id"], "amount": b["total"], "source": {
        "kind": "bank", "iban": "DE89370400440532013000", "accountHolder": "Ada Lovelace"}});
    let p = send(&pay, "POST", "/payments", &ada, None, &bank).json();
    let arrived = provider_event(
        "evt_3",
        "payment_intent.succeeded",
        p["providerReference"].as_str().unwrap(),
    );
    assert_eq!(
        webhook(&pay, &arrived, &signature(&arrived, now())).status,
        204
    );
    assert_eq!(
        webhook(&pay, &arrived, &signature(&arrived, now())).status,
        204,
        "a replay is ignored"
    );
    let id = p["id"].as_str().unwrap();
    assert_eq!(events(&db, "Payment.succeeded", "id", id), 1);
    let c = send(&pay, "POST", "/charges", &saga, None, &b);
    assert_eq!(
        (c.status, c.json()["status"].clone()),
        (200, json!("succeeded"))
    );
}

#[test]
fn one_parcel_per_order_dispatched_once_the_order_is_fulfilled() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let ship = start("shipment-service", &db, &[]);
    let saga = saga();
    let warehouse = token("warehouse-1", "warehouse");
    let o = order(ADA, "ada@example.com", &[(TSHIRT, 1)]);

    let first = send(&ship, "POST", "/shipments", &saga, Some("s/ship"), &o);
    assert_eq!(first.status, 201, "{}", first.body);
    let s = first.json();
    assert_eq!(
        (&s["status"], &s["orderId"], &s["customerId"]),
        (&json!("preparing"), &o["id"], &json!(ADA))
    );
    let second = send(&ship, "POST", "/shipments", &saga, Some("s/ship-again"), &o);
    assert_eq!(second.json()["id"], s["id"], "{}", second.body);
    let list = ship.call(
        "GET",
        &format!("/shipments?orderId={}", o["id"].as_str().unwrap()),
        Some(&warehouse),
        None,
    );
    assert_eq!(list.json().as_array().unwrap().len(), 1, "{}", list.body);

    let path = format!("/shipments/{}", s["id"].as_str().unwrap());
    let details = json!({"carrier": "dhl", "trackingNumber": "JD0146000012345"});
    let dispatch = |key: &str| {
        send(
            &ship,
            "POST",
            &format!("{path}/dispatch"),
            &warehouse,
            Some(key),
            &details,
        )
    };
    let early = dispatch("d-0");
    assert_eq!(
        early.status, 409,
        "not on the pick list yet: {}",
        early.body
    );

    publish(&db, "Order.fulfilled", "Order/1", &o);
    let mut tries = 0;
    let dispatched = loop {
        tries += 1;
        let r = dispatch(&format!("d-{tries}"));
        if r.status == 200 || tries > 100 {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(dispatched.status, 200, "{}", dispatched.body);
    let d = dispatched.json();
    assert_eq!(
        (&d["status"], &d["carrier"]),
        (&json!("dispatched"), &json!("dhl"))
    );
    assert!(d["dispatchedAt"].is_string(), "{d}");
    assert_eq!(
        events(&db, "Shipment.dispatched", "id", s["id"].as_str().unwrap()),
        1
    );
    let again = dispatch("d-again");
    assert_eq!(again.status, 409, "{}", again.body);
    assert_eq!(again.json()["shipmentStatus"], "dispatched");

    // a cancelled order no longer withdraws a parcel that has left
    let cancelled = publish(&db, "Order.cancelled", "Order/1", &o);
    eventually("withdrawShipment ran", || {
        handled(&db, "ShipmentService/withdrawShipment", &cancelled)
    });
    let ada = token(ADA, "customer");
    assert_eq!(
        ship.call("GET", &path, Some(&ada), None).json()["status"],
        "dispatched"
    );
    assert_eq!(
        ship.call("GET", &path, Some(&token(BOB, "customer")), None)
            .status,
        403
    );

    // the carrier's "delivered" delivers it
    let update = json!({"carrier": "dhl", "trackingNumber": "JD0146000012345",
        "event": "delivered", "location": "Berlin", "occurredAt": "2026-11-24T10:30:00Z"});
    publish(&db, "Carrier.tracking_updated", "Carrier/dhl", &update);
    eventually("the parcel is delivered", || {
        ship.call("GET", &path, Some(&ada), None).json()["status"] == "delivered"
    });
    let delivered = ship.call("GET", &path, Some(&ada), None).json();
    assert_eq!(delivered["deliveredAt"], "2026-11-24T10:30:00Z");

    // a parcel whose order is cancelled before it leaves is withdrawn
    let other = order(BOB, "bob@example.com", &[(MUG, 1)]);
    let s2 = send(&ship, "POST", "/shipments", &saga, None, &other).json();
    publish(&db, "Order.fulfilled", "Order/2", &other);
    publish(&db, "Order.cancelled", "Order/2", &other);
    let path2 = format!("/shipments/{}", s2["id"].as_str().unwrap());
    eventually("the parcel is withdrawn", || {
        ship.call("GET", &path2, Some(&warehouse), None).json()["status"] == "cancelled"
    });
    let r = send(
        &ship,
        "POST",
        &format!("{path2}/dispatch"),
        &warehouse,
        None,
        &json!({"carrier": "ups", "trackingNumber": "1Z999AA10123456784"}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.json()["shipmentStatus"], "cancelled");
}

/// The emails a support agent sees for an order.
fn emails(mail: &Server, order: &Value) -> Vec<Value> {
    let r = mail.call(
        "GET",
        &format!("/emails?orderId={}", order["id"].as_str().unwrap()),
        Some(&token("support-1", "support")),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json().as_array().unwrap().clone()
}

#[test]
fn the_services_share_one_database_and_email_follows_their_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shop.db");
    let shop: Vec<Server> = SERVICES
        .iter()
        .map(|s| start(s, &db, &WEBHOOK_ENV))
        .collect();
    let [inv, pay, ship, mail] = &shop[..] else {
        unreachable!()
    };
    let saga = saga();
    let ada = token(ADA, "customer");

    // the saga's steps for a large order, as it will run them
    let o = order(ADA, "ada@example.com", &[(MUG, 97), (HOODIE, 5)]);
    let key = format!("Order/{}", o["id"].as_str().unwrap());
    publish(&db, "Order.created", &key, &o);
    let held = send(
        inv,
        "POST",
        "/reservations",
        &saga,
        Some("s/reserve-stock"),
        &o,
    );
    assert_eq!(held.status, 201, "{}", held.body);
    send(
        pay,
        "POST",
        "/payments",
        &ada,
        None,
        &card(&o, "tok_mastercard_5555"),
    );
    // (Payment events carry no address: EmailService has it from the
    // order's events. In the saga `confirm` comes after `charge`, and the
    // receipt waits for the retry, 30 s later; here the order is
    // confirmed first.)
    let mut confirmed = o.clone();
    confirmed["status"] = json!("confirmed");
    publish(&db, "Order.confirmed", &key, &confirmed);
    eventually("the confirmation", || emails(mail, &o).len() == 1);
    let charged = send(pay, "POST", "/charges", &saga, Some("s/charge"), &o);
    assert_eq!(charged.status, 200, "{}", charged.body);
    let shipped = send(ship, "POST", "/shipments", &saga, Some("s/ship"), &o);
    assert_eq!(shipped.status, 201, "{}", shipped.body);
    let alert = send(
        mail,
        "POST",
        "/alerts/large-order",
        &saga,
        Some("s/alert-large-order"),
        &o,
    );
    assert_eq!(alert.status, 202, "{}", alert.body);
    let again = send(
        mail,
        "POST",
        "/alerts/large-order",
        &saga,
        Some("another"),
        &o,
    );
    assert_eq!(
        again.json()["id"],
        alert.json()["id"],
        "one alert per order"
    );

    // Stock.low (97 of 100 mugs held) went to merchandising; the receipt
    // found Ada's address once Order.confirmed had brought it
    let mut templates = Vec::new();
    eventually("the confirmation, the receipt and the alerts", || {
        templates = emails(mail, &o)
            .iter()
            .map(|e| e["template"].as_str().unwrap().to_string())
            .collect();
        templates.sort();
        templates == ["large_order_alert", "order_confirmed", "payment_received"]
    });
    let support = token("support-1", "support");
    eventually("the low-stock alert", || {
        let r = mail.call(
            "GET",
            "/emails?template=low_stock_alert",
            Some(&support),
            None,
        );
        r.json()
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["subject"].as_str().unwrap().contains("MUG-LOGO"))
    });
    let sent = emails(mail, &o);
    let receipt = sent
        .iter()
        .find(|e| e["template"] == "payment_received")
        .unwrap();
    assert_eq!(
        (&receipt["to"], &receipt["recipientId"], &receipt["status"]),
        (&json!("ada@example.com"), &json!(ADA), &json!("sent"))
    );
    // Ada reads her own email, not the sales team's
    let own = mail.call(
        "GET",
        &format!("/emails/{}", receipt["id"].as_str().unwrap()),
        Some(&ada),
        None,
    );
    assert_eq!(own.status, 200, "{}", own.body);
    let internal = mail.call(
        "GET",
        &format!("/emails/{}", alert.json()["id"].as_str().unwrap()),
        Some(&ada),
        None,
    );
    assert_eq!(internal.status, 403, "{}", internal.body);

    // Ada wants no shipping updates: the dispatch sends nothing
    let prefs = format!("/preferences/{ADA}");
    let r = send(
        mail,
        "PATCH",
        &prefs,
        &token(BOB, "customer"),
        None,
        &json!({"shippingUpdates": false}),
    );
    assert_eq!(r.status, 403, "not Bob's: {}", r.body);
    let r = send(
        mail,
        "PATCH",
        &prefs,
        &ada,
        None,
        &json!({"shippingUpdates": false}),
    );
    assert_eq!(
        r.json(),
        json!({"customerId": ADA, "marketing": false, "shippingUpdates": false})
    );
    let mut dispatched = shipped.json();
    dispatched["status"] = json!("dispatched");
    let event = publish(&db, "Shipment.dispatched", "Shipment/1", &dispatched);
    eventually("sendShippingNotice ran", || {
        handled(&db, "EmailService/sendShippingNotice", &event)
    });
    assert_eq!(emails(mail, &o).len(), 3, "no shipment_dispatched email");

    // mail to an address that cannot receive it bounces, and is suppressed
    let lost = order(BOB, "bob@nowhere.invalid", &[(TSHIRT, 1)]);
    publish(&db, "Order.cancelled", "Order/lost", &lost);
    let mut bounced = Vec::new();
    eventually("the cancellation notice", || {
        bounced = emails(mail, &lost);
        bounced.len() == 1
    });
    assert_eq!(bounced[0]["status"], "bounced");
    let resend = format!("/emails/{}/resend", bounced[0]["id"].as_str().unwrap());
    let auth = format!("Bearer {support}");
    let r = http(
        mail.addr,
        "POST",
        &resend,
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json()["reason"], "hard_bounce");
    for s in &shop {
        let logs = s.logs();
        assert!(!logs.contains("\"level\":\"ERROR\""), "{logs}");
    }
}
