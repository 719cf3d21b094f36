//! Who is calling: JWT (HS256 secret, or RS256/ES256 public key) or API
//! keys, then what the caller's roles allow.
//!
//! Keys never come from the manifest. [`AuthConfig`] holds them (a field of
//! [`Settings`](crate::server::Settings)); [`AuthConfig::from_vars`] fills
//! it from the environment for `Settings::from_env`:
//! - `SVCC_JWT_SECRET` (HS256), or `SVCC_JWT_PUBLIC_KEY` /
//!   `SVCC_JWT_PUBLIC_KEY_FILE` (PEM; RS256 or ES256 from the key type);
//!   optional `SVCC_JWT_ISSUER` and `SVCC_JWT_AUDIENCE`;
//! - `SVCC_API_KEYS_FILE` (JSON: `[{"key", "subject", "roles", "plan"}]`)
//!   or `SVCC_API_KEYS` (`key=subject:role+role:plan;...`).
//!
//! With no JWT key configured, a server listening on loopback only accepts
//! tokens signed with [`DEV_SECRET`] (what `token` mints), and says so in
//! its log; on any other address it refuses to start.
//!
//! Every 401 carries a `WWW-Authenticate` challenge: `Bearer` for JWT,
//! `ApiKey header="X-API-Key"` for API keys.

use crate::Problem;
use crate::spec::{AuthKind, RouteSpec, ServiceSpec};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The development signing secret (loopback only).
pub const DEV_SECRET: &str = "svcc-development-secret-do-not-deploy";

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The subject (`sub` claim, or the key's subject).
    pub subject: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Pricing plan, when the credential names one.
    pub plan: Option<String>,
    /// What [`Caller::credential`] is computed from.
    credential: Credential,
}

impl Caller {
    /// A caller whose credential id is already known.
    pub fn new(
        subject: String,
        roles: Vec<String>,
        plan: Option<String>,
        credential: String,
    ) -> Self {
        Caller {
            subject,
            roles,
            plan,
            credential: Credential::Id(credential),
        }
    }

    /// A stable id of the credential (16 hex digits of a SHA-256), for
    /// `per key` limits. For a JWT it is computed on first use: only
    /// routes with such a limit pay for the hash.
    pub fn credential(&self) -> &str {
        self.credential.id()
    }
}

/// A caller's credential, for its id.
#[derive(Clone)]
enum Credential {
    /// The id itself (API keys: computed when the server starts).
    Id(String),
    /// A verified JWT: its `Authorization` header (a reference-counted
    /// copy), where the signature is in it, and the id once computed.
    Token {
        header: http::HeaderValue,
        signature: std::ops::Range<usize>,
        id: std::sync::OnceLock<String>,
    },
}

impl Credential {
    fn id(&self) -> &str {
        match self {
            Credential::Id(id) => id,
            Credential::Token {
                header,
                signature,
                id,
            } => id.get_or_init(|| {
                // The signature stands for the token (it covers the header
                // and the claims under the server's key): one SHA-256 block
                // to hash instead of the whole token's.
                let bytes = header.as_bytes();
                let signature = bytes.get(signature.clone()).unwrap_or(bytes);
                crate::logging::hex(&Sha256::digest(signature)[..8])
            }),
        }
    }
}

// Compared and printed by the id (never the token itself).
impl PartialEq for Credential {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}

impl Eq for Credential {}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.id())
    }
}

/// How much of a permission the caller holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Everything the route does.
    Full,
    /// Only resources the caller owns (`:own` grants).
    Own,
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    #[serde(default, deserialize_with = "one_or_many")]
    roles: Vec<String>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    plan: Option<String>,
}

/// `roles` as a list, or as one string (some identity providers write that).
/// A visitor rather than an untagged enum, which would buffer the value
/// first: this runs on every authenticated request.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct OneOrMany;
    impl<'de> serde::de::Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a role or a list of roles")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(vec![v])
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut roles = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(r) = seq.next_element::<String>()? {
                roles.push(r);
            }
            Ok(roles)
        }
    }
    d.deserialize_any(OneOrMany)
}

/// What JWT signatures are checked with.
#[derive(Clone, PartialEq, Eq)]
pub enum JwtKey {
    /// A shared secret (HS256).
    Secret(String),
    /// A public key in PEM (RS256 for RSA, ES256 for P-256).
    PublicKeyPem(String),
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtKey::Secret(_) => f.write_str("Secret([redacted])"),
            JwtKey::PublicKeyPem(_) => f.write_str("PublicKeyPem(..)"),
        }
    }
}

