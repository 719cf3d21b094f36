//! A service's configuration: what it reads from name-value pairs, the
//! same names on both hosts (the process environment natively; `vars`,
//! secrets and `.dev.vars` on Workers).
//!
//! Why it exists: configuration never comes from the manifest, and the
//! two hosts get it from different places. [`Settings::from_vars`] reads
//! the pairs once, whoever supplies them, so a variable means the same on
//! both and a value that does not parse is an error there, not a silent
//! default.

use crate::auth::AuthConfig;
use crate::pipeline::store::Durability;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Server settings: plain data, so tests build them directly;
/// [`Settings::from_env`] fills them from the environment.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address to listen on (`SVCC_HOST`, default 127.0.0.1).
    pub host: IpAddr,
    /// Port (`PORT`, default 8080; 0 picks a free one).
    pub port: u16,
    /// Timeout of routes without `timeout:` (`SVCC_REQUEST_TIMEOUT_MS`, default 30 s).
    pub request_timeout: Duration,
    /// Largest request body (`SVCC_MAX_BODY_BYTES`, default 1 MiB).
    pub max_body: usize,
    /// Allowed CORS origins (`SVCC_CORS_ORIGINS`, comma-separated or `*`); none
    /// by default, and then no CORS headers and no preflight answers at all.
    pub cors_origins: Vec<String>,
    /// The server is behind one reverse proxy: the client address is the
    /// last `X-Forwarded-For` entry, which that proxy appends (`SVCC_TRUST_PROXY=1`).
    pub trust_proxy: bool,
    /// Log request bodies, redacted (`SVCC_LOG_BODIES=1`).
    pub log_bodies: bool,
    /// Keys that authenticate callers (`SVCC_JWT_*`, `SVCC_API_KEYS*`; see [`crate::auth`]).
    pub auth: AuthConfig,
    /// Base URLs of called services by kebab-case slug (`SVCC_<SLUG>_URL`,
    /// `SVCC_INVENTORY_SERVICE_URL` -> `inventory-service`).
    pub service_urls: BTreeMap<String, String>,
    /// The SQLite file holding state, the outbox and the inbox
    /// (`SVCC_DATABASE`); unset, the service's default (generated crates of
    /// services with state or events: `.svcc/state.db` in the project, shared
    /// by its services so that events cross between their processes).
    pub database: Option<PathBuf>,
    /// The fsync policy (`SVCC_DURABILITY=normal|full`, default normal: see
    /// [`Durability`]).
    pub durability: Durability,
    /// The credential this service calls other services with, its sagas'
    /// steps and its `calls` (`SVCC_SERVICE_TOKEN`: a JWT for the role
    /// `service`, or an API key); unset, one is minted with the HS256
    /// secret (see [`crate::client::Credential`]).
    pub service_token: Option<String>,
    /// How long delivered events, inbox marks, ended sagas and job runs are
    /// kept (`SVCC_RETENTION_DAYS`, default 7; 0 keeps everything): see
    /// [`crate::durable::prune`].
    pub retention: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8080,
            request_timeout: Duration::from_secs(30),
            max_body: 1 << 20,
            cors_origins: Vec::new(),
            trust_proxy: false,
            log_bodies: false,
            auth: AuthConfig::default(),
            service_urls: BTreeMap::new(),
            service_token: None,
            database: None,
            durability: Durability::Normal,
            retention: Some(Duration::from_secs(7 * 86_400)),
        }
    }
}

fn flag(v: &str) -> bool {
    matches!(v.trim(), "1" | "true" | "yes" | "on")
}

