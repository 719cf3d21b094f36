//! Idempotency keys that survive a restart.
//!
//! Why it exists: the in-memory key store ([`crate::idempotency`]) forgets
//! everything when the process stops, so a client that retries a
//! `POST /orders` after a crash, with the same `Idempotency-Key`, would
//! create a second order. With a database, the answer to a successful
//! idempotent request is written in the operation's own transaction
//! ([`Tx::remember_answer`]): the order and the record that it was answered
//! commit together, or neither does. Before running an idempotent request,
//! the server looks the key up here ([`answer`]): the same request gets the
//! stored answer, another request with the same key a 422. Records are
//! deleted by retention ([`super::prune`]).

use crate::Problem;
use crate::pipeline::store::{Store, Tx, now_ms};
use crate::sql::{OptionalExtension, params};

/// A stored answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// What the request was (see [`crate::idempotency::fingerprint`]).
    pub fingerprint: Vec<u8>,
    /// Its status.
    pub status: u16,
    /// Its JSON body (empty for none).
    pub body: Vec<u8>,
}

/// The stored answer of `key` in `scope` (the operation and the caller).
pub async fn answer(store: &Store, scope: &str, key: &str) -> Result<Option<Answer>, Problem> {
    let (scope, key) = (scope.to_string(), key.to_string());
    store
        .read(move |c| {
            c.prepare_cached(
                "SELECT fingerprint, status, body FROM idempotency WHERE scope = ?1 AND key = ?2",
            )?
            .query_row(params![scope, key], |r| {
                Ok(Answer {
                    fingerprint: r.get(0)?,
                    status: r.get(1)?,
                    body: r.get(2)?,
                })
            })
            .optional()
        })
        .await
}

impl Tx {
    /// Records the answer to an idempotent request in this transaction.
    /// Two processes answering one key at once: the second commit fails
    /// on the key and rolls its operation back.
    pub fn remember_answer(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &[u8],
        status: u16,
        body: &[u8],
    ) -> Result<(), Problem> {
        self.with_conn(|c| {
            c.prepare_cached(
                "INSERT INTO idempotency (scope, key, fingerprint, status, body, created)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![scope, key, fingerprint, status, body, now_ms()])
        })
        .map(|_| ())
    }
}
