//! The Workers host's database: the SQLite of the service's Durable
//! Object (`ctx.storage.sql`), as the pipeline's [`Database`].
//!
//! Why it exists: a request's writes and the events it publishes must
//! commit together or not at all, across the `.await`s of its handler. D1
//! cannot do that (only `batch()` is atomic, and a batch cannot wait for
//! the handler); a SQLite-backed Durable Object can: `storage.transaction()`
//! runs its callback as one SQLite transaction (a savepoint), committed
//! when the callback's promise resolves and rolled back when it rejects,
//! with no other event delivered to the object meanwhile. A write
//! transaction here is such a callback kept open until the pipeline
//! commits or rolls back; the SQL itself is the synchronous
//! `storage.sql.exec`. As on the native host, one transaction at a time
//! (an async lock), and reads wait for it.

use crate::Problem;
use crate::pipeline::BoxFuture;
use crate::pipeline::store::{Database, Transaction};
use crate::sql::{self, Connection, RawConnection, RawRow, RawStatement, ValueRef};
use futures_channel::oneshot;
use std::sync::Arc;
use worker::send::{SendFuture, SendWrapper};
use worker::{SqlStorage, SqlStorageValue, Storage};

/// A Durable Object's SQLite.
pub struct ObjectDatabase {
    sql: SqlStorage,
    storage: SendWrapper<Storage>,
    lock: Arc<futures_util::lock::Mutex<()>>,
    name: String,
}

impl ObjectDatabase {
    /// The database of the object whose storage this is, migrated to the
    /// runtime's schema (in one transaction, before any request).
    pub fn open(storage: Storage, name: String) -> Result<Self, Problem> {
        let sql = storage.sql();
        let db = ObjectDatabase {
            sql,
            storage: SendWrapper::new(storage),
            lock: Arc::new(futures_util::lock::Mutex::new(())),
            name,
        };
        crate::pipeline::store::migrate(&Connection::new(&Sql(&db.sql)))
            .map_err(|e| Problem::internal(format!("migrating {}: {e}", db.name)))?;
        Ok(db)
    }
}

impl Database for ObjectDatabase {
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn Transaction>, Problem>> {
        Box::pin(SendFuture::new(async move {
            let guard = self.lock.clone().lock_owned().await;
            let (started, begun) = oneshot::channel::<()>();
            let (end, ended) = oneshot::channel::<bool>();
            let storage = self.storage.0.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let result = storage
                    .transaction(move |_| async move {
                        let _ = started.send(());
                        match ended.await {
                            Ok(true) => Ok(()),
                            _ => Err(worker::Error::RustError("rolled back".into())),
                        }
                    })
                    .await;
                if let Err(e) = result
                    && e.to_string() != "rolled back"
                {
                    tracing::warn!(error = %e, "a Durable Object transaction failed");
                }
            });
            begun
                .await
                .map_err(|_| Problem::internal("the Durable Object did not begin a transaction"))?;
            Ok(Box::new(ObjectTransaction {
                sql: self.sql.clone(),
                end: Some(end),
                _guard: guard,
            }) as Box<dyn Transaction>)
        }))
    }

    fn read<'a>(
        &'a self,
        f: &'a mut (dyn FnMut(&Connection<'_>) + Send),
    ) -> BoxFuture<'a, Result<(), Problem>> {
        Box::pin(SendFuture::new(async move {
            let _guard = self.lock.lock().await;
            f(&Connection::new(&Sql(&self.sql)));
            Ok(())
        }))
    }

    fn describe(&self) -> String {
        format!("the Durable Object {}", self.name)
    }
}

/// An open `storage.transaction()`: committed when `end` says so, rolled
/// back when it says otherwise or is dropped.
struct ObjectTransaction {
    sql: SqlStorage,
    end: Option<oneshot::Sender<bool>>,
    _guard: futures_util::lock::OwnedMutexGuard<()>,
}