/// One API key and the caller it stands for.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct ApiKey {
    /// The key as clients send it in `X-API-Key`.
    pub key: String,
    /// The caller's subject.
    pub subject: String,
    /// Its roles.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Its pricing plan.
    #[serde(default)]
    pub plan: Option<String>,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("key", &"[redacted]")
            .field("subject", &self.subject)
            .field("roles", &self.roles)
            .field("plan", &self.plan)
            .finish()
    }
}

/// Credentials a server accepts. Plain data: tests build it directly,
/// `Settings::from_env` fills it from the environment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// The JWT verification key; `None` means the development secret on
    /// loopback and no start elsewhere (for `auth: jwt` services).
    pub jwt_key: Option<JwtKey>,
    /// Required `iss` claim.
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim.
    pub jwt_audience: Option<String>,
    /// Accepted API keys (for `auth: apiKey` services).
    pub api_keys: Vec<ApiKey>,
}

impl AuthConfig {
    /// Reads the `SVCC_JWT_*` and `SVCC_API_KEYS*` variables through
    /// `var` (empty values count as unset), reading the files they name.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let jwt_key = if let Some(secret) = var("SVCC_JWT_SECRET") {
            Some(JwtKey::Secret(secret))
        } else if let Some(pem) = var("SVCC_JWT_PUBLIC_KEY") {
            Some(JwtKey::PublicKeyPem(pem))
        } else if let Some(file) = var("SVCC_JWT_PUBLIC_KEY_FILE") {
            let pem = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read SVCC_JWT_PUBLIC_KEY_FILE {file}: {e}"))?;
            Some(JwtKey::PublicKeyPem(pem))
        } else {
            None
        };
        let api_keys: Vec<ApiKey> = if let Some(file) = var("SVCC_API_KEYS_FILE") {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read SVCC_API_KEYS_FILE {file}: {e}"))?;
            serde_json::from_str(&text)
                .map_err(|e| format!("SVCC_API_KEYS_FILE {file} is not a JSON list of keys: {e}"))?
        } else if let Some(list) = var("SVCC_API_KEYS") {
            parse_key_list(&list)?
        } else {
            Vec::new()
        };
        if let Some(k) = api_keys
            .iter()
            .find(|k| k.key.trim().is_empty() || k.subject.trim().is_empty())
        {
            return Err(format!(
                "an API key of subject `{}` has an empty key or subject",
                k.subject
            ));
        }
        Ok(AuthConfig {
            jwt_key,
            jwt_issuer: var("SVCC_JWT_ISSUER"),
            jwt_audience: var("SVCC_JWT_AUDIENCE"),
            api_keys,
        })
    }
}

/// Verifies credentials.
pub struct Authenticator {
    kind: AuthKind,
    jwt: Option<(DecodingKey, Validation)>,
    /// sha256(key) -> caller
    keys: HashMap<[u8; 32], Caller>,
    /// Whether the development secret is in use.
    pub dev: bool,
    /// Why no credential can be verified (no key configured where the
    /// service may not refuse to start): every authenticated route answers
    /// it as a 503 problem.
    refusal: Option<String>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("kind", &self.kind)
            .field("keys", &self.keys.len())
            .field("dev", &self.dev)
            .finish()
    }
}

fn hash(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// The `WWW-Authenticate` challenge of an auth kind.
pub fn challenge(kind: AuthKind) -> &'static str {
    match kind {
        AuthKind::ApiKey => "ApiKey header=\"X-API-Key\"",
        AuthKind::Jwt | AuthKind::None => "Bearer",
    }
}

