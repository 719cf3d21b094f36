//! Outbound calls of `calls:` with the manifest's `resilience:` policy:
//! a timeout per attempt, retries with backoff on failures worth retrying
//! (connection errors, 429, 5xx), and a circuit breaker that fails fast
//! after repeated failures.
//!
//! What the caller of this service sees: a refusal of the called service
//! (4xx) is passed on as it was; a failure that outlasts the retries is a
//! 502 `dependency-failed` problem, and an unreachable, overloaded or
//! open-circuit service a 503 `dependency-unavailable` one, never a 500.
//!
//! Where a service lives comes from
//! [`Settings::service_urls`](crate::server::Settings::service_urls), keyed
//! by the service's kebab-case slug; `Settings::from_env` fills it from
//! `SVCC_<SLUG>_URL` (`SVCC_INVENTORY_SERVICE_URL=http://127.0.0.1:8081`).
//! A call carries the service's own credential ([`Credential`], for the
//! role `service`, which the called service grants the permissions of
//! the operations others call), or the caller's `Authorization` when the
//! service has none; the request id and `traceparent` travel with it (see
//! [`Context::outbound_headers`](crate::context::Context::outbound_headers)).

use crate::Problem;
use crate::pipeline::host::{CallError, Host, Outbound};
use crate::spec::{AuthKind, CallSpec, ResilienceSpec};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use web_time::Instant;

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

/// Who this service calls other services as (its sagas' steps and its
/// `calls`): the role [`SERVICE_ROLE`](crate::spec::SERVICE_ROLE).
#[derive(Debug)]
pub enum Credential {
    /// `SVCC_SERVICE_TOKEN`: sent as it is (a JWT, or an API key to
    /// services that take keys).
    Fixed(String),
    /// Minted with the HS256 secret for [`SERVICE_ROLE`], an hour at a
    /// time, renewed when half of that has passed.
    Mint {
        /// The signing secret.
        secret: String,
        /// The subject (derived from the service's name).
        subject: String,
        /// The issuer and audience the services require.
        registered: crate::auth::Registered,
        /// The token in use and when it was minted.
        cached: Mutex<Option<(String, Instant)>>,
    },
    /// Nothing to call with.
    None,
}

/// How long a minted token lives.
const MINTED_TTL: Duration = Duration::from_secs(3600);

impl Credential {
    /// A minting credential for `service`, its tokens carrying
    /// `registered`'s issuer and audience.
    pub fn mint(secret: String, registered: crate::auth::Registered, service: &str) -> Self {
        Credential::Mint {
            secret,
            registered,
            subject: service_subject(service).to_string(),
            cached: Mutex::new(None),
        }
    }

    /// The header that authenticates a call to a service with `auth`
    /// (`None` for one that takes no credential).
    pub fn header(&self, auth: AuthKind) -> Result<Option<(&'static str, String)>, String> {
        let name = match auth {
            AuthKind::None => return Ok(None),
            AuthKind::ApiKey => "x-api-key",
            AuthKind::Jwt => "authorization",
        };
        let bearer = |t: String| match auth {
            AuthKind::ApiKey => t,
            _ => format!("Bearer {t}"),
        };
        match (self, auth) {
            (_, AuthKind::None) => Ok(None),
            (Credential::Fixed(t), _) => Ok(Some((name, bearer(t.clone())))),
            (Credential::Mint { .. }, AuthKind::ApiKey) | (Credential::None, _) => Err(
                "this service has no credential to call with: set SVCC_SERVICE_TOKEN".to_string(),
            ),
            (
                Credential::Mint {
                    secret,
                    subject,
                    registered,
                    cached,
                },
                AuthKind::Jwt,
            ) => {
                let mut slot = cached.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((token, minted)) = slot.as_ref()
                    && minted.elapsed() < MINTED_TTL / 2
                {
                    return Ok(Some((name, bearer(token.clone()))));
                }
                let token = crate::auth::mint_with(
                    secret,
                    registered,
                    subject,
                    &[crate::spec::SERVICE_ROLE.to_string()],
                    None,
                    MINTED_TTL.as_secs(),
                )
                .map_err(|e| format!("cannot mint a service token: {e}"))?;
                *slot = Some((token.clone(), Instant::now()));
                Ok(Some((name, bearer(token))))
            }
        }
    }

