//! The HTTP benchmark's baseline: QuoteService's `POST /quotes` written by
//! hand on plain axum, with no svcc code, so that `tests/benches/http.sh`
//! can measure what the generated service's pipeline costs.
//!
//! It does the same JSON work as the generated service with
//! `../handlers/quote-service.rs`: HS256 JWT verification (`exp` and `sub`
//! required, no leeway) and the `buyer` role, the body decoded into serde
//! structs, every constraint of `../manifests/quotes.yaml` checked by hand
//! (all violations listed in a 400), the same arithmetic, and the same
//! output JSON with status 201. No metrics, no log lines, no request id.
//!
//! `PORT` (default 8081) and `SVCC_JWT_SECRET` (required) configure it; it
//! listens on 127.0.0.1.

// Benchmark code: a failure to start is a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Deserialize, Serialize)]
struct QuoteLine {
    sku: String,
    quantity: i64,
    #[serde(rename = "unitCents")]
    unit_cents: i64,
}

#[derive(Deserialize)]
struct CreateQuote {
    customer: String,
    email: String,
    country: String,
    #[serde(rename = "discountPercent")]
    discount_percent: i64,
    lines: Vec<QuoteLine>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Serialize)]
struct Quote {
    id: uuid::Uuid,
    customer: String,
    email: String,
    country: String,
    lines: Vec<QuoteLine>,
    items: i64,
    #[serde(rename = "subtotalCents")]
    subtotal_cents: i64,
    #[serde(rename = "discountCents")]
    discount_cents: i64,
    #[serde(rename = "totalCents")]
    total_cents: i64,
}

#[derive(Deserialize)]
struct Claims {
    #[allow(dead_code)]
    sub: String,
    #[serde(default)]
    roles: Vec<String>,
}

struct App {
    key: DecodingKey,
    validation: Validation,
    country: Regex,
    sku: Regex,
}

fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or(""),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn email_ok(value: &str) -> bool {
    match value.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
                && domain.split('.').all(|l| !l.is_empty())
        }
        None => false,
    }
}

/// Every broken rule, as (JSON pointer, what is wrong).
fn violations(app: &App, q: &CreateQuote) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    let n = q.customer.chars().count();
    if !(1..=80).contains(&n) {
        out.push(("/customer".into(), "must be 1 to 80 characters long"));
    }
    if !email_ok(&q.email) {
        out.push(("/email".into(), "must be an email address"));
    }
    if !app.country.is_match(&q.country) {
        out.push(("/country".into(), "must match ^[A-Z]{2}$"));
    }
    if !(0..=90).contains(&q.discount_percent) {
        out.push(("/discountPercent".into(), "must be 0 to 90"));
    }
    if !(1..=100).contains(&q.lines.len()) {
        out.push(("/lines".into(), "must have 1 to 100 items"));
    }
    for (i, l) in q.lines.iter().enumerate() {
        if !app.sku.is_match(&l.sku) {
            out.push((format!("/lines/{i}/sku"), "must match ^[A-Z0-9-]{4,32}$"));
        }
        if !(1..=1000).contains(&l.quantity) {
            out.push((format!("/lines/{i}/quantity"), "must be 1 to 1000"));
        }
        if !(0..=10_000_000).contains(&l.unit_cents) {
            out.push((format!("/lines/{i}/unitCents"), "must be 0 to 10000000"));
        }
    }
    if q.note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        out.push(("/note".into(), "must be at most 500 characters long"));
    }
    out
}

async fn create_quote(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
    else {
        return problem(
            StatusCode::UNAUTHORIZED,
            "send `Authorization: Bearer <token>`",
        );
    };
    let Ok(data) = jsonwebtoken::decode::<Claims>(token, &app.key, &app.validation) else {
        return problem(StatusCode::UNAUTHORIZED, "the token is not valid");
    };
    if !data.claims.roles.iter().any(|r| r == "buyer") {
        return problem(StatusCode::FORBIDDEN, "no role grants `quotes:create`");
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.starts_with("application/json") {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json",
        );
    }
    let q: CreateQuote = match serde_json::from_slice(&body) {
        Ok(q) => q,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let wrong = violations(&app, &q);
    if !wrong.is_empty() {
        let list: Vec<String> = wrong.iter().map(|(p, d)| format!("{p}: {d}")).collect();
        return problem(StatusCode::BAD_REQUEST, &list.join("; "));
    }
    let items: i64 = q.lines.iter().map(|l| l.quantity).sum();
    let subtotal: i64 = q.lines.iter().map(|l| l.quantity * l.unit_cents).sum();
    let discount = subtotal * q.discount_percent / 100;
    let quote = Quote {
        id: uuid::Uuid::new_v4(),
        customer: q.customer,
        email: q.email,
        country: q.country,
        lines: q.lines,
        items,
        subtotal_cents: subtotal,
        discount_cents: discount,
        total_cents: subtotal - discount,
    };
    match serde_json::to_vec(&quote) {
        Ok(body) => (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

fn main() {
    let secret = std::env::var("SVCC_JWT_SECRET").expect("set SVCC_JWT_SECRET");
    let port: u16 = std::env::var("PORT").map_or(8081, |p| p.parse().expect("PORT"));
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "sub"]);
    let app = Arc::new(App {
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation,
        country: Regex::new("^[A-Z]{2}$").unwrap(),
        sku: Regex::new("^[A-Z0-9-]{4,32}$").unwrap(),
    });
    let router = axum::Router::new()
        .route("/quotes", axum::routing::post(create_quote))
        .with_state(app);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap();
            eprintln!("plain-axum listening on 127.0.0.1:{port}");
            axum::serve(listener, router).await.unwrap();
        });
}
