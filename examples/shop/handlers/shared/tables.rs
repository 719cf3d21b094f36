//! A shop service's own tables, beside the runtime's in the project's
//! database.
//!
//! Why it exists: what a handler writes must commit with the events it
//! publishes and the answer the runtime keeps for its `Idempotency-Key`,
//! or not at all, so the tables are written through the unit of work of
//! the request, event delivery or job run (`ctx.tx()`), never kept in
//! memory. Each service names its tables after itself (`inventory_stock`)
//! and creates them with `CREATE TABLE IF NOT EXISTS` on first use.
//!
//! The SQL goes through the runtime's database API (`rt::sql`: the same
//! SQLite on both hosts, a file natively and a Durable Object's storage on
//! Workers), so these files compile unchanged for either.
//!
//! Handler files are compiled into their own service's crate, so they
//! share this file by including it: `#[path = "shared/tables.rs"] pub
//! mod tables;` (public, so that a service using part of it warns of
//! nothing).

use rt::sql::{self, Connection, Row};
use std::sync::atomic::{AtomicBool, Ordering};
use svcc_runtime::prelude as rt;

/// A service's tables: the SQL that creates them (and any rows they start
/// with), run where a handler first needs them.
#[derive(Debug)]
pub struct Tables {
    /// `CREATE TABLE IF NOT EXISTS ...; INSERT OR IGNORE ...;`
    schema: &'static str,
    /// Set once the tables are known to be committed in the database.
    created: AtomicBool,
}

impl Tables {
    /// The tables `schema` creates.
    pub const fn new(schema: &'static str) -> Self {
        Tables {
            schema,
            created: AtomicBool::new(false),
        }
    }

    /// The unit of work's transaction, with the tables in it: what the
    /// handler writes through it commits with its events, or not at all.
    /// Every handler that writes, and every event handler and job, starts
    /// here.
    pub async fn tx(&self, ctx: &rt::Context) -> Result<rt::Tx, rt::Problem> {
        let tx = ctx.tx().await?;
        if !self.created.load(Ordering::Acquire) {
            // Not marked as created: this transaction may still roll back.
            tx.with_conn(|c| c.execute_batch(self.schema))?;
        }
        Ok(tx)
    }

    /// A read for a request that writes nothing, outside any transaction.
    /// The first read of a process creates the tables in a transaction of
    /// its own (it holds the store's one connection for that moment, so
    /// never call this once the unit's transaction is open: use `tx`).
    pub async fn read<T: Send>(
        &self,
        ctx: &rt::Context,
        f: impl FnOnce(&Connection<'_>) -> sql::Result<T> + Send,
    ) -> Result<T, rt::Problem> {
        if !self.created.load(Ordering::Acquire) {
            let store = ctx.store().ok_or_else(|| {
                rt::Problem::internal("this service has no database: set SVCC_DATABASE")
            })?;
            store
                .write(|tx| tx.with_conn(|c| c.execute_batch(self.schema)))
                .await?;
            self.created.store(true, Ordering::Release);
        }
        ctx.read(f).await
    }
}

/// A column holding a value in its text form (a UUID, an RFC 3339
/// instant, an enum value as in JSON).
pub fn parsed<T>(row: &Row<'_>, column: usize) -> sql::Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = row.get(column)?;
    text.parse()
        .map_err(|e: T::Err| sql::Error::conversion(column, format!("`{text}`: {e}")))
}

/// A column holding a value as JSON (a stored record).
pub fn json<T: rt::serde::de::DeserializeOwned>(row: &Row<'_>, column: usize) -> sql::Result<T> {
    let text: String = row.get(column)?;
    rt::serde_json::from_str(&text).map_err(|e| sql::Error::conversion(column, e.to_string()))
}

/// A value as the JSON text a column holds.
pub fn to_json<T: rt::serde::Serialize>(value: &T) -> sql::Result<String> {
    rt::serde_json::to_string(value).map_err(|e| sql::Error::encoding(e.to_string()))
}
