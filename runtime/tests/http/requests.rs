//! What comes in: routing, validation, body limits, idempotency, timeouts,
//! and handlers that fail.

use crate::services::{ShopState, shop};
use crate::{Server, header, json, problem, settings, token};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

async fn shop_server() -> (Server, Arc<ShopState>) {
    let state = Arc::new(ShopState::default());
    let mut set = settings();
    set.max_body = 2048;
    (Server::start(shop(state.clone()), set).await, state)
}

fn admin() -> String {
    token("alice", &["admin"])
}

/// The `(in, pointer)` pairs of a 400's `errors`.
fn places(p: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = p["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors list: {p}"))
        .iter()
        .map(|e| {
            assert!(e["detail"].as_str().is_some_and(|d| !d.is_empty()), "{e}");
            (
                e["in"].as_str().unwrap().to_string(),
                e["pointer"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn place(location: &str, pointer: &str) -> (String, String) {
    (location.to_string(), pointer.to_string())
}

#[tokio::test]
async fn every_violation_in_one_problem() {
    let (s, state) = shop_server().await;
    let r = s
        .client
        .post(s.url("/orders"))
        .bearer_auth(admin())
        .json(&json!({
            "items": [{"sku": "", "quantity": 0}, {"quantity": 2}],
            "note": "far too long for a note field"
        }))
        .send()
        .await
        .unwrap();
    let p = problem(r, 400).await;
    assert_eq!(
        places(&p),
        [
            place("body", "/items/0/quantity"),
            place("body", "/items/0/sku"),
            place("body", "/items/1"),
            place("body", "/note"),
        ],
        "{p}"
    );
    assert!(p["detail"].as_str().unwrap().contains('4'), "{p}");
    // Path, query and body problems come back together.
    let r = s
        .client
        .put(s.url("/orders/abc?notify=maybe"))
        .bearer_auth(admin())
        .json(&json!({"items": [], "extra": true}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 400).await;
    assert_eq!(
        places(&p),
        [
            place("body", ""),
            place("body", "/items"),
            place("path", "id"),
            place("query", "notify"),
        ],
        "{p}"
    );
    // A query parameter out of range.
    let p = problem(s.get("/orders?limit=1000", Some(&admin())).await, 400).await;
    assert_eq!(places(&p), [place("query", "limit")], "{p}");
    // Nothing ran.
    assert_eq!(state.creates.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn malformed_bodies_are_400_and_listed_with_the_rest() {
    let (s, state) = shop_server().await;
    let send = |path: &str, content_type: &str, body: &'static str| {
        s.client
            .put(s.url(path))
            .bearer_auth(admin())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let p = problem(
        send("/orders/1", "application/json", "{\"items\": [")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert!(p.to_string().contains("JSON"), "{p}");
    // With a bad path parameter, both are in the one answer.
    let p = problem(
        send("/orders/x", "application/json", "{oops}")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(places(&p), [place("body", ""), place("path", "id")], "{p}");
    // JSON that is not an object, or `null`.
    for body in ["[]", "null", "42", "\"text\""] {
        let p = problem(
            send("/orders/1", "application/json", body).await.unwrap(),
            400,
        )
        .await;
        assert_eq!(places(&p), [place("body", "")], "{body}: {p}");
    }
    // A number JSON cannot hold, deep nesting, invalid UTF-8: still 400s.
    for body in [
        "{\"items\": [{\"sku\": \"a\", \"quantity\": 1e400}]}",
        "{\"items\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        "{\"items\": [{\"sku\": \"\u{fffd}\", \"quantity\": 1}], \"note\": 5}",
    ] {
        problem(
            send("/orders/1", "application/json", body).await.unwrap(),
            400,
        )
        .await;
    }
    let r = s
        .client
        .put(s.url("/orders/1"))
        .bearer_auth(admin())
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    // A required body that is missing.
    let p = problem(
        send("/orders/1", "application/json", "").await.unwrap(),
        400,
    )
    .await;
    assert_eq!(places(&p), [place("body", "")], "{p}");
    // PUT decodes without the schema first (`Request::body_checked`):
    // what serde alone would refuse but the schema accepts still passes.
    for body in [
        "{\"items\": [{\"sku\": \"a\", \"quantity\": 195.0}]}",
        "{\"items\": [{\"sku\": \"a\", \"quantity\": 0, \"quantity\": 2}]}",
        "{\"items\": [{\"sku\": \"a\", \"quantity\": 2}], \"note\": null}",
    ] {
        let r = send("/orders/1", "application/json", body).await.unwrap();
        assert_eq!(r.status(), 200, "{body}");
    }
    let p = problem(
        send(
            "/orders/1",
            "application/json",
            "{\"items\": [{\"sku\": \"\", \"quantity\": 2, \"quantity\": 0}], \"x\": 1}",
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    assert_eq!(
        places(&p),
        [
            place("body", ""),
            place("body", "/items/0/quantity"),
            place("body", "/items/0/sku")
        ],
        "{p}"
    );
    // Path parameters that are not UTF-8, query values that overflow.
    problem(s.get("/orders/%FF", Some(&admin())).await, 400).await;
    problem(
        s.get("/orders?limit=99999999999999999999999", Some(&admin()))
            .await,
        400,
    )
    .await;
    assert_eq!(state.creates.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn content_type_and_size() {
    let (s, _) = shop_server().await;
    let order = json!({"items": [{"sku": "a", "quantity": 1}]}).to_string();
    let r = s
        .client
        .post(s.url("/orders"))
        .bearer_auth(admin())
        .header("content-type", "text/plain")
        .body(order.clone())
        .send()
        .await
        .unwrap();
    let p = problem(r, 415).await;
    assert!(p["detail"].as_str().unwrap().contains("text/plain"), "{p}");
    // `application/json; charset=utf-8` and `+json` types are JSON.
    for ct in [
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ] {
        let r = s
            .client
            .post(s.url("/orders"))
            .bearer_auth(admin())
            .header("content-type", ct)
            .body(order.clone())
            .send()
            .await
            .unwrap();
        json(r, 201).await;
    }
    // Over the limit (2048 bytes here).
    let big = json!({"items": [{"sku": "x".repeat(4000), "quantity": 1}]});
    let r = s
        .client
        .post(s.url("/orders"))
        .bearer_auth(admin())
        .json(&big)
        .send()
        .await
        .unwrap();
    let p = problem(r, 413).await;
    assert!(p["detail"].as_str().unwrap().contains("2048"), "{p}");
    // Far over the limit: still an answer, not a reset connection.
    for size in [64 << 10, 4 << 20] {
        let r = s
            .client
            .post(s.url("/orders"))
            .bearer_auth(admin())
            .header("content-type", "application/json")
            .body(vec![b' '; size])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{size} bytes: {e:?}"));
        problem(r, 413).await;
    }
}

#[tokio::test]
async fn idempotency_key_replays() {
    let (s, state) = shop_server().await;
    let order = json!({"items": [{"sku": "a", "quantity": 1}]});
    let post = |key: &str, body: &Value| {
        s.client
            .post(s.url("/orders"))
            .bearer_auth(admin())
            .header("idempotency-key", key)
            .json(body)
            .send()
    };
    let first = post("k-1", &order).await.unwrap();
    assert!(header(&first, "idempotent-replayed").is_none());
    let first = json(first, 201).await;
    let again = post("k-1", &order).await.unwrap();
    assert_eq!(
        header(&again, "idempotent-replayed").as_deref(),
        Some("true")
    );
    assert_eq!(json(again, 201).await, first);
    assert_eq!(state.creates.load(Ordering::SeqCst), 1);
    // Same key, another body.
    let other = json!({"items": [{"sku": "b", "quantity": 2}]});
    let p = problem(post("k-1", &other).await.unwrap(), 422).await;
    assert!(
        p["detail"].as_str().unwrap().contains("Idempotency-Key"),
        "{p}"
    );
    assert_eq!(state.creates.load(Ordering::SeqCst), 1);
    // Another key runs again; no key runs every time.
    json(post("k-2", &order).await.unwrap(), 201).await;
    for _ in 0..2 {
        let r = s
            .client
            .post(s.url("/orders"))
            .bearer_auth(admin())
            .json(&order)
            .send()
            .await
            .unwrap();
        json(r, 201).await;
    }
    assert_eq!(state.creates.load(Ordering::SeqCst), 4);
    // Keys belong to their caller: bob's k-1 is not alice's.
    let r = s
        .client
        .post(s.url("/orders"))
        .bearer_auth(token("bob", &["customer"]))
        .header("idempotency-key", "k-1")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert!(header(&r, "idempotent-replayed").is_none());
    assert_eq!(json(r, 201).await["customerId"], "bob");
    // A key that is too long.
    problem(post(&"k".repeat(300), &order).await.unwrap(), 400).await;
    // A refusal of the request itself is replayed as it was, headers
    // included.
    let refused = json!({"items": [{"sku": "a", "quantity": 1}], "note": "refused"});
    let r = post("k-3", &refused).await.unwrap();
    assert_eq!(header(&r, "location").as_deref(), Some("/orders/1"));
    let first = problem(r, 422).await;
    let r = post("k-3", &refused).await.unwrap();
    assert_eq!(header(&r, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(header(&r, "location").as_deref(), Some("/orders/1"));
    assert_eq!(problem(r, 422).await, first);
    assert_eq!(state.creates.load(Ordering::SeqCst), 6);
    // A conflict depends on the state, which may change: the same key runs
    // again (a saga step retried until a payment is authorized).
    let taken = json!({"items": [{"sku": "a", "quantity": 1}], "note": "taken"});
    problem(post("k-4", &taken).await.unwrap(), 409).await;
    let r = post("k-4", &taken).await.unwrap();
    assert!(header(&r, "idempotent-replayed").is_none());
    problem(r, 409).await;
    assert_eq!(state.creates.load(Ordering::SeqCst), 8);
}

#[tokio::test]
async fn a_key_whose_request_failed_with_5xx_can_be_retried() {
    let state = Arc::new(ShopState::default());
    let mut set = settings();
    set.request_timeout = Duration::from_millis(200);
    let s = Server::start(shop(state.clone()), set).await;
    let order = json!({"items": [{"sku": "a", "quantity": 1}]});
    let post = || {
        s.client
            .post(s.url("/orders"))
            .bearer_auth(admin())
            .header("idempotency-key", "retry-me")
            .json(&order)
            .send()
    };
    state.create_delay_ms.store(2_000, Ordering::SeqCst);
    problem(post().await.unwrap(), 504).await;
    state.create_delay_ms.store(0, Ordering::SeqCst);
    let r = post().await.unwrap();
    assert!(header(&r, "idempotent-replayed").is_none());
    json(r, 201).await;
    let r = post().await.unwrap();
    assert_eq!(header(&r, "idempotent-replayed").as_deref(), Some("true"));
    assert_eq!(state.creates.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_key_belongs_to_one_request_not_just_one_body() {
    let (s, state) = shop_server().await;
    let order = json!({"items": [{"sku": "a", "quantity": 1}]});
    let send = |method: reqwest::Method, path: &str| {
        s.client
            .request(method, s.url(path))
            .bearer_auth(admin())
            .header("idempotency-key", "one")
            .json(&order)
            .send()
    };
    let first = json(
        send(reqwest::Method::PATCH, "/orders/1").await.unwrap(),
        200,
    )
    .await;
    assert_eq!(first["id"], 1);
    // The same key and body on another order must not answer for order 1.
    problem(
        send(reqwest::Method::PATCH, "/orders/2").await.unwrap(),
        422,
    )
    .await;
    // Nor with other query parameters.
    json(
        send(reqwest::Method::POST, "/orders?dryRun=true")
            .await
            .unwrap(),
        201,
    )
    .await;
    problem(
        send(reqwest::Method::POST, "/orders?dryRun=false")
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(state.creates.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_run_once() {
    let (s, state) = shop_server().await;
    state.create_delay_ms.store(300, Ordering::SeqCst);
    let order = json!({"items": [{"sku": "a", "quantity": 1}]});
    let send = || {
        s.client
            .post(s.url("/orders"))
            .bearer_auth(admin())
            .header("idempotency-key", "same")
            .json(&order)
            .send()
    };
    let (a, b, c) = tokio::join!(send(), send(), send());
    let mut bodies = Vec::new();
    let mut replayed = 0;
    for r in [a, b, c] {
        let r = r.unwrap();
        replayed += usize::from(header(&r, "idempotent-replayed").is_some());
        bodies.push(json(r, 201).await);
    }
    assert_eq!(state.creates.load(Ordering::SeqCst), 1);
    assert_eq!(replayed, 2);
    assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
}

#[tokio::test]
async fn a_slow_handler_times_out_with_504() {
    let (s, _) = shop_server().await;
    let start = Instant::now();
    let p = problem(s.get("/slow", None).await, 504).await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert!(p["detail"].as_str().unwrap().contains("200 ms"), "{p}");
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let (s, _) = shop_server().await;
    let r = s.client.post(s.url("/public")).send().await.unwrap();
    assert_eq!(header(&r, "allow").as_deref(), Some("DELETE, GET, HEAD"));
    assert!(header(&r, "x-request-id").is_some());
    problem(r, 405).await;
    let r = s.client.delete(s.url("/orders/1")).send().await.unwrap();
    assert_eq!(
        header(&r, "allow").as_deref(),
        Some("GET, HEAD, PATCH, PUT")
    );
    problem(r, 405).await;
    let p = problem(s.get("/nowhere", None).await, 404).await;
    assert!(p["detail"].as_str().unwrap().contains("/nowhere"), "{p}");
    problem(s.get("/orders/1/items", Some(&admin())).await, 404).await;
    // HEAD is served where GET is, without a body.
    let r = s.client.head(s.url("/public")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
    // A handler's own 404 is a problem too.
    problem(s.get("/orders/99", Some(&admin())).await, 404).await;
    // Deprecated routes say so.
    let r = s.client.delete(s.url("/public")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "deprecation").as_deref(), Some("true"));
    assert!(header(&r, "content-type").is_none());
    // An answer without a body claims no content type.
    let r = s.client.post(s.url("/jobs")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    assert!(header(&r, "content-type").is_none());
    assert!(r.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_problem() {
    let (s, _) = shop_server().await;
    let r = s.get("/panic", None).await;
    let rid = header(&r, "x-request-id").unwrap();
    let p = problem(r, 500).await;
    // The panic message stays in the log.
    assert!(!p.to_string().contains("bug"), "{p}");
    assert!(!rid.is_empty());
    // The server keeps serving.
    json(s.get("/public", None).await, 200).await;
}

#[tokio::test]
async fn problem_headers_with_any_spelling() {
    let (s, _) = shop_server().await;
    let r = s.client.post(s.url("/conflict")).send().await.unwrap();
    assert_eq!(header(&r, "location").as_deref(), Some("/orders/1"));
    assert_eq!(
        header(&r, "x-conflict-reason").as_deref(),
        Some("duplicate")
    );
    problem(r, 409).await;
}

#[tokio::test]
async fn odd_requests_are_never_a_500() {
    let (s, _) = shop_server().await;
    let admin = admin();
    // A small deterministic generator: the same odd inputs on every run.
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    let paths = [
        "/orders",
        "/orders/1",
        "/orders/-1",
        "/orders/1.5",
        "/orders/%00",
        "/orders/%E2%82",
        "/orders/99999999999999999999",
        "/orders?limit=",
        "/orders?limit=-5&limit=x",
        "/orders?%FF=%FE",
        "/me",
        "/public?x=%",
        "/jobs",
        "/limited",
    ];
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    let bodies: [&[u8]; 8] = [
        b"",
        b"{}",
        b"{\"items\": null}",
        b"{\"items\": [{\"sku\": 1, \"quantity\": \"2\"}]}",
        b"{\"items\": [{}], \"items\": 5}",
        b"\xef\xbb\xbf{\"items\": []}",
        b"{\"items\": [{\"sku\": \"a\", \"quantity\": 1}]} trailing",
        b"{\"items\": [{\"sku\": \"a\", \"quantity\": 18446744073709551616}]}",
    ];
    let types = ["application/json", "", "text/plain", "application/x+json"];
    for round in 0..300 {
        let pick = |n: u64, len: usize| usize::try_from(n).unwrap() % len;
        let path = paths[pick(next(), paths.len())];
        let method = methods[pick(next(), methods.len())];
        let mut body = bodies[pick(next(), bodies.len())].to_vec();
        if round % 5 == 0 {
            body = (0..pick(next(), 64))
                .map(|_| (next() & 0xff) as u8)
                .collect();
        }
        let content_type = types[pick(next(), types.len())];
        let mut r = s
            .client
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                s.url(path),
            )
            .bearer_auth(&admin)
            .body(body.clone());
        if !content_type.is_empty() {
            r = r.header("content-type", content_type);
        }
        if round % 3 == 0 {
            r = r.header("idempotency-key", format!("k{}", next() % 4));
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let what = format!(
            "{method} {path} {content_type} {:?}",
            String::from_utf8_lossy(&body)
        );
        assert!(status < 500, "{what}: {status}");
        if status >= 400 && method != "HEAD" {
            problem(r, status).await;
        }
    }
}
