//! The database file: opening it with the settings our guarantees rest on,
//! migrating its schema, and the one transaction type everything durable
//! goes through.
//!
//! Why it exists: the outbox promise ("an event is sent if and only if the
//! transaction that produced it committed") holds only if state, events,
//! inbox marks and a handler's own side effects are written by one SQLite
//! transaction. [`Tx`] is that transaction, shared by the HTTP side (an
//! operation's writes and its events), the dispatcher (a handler's side
//! effects and its inbox mark) and the dead-letter tools.
//!
//! One writer connection per [`Store`], behind an async mutex: SQLite has one
//! writer at a time anyway (WAL lets readers run beside it), and keeping the
//! connection in one place means a transaction can live across the `.await`s
//! of an async handler. A transaction starts with `BEGIN IMMEDIATE`, so the
//! write lock is taken up front and a second process on the same file waits
//! (busy timeout) instead of failing at its first write.

use crate::Problem;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{Notify, OwnedMutexGuard};

/// How hard a commit waits for the disk.
///
/// With `journal_mode=WAL`, a commit appends the transaction's pages to the
/// write-ahead log and marks the last frame as a commit; SQLite's recovery
/// ignores frames after the last complete commit, so the database is never
/// corrupted and a transaction is either wholly there or wholly absent.
///
/// [`Durability::Normal`] (`synchronous=NORMAL`, the default) does not fsync
/// the log at each commit, only at checkpoints. A commit is in the operating
/// system's page cache when `commit` returns, so it survives the process
/// being killed (`kill -9`, a panic, an OOM kill): that is the failure the
/// runtime's tests inject. Only a power loss or a kernel crash can drop the
/// last transactions before the next checkpoint, and then it drops each one
/// whole: its entity writes and its outbox events together, so "an event
/// exists if and only if its transaction committed" still holds; what is
/// lost is the acknowledgement of those last requests. Choose
/// [`Durability::Full`] (fsync at every commit, slower) when an acknowledged
/// request must survive power loss too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives process crashes; power loss may drop
    /// the last whole transactions.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit is fsynced.
    Full,
}

/// Settings for [`Store::open_with`].
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// The fsync policy.
    pub durability: Durability,
    /// How long a transaction waits for another process's write lock.
    pub busy_timeout_ms: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Normal,
            busy_timeout_ms: 5_000,
        }
    }
}

/// The schema, one migration per entry; entry `i` brings the database to
/// version `i + 1`. Never edit an entry that has shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: entities, the outbox, the inbox, pending deliveries, dead letters.
    "CREATE TABLE entities (
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        state TEXT,
        json TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        PRIMARY KEY (type, id)
    );
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        entity_key TEXT,
        payload TEXT NOT NULL,
        source TEXT,
        request_id TEXT,
        trace_id TEXT,
        created INTEGER NOT NULL
    );
    CREATE TABLE inbox (
        handler TEXT NOT NULL,
        event_id TEXT NOT NULL,
        done INTEGER NOT NULL,
        PRIMARY KEY (handler, event_id)
    ) WITHOUT ROWID;
    CREATE TABLE dispatch_cursors (
        consumer TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    );
    CREATE TABLE deliveries (
        event_id TEXT NOT NULL,
        handler TEXT NOT NULL,
        seq INTEGER NOT NULL,
        entity_key TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        last_error TEXT,
        PRIMARY KEY (event_id, handler)
    );
    CREATE INDEX deliveries_due ON deliveries (next_attempt, seq);
    CREATE INDEX deliveries_order ON deliveries (handler, entity_key, seq);
    CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        handler TEXT NOT NULL,
        name TEXT NOT NULL,
        seq INTEGER NOT NULL,
        entity_key TEXT,
        payload TEXT NOT NULL,
        last_error TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        failed_at INTEGER NOT NULL
    );",
    // 2: the dispatcher walks pending deliveries in outbox order and stops
    // at its batch size, instead of sorting every due row at each pass.
    "CREATE INDEX deliveries_seq ON deliveries (seq);",
    // 3: only the oldest pending delivery of an entity to a handler is
    // ready; a pass reads ready rows only (no per-row ordering check).
    "ALTER TABLE deliveries ADD COLUMN ready INTEGER NOT NULL DEFAULT 1;
    UPDATE deliveries SET ready = 0 WHERE entity_key IS NOT NULL AND EXISTS (
        SELECT 1 FROM deliveries e WHERE e.handler = deliveries.handler
          AND e.entity_key = deliveries.entity_key AND e.seq < deliveries.seq);
    CREATE INDEX deliveries_ready ON deliveries (ready, seq);
    DROP INDEX deliveries_seq;",
    // 4: sagas and their steps (saga.rs), jobs and their runs (jobs.rs).
    "CREATE TABLE sagas (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        trigger_event TEXT NOT NULL,
        input TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        owner TEXT,
        lease_until INTEGER NOT NULL DEFAULT 0,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        ended INTEGER
    );
    CREATE INDEX sagas_status ON sagas (status, created);
    CREATE INDEX sagas_created ON sagas (created);
    CREATE TABLE saga_steps (
        saga_id TEXT NOT NULL,
        step TEXT NOT NULL,
        position INTEGER NOT NULL,
        item INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        input TEXT,
        output TEXT,
        error TEXT,
        started INTEGER,
        ended INTEGER,
        compensation TEXT,
        comp_attempts INTEGER NOT NULL DEFAULT 0,
        comp_error TEXT,
        comp_started INTEGER,
        comp_ended INTEGER,
        PRIMARY KEY (saga_id, step)
    ) WITHOUT ROWID;
    CREATE TABLE jobs (
        job TEXT PRIMARY KEY,
        since INTEGER NOT NULL,
        last_scheduled INTEGER
    );
    CREATE TABLE job_runs (
        job TEXT NOT NULL,
        scheduled INTEGER NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        owner TEXT NOT NULL,
        lease_until INTEGER NOT NULL,
        started INTEGER NOT NULL,
        ended INTEGER,
        error TEXT,
        PRIMARY KEY (job, scheduled)
    ) WITHOUT ROWID;",
    // 5: answers of idempotent requests, committed with the operation
    "CREATE TABLE idempotency (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        status INTEGER NOT NULL,
        body BLOB NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
    ) WITHOUT ROWID;
    CREATE INDEX idempotency_created ON idempotency (created);",
    // 6: a saga's trace (its trigger's), continued by its steps and events
    "ALTER TABLE sagas ADD COLUMN trace_id TEXT;",
];