impl Settings {
    /// Defaults overridden by the process environment.
    pub fn from_env() -> Result<Self, String> {
        // `vars_os`: one variable that is not UTF-8 must not abort the server
        // (`std::env::vars` panics on it); such variables are none of ours.
        Settings::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Defaults overridden by the given variables (what [`Settings::from_env`]
    /// reads, as name-value pairs). Files named by `*_FILE` variables are
    /// read; a value that does not parse is an error, not a silent default.
    pub fn from_vars<I: IntoIterator<Item = (String, String)>>(vars: I) -> Result<Self, String> {
        let vars: HashMap<String, String> = vars.into_iter().collect();
        let get = |name: &str| {
            vars.get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        fn parse<T: std::str::FromStr>(
            name: &str,
            v: Option<String>,
            what: &str,
        ) -> Result<Option<T>, String> {
            v.map(|v| v.parse().map_err(|_| format!("{name}={v} is not {what}")))
                .transpose()
        }
        let d = Settings::default();
        let service_urls = vars
            .iter()
            .filter_map(|(k, v)| {
                let mid = k.strip_prefix("SVCC_")?.strip_suffix("_URL")?;
                let v = v.trim();
                (!mid.is_empty() && !v.is_empty())
                    .then(|| (mid.to_ascii_lowercase().replace('_', "-"), v.to_string()))
            })
            .collect();
        Ok(Settings {
            host: parse("SVCC_HOST", get("SVCC_HOST"), "an IP address")?.unwrap_or(d.host),
            port: parse("PORT", get("PORT"), "a port number")?.unwrap_or(d.port),
            request_timeout: parse(
                "SVCC_REQUEST_TIMEOUT_MS",
                get("SVCC_REQUEST_TIMEOUT_MS"),
                "a number of milliseconds",
            )?
            .map_or(d.request_timeout, Duration::from_millis),
            max_body: parse(
                "SVCC_MAX_BODY_BYTES",
                get("SVCC_MAX_BODY_BYTES"),
                "a number of bytes",
            )?
            .unwrap_or(d.max_body),
            cors_origins: get("SVCC_CORS_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            trust_proxy: get("SVCC_TRUST_PROXY").is_some_and(|v| flag(&v)),
            log_bodies: get("SVCC_LOG_BODIES").is_some_and(|v| flag(&v)),
            auth: AuthConfig::from_vars(|name| vars.get(name).cloned())?,
            service_urls,
            service_token: get("SVCC_SERVICE_TOKEN"),
            database: get("SVCC_DATABASE").map(PathBuf::from),
            retention: match parse::<u64>(
                "SVCC_RETENTION_DAYS",
                get("SVCC_RETENTION_DAYS"),
                "a number of days",
            )? {
                None => d.retention,
                Some(0) => None,
                Some(days) => Some(Duration::from_secs(days.saturating_mul(86_400))),
            },
            durability: match get("SVCC_DURABILITY").as_deref() {
                None | Some("normal") => Durability::Normal,
                Some("full") => Durability::Full,
                Some(other) => {
                    return Err(format!("SVCC_DURABILITY={other} is not `normal` or `full`"));
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::JwtKey;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn settings_from_variables() {
        let s = Settings::from_vars(vars(&[
            ("PORT", "9000"),
            ("SVCC_JWT_SECRET", "s3cret"),
            ("SVCC_JWT_ISSUER", "https://id.example"),
            ("SVCC_API_KEYS", "k1=alice:admin+ops:pro;k2=bob"),
            ("SVCC_INVENTORY_SERVICE_URL", "http://127.0.0.1:8081/"),
            ("SVCC_CORS_ORIGINS", "https://a.example, https://b.example"),
            ("SVCC_TRUST_PROXY", "1"),
        ]));
        let Ok(s) = s else { panic!("{s:?}") };
        assert_eq!(s.port, 9000);
        assert_eq!(s.auth.jwt_key, Some(JwtKey::Secret("s3cret".into())));
        assert_eq!(s.auth.jwt_issuer.as_deref(), Some("https://id.example"));
        assert_eq!(s.auth.api_keys.len(), 2);
        assert_eq!(s.auth.api_keys[0].roles, ["admin", "ops"]);
        assert_eq!(s.auth.api_keys[0].plan.as_deref(), Some("pro"));
        assert_eq!(
            s.service_urls.get("inventory-service").map(String::as_str),
            Some("http://127.0.0.1:8081/")
        );
        assert_eq!(s.cors_origins.len(), 2);
        assert!(s.trust_proxy);
        // secrets stay out of debug output
        assert!(!format!("{s:?}").contains("s3cret"));
        assert!(!format!("{s:?}").contains("k1"));
    }

    #[test]
    fn bad_values_and_missing_files_are_errors() {
        assert!(Settings::from_vars(vars(&[("PORT", "eighty")])).is_err());
        assert!(
            Settings::from_vars(vars(&[(
                "SVCC_JWT_PUBLIC_KEY_FILE",
                "/nonexistent/svcc/key.pem"
            )]))
            .is_err()
        );
        assert!(Settings::from_vars(vars(&[("SVCC_API_KEYS", "=alice")])).is_err());
        let Ok(d) = Settings::from_vars(Vec::new()) else {
            panic!("defaults")
        };
        assert_eq!(d.port, 8080);
        assert_eq!(d.auth, AuthConfig::default());
    }

    #[test]
    fn key_files_are_read() {
        let Ok(dir) = tempfile::tempdir() else {
            panic!("tempdir")
        };
        let file = dir.path().join("keys.json");
        let _ = std::fs::write(
            &file,
            r#"[{"key": "abc", "subject": "svc", "roles": ["reader"]}]"#,
        );
        let s = Settings::from_vars(vars(&[(
            "SVCC_API_KEYS_FILE",
            file.to_str().unwrap_or_default(),
        )]));
        let Ok(s) = s else { panic!("{s:?}") };
        assert_eq!(s.auth.api_keys[0].subject, "svc");
        let _ = std::fs::write(&file, r#"[{"key": "", "subject": "svc"}]"#);
        let s = Settings::from_vars(vars(&[(
            "SVCC_API_KEYS_FILE",
            file.to_str().unwrap_or_default(),
        )]));
        assert!(s.is_err(), "an empty key must be refused");
    }
}