impl Authenticator {
    /// For a service, with the configured keys. `loopback` (the server
    /// listens on a loopback address only) allows the development secret.
    pub fn new(spec: &ServiceSpec, config: &AuthConfig, loopback: bool) -> Result<Self, String> {
        let mut a = Authenticator {
            kind: spec.auth,
            jwt: None,
            keys: HashMap::new(),
            dev: false,
            refusal: None,
        };
        match spec.auth {
            AuthKind::None => {}
            AuthKind::Jwt => {
                let (key, alg) = match &config.jwt_key {
                    Some(JwtKey::Secret(secret)) => (
                        DecodingKey::from_secret(secret.as_bytes()),
                        Algorithm::HS256,
                    ),
                    Some(JwtKey::PublicKeyPem(pem)) => public_key(pem)?,
                    None if loopback => {
                        a.dev = true;
                        (
                            DecodingKey::from_secret(DEV_SECRET.as_bytes()),
                            Algorithm::HS256,
                        )
                    }
                    None => {
                        return Err(format!(
                            "{} uses JWT auth: set SVCC_JWT_SECRET (HS256) or SVCC_JWT_PUBLIC_KEY (RS256/ES256 PEM); \
                             without one the server only runs on 127.0.0.1 with the development secret",
                            spec.name
                        ));
                    }
                };
                let mut v = Validation::new(alg);
                v.leeway = 0;
                v.validate_exp = true;
                v.validate_nbf = true;
                // A configured issuer or audience is required, not only
                // compared when present: jsonwebtoken checks `iss` and
                // `aud` only on tokens that carry them unless they are
                // listed here.
                let mut required = vec!["exp", "sub"];
                match &config.jwt_audience {
                    Some(aud) => {
                        v.set_audience(&[aud]);
                        required.push("aud");
                    }
                    None => v.validate_aud = false,
                }
                if let Some(iss) = &config.jwt_issuer {
                    v.set_issuer(&[iss]);
                    required.push("iss");
                }
                v.set_required_spec_claims(&required);
                a.jwt = Some((key, v));
            }
            AuthKind::ApiKey => {
                if config.api_keys.is_empty() {
                    return Err(format!(
                        "{} uses API keys and none are configured: set SVCC_API_KEYS_FILE or SVCC_API_KEYS (`key=subject:role+role:plan;...`)",
                        spec.name
                    ));
                }
                for e in &config.api_keys {
                    let h = hash(&e.key);
                    a.keys.insert(
                        h,
                        Caller::new(
                            e.subject.clone(),
                            e.roles.clone(),
                            e.plan.clone(),
                            crate::logging::hex(&h[..8]),
                        ),
                    );
                }
            }
        }
        Ok(a)
    }

    /// An authenticator that verifies nothing because `reason` (what
    /// [`Authenticator::new`] refused): authenticated routes answer it as a
    /// 503 problem, routes without auth work.
    pub fn refusing(spec: &ServiceSpec, reason: String) -> Self {
        Authenticator {
            kind: spec.auth,
            jwt: None,
            keys: HashMap::new(),
            dev: false,
            refusal: Some(reason),
        }
    }

    /// The caller of a request, if it presented a credential.
    /// `Err` (a 401 with a challenge) for a credential that is there but
    /// not valid.
    pub fn authenticate(&self, headers: &http::HeaderMap) -> Result<Option<Caller>, Problem> {
        if let Some(reason) = &self.refusal {
            return Err(
                Problem::new(503, "not-configured", "The service is not configured")
                    .with_detail(reason.clone()),
            );
        }
        let refuse = |detail: &str, challenge: &str| {
            Problem::unauthorized(detail).with_header("www-authenticate", challenge.to_string())
        };
        match self.kind {
            AuthKind::None => Ok(None),
            AuthKind::Jwt => {
                let Some(h) = headers.get(http::header::AUTHORIZATION) else {
                    return Ok(None);
                };
                let text = h.to_str().unwrap_or_default();
                let Some(at) = bearer(text) else {
                    return Err(refuse(
                        "expected `Authorization: Bearer <token>`",
                        "Bearer error=\"invalid_request\"",
                    ));
                };
                let token = text.get(at.clone()).unwrap_or_default();
                let Some((key, validation)) = &self.jwt else {
                    return Err(refuse("no key configured", "Bearer"));
                };
                let data = jsonwebtoken::decode::<Claims>(token, key, validation).map_err(|e| {
                    use jsonwebtoken::errors::ErrorKind;
                    if let ErrorKind::MissingRequiredClaim(claim) = e.kind() {
                        let why =
                            format!("the token lacks the `{claim}` claim this server requires");
                        return refuse(&why, "Bearer error=\"invalid_token\"");
                    }
                    let why = match e.kind() {
                        ErrorKind::ExpiredSignature => "the token has expired",
                        ErrorKind::ImmatureSignature => "the token is not valid yet",
                        ErrorKind::InvalidSignature => "the token's signature is not valid",
                        ErrorKind::InvalidAlgorithm => "the token is signed with another algorithm",
                        ErrorKind::InvalidIssuer => "the token is from another issuer",
                        ErrorKind::InvalidAudience => "the token is meant for another audience",
                        _ => "the token is not valid",
                    };
                    refuse(why, "Bearer error=\"invalid_token\"")
                })?;
                let mut roles = data.claims.roles;
                if let Some(r) = data.claims.role {
                    roles.push(r);
                }
                // Its id is computed from the signature, the token's last
                // segment, when a `per key` limit asks for it.
                let start = token.rfind('.').map_or(0, |i| i + 1);
                Ok(Some(Caller {
                    subject: data.claims.sub,
                    roles,
                    plan: data.claims.plan,
                    credential: Credential::Token {
                        header: h.clone(),
                        signature: at.start + start..at.end,
                        id: std::sync::OnceLock::new(),
                    },
                }))
            }
            AuthKind::ApiKey => {
                let Some(h) = headers.get("x-api-key") else {
                    return Ok(None);
                };
                let key = h.to_str().unwrap_or_default();
                match self.keys.get(&hash(key)) {
                    Some(c) if !key.is_empty() => Ok(Some(c.clone())),
                    _ => Err(refuse(
                        "the API key is not valid",
                        challenge(AuthKind::ApiKey),
                    )),
                }
            }
        }
    }
}

