//! What operators and clients see around the handlers: health, metrics,
//! caching, CORS, request ids and traces, calls to other services, and
//! graceful shutdown.

use crate::services::{ShopState, front, shop, stock};
use crate::{Server, header, json, problem, settings, token};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

async fn shop_server() -> (Server, Arc<ShopState>) {
    let state = Arc::new(ShopState::default());
    (Server::start(shop(state.clone()), settings()).await, state)
}

#[tokio::test]
async fn health_reports_each_check() {
    let (s, state) = shop_server().await;
    let r = s.get("/health", None).await;
    assert_eq!(header(&r, "cache-control").as_deref(), Some("no-store"));
    let h = json(r, 200).await;
    assert_eq!(h["status"], "ok");
    assert_eq!(h["service"], "Shop");
    assert_eq!(h["version"], "1.2.0");
    assert_eq!(h["checks"]["database"]["status"], "ok");
    assert_eq!(h["checks"]["search"]["status"], "ok");
    state.search_down.store(true, Ordering::SeqCst);
    let h = json(s.get("/health", None).await, 503).await;
    assert_eq!(h["status"], "failing");
    assert_eq!(h["checks"]["search"]["status"], "failing");
    assert_eq!(
        h["checks"]["search"]["detail"],
        "the search index is unreachable"
    );
    assert_eq!(h["checks"]["database"]["status"], "ok");
    // A check that never answers fails after a bounded wait.
    state.database_hangs.store(true, Ordering::SeqCst);
    let start = std::time::Instant::now();
    let h = json(s.get("/health", None).await, 503).await;
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(h["checks"]["database"]["status"], "failing");
    assert_eq!(h["checks"]["search"]["status"], "failing");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let (s, _) = shop_server().await;
    let admin = token("alice", &["admin"]);
    for _ in 0..3 {
        json(s.get("/orders/1", Some(&admin)).await, 200).await;
    }
    problem(s.get("/orders/99", Some(&admin)).await, 404).await;
    problem(s.get("/orders/1", None).await, 401).await;
    problem(s.get("/nowhere", None).await, 404).await;
    problem(s.client.post(s.url("/public")).send().await.unwrap(), 405).await;
    let r = s.get("/metrics", None).await;
    assert!(
        header(&r, "content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().await.unwrap();
    let line = |route: &str, status: u16| {
        format!(
            r#"svcc_http_requests_total{{service="Shop",operation="getOrder",method="GET",route="{route}",status="{status}"}}"#
        )
    };
    for (expected, status) in [(3, 200), (1, 404), (1, 401)] {
        let want = format!("{} {expected}", line("/orders/{id}", status));
        assert!(text.contains(&want), "missing `{want}` in\n{text}");
    }
    assert!(
        text.contains(r#"svcc_http_errors_total{service="Shop",operation="getOrder",method="GET",route="/orders/{id}",status="404"} 1"#),
        "{text}"
    );
    // A 405 counts under the route whose path it hit.
    assert!(
        text.contains(r#"svcc_http_requests_total{service="Shop",operation="-",method="POST",route="/public",status="405"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"svcc_http_request_duration_seconds_count{service="Shop",operation="getOrder"} 5"#
        ),
        "{text}"
    );
    // Every answer falls in the +Inf bucket.
    assert!(
        text.contains(
            r#"svcc_http_request_duration_seconds_bucket{service="Shop",le="+Inf",operation="getOrder"} 5"#
        ),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
}

#[tokio::test]
async fn made_up_methods_do_not_grow_the_metrics() {
    let (s, _) = shop_server().await;
    for i in 0..20 {
        let method = reqwest::Method::from_bytes(format!("X{i}").as_bytes()).unwrap();
        let r = s
            .client
            .request(method.clone(), s.url("/public"))
            .send()
            .await
            .unwrap();
        problem(r, 405).await;
        let r = s
            .client
            .request(method, s.url("/nowhere"))
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
    }
    let text = s.get("/metrics", None).await.text().await.unwrap();
    assert!(!text.contains("X1"), "{text}");
    assert!(
        text.contains(r#"operation="-",method="OTHER",route="/public",status="405"} 20"#),
        "{text}"
    );
    assert!(
        text.contains(r#"operation="-",method="OTHER",route="-",status="404"} 20"#),
        "{text}"
    );
}

#[tokio::test]
async fn cache_control_on_cached_gets_only() {
    let (s, _) = shop_server().await;
    let admin = token("alice", &["admin"]);
    // Authenticated answers are private; anonymous ones public.
    let r = s.get("/orders/1", Some(&admin)).await;
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("private, max-age=30")
    );
    let r = s.get("/public", None).await;
    assert_eq!(
        header(&r, "cache-control").as_deref(),
        Some("public, max-age=60")
    );
    // Not on errors, not on routes without `cache:`.
    let r = s.get("/orders/99", Some(&admin)).await;
    assert!(header(&r, "cache-control").is_none());
    let r = s.get("/orders", Some(&admin)).await;
    assert!(header(&r, "cache-control").is_none());
}

#[tokio::test]
async fn cors_only_when_origins_are_configured() {
    let preflight = |s: &Server| {
        s.client
            .request(reqwest::Method::OPTIONS, s.url("/orders"))
            .header("origin", "https://app.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    // Off by default: no CORS headers at all.
    let (plain, _) = shop_server().await;
    let r = preflight(&plain).await.unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none());
    let r = plain
        .client
        .get(plain.url("/public"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none());
    // Configured: preflights are answered, allowed origins echoed.
    let mut set = settings();
    set.cors_origins = vec!["https://app.example".into()];
    let s = Server::start(shop(Arc::new(ShopState::default())), set).await;
    let r = preflight(&s).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    assert!(header(&r, "access-control-allow-methods").is_some());
    assert!(header(&r, "access-control-allow-headers").is_some());
    let r = s
        .client
        .get(s.url("/public"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&r, "access-control-allow-origin").as_deref(),
        Some("https://app.example")
    );
    let exposed = header(&r, "access-control-expose-headers").unwrap_or_default();
    assert!(exposed.contains("x-request-id"), "{exposed}");
    let r = s
        .client
        .get(s.url("/public"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none());
    // Problems carry CORS headers too, so browsers can read them.
    let r = s
        .client
        .get(s.url("/orders/1"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "access-control-allow-origin").is_some());
    problem(r, 401).await;
    // An OPTIONS request that is not a preflight is routed like any other:
    // 405 where the path has no OPTIONS route, 404 where there is no path.
    let r = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/public"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "allow").as_deref(), Some("DELETE, GET, HEAD"));
    problem(r, 405).await;
    let r = s
        .client
        .request(reqwest::Method::OPTIONS, s.url("/nowhere"))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
}

#[tokio::test]
async fn request_ids_and_traces() {
    let (s, _) = shop_server().await;
    // Echoed when sent...
    let r = s
        .client
        .get(s.url("/public"))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&r, "x-request-id").as_deref(), Some("req-42"));
    assert_eq!(json(r, 200).await["requestId"], "req-42");
    // ...generated when absent, and on problems too.
    let r = s.get("/public", None).await;
    let id = header(&r, "x-request-id").unwrap();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(json(r, 200).await["requestId"], id.as_str());
    let r = s.get("/orders/1", None).await;
    assert!(header(&r, "x-request-id").is_some());
    problem(r, 401).await;
    // A valid traceparent continues its trace; a broken one starts a new one.
    let r = s
        .client
        .get(s.url("/public"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(r, 200).await["traceId"],
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let r = s
        .client
        .get(s.url("/public"))
        .header("traceparent", "garbage")
        .send()
        .await
        .unwrap();
    let trace = json(r, 200).await["traceId"].as_str().unwrap().to_string();
    assert_eq!(trace.len(), 32);
    assert_ne!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn calls_go_out_as_the_service_relay_the_trace_and_count_in_health() {
    let stock_server = Server::start(stock(Arc::default()), settings()).await;
    let mut set = settings();
    set.service_urls
        .insert("stock".into(), format!("{}/", stock_server.base));
    let s = Server::start(front(), set).await;
    let r = s
        .client
        .get(s.url("/stock/a%20b"))
        .bearer_auth(token("alice", &["user"]))
        .header("x-request-id", "req-7")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .unwrap();
    let body = json(r, 200).await;
    assert_eq!(body["stock"]["sku"], "a b");
    // The called service sees the caller's service, with the role
    // `service` (a token minted with the shared secret), not alice.
    assert_eq!(
        body["stock"]["seenBy"],
        svcc_runtime::client::service_subject("Front").to_string()
    );
    assert_eq!(body["stock"]["roles"], serde_json::json!(["service"]));
    assert_eq!(body["stock"]["requestId"], "req-7");
    assert_eq!(body["stock"]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    let h = json(s.get("/health", None).await, 200).await;
    assert_eq!(h["checks"]["Stock"]["status"], "ok");
    // The called service goes away: calls are 503 problems, health fails.
    stock_server.stop().await.unwrap();
    let p = problem(
        s.get("/stock/a", Some(&token("alice", &["user"]))).await,
        503,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("Stock"), "{p}");
    let h = json(s.get("/health", None).await, 503).await;
    assert_eq!(h["checks"]["Stock"]["status"], "failing");
    // Not configured at all: 503 naming the variable to set.
    let lone = Server::start(front(), settings()).await;
    let p = problem(
        lone.get("/stock/a", Some(&token("alice", &["user"]))).await,
        503,
    )
    .await;
    assert!(
        p["detail"].as_str().unwrap().contains("SVCC_STOCK_URL"),
        "{p}"
    );
}

#[tokio::test]
async fn a_failing_dependency_is_a_bad_gateway_and_trips_the_breaker() {
    let broken_calls = Arc::new(AtomicUsize::new(0));
    let stock_server = Server::start(stock(broken_calls.clone()), settings()).await;
    let mut set = settings();
    set.service_urls
        .insert("stock".into(), stock_server.base.clone());
    let s = Server::start(front(), set).await;
    let alice = token("alice", &["user"]);
    // Front's own code did not fail: a 502 naming the dependency, after
    // the retry the policy allows (2 attempts).
    for calls in [2, 4] {
        let p = problem(s.get("/broken", Some(&alice)).await, 502).await;
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains("Stock") && detail.contains("500"), "{p}");
        assert_eq!(broken_calls.load(Ordering::SeqCst), calls);
    }
    // Two failed calls open the circuit: no more calls go out.
    let p = problem(s.get("/broken", Some(&alice)).await, 503).await;
    assert!(p["detail"].as_str().unwrap().contains("circuit"), "{p}");
    assert_eq!(broken_calls.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight() {
    let (mut s, state) = shop_server().await;
    let client = s.client.clone();
    let url = s.url("/sleep?ms=700");
    let slow = tokio::spawn(async move { client.get(url).send().await });
    // Wait until the handler is running, then ask the server to stop.
    tokio::time::timeout(Duration::from_secs(5), state.sleeping.notified())
        .await
        .unwrap();
    s.trigger_shutdown();
    let r = slow.await.unwrap().unwrap();
    assert_eq!(json(r, 200).await["slept"], 700);
    let base = s.base.clone();
    s.stop().await.unwrap();
    // Stopped: nobody listens any more.
    let fresh = reqwest::Client::new();
    assert!(fresh.get(format!("{base}/health")).send().await.is_err());
}