/// The schema version this runtime writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A database error as a 500 problem (the detail stays in the logs'
/// hands: it never names user data, only SQLite's message).
pub(crate) fn db_error(e: rusqlite::Error) -> Problem {
    Problem::internal(format!("database: {e}"))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A database file opened for durable state and events.
#[derive(Clone)]
pub struct Store {
    conn: Arc<tokio::sync::Mutex<Connection>>,
    path: PathBuf,
    committed: Arc<Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating when missing) and migrates the database at `path`,
    /// with [`StoreOptions::default`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store, Problem> {
        Store::open_with(path, StoreOptions::default())
    }

    /// Opens (creating when missing) and migrates the database at `path`.
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store, Problem> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(db_error)?;
        conn.busy_timeout(std::time::Duration::from_millis(options.busy_timeout_ms))
            .map_err(db_error)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(db_error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Problem::internal(format!(
                "database {}: journal mode is {mode}, WAL is required",
                path.display()
            )));
        }
        let sync = match options.durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        // A page cache of up to 64 MiB (SQLite's default is 2 MiB: the
        // outbox, deliveries and inbox indexes of a busy dispatcher outgrow
        // it and pages are read back from the file), and a checkpoint every
        // 4,000 pages (16 MiB of WAL) instead of 1,000: with NORMAL,
        // checkpoints are where SQLite syncs, and they run on the writer's
        // commit. The WAL is cut back to 64 MiB after a checkpoint. Measured
        // in tests/benches/README.md ("Durable runtime").
        conn.execute_batch(&format!(
            "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;
             PRAGMA wal_autocheckpoint=4000; PRAGMA journal_size_limit=67108864;"
        ))
        .map_err(db_error)?;
        migrate(&mut conn).map_err(db_error)?;
        // Every hot statement stays parsed (the dispatcher alone has about 15).
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Store {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
            path,
            committed: Arc::new(Notify::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE`), waiting for the
    /// store's connection. Dropping the [`Tx`] without committing rolls it
    /// back. Do not call this while holding another `Tx` of the same store:
    /// the second waits for the first forever.
    pub async fn begin(&self) -> Result<Tx, Problem> {
        let conn = self.conn.clone().lock_owned().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db_error)?;
        Ok(Tx {
            inner: Arc::new(Mutex::new(TxState {
                conn: Some(conn),
                appended: 0,
            })),
            committed: self.committed.clone(),
            revoked: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Runs `f` in one transaction: commits when it returns `Ok`, rolls
    /// back when it returns `Err` or panics (the panic goes on).
    pub async fn write<T>(&self, f: impl FnOnce(&Tx) -> Result<T, Problem>) -> Result<T, Problem> {
        let tx = self.begin().await?;
        match f(&tx) {
            Ok(v) => {
                tx.commit()?;
                Ok(v)
            }
            Err(e) => {
                tx.rollback()?;
                Err(e)
            }
        }
    }

    /// Runs `f` on the connection outside any explicit transaction (reads,
    /// `PRAGMA`s).
    pub async fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Problem> {
        let conn = self.conn.lock().await;
        f(&conn).map_err(db_error)
    }

    /// `PRAGMA integrity_check`: `Ok` when SQLite answers `ok`.
    pub async fn integrity_check(&self) -> Result<(), Problem> {
        let answer: String = self
            .read(|c| c.query_row("PRAGMA integrity_check", [], |r| r.get(0)))
            .await?;
        if answer == "ok" {
            Ok(())
        } else {
            Err(Problem::internal(format!("integrity_check: {answer}")))
        }
    }

    /// Wakes when a transaction that appended events has committed.
    pub(crate) fn committed(&self) -> &Notify {
        &self.committed
    }
}

fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied INTEGER NOT NULL
        )",
    )?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > current {
            tx.execute_batch(sql)?;
            tx.execute(
                "INSERT INTO schema_version (version, applied) VALUES (?1, ?2)",
                params![version, now_ms()],
            )?;
        }
    }
    tx.commit()
}

/// An open write transaction. Cheap to clone: clones are handles on the
/// same transaction (the dispatcher keeps one while the handler uses
/// another). Every method is synchronous and short; the transaction holds
/// the store's write lock until [`Tx::commit`], [`Tx::rollback`] or the
/// drop of its last handle (which rolls back).
#[derive(Clone)]
pub struct Tx {
    inner: Arc<Mutex<TxState>>,
    committed: Arc<Notify>,
    /// Set when this handle (and its clones) may no longer write: the
    /// dispatcher revokes a handler's handle when its delivery ends, so a
    /// handler that timed out, or a task it spawned, cannot write into the
    /// batch after its savepoint was undone.
    revoked: Arc<AtomicBool>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").finish_non_exhaustive()
    }
}

struct TxState {
    /// `None` once committed or rolled back.
    conn: Option<OwnedMutexGuard<Connection>>,
    /// Events appended (to wake the dispatcher on commit).
    appended: usize,
}

impl Drop for TxState {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Nothing committed: undo everything. An error here means the
            // transaction is already gone (SQLite rolled it back itself).
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

impl Tx {
    fn state(&self) -> MutexGuard<'_, TxState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the transaction's connection: a handler's own tables
    /// (side effects that must happen once) are written here, so they
    /// commit or vanish with the inbox mark.
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Problem> {
        let state = self.state();
        // Checked under the lock: a revocation either waits for this call
        // to finish or is seen by it.
        if self.revoked.load(Ordering::SeqCst) {
            return Err(Problem::internal(
                "this transaction handle was revoked: its delivery has ended",
            ));
        }
        match state.conn.as_deref() {
            Some(conn) => f(conn).map_err(db_error),
            None => Err(Problem::internal("the transaction has ended")),
        }
    }

    /// A handle on the same transaction that can be revoked on its own.
    pub(crate) fn handle(&self) -> Tx {
        Tx {
            inner: self.inner.clone(),
            committed: self.committed.clone(),
            revoked: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Stops this handle and its clones from writing; returns once no call
    /// through them is running.
    pub(crate) fn revoke(&self) {
        self.revoked.store(true, Ordering::SeqCst);
        drop(self.state());
    }

    /// Counts an appended event (the dispatcher is woken on commit).
    pub(crate) fn note_append(&self) {
        self.state().appended += 1;
    }

    /// Makes every write of the transaction visible at once.
    pub fn commit(self) -> Result<(), Problem> {
        let (conn, appended) = {
            let mut state = self.state();
            (state.conn.take(), state.appended)
        };
        let Some(conn) = conn else {
            return Err(Problem::internal("the transaction has ended"));
        };
        if let Err(e) = conn.execute_batch("COMMIT") {
            // A failed COMMIT may leave the transaction open: end it.
            let _ = conn.execute_batch("ROLLBACK");
            return Err(db_error(e));
        }
        drop(conn);
        if appended > 0 {
            self.committed.notify_one();
        }
        Ok(())
    }

    /// Undoes every write of the transaction.
    pub fn rollback(self) -> Result<(), Problem> {
        let conn = self.state().conn.take();
        match conn {
            Some(conn) => conn.execute_batch("ROLLBACK").map_err(db_error),
            None => Ok(()),
        }
    }
}
