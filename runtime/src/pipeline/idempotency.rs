//! `Idempotency-Key` on routes declared `idempotent: true`.
//!
//! The first request with a key runs; its answer is stored with a hash of
//! the request (path, query and body). A retry with the same key and the
//! same request gets the
//! stored answer back, headers included, with `Idempotent-Replayed: true`,
//! without running the handler again; the same key with another request
//! (another body, or the same body for another path) is a 422 problem. Two requests with one key at once: the second waits for the
//! first. An answer worth retrying ([`worth_retrying`]: 5xx, 429, a
//! timeout, and the refusals that depend on the state rather than on the
//! request, 408, 409, 412, 423 and 425) is not stored, so a retry with its
//! key runs again: a saga step that found no authorized payment (409)
//! finds it on a later attempt with the same key.
//! Keys are scoped by operation and caller, kept 24 hours, and at most
//! [`CAPACITY`] are held (oldest dropped first). This store lives in
//! memory; a service with a database also commits each successful answer
//! with the operation's writes ([`crate::pipeline::keys`]), so a retry after
//! a restart replays it too.

use crate::Problem;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use web_time::Instant;

/// Whether an answer with this status may change when the same request
/// is sent again (so it is not stored under its key).
pub fn worth_retrying(status: u16) -> bool {
    status >= 500 || matches!(status, 408 | 409 | 412 | 423 | 425 | 429)
}

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
    slot: Arc<futures_util::lock::Mutex<Option<Stored>>>,
}

/// The store.
#[derive(Debug, Default)]
pub struct Store {
    /// Entries, and the order they were made in (a key made again after
    /// its entry expired or was forgotten appears twice; only the copy
    /// with its entry's `created` counts).
    entries: Mutex<(HashMap<String, Entry>, VecDeque<Made>)>,
}

/// A key and when its entry was made.
type Made = (String, Instant);

/// What to do with a request.
pub enum Claim {
    /// Replay this.
    Replay(Stored),
    /// Run it, then put the answer in the guard (`*guard = Some(stored)`);
    /// a guard dropped empty lets the next request with the key run.
    Run(futures_util::lock::OwnedMutexGuard<Option<Stored>>),
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
        let fingerprint = fingerprint(request);
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
                Some(e) if e.fingerprint != fingerprint => return Err(reused()),
                Some(e) => e.slot.clone(),
                None => {
                    while map.len() >= CAPACITY {
                        match order.pop_front() {
                            Some((old, made)) => {
                                if map.get(&old).is_some_and(|e| e.created == made) {
                                    map.remove(&old);
                                }
                            }
                            None => break,
                        }
                    }
                    if order.len() >= 2 * CAPACITY {
                        order.retain(|(k, made)| map.get(k).is_some_and(|e| e.created == *made));
                    }
                    let slot = Arc::new(futures_util::lock::Mutex::new(None));
                    map.insert(
                        full.clone(),
                        Entry {
                            fingerprint,
                            created: now,
                            slot: slot.clone(),
                        },
                    );
                    order.push_back((full.clone(), now));
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

    /// Forgets a key (its next request runs again).
    pub fn forget(&self, scope: &str, key: &str) {
        let full = format!("{scope}\u{0}{key}");
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.remove(&full);
    }
}

/// The hash a key is bound to: of the request's parts (path and query,
/// body), each length-prefixed so that parts cannot run into each other.
pub fn fingerprint(request: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in request {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The 422 of a key used with another request.
pub fn reused() -> Problem {
    Problem::new(422, "idempotency-key-reused", "Idempotency key reused")
        .with_detail("this Idempotency-Key was used with a different request (path, query or body)")
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

    #[tokio::test]
    async fn a_key_made_again_is_not_evicted_as_its_old_self() {
        let s = Store::default();
        let run = |g: Result<Claim, Problem>| match g {
            Ok(Claim::Run(mut g)) => {
                *g = Some(Stored {
                    status: 200,
                    content_type: "application/json",
                    body: bytes::Bytes::new(),
                    headers: Vec::new(),
                });
            }
            _ => panic!("expected to run"),
        };
        run(s.claim("op", "early", &[b"a"]).await);
        s.forget("op", "early");
        for i in 0..CAPACITY - 1 {
            run(s.claim("op", &i.to_string(), &[b"a"]).await);
        }
        // `early` is made again: the newest entry, the store is full.
        run(s.claim("op", "early", &[b"a"]).await);
        // One more evicts the oldest live entry (key 0), not `early`.
        run(s.claim("op", "last", &[b"a"]).await);
        assert!(matches!(
            s.claim("op", "early", &[b"a"]).await,
            Ok(Claim::Replay(_))
        ));
        assert!(matches!(
            s.claim("op", "0", &[b"a"]).await,
            Ok(Claim::Run(_))
        ));
    }
}