/// Where the token is in an `Authorization` value: after `Bearer ` (the
/// scheme is case-insensitive, RFC 9110 section 11.1), surrounding spaces
/// trimmed; `None` for another scheme or no token.
fn bearer(value: &str) -> Option<std::ops::Range<usize>> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let start = value.len() - rest.trim_start().len();
    let token = rest.trim();
    (!token.is_empty()).then(|| start..start + token.len())
}

fn public_key(pem: &str) -> Result<(DecodingKey, Algorithm), String> {
    if let Ok(k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok((k, Algorithm::RS256));
    }
    DecodingKey::from_ec_pem(pem.as_bytes())
        .map(|k| (k, Algorithm::ES256))
        .map_err(|_| {
            "SVCC_JWT_PUBLIC_KEY is neither an RSA nor an EC (P-256) public key in PEM".to_string()
        })
}

fn parse_key_list(list: &str) -> Result<Vec<ApiKey>, String> {
    list.split(';')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let (key, rest) = item
                .split_once('=')
                .ok_or_else(|| format!("SVCC_API_KEYS entry `{item}` lacks `=`"))?;
            let mut parts = rest.splitn(3, ':');
            let subject = parts.next().unwrap_or_default().trim().to_string();
            let roles = parts
                .next()
                .map(|r| {
                    r.split('+')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let plan = parts.next().map(str::to_string).filter(|p| !p.is_empty());
            if key.trim().is_empty() || subject.is_empty() {
                return Err(format!(
                    "SVCC_API_KEYS entry `{item}` needs a key and a subject"
                ));
            }
            Ok(ApiKey {
                key: key.trim().to_string(),
                subject,
                roles,
                plan,
            })
        })
        .collect()
}

/// What the caller's roles grant for a route's permission.
pub fn access(spec: &ServiceSpec, route: &RouteSpec, caller: &Caller) -> Option<Access> {
    let Some(permission) = route.permission else {
        return Some(Access::Full);
    };
    // The runtime's own transition endpoints serve the project's sagas.
    if permission == crate::spec::TRANSITION_PERMISSION
        && caller.roles.iter().any(|r| r == crate::spec::SERVICE_ROLE)
    {
        return Some(Access::Full);
    }
    let mut best = None;
    for role in spec
        .roles
        .iter()
        .filter(|r| caller.roles.iter().any(|c| c == r.name))
    {
        for grant in role.grants {
            let (grant, own) = match grant.strip_suffix(":own") {
                Some(g) => (g, true),
                None => (*grant, false),
            };
            let matches = grant == "*"
                || grant == permission
                || grant.strip_suffix(":*").is_some_and(|prefix| {
                    permission.starts_with(prefix) && permission[prefix.len()..].starts_with(':')
                });
            if matches {
                if !own {
                    return Some(Access::Full);
                }
                best = Some(Access::Own);
            }
        }
    }
    best
}

