//! The native host's database: one SQLite file (rusqlite, bundled),
//! opened with the settings the guarantees rest on, and the portable SQL
//! API ([`crate::sql`]) over rusqlite.
//!
//! Why it exists: handlers and the runtime's own tables are written
//! against [`crate::sql`] and [`Store`] so that they run on both hosts;
//! this is the one place where those calls become rusqlite calls.
//! Statements asked for with `prepare_cached` stay in rusqlite's statement
//! cache.
//!
//! One writer connection per file, behind an async mutex: SQLite has one
//! writer at a time anyway (WAL lets readers run beside it), and keeping
//! the connection in one place means a transaction can live across the
//! `.await`s of an async handler. A transaction starts with `BEGIN
//! IMMEDIATE`, so the write lock is taken up front and a second process on
//! the same file waits (busy timeout) instead of failing at its first
//! write.

use crate::Problem;
use crate::pipeline::BoxFuture;
use crate::pipeline::store::{Database, Durability, Store, Transaction, migrate};
use crate::sql::{self, Connection, RawConnection, RawRow, RawStatement, ValueRef};
use rusqlite::types::{ToSqlOutput, ValueRef as Raw};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{Notify, OwnedMutexGuard};

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

/// A rusqlite error as a 500 problem.
fn problem(e: rusqlite::Error) -> Problem {
    Problem::internal(format!("database: {e}"))
}

impl Store {
    /// Opens (creating when missing) and migrates the database file at
    /// `path`, with [`StoreOptions::default`].
    pub fn open(path: impl AsRef<Path>) -> Result<Store, Problem> {
        Store::open_with(path, StoreOptions::default())
    }

    /// Opens (creating when missing) and migrates the database file at
    /// `path`.
    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Store, Problem> {
        Ok(Store::new(Arc::new(File::open(path.as_ref(), options)?)))
    }
}

/// A database file.
pub struct File {
    conn: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
    path: PathBuf,
    committed: Notify,
}

impl File {
    fn open(path: &Path, options: StoreOptions) -> Result<File, Problem> {
        let mut conn = rusqlite::Connection::open(path).map_err(problem)?;
        conn.busy_timeout(std::time::Duration::from_millis(options.busy_timeout_ms))
            .map_err(problem)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(problem)?;
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
        .map_err(problem)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(problem)?;
        migrate(&Connection::new(&Native(&tx))).map_err(crate::pipeline::store::db_error)?;
        tx.commit().map_err(problem)?;
        // Every hot statement stays parsed (the dispatcher alone has about 15).
        conn.set_prepared_statement_cache_capacity(64);
        Ok(File {
            conn: Arc::new(tokio::sync::Mutex::new(conn)),
            path: path.to_path_buf(),
            committed: Notify::new(),
        })
    }
}

impl Database for File {
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, Problem>> {
        Box::pin(async move {
            let conn = self.conn.clone().lock_owned().await;
            conn.execute_batch("BEGIN IMMEDIATE").map_err(problem)?;
            Ok(Box::new(Open(Some(conn))) as Box<dyn Transaction>)
        })
    }

    fn read<'a>(
        &'a self,
        f: &'a mut (dyn FnMut(&Connection<'_>) + Send),
    ) -> BoxFuture<'a, Result<(), Problem>> {
        Box::pin(async move {
            let conn = self.conn.lock().await;
            f(&Connection::new(&Native(&conn)));
            Ok(())
        })
    }

    fn notify_committed(&self) {
        self.committed.notify_one();
    }

    fn committed(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.committed.notified())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn path(&self) -> Option<&Path> {
        Some(&self.path)
    }
}

/// A transaction begun with `BEGIN IMMEDIATE` on the file's connection.
struct Open(Option<OwnedMutexGuard<rusqlite::Connection>>);