impl Transaction for ObjectTransaction {
    fn with(&self, f: &mut dyn FnMut(&Connection<'_>)) {
        f(&Connection::new(&Sql(&self.sql)));
    }

    fn commit(mut self: Box<Self>) -> Result<(), Problem> {
        match self.end.take().map(|end| end.send(true)) {
            Some(Ok(())) => Ok(()),
            _ => Err(Problem::internal("the transaction has ended")),
        }
    }

    fn rollback(mut self: Box<Self>) -> Result<(), Problem> {
        if let Some(end) = self.end.take() {
            let _ = end.send(false);
        }
        Ok(())
    }
}

impl Drop for ObjectTransaction {
    fn drop(&mut self) {
        if let Some(end) = self.end.take() {
            let _ = end.send(false);
        }
    }
}

/// `storage.sql` as a [`RawConnection`]. Statements are not prepared
/// ahead: `exec` keeps its own cache of prepared statements by SQL text.
struct Sql<'a>(&'a SqlStorage);

fn error(e: worker::Error) -> sql::Error {
    sql::Error::Database(e.to_string())
}

impl RawConnection for Sql<'_> {
    fn prepare<'s>(&'s self, sql: &str, _: bool) -> sql::Result<Box<dyn RawStatement + 's>> {
        Ok(Box::new(Statement {
            storage: self.0,
            sql: sql.to_string(),
        }))
    }

    fn execute_batch(&self, sql: &str) -> sql::Result<()> {
        // `exec` runs every statement of a text without parameters.
        self.0.exec(sql, None).map(|_| ()).map_err(error)
    }
}

struct Statement<'a> {
    storage: &'a SqlStorage,
    sql: String,
}

fn bind(params: &[ValueRef<'_>]) -> Vec<SqlStorageValue> {
    params
        .iter()
        .map(|p| match *p {
            ValueRef::Null => SqlStorageValue::Null,
            ValueRef::Integer(i) => SqlStorageValue::Integer(i),
            ValueRef::Real(r) => SqlStorageValue::Float(r),
            ValueRef::Text(s) => SqlStorageValue::String(s.to_string()),
            ValueRef::Blob(b) => SqlStorageValue::Blob(b.to_vec()),
        })
        .collect()
}

impl RawStatement for Statement<'_> {
    fn execute(&mut self, params: &[ValueRef<'_>]) -> sql::Result<usize> {
        let cursor = self.storage.exec(&self.sql, bind(params)).map_err(error)?;
        // (reading the cursor runs the statement to its end)
        for row in cursor.raw() {
            row.map_err(error)?;
        }
        // The rows the statement changed, as rusqlite counts them
        // (`rowsWritten` counts index entries too).
        let changes = self
            .storage
            .exec("SELECT changes()", None)
            .map_err(error)?
            .raw()
            .next()
            .transpose()
            .map_err(error)?;
        match changes.as_deref() {
            Some([SqlStorageValue::Integer(n)]) => Ok(usize::try_from(*n).unwrap_or(0)),
            _ => Ok(0),
        }
    }

    fn query(
        &mut self,
        params: &[ValueRef<'_>],
        each: &mut dyn FnMut(&dyn RawRow) -> sql::Result<bool>,
    ) -> sql::Result<()> {
        let cursor = self.storage.exec(&self.sql, bind(params)).map_err(error)?;
        let names = cursor.column_names();
        for row in cursor.raw() {
            let values = row.map_err(error)?;
            if !each(&Row {
                values,
                names: &names,
            })? {
                break;
            }
        }
        Ok(())
    }
}

struct Row<'a> {
    values: Vec<SqlStorageValue>,
    names: &'a [String],
}

impl RawRow for Row<'_> {
    fn value(&self, i: usize) -> sql::Result<ValueRef<'_>> {
        Ok(match self.values.get(i) {
            None => return Err(sql::Error::InvalidColumn(i.to_string())),
            Some(SqlStorageValue::Null) => ValueRef::Null,
            Some(SqlStorageValue::Boolean(b)) => ValueRef::Integer(i64::from(*b)),
            Some(SqlStorageValue::Integer(v)) => ValueRef::Integer(*v),
            Some(SqlStorageValue::Float(v)) => ValueRef::Real(*v),
            Some(SqlStorageValue::String(s)) => ValueRef::Text(s),
            Some(SqlStorageValue::Blob(b)) => ValueRef::Blob(b),
        })
    }

    fn column_index(&self, name: &str) -> sql::Result<usize> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| sql::Error::InvalidColumn(name.to_string()))
    }
}