#[derive(Serialize)]
struct MintClaims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    sub: &'a str,
    roles: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<&'a str>,
    iat: u64,
    exp: u64,
}

/// The `iss` and `aud` a minted token carries: the ones the server
/// requires (`SVCC_JWT_ISSUER`, `SVCC_JWT_AUDIENCE`), so that what the
/// `token` subcommand and a service's own calls mint is accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registered {
    /// The `iss` claim.
    pub issuer: Option<String>,
    /// The `aud` claim.
    pub audience: Option<String>,
}

impl Registered {
    /// What `config` requires of a token.
    pub fn of(config: &AuthConfig) -> Self {
        Registered {
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        }
    }
}

/// Mints an HS256 token signed with `secret`, with no `iss` or `aud`.
pub fn mint(
    secret: &str,
    subject: &str,
    roles: &[String],
    plan: Option<&str>,
    ttl_seconds: u64,
) -> Result<String, String> {
    mint_with(
        secret,
        &Registered::default(),
        subject,
        roles,
        plan,
        ttl_seconds,
    )
}

/// Mints an HS256 token signed with `secret` carrying `registered`'s
/// claims (the `token` subcommand passes the configured secret or
/// [`DEV_SECRET`], and the server's issuer and audience).
pub fn mint_with(
    secret: &str,
    registered: &Registered,
    subject: &str,
    roles: &[String],
    plan: Option<&str>,
    ttl_seconds: u64,
) -> Result<String, String> {
    let now = jiff::Timestamp::now().as_second().max(0) as u64;
    let claims = MintClaims {
        iss: registered.issuer.as_deref(),
        aud: registered.audience.as_deref(),
        sub: subject,
        roles,
        plan,
        iat: now,
        exp: now + ttl_seconds,
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}

/// Claims of a token without checking it (for tests and tools).
pub fn peek(token: &str) -> Option<Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    static SPEC: ServiceSpec = ServiceSpec {
        roles: &[],
        plans: &[],
        ..crate::native::cli::tests::SPEC
    };

    fn caller(authorization: &str) -> Result<Option<Caller>, Problem> {
        let config = AuthConfig {
            jwt_key: Some(JwtKey::Secret("s3cret".into())),
            ..AuthConfig::default()
        };
        let Ok(auth) = Authenticator::new(&SPEC, &config, false) else {
            panic!("authenticator")
        };
        let mut headers = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(authorization) {
            headers.insert(http::header::AUTHORIZATION, v);
        }
        auth.authenticate(&headers)
    }

    #[test]
    fn bearer_tokens_are_found_in_the_header() {
        let at = |s: &str| bearer(s).and_then(|r| s.get(r)).map(str::to_string);
        assert_eq!(at("Bearer abc.def").as_deref(), Some("abc.def"));
        assert_eq!(at("bEaReR   abc  ").as_deref(), Some("abc"));
        assert_eq!(at("Bearer "), None);
        assert_eq!(at("Bearer    "), None);
        assert_eq!(at("Basic abc"), None);
        assert_eq!(at("Bearerabc"), None);
    }

    #[test]
    fn a_jwt_credential_id_is_a_hash_of_the_signature() {
        let Ok(token) = mint("s3cret", "ada", &["buyer".into()], None, 3600) else {
            panic!("mint")
        };
        let signature = token.rsplit('.').next().unwrap_or_default();
        let expected = crate::logging::hex(&hash(signature)[..8]);
        for header in [format!("Bearer {token}"), format!("bearer  {token} ")] {
            let Ok(Some(c)) = caller(&header) else {
                panic!("{header} refused")
            };
            assert_eq!(c.subject, "ada");
            assert_eq!(c.credential(), expected);
            // the same once computed, in clones too, and never the token
            assert_eq!(c.clone().credential(), expected);
            assert!(!format!("{c:?}").contains(signature), "{c:?}");
            assert!(format!("{c:?}").contains(&expected), "{c:?}");
        }
        let Ok(other) = mint("s3cret", "bob", &[], None, 3600) else {
            panic!("mint")
        };
        let Ok(Some(b)) = caller(&format!("Bearer {other}")) else {
            panic!("refused")
        };
        assert_ne!(b.credential(), expected);
        assert!(caller(&format!("Bearer {token}x")).is_err());
        assert!(caller("Basic abc").is_err());
    }
}
