//! The database a service keeps its state in, as the pipeline sees it:
//! write transactions that can stay open across the `.await`s of a
//! handler, reads, and the schema both hosts migrate to.
//!
//! Why it exists: the outbox promise ("an event is sent if and only if the
//! transaction that produced it committed") holds only if state, events,
//! inbox marks, idempotency records and a handler's own rows are written
//! by one SQLite transaction. [`Tx`] is that transaction, shared by the
//! HTTP side (an operation's writes and its events), the dispatcher (a
//! handler's side effects and its inbox mark) and the dead-letter tools.
//! Everything above it (entities, outbox, idempotency records, the
//! handlers' tables) is SQL through [`crate::sql`], written once; a host
//! supplies only a [`Database`]: the native host a SQLite file
//! (`native/sqlite.rs`), the Workers host a Durable Object's SQLite.
//!
//! A host serialises write transactions (SQLite has one writer at a time
//! anyway), so a transaction begun by [`Store::begin`] holds the write lock
//! until it commits, rolls back, or its last handle is dropped (which rolls
//! back).

use crate::Problem;
use crate::pipeline::BoxFuture;
use crate::sql::{self, Connection, OptionalExtension, params};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a host provides: SQLite with write transactions.
pub trait Database: Send + Sync + 'static {
    /// Begins a write transaction, waiting for the write lock.
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, Problem>>;
    /// Runs `f` on the connection outside any explicit transaction,
    /// waiting for a write transaction in progress to end.
    fn read<'a>(
        &'a self,
        f: &'a mut (dyn FnMut(&Connection<'_>) + Send),
    ) -> BoxFuture<'a, Result<(), Problem>>;
    /// A transaction that appended events committed: wake whoever waits in
    /// [`Database::committed`].
    fn notify_committed(&self) {}
    /// Resolves after the next [`Database::notify_committed`] (or at once
    /// when one came since the last wait). Never, when the host has
    /// nothing to wake.
    fn committed(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }
    /// Where the database is, for logs (`the file path`).
    fn describe(&self) -> String;
    /// The file holding the database, when it is one.
    fn path(&self) -> Option<&std::path::Path> {
        None
    }
}

/// A host's open write transaction. Dropping it without committing rolls
/// it back.
pub trait Transaction: Send {
    /// Runs `f` on the transaction's connection.
    fn with(&self, f: &mut dyn FnMut(&Connection<'_>));
    /// Makes every write visible at once.
    fn commit(self: Box<Self>) -> Result<(), Problem>;
    /// Undoes every write.
    fn rollback(self: Box<Self>) -> Result<(), Problem>;
}

/// How hard a commit waits for the disk (the native host's file; a
/// Durable Object's storage is replicated before its answer goes out).
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

/// Brings the database to [`SCHEMA_VERSION`], inside a write transaction
/// the host has begun (and commits): the migrations not yet recorded in
/// `schema_version`, in order.
pub fn migrate(c: &Connection<'_>) -> sql::Result<()> {
    c.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version INTEGER PRIMARY KEY,
            applied INTEGER NOT NULL
        )",
    )?;
    let current: i64 = c
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()?
        .flatten()
        .unwrap_or(0);
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > current {
            c.execute_batch(sql)?;
            c.execute(
                "INSERT INTO schema_version (version, applied) VALUES (?1, ?2)",
                params![version, now_ms()],
            )?;
        }
    }
    Ok(())
}

/// A database error as a 500 problem (the detail stays in the logs'
/// hands: it never names user data, only SQLite's message).
pub(crate) fn db_error(e: sql::Error) -> Problem {
    Problem::internal(format!("database: {e}"))
}

/// Milliseconds since the Unix epoch (jiff's clock: the system's on the
/// native host, `Date.now()` on Workers).
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A service's database, opened and migrated by its host. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<dyn Database>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("db", &self.db.describe())
            .finish()
    }
}

impl Store {
    /// The store over a host's database.
    pub fn new(db: Arc<dyn Database>) -> Self {
        Store { db }
    }

