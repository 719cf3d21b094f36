//! Who may call: JWT (HS256, RS256, ES256, the development secret) and API keys.

use crate::services::{ShopState, shop, vault};
use crate::{SECRET, Server, claims, header, json, now, problem, settings, sign_hs256, token};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::sync::Arc;
use svcc_runtime::auth::{ApiKey, DEV_SECRET, JwtKey, Registered, mint, mint_with};
use svcc_runtime::server::Settings;

const RSA_PRIVATE: &str = include_str!("../keys/rsa-private.pem");
const RSA_PUBLIC: &str = include_str!("../keys/rsa-public.pem");
const EC_PRIVATE: &str = include_str!("../keys/ec-private.pem");
const EC_PUBLIC: &str = include_str!("../keys/ec-public.pem");

async fn shop_with(settings: Settings) -> Server {
    Server::start(shop(Arc::new(ShopState::default())), settings).await
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

fn public_key_settings(pem: &str) -> Settings {
    let mut s = Settings::default();
    s.auth.jwt_key = Some(JwtKey::PublicKeyPem(pem.into()));
    s
}

#[tokio::test]
async fn hs256_token_is_accepted() {
    let s = shop_with(settings()).await;
    let body = json(
        s.get("/orders/2", Some(&token("carol", &["clerk"]))).await,
        200,
    )
    .await;
    assert_eq!(body["customerId"], "bob");
}

#[tokio::test]
async fn missing_credentials_are_a_401_with_a_challenge() {
    let s = shop_with(settings()).await;
    let r = s.get("/orders/1", None).await;
    let challenge = header(&r, "www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let p = problem(r, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("Bearer"), "{p}");
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let s = shop_with(settings()).await;
    let expired = sign_hs256(
        &json!({"sub": "alice", "roles": ["admin"], "exp": now() - 60}),
        SECRET,
    );
    let wrong_signature = sign_hs256(&claims("alice", &["admin"]), "another-secret");
    // `alg: none` with no signature: the classic forgery.
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims("alice", &["admin"]))
    );
    let no_subject = sign_hs256(&json!({"roles": ["admin"], "exp": now() + 60}), SECRET);
    let no_expiry = sign_hs256(&json!({"sub": "alice", "roles": ["admin"]}), SECRET);
    let not_yet = sign_hs256(
        &json!({"sub": "alice", "roles": ["admin"], "exp": now() + 600, "nbf": now() + 300}),
        SECRET,
    );
    for (what, t, detail) in [
        ("expired", expired.as_str(), "expired"),
        ("wrong signature", &wrong_signature, "signature"),
        ("alg none", &unsigned, ""),
        ("no sub", &no_subject, ""),
        ("no exp", &no_expiry, ""),
        ("not yet valid", &not_yet, "not valid yet"),
        ("garbage", "not-a-jwt", ""),
    ] {
        let r = s.get("/orders/1", Some(t)).await;
        let challenge = header(&r, "www-authenticate").unwrap_or_default();
        assert!(
            challenge.contains("invalid_token"),
            "{what}: challenge {challenge}"
        );
        let p = problem(r, 401).await;
        assert!(
            p["detail"].as_str().unwrap().contains(detail),
            "{what}: {p}"
        );
    }
    // Not a bearer token at all.
    let r = s
        .client
        .get(s.url("/orders/1"))
        .header("authorization", "Basic YWxpY2U6cHc=")
        .send()
        .await
        .unwrap();
    assert!(header(&r, "www-authenticate").is_some());
    problem(r, 401).await;
    // The scheme is case-insensitive.
    let r = s
        .client
        .get(s.url("/orders/1"))
        .header(
            "authorization",
            format!("BEARER {}", token("alice", &["admin"])),
        )
        .send()
        .await
        .unwrap();
    json(r, 200).await;
}

#[tokio::test]
async fn rs256_with_a_public_key() {
    let s = shop_with(public_key_settings(RSA_PUBLIC)).await;
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let good = sign(Algorithm::RS256, &key, &claims("alice", &["admin"]));
    json(s.get("/orders/2", Some(&good)).await, 200).await;
    // Key confusion: HS256 "signed" with the public key as the secret.
    let confused = sign_hs256(&claims("alice", &["admin"]), RSA_PUBLIC);
    problem(s.get("/orders/2", Some(&confused)).await, 401).await;
    // Another key pair's signature.
    let ec = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let other = sign(Algorithm::ES256, &ec, &claims("alice", &["admin"]));
    problem(s.get("/orders/2", Some(&other)).await, 401).await;
    // Expired, properly signed.
    let expired = sign(
        Algorithm::RS256,
        &key,
        &json!({"sub": "alice", "roles": ["admin"], "exp": now() - 5}),
    );
    problem(s.get("/orders/2", Some(&expired)).await, 401).await;
}

