//! Rate limits: `RateLimit-*` headers on every answer, 429 with `Retry-After`.

use crate::services::{ShopState, shop};
use crate::{Server, header, json, problem, settings, token};
use std::sync::Arc;

fn number(r: &reqwest::Response, name: &str) -> u64 {
    header(r, name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn per_user_limit() {
    let s = Server::start(shop(Arc::new(ShopState::default())), settings()).await;
    let alice = token("alice", &[]);
    // 3 per minute: remaining counts down, reset is when all 3 are back.
    for (remaining, reset) in [(2, 20), (1, 40), (0, 60)] {
        let r = s.get("/limited", Some(&alice)).await;
        assert_eq!(number(&r, "ratelimit-limit"), 3);
        assert_eq!(number(&r, "ratelimit-remaining"), remaining);
        let got = number(&r, "ratelimit-reset");
        assert!(
            got + 1 >= reset && got <= reset,
            "reset {got}, expected about {reset}"
        );
        json(r, 200).await;
    }
    let r = s.get("/limited", Some(&alice)).await;
    let retry = number(&r, "retry-after");
    // One request comes back every 20 s.
    assert!((1..=20).contains(&retry), "retry-after {retry}");
    assert_eq!(number(&r, "ratelimit-limit"), 3);
    assert_eq!(number(&r, "ratelimit-remaining"), 0);
    assert_eq!(number(&r, "ratelimit-reset"), retry);
    let p = problem(r, 429).await;
    assert!(p["detail"].as_str().unwrap().contains("limited"), "{p}");
    // Another user has their own allowance.
    let r = s.get("/limited", Some(&token("bob", &[]))).await;
    assert_eq!(number(&r, "ratelimit-remaining"), 2);
    json(r, 200).await;
    // Refusals are counted in the metrics like any other answer.
    let metrics = s.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(r#"operation="limited",method="GET",route="/limited",status="429"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn per_ip_limit_counts_anonymous_callers_together() {
    let s = Server::start(shop(Arc::new(ShopState::default())), settings()).await;
    json(s.get("/ip-limited", None).await, 200).await;
    json(s.get("/ip-limited", Some(&token("alice", &[]))).await, 200).await;
    let r = s.get("/ip-limited", None).await;
    assert!(header(&r, "retry-after").is_some());
    problem(r, 429).await;
}

#[tokio::test]
async fn forwarded_addresses_only_behind_a_trusted_proxy() {
    let forwarded = |s: &Server, chain: &str| {
        s.client
            .get(s.url("/ip-limited"))
            .header("x-forwarded-for", chain.to_string())
            .send()
    };
    // Not trusted: the header is ignored, everyone here is 127.0.0.1.
    let s = Server::start(shop(Arc::new(ShopState::default())), settings()).await;
    json(forwarded(&s, "1.1.1.1").await.unwrap(), 200).await;
    json(forwarded(&s, "2.2.2.2").await.unwrap(), 200).await;
    problem(forwarded(&s, "3.3.3.3").await.unwrap(), 429).await;
    // Behind a proxy, the address it appended counts; what the client
    // wrote before it does not.
    let mut set = settings();
    set.trust_proxy = true;
    let s = Server::start(shop(Arc::new(ShopState::default())), set).await;
    json(forwarded(&s, "1.1.1.1, 203.0.113.9").await.unwrap(), 200).await;
    json(forwarded(&s, "2.2.2.2, 203.0.113.9").await.unwrap(), 200).await;
    problem(forwarded(&s, "3.3.3.3, 203.0.113.9").await.unwrap(), 429).await;
    // Other clients of the proxy have their own allowance.
    json(forwarded(&s, "203.0.113.10").await.unwrap(), 200).await;
    // Garbage is not an address: the proxy's own address counts.
    json(forwarded(&s, "not-an-ip").await.unwrap(), 200).await;
}