    /// Whether [`Credential::header`] can authenticate to a service with `auth`.
    pub fn can_reach(&self, auth: AuthKind) -> bool {
        !matches!(
            (self, auth),
            (Credential::None, AuthKind::Jwt | AuthKind::ApiKey)
                | (Credential::Mint { .. }, AuthKind::ApiKey)
        )
    }
}

/// The subject of the coordinating service's minted tokens: a UUID
/// derived from its name, the same in every process and after restarts
/// (idempotency keys are scoped by caller).
pub fn service_subject(service: &str) -> uuid::Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(b"svcc service ")
        .chain_update(service.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Clients of every called service.
#[derive(Debug)]
pub struct Clients {
    host: Host,
    policy: ResilienceSpec,
    bases: HashMap<&'static str, Option<String>>,
    /// The kebab-case name of each called service.
    slugs: HashMap<&'static str, &'static str>,
    breakers: Mutex<HashMap<&'static str, Breaker>>,
    credential: Arc<Credential>,
}

/// The environment variable holding a service's base URL
/// (`inventory-service` -> `SVCC_INVENTORY_SERVICE_URL`).
pub fn url_variable(service_slug: &str) -> String {
    format!(
        "SVCC_{}_URL",
        service_slug.replace('-', "_").to_ascii_uppercase()
    )
}

/// A call about to be made.
#[derive(Debug)]
pub struct Call<'a> {
    /// The operation called.
    pub spec: &'static CallSpec,
    /// The service's kebab-case name (for its URL variable).
    pub slug: &'static str,
    /// Path parameters.
    pub path: Vec<(&'a str, String)>,
    /// Query parameters.
    pub query: Vec<(&'a str, String)>,
    /// Headers to send (identity, trace).
    pub headers: Vec<(&'static str, String)>,
}

impl Clients {
    /// Clients for the services `calls` names (name, slug), with base URLs
    /// by slug.
    pub fn new(
        host: Host,
        services: &[(&'static str, &'static str)],
        policy: ResilienceSpec,
        urls: &BTreeMap<String, String>,
    ) -> Self {
        let bases = services
            .iter()
            .map(|(name, slug)| {
                let url = urls
                    .get(*slug)
                    .map(|u| u.trim().trim_end_matches('/').to_string())
                    .filter(|u| !u.is_empty());
                (*name, url)
            })
            .collect();
        Clients {
            host,
            policy,
            bases,
            slugs: services.iter().copied().collect(),
            breakers: Mutex::new(HashMap::new()),
            credential: Arc::new(Credential::None),
        }
    }

    /// Calls go out with the service's own credential (role `service`)
    /// instead of the caller's: the called service grants its permissions
    /// to that role. Without one, the caller's `Authorization` is passed on.
    pub fn with_credential(mut self, credential: Arc<Credential>) -> Self {
        self.credential = credential;
        self
    }

    /// Whether the service is one of `calls`.
    pub fn knows(&self, service: &str) -> bool {
        self.bases.contains_key(service)
    }

    /// The base URL of a service, if configured.
    pub fn base(&self, service: &str) -> Option<&str> {
        self.bases.get(service).and_then(|u| u.as_deref())
    }

    fn breaker_open(&self, service: &'static str) -> bool {
        let b = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        b.get(service)
            .and_then(|b| b.open_until)
            .is_some_and(|t| Instant::now() < t)
    }

    fn record(&self, service: &'static str, ok: bool) {
        let mut all = self.breakers.lock().unwrap_or_else(|e| e.into_inner());
        let b = all.entry(service).or_default();
        if ok {
            *b = Breaker::default();
        } else {
            b.failures += 1;
            if self.policy.breaker_failures > 0 && b.failures >= self.policy.breaker_failures {
                b.open_until =
                    Some(Instant::now() + Duration::from_millis(self.policy.breaker_reset_ms));
                b.failures = 0;
            }
        }
    }

    /// Calls an operation and decodes its answer; a problem from the
    /// called service comes back as that problem.
    pub async fn call<B: Serialize, O: DeserializeOwned>(
        &self,
        call: Call<'_>,
        body: Option<&B>,
    ) -> Result<O, Problem> {
        let spec = call.spec;
        let unavailable = |detail: String| {
            Problem::new(
                503,
                "dependency-unavailable",
                "A service this one depends on is unavailable",
            )
            .with_detail(detail)
        };
        let Some(base) = self.base(spec.service) else {
            return Err(unavailable(format!(
                "{} is not configured: set {}",
                spec.service,
                url_variable(call.slug)
            )));
        };
        if self.breaker_open(spec.service) {
            return Err(unavailable(format!(
                "{}'s circuit is open after repeated failures",
                spec.service
            )));
        }
        let mut path = spec.path.to_string();
        for (name, value) in &call.path {
            let encoded: String = url_encode(value);
            path = path.replace(&format!("{{{name}}}"), &encoded);
        }
        let mut url = format!("{base}{path}");
        if !call.query.is_empty() {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &call.query {
                q.append_pair(k, v);
            }
            url.push('?');
            url.push_str(&q.finish());
        }
        let method = http::Method::from_bytes(spec.method.as_bytes()).unwrap_or(http::Method::GET);
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| {
                Problem::internal(format!("cannot encode the body of {}: {e}", spec.operation))
            })?),
            None => None,
        };
        let attempts = self.policy.attempts.max(1);
        let mut delay = Duration::from_millis(self.policy.delay_ms);
        let mut last = String::new();
        for attempt in 1..=attempts {
            let own = self.credential.header(spec.auth).ok().flatten();
            let mut headers: Vec<(&'static str, String)> = call
                .headers
                .iter()
                .filter(|(k, _)| own.is_none() || *k != "authorization")
                .cloned()
                .collect();
            headers.extend(own);
            if body.is_some() {
                headers.push(("content-type", "application/json".into()));
            }
            let request = Outbound {
                service: Some(call.slug),
                method: method.clone(),
                url: url.clone(),
                headers,
                body: body.clone(),
                timeout: Some(Duration::from_millis(self.policy.timeout_ms.max(1))),
            };
            match self.host.http.send(request).await {
                Ok(answer) => {
                    let status = answer.status;
                    let retry = status == 429 || status >= 500;
                    if !retry {
                        self.record(spec.service, true);
                        if status >= 400 {
                            return Err(problem_from(status, &answer.body));
                        }
                        let text: &[u8] = if answer.body.is_empty() {
                            b"null"
                        } else {
                            &answer.body
                        };
                        return serde_json::from_slice(text).map_err(|e| {
                            Problem::new(
                                502,
                                "bad-dependency-answer",
                                "A service this one depends on answered outside its contract",
                            )
                            .with_detail(format!("{}.{}: {e}", spec.service, spec.operation))
                        });
                    }
                    last = format!("{} answered {status}", spec.service);
                    if attempt == attempts {
                        self.record(spec.service, false);
                        return Err(failed(spec, status, &answer.body, answer.retry_after));
                    }
                }
                Err(CallError::Timeout) => {
                    last = format!("{}.{} timed out", spec.service, spec.operation);
                }
                Err(CallError::Unreachable(e)) => {
                    last = format!("{} is unreachable: {e}", spec.service);
                }
            }
            if attempt < attempts {
                self.host.timer.sleep(delay).await;
                if self.policy.exponential {
                    delay *= 2;
                }
            }
        }
        self.record(spec.service, false);
        Err(unavailable(last))
    }

    /// `GET <base>/health` of a called service (for `health.checks`).
    pub async fn ping(&self, service: &str) -> Result<(), String> {
        let Some(base) = self.base(service) else {
            return Err("not configured".into());
        };
        let request = Outbound {
            service: self.slugs.get(service).copied(),
            method: http::Method::GET,
            url: format!("{base}/health"),
            headers: Vec::new(),
            body: None,
            timeout: Some(Duration::from_secs(2)),
        };
        match self.host.http.send(request).await {
            Ok(a) if (200..300).contains(&a.status) => Ok(()),
            Ok(a) => Err(format!("answered {}", a.status)),
            Err(CallError::Timeout) => Err("timed out".into()),
            Err(CallError::Unreachable(_)) => Err("unreachable".into()),
        }
    }
}

/// A dependency that still fails after the retries (5xx or 429). This
/// service did not fail, so it is not a 500: a 502 for a failure, a 503
/// (with the dependency's `Retry-After`) when it refuses calls for now.
fn failed(spec: &CallSpec, status: u16, body: &[u8], retry_after: Option<String>) -> Problem {
    let theirs: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let mut detail = format!("{}.{} answered {status}", spec.service, spec.operation);
    if let Some(d) = theirs.get("detail").and_then(|d| d.as_str()) {
        detail.push_str(": ");
        detail.push_str(d);
    }
    if status == 429 || status == 503 {
        let p = Problem::new(
            503,
            "dependency-unavailable",
            "A service this one depends on is unavailable",
        )
        .with_detail(detail);
        match retry_after {
            Some(r) => p.with_header("retry-after", r),
            None => p,
        }
    } else {
        Problem::new(
            502,
            "dependency-failed",
            "A service this one depends on failed",
        )
        .with_detail(detail)
    }
}

/// A refusal (4xx) of the called service, passed on as it was: its type,
/// title and detail describe what the caller sent.
fn problem_from(status: u16, body: &[u8]) -> Problem {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let mut p = Problem::new(
        status,
        "dependency-error",
        "A called service refused the request",
    );
    if let Some(t) = v.get("type").and_then(|t| t.as_str()) {
        p.kind = t.to_string();
    }
    if let Some(t) = v.get("title").and_then(|t| t.as_str()) {
        p.title = t.to_string();
    }
    p.detail = v.get("detail").and_then(|t| t.as_str()).map(str::to_string);
    p
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod credential_tests {
    use super::*;

    #[test]
    fn service_subjects_are_stable_uuids() {
        assert_eq!(
            service_subject("OrderService"),
            service_subject("OrderService")
        );
        assert_ne!(
            service_subject("OrderService"),
            service_subject("ShipmentService")
        );
    }

    #[test]
    fn a_minted_token_is_for_the_service_role_and_reused() {
        let registered = crate::auth::Registered {
            issuer: Some("https://id.example".into()),
            audience: None,
        };
        let c = Credential::mint("s3cret".into(), registered, "OrderService");
        let (name, value) = c.header(AuthKind::Jwt).unwrap().unwrap();
        assert_eq!(name, "authorization");
        let token = value.strip_prefix("Bearer ").unwrap();
        let claims = crate::auth::peek(token).unwrap();
        assert_eq!(claims["roles"], serde_json::json!(["service"]));
        assert_eq!(claims["sub"], service_subject("OrderService").to_string());
        assert_eq!(claims["iss"], "https://id.example");
        assert!(claims.get("aud").is_none(), "{claims}");
        assert_eq!(c.header(AuthKind::Jwt).unwrap().unwrap().1, value);
        assert!(c.header(AuthKind::ApiKey).is_err());
        assert!(!c.can_reach(AuthKind::ApiKey));
        assert_eq!(c.header(AuthKind::None).unwrap(), None);
        let fixed = Credential::Fixed("k-1".into());
        assert_eq!(
            fixed.header(AuthKind::ApiKey).unwrap(),
            Some(("x-api-key", "k-1".to_string()))
        );
        assert!(Credential::None.header(AuthKind::Jwt).is_err());
    }
}