#[tokio::test]
async fn es256_with_a_public_key() {
    let s = shop_with(public_key_settings(EC_PUBLIC)).await;
    let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let good = sign(Algorithm::ES256, &key, &claims("alice", &["admin"]));
    json(s.get("/orders/2", Some(&good)).await, 200).await;
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&claims("mallory", &["admin"])).unwrap());
        parts.join(".")
    };
    problem(s.get("/orders/2", Some(&tampered)).await, 401).await;
    let rsa = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let other = sign(Algorithm::RS256, &rsa, &claims("alice", &["admin"]));
    problem(s.get("/orders/2", Some(&other)).await, 401).await;
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let mut set = settings();
    set.auth.jwt_issuer = Some("https://id.example".into());
    set.auth.jwt_audience = Some("shop".into());
    let registered = Registered::of(&set.auth);
    let s = shop_with(set).await;
    let with = |iss: &str, aud: &str| {
        sign_hs256(
            &json!({"sub": "alice", "roles": ["admin"], "exp": now() + 60, "iss": iss, "aud": aud}),
            SECRET,
        )
    };
    json(
        s.get("/orders/1", Some(&with("https://id.example", "shop")))
            .await,
        200,
    )
    .await;
    let p = problem(
        s.get("/orders/1", Some(&with("https://evil.example", "shop")))
            .await,
        401,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("issuer"), "{p}");
    let p = problem(
        s.get("/orders/1", Some(&with("https://id.example", "blog")))
            .await,
        401,
    )
    .await;
    assert!(p["detail"].as_str().unwrap().contains("audience"), "{p}");
    // what the `token` subcommand and a service's own calls mint carries
    // the configured issuer and audience, and is accepted
    let minted = mint_with(SECRET, &registered, "alice", &["admin".into()], None, 60).unwrap();
    json(s.get("/orders/1", Some(&minted)).await, 200).await;
    // a configured issuer or audience is required, not only compared
    let bare = mint(SECRET, "alice", &["admin".into()], None, 60).unwrap();
    problem(s.get("/orders/1", Some(&bare)).await, 401).await;
    for (claims, missing) in [
        (json!({"aud": "shop"}), "iss"),
        (json!({"iss": "https://id.example"}), "aud"),
    ] {
        let mut c = claims;
        c["sub"] = json!("alice");
        c["roles"] = json!(["admin"]);
        c["exp"] = json!(now() + 60);
        let p = problem(s.get("/orders/1", Some(&sign_hs256(&c, SECRET))).await, 401).await;
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("`{missing}`")), "{p}");
    }
}

#[tokio::test]
async fn development_secret_on_loopback_only() {
    // No key configured: a loopback server accepts what `token` mints.
    let s = shop_with(Settings::default()).await;
    let dev = mint(DEV_SECRET, "alice", &["admin".into()], None, 60).unwrap();
    json(s.get("/orders/1", Some(&dev)).await, 200).await;
    problem(
        s.get("/orders/1", Some(&token("alice", &["admin"]))).await,
        401,
    )
    .await;
    // Anywhere else it refuses to start.
    let public = Settings {
        host: std::net::IpAddr::from([0, 0, 0, 0]),
        ..Settings::default()
    };
    let err = shop(Arc::new(ShopState::default()))
        .router(&public)
        .expect_err("a JWT service without a key must not serve on 0.0.0.0");
    assert!(err.contains("SVCC_JWT_SECRET"), "{err}");
}

#[tokio::test]
async fn optional_auth_takes_anonymous_and_checks_what_is_sent() {
    let s = shop_with(settings()).await;
    let anon = json(s.get("/me", None).await, 200).await;
    assert_eq!(anon["subject"], Value::Null);
    let me = json(s.get("/me", Some(&token("alice", &[]))).await, 200).await;
    assert_eq!(me["subject"], "alice");
    let forged = sign_hs256(&claims("alice", &[]), "nope");
    problem(s.get("/me", Some(&forged)).await, 401).await;
}

fn vault_settings() -> Settings {
    let mut s = Settings::default();
    s.auth.api_keys = vec![
        ApiKey {
            key: "key-reader".into(),
            subject: "alice".into(),
            roles: vec!["reader".into()],
            plan: None,
        },
        ApiKey {
            key: "key-writer".into(),
            subject: "bob".into(),
            roles: vec!["writer".into()],
            plan: None,
        },
    ];
    s
}

#[tokio::test]
async fn api_keys() {
    let s = Server::start(vault(), vault_settings()).await;
    let call = |method: reqwest::Method, key: Option<&str>| {
        let mut r = s.client.request(method, s.url("/things"));
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        r.send()
    };
    let ok = json(
        call(reqwest::Method::GET, Some("key-reader"))
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(ok["caller"], "alice");
    for key in [None, Some("wrong"), Some("")] {
        let r = call(reqwest::Method::GET, key).await.unwrap();
        let challenge = header(&r, "www-authenticate").unwrap_or_default();
        assert!(challenge.contains("X-API-Key"), "{key:?}: {challenge}");
        problem(r, 401).await;
    }
    // A reader may not write; a writer (`things:*`) may.
    problem(
        call(reqwest::Method::DELETE, Some("key-reader"))
            .await
            .unwrap(),
        403,
    )
    .await;
    let r = call(reqwest::Method::DELETE, Some("key-writer"))
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    // A bearer token means nothing to an API-key service.
    problem(
        s.get("/things", Some(&token("alice", &["reader"]))).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn an_api_key_service_without_keys_does_not_start() {
    let err = vault().router(&Settings::default()).err().unwrap();
    assert!(err.contains("SVCC_API_KEYS"), "{err}");
}
