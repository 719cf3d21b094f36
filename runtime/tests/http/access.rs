//! What an authenticated caller may do: roles and permissions, `:own`
//! ownership, pricing plans.

use crate::services::{ShopState, metered, shop};
use crate::{SECRET, Server, header, json, now, problem, settings, sign_hs256, token};
use serde_json::{Value, json};
use std::sync::Arc;

async fn shop_server() -> Server {
    Server::start(shop(Arc::new(ShopState::default())), settings()).await
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn no_grant_is_403_and_no_credentials_is_401() {
    let s = shop_server().await;
    let p = problem(
        s.get("/orders/1", Some(&token("gus", &["guest"]))).await,
        403,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("orders:read"), "{p}");
    // Unknown roles grant nothing either.
    problem(
        s.get("/orders/1", Some(&token("gus", &["root"]))).await,
        403,
    )
    .await;
    let r = s.get("/orders/1", None).await;
    assert!(header(&r, "www-authenticate").is_some());
    problem(r, 401).await;
    // A role without the permission cannot create, one with it can.
    let order = json!({"items": [{"sku": "a", "quantity": 1}]});
    let post = |t: String| {
        s.client
            .post(s.url("/orders"))
            .bearer_auth(t)
            .json(&order)
            .send()
    };
    problem(post(token("carol", &["clerk"])).await.unwrap(), 403).await;
    json(post(token("alice", &["customer"])).await.unwrap(), 201).await;
    // The `role` claim (one role) counts like `roles`.
    let single = sign_hs256(
        &json!({"sub": "carol", "role": "clerk", "exp": now() + 60}),
        SECRET,
    );
    json(s.get("/orders/2", Some(&single)).await, 200).await;
    // Some identity providers write `roles` as one string.
    let string_roles = sign_hs256(
        &json!({"sub": "carol", "roles": "clerk", "exp": now() + 60}),
        SECRET,
    );
    json(s.get("/orders/2", Some(&string_roles)).await, 200).await;
}

#[tokio::test]
async fn own_grants_see_only_what_they_own() {
    let s = shop_server().await;
    let alice = token("alice", &["customer"]);
    let bob = token("bob", &["customer"]);
    // The owner sees their order; another customer gets 403.
    let o = json(s.get("/orders/1", Some(&alice)).await, 200).await;
    assert_eq!(o["customerId"], "alice");
    let p = problem(s.get("/orders/1", Some(&bob)).await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("own"), "{p}");
    json(s.get("/orders/2", Some(&bob)).await, 200).await;
    // A 403 for someone else's order leaks nothing of it.
    let r = s.get("/orders/2", Some(&alice)).await;
    assert!(header(&r, "cache-control").is_none());
    let body = problem(r, 403).await;
    assert!(!body.to_string().contains("20.00"), "{body}");
    // Lists are filtered to owned items.
    let mine = json(s.get("/orders", Some(&alice)).await, 200).await;
    assert_eq!(ids(&mine), [1, 3]);
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .all(|o| o["customerId"] == "alice")
    );
    let bobs = json(s.get("/orders", Some(&bob)).await, 200).await;
    assert_eq!(ids(&bobs), [2]);
    // Owner fields that are numbers compare with the subject's text.
    let numeric = token("42", &["customer"]);
    json(s.get("/orders/4", Some(&numeric)).await, 200).await;
    assert_eq!(
        ids(&json(s.get("/orders", Some(&numeric)).await, 200).await),
        [4]
    );
    problem(s.get("/orders/4", Some(&alice)).await, 403).await;
    // Full grants (`*`, or the permission without `:own`) see everything.
    let admin = json(
        s.get("/orders", Some(&token("root", &["admin"]))).await,
        200,
    )
    .await;
    assert_eq!(ids(&admin), [1, 2, 3, 4]);
    let clerk = json(
        s.get("/orders", Some(&token("carol", &["clerk"]))).await,
        200,
    )
    .await;
    assert_eq!(ids(&clerk), [1, 2, 3, 4]);
    json(
        s.get("/orders/2", Some(&token("root", &["admin"]))).await,
        200,
    )
    .await;
    // A caller with both an `:own` and a full grant gets the full one.
    let both = token("alice", &["customer", "clerk"]);
    assert_eq!(
        ids(&json(s.get("/orders", Some(&both)).await, 200).await),
        [1, 2, 3, 4]
    );
}

fn plan_token(sub: &str, plan: Option<&str>) -> String {
    let mut c = json!({"sub": sub, "roles": ["user"], "exp": now() + 3600});
    if let Some(p) = plan {
        c["plan"] = json!(p);
    }
    sign_hs256(&c, SECRET)
}

#[tokio::test]
async fn pricing_plans() {
    let s = Server::start(metered(), settings()).await;
    let free = plan_token("fred", Some("free"));
    // An operation outside the plan: 403.
    let p = problem(s.get("/b", Some(&free)).await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("free"), "{p}");
    // The quota (2 per hour): the third request is a 429.
    json(s.get("/a", Some(&free)).await, 200).await;
    json(s.get("/a", Some(&free)).await, 200).await;
    let r = s.get("/a", Some(&free)).await;
    let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    problem(r, 429).await;
    // Quotas are per caller.
    json(
        s.get("/a", Some(&plan_token("frida", Some("free")))).await,
        200,
    )
    .await;
    // Another plan includes everything, with no quota.
    let pro = plan_token("paula", Some("pro"));
    for _ in 0..5 {
        json(s.get("/b", Some(&pro)).await, 200).await;
    }
    // No plan, or a plan the service does not have: 403.
    problem(s.get("/a", Some(&plan_token("nobody", None))).await, 403).await;
    problem(
        s.get("/a", Some(&plan_token("nobody", Some("gold")))).await,
        403,
    )
    .await;
    // Another service of the project (the role `service`, no plan) is
    // not metered; with a plan, it is.
    let service = |plan: Option<&str>| {
        let mut c = json!({"sub": "svc", "roles": ["user", "service"], "exp": now() + 3600});
        if let Some(p) = plan {
            c["plan"] = json!(p);
        }
        sign_hs256(&c, SECRET)
    };
    for _ in 0..4 {
        json(s.get("/b", Some(&service(None))).await, 200).await;
    }
    problem(s.get("/b", Some(&service(Some("free")))).await, 403).await;
}