    /// Where the database is (for logs).
    pub fn describe(&self) -> String {
        self.db.describe()
    }

    /// The database file, when it is one.
    pub fn path(&self) -> &std::path::Path {
        self.db.path().unwrap_or(std::path::Path::new(""))
    }

    /// Starts a write transaction, waiting for the write lock. Dropping
    /// the [`Tx`] without committing rolls it back. Do not call this while
    /// holding another `Tx` of the same store: the second waits for the
    /// first forever.
    pub async fn begin(&self) -> Result<Tx, Problem> {
        let tx = self.db.begin().await?;
        Ok(Tx {
            inner: Arc::new(Mutex::new(TxState {
                tx: Some(tx),
                appended: 0,
            })),
            db: self.db.clone(),
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

    /// Runs `f` on the connection outside any explicit transaction
    /// (reads).
    pub async fn read<T: Send>(
        &self,
        f: impl FnOnce(&Connection<'_>) -> sql::Result<T> + Send,
    ) -> Result<T, Problem> {
        let mut f = Some(f);
        let mut out = None;
        self.db
            .read(&mut |c| {
                if let Some(f) = f.take() {
                    out = Some(f(c));
                }
            })
            .await?;
        match out {
            Some(r) => r.map_err(db_error),
            None => Err(Problem::internal("the database did not run the read")),
        }
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

    /// Wakes a dispatcher waiting in [`Store::committed`].
    pub fn notify_committed(&self) {
        self.db.notify_committed();
    }

    /// Resolves when a transaction that appended events has committed.
    pub fn committed(&self) -> BoxFuture<'_, ()> {
        self.db.committed()
    }
}

/// An open write transaction. Cheap to clone: clones are handles on the
/// same transaction (the dispatcher keeps one while the handler uses
/// another). Every method is synchronous and short; the transaction holds
/// the store's write lock until [`Tx::commit`], [`Tx::rollback`] or the
/// drop of its last handle (which rolls back).
#[derive(Clone)]
pub struct Tx {
    inner: Arc<Mutex<TxState>>,
    db: Arc<dyn Database>,
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
    /// `None` once committed or rolled back (dropping it rolls back).
    tx: Option<Box<dyn Transaction>>,
    /// Events appended (to wake the dispatcher on commit).
    appended: usize,
}

impl Tx {
    fn state(&self) -> MutexGuard<'_, TxState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the transaction's connection: a handler's own tables
    /// (side effects that must happen once) are written here, so they
    /// commit or vanish with the events and the inbox mark.
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&Connection<'_>) -> sql::Result<T>,
    ) -> Result<T, Problem> {
        let state = self.state();
        // Checked under the lock: a revocation either waits for this call
        // to finish or is seen by it.
        if self.revoked.load(Ordering::SeqCst) {
            return Err(Problem::internal(
                "this transaction handle was revoked: its delivery has ended",
            ));
        }
        let Some(tx) = state.tx.as_deref() else {
            return Err(Problem::internal("the transaction has ended"));
        };
        let mut f = Some(f);
        let mut out = None;
        tx.with(&mut |c| {
            if let Some(f) = f.take() {
                out = Some(f(c));
            }
        });
        match out {
            Some(r) => r.map_err(db_error),
            None => Err(Problem::internal("the database did not run the statement")),
        }
    }

    /// A handle on the same transaction that can be revoked on its own.
    pub(crate) fn handle(&self) -> Tx {
        Tx {
            inner: self.inner.clone(),
            db: self.db.clone(),
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
        let (tx, appended) = {
            let mut state = self.state();
            (state.tx.take(), state.appended)
        };
        let Some(tx) = tx else {
            return Err(Problem::internal("the transaction has ended"));
        };
        tx.commit()?;
        if appended > 0 {
            self.db.notify_committed();
        }
        Ok(())
    }

    /// Undoes every write of the transaction.
    pub fn rollback(self) -> Result<(), Problem> {
        let tx = self.state().tx.take();
        match tx {
            Some(tx) => tx.rollback(),
            None => Ok(()),
        }
    }
}
