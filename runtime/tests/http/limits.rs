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
