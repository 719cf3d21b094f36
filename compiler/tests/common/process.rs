//! Generated service crates as processes: built once into the shared
//! target folder, started on a free port, spoken to over HTTP/1.1.
//!
//! Used by the tests that run the shop's services (`example_service.rs`,
//! `shop_services.rs`).

use super::{crates_target, generated_with, repo};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An example's crates, built.
pub struct Built {
    /// The copy of the example they were generated in.
    pub project: tempfile::TempDir,
    /// The shared target folder's `debug/`, where the binaries are.
    pub debug: PathBuf,
}

impl Built {
    /// The binary of a service crate (`order-service`).
    pub fn bin(&self, package: &str) -> PathBuf {
        self.debug
            .join(format!("{package}{}", std::env::consts::EXE_SUFFIX))
    }
}

/// Builds `packages` of the shop example the way `generated_crates.rs`
/// builds crates ([`generated`], [`crates_target`]). Each package must
/// have its hand-written handlers file.
pub fn build_shop(packages: &[&str]) -> Built {
    build_shop_with(packages, |_| {})
}

/// [`build_shop`] of a copy of the shop changed by `edit` first.
pub fn build_shop_with(packages: &[&str], edit: impl FnOnce(&Path)) -> Built {
    let started = Instant::now();
    let dir = generated_with(&repo().join("examples/shop"), edit);
    let crates = dir.path().join("gen/rust");
    for p in packages {
        assert!(
            !crates.join(p).join("src/handlers.rs").exists(),
            "a stub was written although examples/shop/handlers/{p}.rs exists"
        );
    }
    let target = crates_target();
    let mut args = vec!["build"];
    for p in packages {
        args.extend(["-p", p]);
    }
    let out = Command::new(env!("CARGO"))
        .args(&args)
        .current_dir(&crates)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build {packages:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "built {packages:?} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Built {
        project: dir,
        debug: target.join("debug"),
    }
}

/// A loopback port free at the moment of asking (for services that must
/// come back on the same address after a restart).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// A token from a service binary's `token` subcommand, signed with
/// `secret` or, without one, the development secret.
pub fn token(
    bin: &Path,
    sub: &str,
    roles: &[&str],
    plan: Option<&str>,
    secret: Option<&str>,
) -> String {
    let mut cmd = Command::new(bin);
    cmd.env_clear().args(["token", "--sub", sub]);
    for r in roles {
        cmd.args(["--role", r]);
    }
    if let Some(p) = plan {
        cmd.args(["--plan", p]);
    }
    if let Some(s) = secret {
        cmd.env("SVCC_JWT_SECRET", s);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "token: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A running service; killed when dropped.
pub struct Server {
    /// The process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its stdout and stderr lines so far.
    pub log: Arc<Mutex<Vec<String>>>,
    /// The service's database folder, when the server has its own.
    pub data: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the binary `bin` on a free loopback port with only `env`
    /// set, and a database of its own.
    pub fn spawn_alone(bin: &Path, env: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().unwrap();
        let db = data.path().join("state.db");
        let mut s = Server::spawn(bin, env, &db);
        s.data = Some(data);
        s
    }

    /// Starts the binary `bin` on a free loopback port with only `env`
    /// set and its database at `db` (which other services may share).
    pub fn spawn(bin: &Path, env: &[(&str, &str)], db: &Path) -> Server {
        Server::spawn_at(bin, 0, env, db)
    }

    /// [`Server::spawn`] on `port` (0: a free one).
    pub fn spawn_at(bin: &Path, port: u16, env: &[(&str, &str)], db: &Path) -> Server {
        let mut child = Command::new(bin)
            .args(["--port", &port.to_string()])
            .env_clear()
            .env("SVCC_DATABASE", db)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["message"] == "listening"
                    && let Some(a) = v["address"].as_str()
                {
                    let _ = tx.send(a.parse::<SocketAddr>().unwrap());
                }
                lines.lock().unwrap().push(line);
            }
        });
        // stderr too (a full pipe would block the service)
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                lines.lock().unwrap().push(format!("stderr: {line}"));
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "the service did not start:\n{}",
                log.lock().unwrap().join("\n")
            );
        };
        Server {
            child,
            addr,
            log,
            data: None,
        }
    }

    /// What it logged so far.
    pub fn logs(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// A request with an optional bearer token and JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = Vec::new();
        if let Some(a) = &auth {
            headers.push(("Authorization", a.as_str()));
        }
        let body = body.map(Value::to_string);
        http(self.addr, method, path, &headers, body.as_deref())
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request on its own connection.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    try_http(addr, method, path, headers, body).unwrap()
}

/// [`http`], or `None` when the connection fails or the answer is cut
/// short (the server was killed).
pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Option<Reply> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            if n == 0 {
                break;
            }
            out.push_str(after.get(..n)?);
            rest = after.get(n + 2..)?;
        }
        out
    } else {
        rest.to_string()
    };
    Some(Reply {
        status: status.parse().ok()?,
        headers,
        body,
    })
}

/// Runs `f` on the database at `db` with the runtime's own store, as
/// another process of the project would.
pub fn with_store<T>(db: &Path, f: impl AsyncFnOnce(svcc_runtime::durable::Store) -> T) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { f(svcc_runtime::durable::Store::open(db).unwrap()).await })
}
