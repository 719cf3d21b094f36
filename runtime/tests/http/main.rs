//! The runtime as a client sees it: real servers on `127.0.0.1:0`, spoken
//! to over HTTP with reqwest. The services are written by hand here, the way
//! `svcc build` generates them: static specs and one function per route.
//!
//! Every test starts its own server (and so its own limits, idempotency
//! store and metrics), so tests run in parallel without seeing each other.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod auth;
mod durable;
mod limits;
mod ops;
mod requests;
mod sagas;
mod services;

use serde_json::Value;
use std::time::Duration;
use svcc_runtime::server::{Service, Settings, serve_on};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The HS256 secret the test servers verify with.
pub const SECRET: &str = "integration-test-secret";

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// A client with a timeout, so that a hung server fails the test.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), String>>,
}

impl Server {
    /// Serves `service` on a free loopback port.
    pub async fn start(service: Service, settings: Settings) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_on(service, settings, listener, async move {
            let _ = rx.await;
        }));
        Server {
            base,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            shutdown: Some(tx),
            task,
        }
    }

    /// The URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`, with a bearer token when given.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut r = self.client.get(self.url(path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().await.unwrap()
    }

    /// Triggers the shutdown future without waiting.
    pub fn trigger_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    /// Triggers shutdown and waits for `serve_on` to return.
    pub async fn stop(mut self) -> Result<(), String> {
        self.trigger_shutdown();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server did not stop within 10 s")
            .expect("the server task panicked")
    }
}

/// Settings that verify HS256 tokens with [`SECRET`].
pub fn settings() -> Settings {
    let mut s = Settings::default();
    s.auth.jwt_key = Some(svcc_runtime::auth::JwtKey::Secret(SECRET.into()));
    s
}

/// Claims of a test token.
pub fn claims(sub: &str, roles: &[&str]) -> Value {
    serde_json::json!({ "sub": sub, "roles": roles, "exp": now() + 3600 })
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An HS256 token with [`SECRET`].
pub fn token(sub: &str, roles: &[&str]) -> String {
    sign_hs256(&claims(sub, roles), SECRET)
}

/// An HS256 token of any claims with any secret.
pub fn sign_hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A checked problem answer: status, `application/problem+json`, and a body
/// with `type`, `title` and a `status` equal to the HTTP status.
pub async fn problem(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let content_type = header(&r, "content-type");
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "status; body: {text}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/problem+json"),
        "content type; body: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(
        body["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert_eq!(body["status"], status, "{body}");
    body
}

/// A JSON success answer with this status.
pub async fn json(r: reqwest::Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(got, status, "status; body: {text}");
    serde_json::from_str(&text).unwrap()
}

/// A header's value as text.
pub fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}
