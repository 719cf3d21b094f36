//! `Idempotency-Key` on routes declared `idempotent: true`.
//!
//! The first request with a key runs; its answer is stored with a hash of
//! the request (path, query and body). A retry with the same key and the
//! same request gets the
//! stored answer back, headers included, with `Idempotent-Replayed: true`,
//! without running the handler again; the same key with another request
//! (another body, or the same body for another path) is a 422 problem. Two requests with one key at once: the second waits for the
//! first. An answer worth retrying (5xx, 429, a timeout) is not stored, so
//! a retry with its key runs again.
//! Keys are scoped by operation and caller, kept 24 hours, and at most
//! [`CAPACITY`] are held (oldest dropped first). This store lives in memory;
//! the durable runtime keeps it in SQLite.

use crate::Problem;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Keys held at most.
pub const CAPACITY: usize = 100_000;
const TTL: Duration = Duration::from_secs(24 * 3600);

/// A stored answer.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Status.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: bytes::Bytes,
    /// Headers of the answer (a problem's `Location`, `Retry-After`, ...).
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Debug)]
struct Entry {
    fingerprint: [u8; 32],
    created: Instant,
    slot: Arc<tokio::sync::Mutex<Option<Stored>>>,
}

/// The store.
#[derive(Debug, Default)]
pub struct Store {
    entries: Mutex<(HashMap<String, Entry>, VecDeque<String>)>,
}

/// What to do with a request.
pub enum Claim {
    /// Replay this.
    Replay(Stored),
    /// Run it, then [`Store::complete`] the guard.
    Run(tokio::sync::OwnedMutexGuard<Option<Stored>>),
}

impl Store {
    /// Looks a key up; waits while another request with it is running.
    /// `request` is what makes the request what it is (path and query,
    /// body); a key reused with other parts is refused.
    pub async fn claim(&self, scope: &str, key: &str, request: &[&[u8]]) -> Result<Claim, Problem> {
        if key.is_empty() || key.len() > 255 {
            return Err(Problem::bad_request(
                "`Idempotency-Key` must be 1 to 255 characters",
            ));
        }
        let mut hasher = Sha256::new();
        for part in request {
            // Length-prefixed, so that parts cannot run into each other.
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let fingerprint: [u8; 32] = hasher.finalize().into();
        let full = format!("{scope}\u{0}{key}");
        let slot = {
            let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let (map, order) = &mut *guard;
            let now = Instant::now();
            if map
                .get(&full)
                .is_some_and(|e| now.duration_since(e.created) > TTL)
            {
                map.remove(&full);
            }
            match map.get(&full) {
                Some(e) if e.fingerprint != fingerprint => {
                    return Err(Problem::new(
                        422,
                        "idempotency-key-reused",
                        "Idempotency key reused",
                    )
                    .with_detail("this Idempotency-Key was used with a different request (path, query or body)"));
                }
                Some(e) => e.slot.clone(),
                None => {
                    while map.len() >= CAPACITY {
                        match order.pop_front() {
                            Some(old) => {
                                map.remove(&old);
                            }
                            None => break,
                        }
                    }
                    let slot = Arc::new(tokio::sync::Mutex::new(None));
                    map.insert(
                        full.clone(),
                        Entry {
                            fingerprint,
                            created: now,
                            slot: slot.clone(),
                        },
                    );
                    order.push_back(full.clone());
                    slot
                }
            }
        };
        let guard = slot.lock_owned().await;
        match &*guard {
            Some(stored) => Ok(Claim::Replay(stored.clone())),
            None => Ok(Claim::Run(guard)),
        }
    }

    /// Forgets a key whose request failed in a way worth retrying (5xx).
    pub fn forget(&self, scope: &str, key: &str) {
        let full = format!("{scope}\u{0}{key}");
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.remove(&full);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replays_same_body_and_refuses_another() {
        let s = Store::default();
        let Ok(Claim::Run(mut g)) = s.claim("op:alice", "k1", &[b"/x", b"{}"]).await else {
            panic!("first claim")
        };
        *g = Some(Stored {
            status: 201,
            content_type: "application/json",
            body: bytes::Bytes::from_static(b"{\"id\":1}"),
            headers: Vec::new(),
        });
        drop(g);
        let Ok(Claim::Replay(r)) = s.claim("op:alice", "k1", &[b"/x", b"{}"]).await else {
            panic!("replay")
        };
        assert_eq!(r.status, 201);
        let Err(p) = s.claim("op:alice", "k1", &[b"/x", b"{\"x\":1}"]).await else {
            panic!("different body accepted")
        };
        assert_eq!(p.status, 422);
        // another caller's key space is separate
        assert!(matches!(
            s.claim("op:bob", "k1", &[b"/x", b"{\"x\":1}"]).await,
            Ok(Claim::Run(_))
        ));
    }
}