impl Transaction for Open {
    fn with(&self, f: &mut dyn FnMut(&Connection<'_>)) {
        if let Some(conn) = self.0.as_deref() {
            f(&Connection::new(&Native(conn)));
        }
    }

    fn commit(mut self: Box<Self>) -> Result<(), Problem> {
        let Some(conn) = self.0.take() else {
            return Err(Problem::internal("the transaction has ended"));
        };
        if let Err(e) = conn.execute_batch("COMMIT") {
            // A failed COMMIT may leave the transaction open: end it.
            let _ = conn.execute_batch("ROLLBACK");
            return Err(problem(e));
        }
        Ok(())
    }

    fn rollback(mut self: Box<Self>) -> Result<(), Problem> {
        match self.0.take() {
            Some(conn) => conn.execute_batch("ROLLBACK").map_err(problem),
            None => Ok(()),
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Nothing committed: undo everything. An error here means the
            // transaction is already gone (SQLite rolled it back itself).
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}

/// A rusqlite connection as a [`RawConnection`].
pub struct Native<'a>(pub &'a rusqlite::Connection);

/// A rusqlite error as a portable one (its message).
pub fn error(e: rusqlite::Error) -> sql::Error {
    sql::Error::Database(e.to_string())
}

enum Stmt<'a> {
    Cached(rusqlite::CachedStatement<'a>),
    Plain(rusqlite::Statement<'a>),
}

impl<'a> std::ops::Deref for Stmt<'a> {
    type Target = rusqlite::Statement<'a>;
    fn deref(&self) -> &Self::Target {
        match self {
            Stmt::Cached(s) => s,
            Stmt::Plain(s) => s,
        }
    }
}

impl std::ops::DerefMut for Stmt<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Stmt::Cached(s) => s,
            Stmt::Plain(s) => s,
        }
    }
}

impl RawConnection for Native<'_> {
    fn prepare<'s>(&'s self, sql: &str, cached: bool) -> sql::Result<Box<dyn RawStatement + 's>> {
        let stmt = if cached {
            Stmt::Cached(self.0.prepare_cached(sql).map_err(error)?)
        } else {
            Stmt::Plain(self.0.prepare(sql).map_err(error)?)
        };
        Ok(Box::new(stmt))
    }

    fn execute_batch(&self, sql: &str) -> sql::Result<()> {
        self.0.execute_batch(sql).map_err(error)
    }
}

fn bind(stmt: &mut rusqlite::Statement<'_>, params: &[ValueRef<'_>]) -> sql::Result<()> {
    let expected = stmt.parameter_count();
    if expected != params.len() {
        return Err(sql::Error::Database(format!(
            "Wrong number of parameters passed to query. Got {}, needed {expected}",
            params.len()
        )));
    }
    for (i, p) in params.iter().enumerate() {
        let value = match *p {
            ValueRef::Null => Raw::Null,
            ValueRef::Integer(v) => Raw::Integer(v),
            ValueRef::Real(v) => Raw::Real(v),
            ValueRef::Text(s) => Raw::Text(s.as_bytes()),
            ValueRef::Blob(b) => Raw::Blob(b),
        };
        stmt.raw_bind_parameter(i + 1, ToSqlOutput::Borrowed(value))
            .map_err(error)?;
    }
    Ok(())
}

impl RawStatement for Stmt<'_> {
    fn execute(&mut self, params: &[ValueRef<'_>]) -> sql::Result<usize> {
        bind(self, params)?;
        self.raw_execute().map_err(error)
    }

    fn query(
        &mut self,
        params: &[ValueRef<'_>],
        each: &mut dyn FnMut(&dyn RawRow) -> sql::Result<bool>,
    ) -> sql::Result<()> {
        bind(self, params)?;
        let mut rows = self.raw_query();
        while let Some(row) = rows.next().map_err(error)? {
            if !each(&NativeRow(row))? {
                break;
            }
        }
        Ok(())
    }
}

struct NativeRow<'r, 's>(&'r rusqlite::Row<'s>);

impl RawRow for NativeRow<'_, '_> {
    fn value(&self, i: usize) -> sql::Result<ValueRef<'_>> {
        Ok(match self.0.get_ref(i).map_err(error)? {
            Raw::Null => ValueRef::Null,
            Raw::Integer(v) => ValueRef::Integer(v),
            Raw::Real(v) => ValueRef::Real(v),
            Raw::Text(t) => ValueRef::Text(
                std::str::from_utf8(t).map_err(|e| sql::Error::conversion(i, e.to_string()))?,
            ),
            Raw::Blob(b) => ValueRef::Blob(b),
        })
    }

    fn column_index(&self, name: &str) -> sql::Result<usize> {
        self.0.as_ref().column_index(name).map_err(error)
    }
}
