//! The database API of handlers and of the runtime's own tables: SQL on
//! SQLite, the same on both hosts.
//!
//! Why it exists: both hosts keep state in SQLite (the native host in a
//! file through rusqlite, the Workers host in a Durable Object's
//! `ctx.storage.sql`), so the SQL a handler writes is the same; only the
//! API that runs it differs. This module is that API once, written
//! against three small traits a host implements ([`RawConnection`],
//! [`RawStatement`], [`RawRow`]). Its names follow rusqlite's
//! (`prepare_cached`, `query_row`, `query_map`, `params!`, `optional()`,
//! `row.get::<_, T>(i)`), so code written for rusqlite ports by changing
//! its imports, and reads the same to anyone who knows rusqlite.
//!
//! Everything here is synchronous: a statement runs to its end before the
//! call returns (rusqlite's are, and so is the Durable Object SQL API).
//! Rows are read through a callback, so a host never hands out a cursor
//! that outlives its statement; `query_map` collects them.

use std::fmt;

/// The type of a value SQLite holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `NULL`.
    Null,
    /// A 64-bit integer.
    Integer,
    /// A double.
    Real,
    /// UTF-8 text.
    Text,
    /// Bytes.
    Blob,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Null => "Null",
            Type::Integer => "Integer",
            Type::Real => "Real",
            Type::Text => "Text",
            Type::Blob => "Blob",
        })
    }
}

/// A value, owned.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `NULL`.
    Null,
    /// An integer.
    Integer(i64),
    /// A double.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// The value, borrowed.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Null => ValueRef::Null,
            Value::Integer(i) => ValueRef::Integer(*i),
            Value::Real(r) => ValueRef::Real(*r),
            Value::Text(s) => ValueRef::Text(s),
            Value::Blob(b) => ValueRef::Blob(b),
        }
    }
}

/// A value, borrowed from a row or a parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ValueRef<'a> {
    /// `NULL`.
    Null,
    /// An integer.
    Integer(i64),
    /// A double.
    Real(f64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

impl ValueRef<'_> {
    /// Its type.
    pub fn data_type(&self) -> Type {
        match self {
            ValueRef::Null => Type::Null,
            ValueRef::Integer(_) => Type::Integer,
            ValueRef::Real(_) => Type::Real,
            ValueRef::Text(_) => Type::Text,
            ValueRef::Blob(_) => Type::Blob,
        }
    }

    /// The value, owned.
    pub fn to_owned(&self) -> Value {
        match *self {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(r) => Value::Real(r),
            ValueRef::Text(s) => Value::Text(s.to_string()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

/// What went wrong with a statement.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The database refused or failed the statement; its message.
    Database(String),
    /// `query_row` found no row (see [`OptionalExtension::optional`]).
    QueryReturnedNoRows,
    /// A column index or name the row does not have.
    InvalidColumn(String),
    /// A column whose value is not of the type asked for.
    InvalidColumnType(usize, Type),
    /// A column value that does not convert to the type asked for.
    FromSqlConversionFailure(usize, Type, Box<dyn std::error::Error + Send + Sync>),
    /// A parameter that does not convert to an SQL value.
    ToSqlConversionFailure(Box<dyn std::error::Error + Send + Sync>),
    /// An integer column whose value does not fit the type asked for.
    IntegralValueOutOfRange(usize, i64),
}

impl Error {
    /// A column value that does not read back as its type: `message` says
    /// why (`FromSqlConversionFailure` with a text column).
    pub fn conversion(column: usize, message: impl Into<String>) -> Self {
        Error::FromSqlConversionFailure(column, Type::Text, message.into().into())
    }

    /// A value that cannot be written as a parameter: `message` says why.
    pub fn encoding(message: impl Into<String>) -> Self {
        Error::ToSqlConversionFailure(message.into().into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Database(m) => f.write_str(m),
            Error::QueryReturnedNoRows => f.write_str("Query returned no rows"),
            Error::InvalidColumn(c) => write!(f, "Invalid column {c}"),
            Error::InvalidColumnType(i, t) => write!(f, "Invalid column type {t} at index: {i}"),
            Error::FromSqlConversionFailure(i, t, e) => {
                write!(f, "Conversion error from type {t} at index: {i}, {e}")
            }
            Error::ToSqlConversionFailure(e) => e.fmt(f),
            Error::IntegralValueOutOfRange(i, v) => {
                write!(f, "Integer {v} out of range at index {i}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// A result of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a column value did not convert.
#[derive(Debug)]
pub enum FromSqlError {
    /// Another type.
    InvalidType,
    /// An integer out of the type's range.
    OutOfRange(i64),
    /// Anything else.
    Other(Box<dyn std::error::Error + Send + Sync>),
}

/// The result of [`FromSql::column_result`].
pub type FromSqlResult<T> = std::result::Result<T, FromSqlError>;

/// A type a column value converts to.
pub trait FromSql: Sized {
    /// Converts a value.
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self>;
}

impl FromSql for i64 {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Integer(i) => Ok(i),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

macro_rules! from_sql_integral {
    ($($t:ty),*) => {$(
        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let i = i64::column_result(value)?;
                <$t>::try_from(i).map_err(|_| FromSqlError::OutOfRange(i))
            }
        }
    )*};
}

from_sql_integral!(i8, i16, i32, u8, u16, u32, u64, usize);

impl FromSql for bool {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        i64::column_result(value).map(|i| i != 0)
    }
}

impl FromSql for f64 {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Integer(i) => Ok(i as f64),
            ValueRef::Real(r) => Ok(r),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

impl FromSql for String {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Text(s) => Ok(s.to_string()),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

impl FromSql for Vec<u8> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Blob(b) => Ok(b.to_vec()),
            _ => Err(FromSqlError::InvalidType),
        }
    }
}

impl FromSql for Value {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Ok(value.to_owned())
    }
}

impl<T: FromSql> FromSql for Option<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        match value {
            ValueRef::Null => Ok(None),
            v => T::column_result(v).map(Some),
        }
    }
}

/// A parameter's value: borrowed from the parameter, or made for it.
#[derive(Clone, Debug, PartialEq)]
pub enum ToSqlOutput<'a> {
    /// Borrowed.
    Borrowed(ValueRef<'a>),
    /// Made.
    Owned(Value),
}

impl ToSqlOutput<'_> {
    /// The value.
    pub fn value(&self) -> ValueRef<'_> {
        match self {
            ToSqlOutput::Borrowed(v) => *v,
            ToSqlOutput::Owned(v) => v.as_ref(),
        }
    }
}

/// A type a parameter can have.
pub trait ToSql {
    /// The SQL value.
    fn to_sql(&self) -> Result<ToSqlOutput<'_>>;
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        (**self).to_sql()
    }
}

macro_rules! to_sql_integer {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*self))))
            }
        }
    )*};
}

to_sql_integer!(i8, i16, i32, i64, u8, u16, u32, bool);

macro_rules! to_sql_checked {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
                i64::try_from(*self)
                    .map(|i| ToSqlOutput::Borrowed(ValueRef::Integer(i)))
                    .map_err(|_| Error::encoding(format!("{} does not fit an SQL integer", self)))
            }
        }
    )*};
}

to_sql_checked!(u64, usize);

impl ToSql for f64 {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Real(*self)))
    }
}

impl ToSql for str {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Text(self)))
    }
}

impl ToSql for String {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        self.as_str().to_sql()
    }
}

impl ToSql for [u8] {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(ValueRef::Blob(self)))
    }
}

impl ToSql for Vec<u8> {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        self.as_slice().to_sql()
    }
}

impl<const N: usize> ToSql for [u8; N] {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        self.as_slice().to_sql()
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(self.as_ref()))
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_sql(&self) -> Result<ToSqlOutput<'_>> {
        match self {
            Some(v) => v.to_sql(),
            None => Ok(ToSqlOutput::Borrowed(ValueRef::Null)),
        }
    }
}

/// The parameters of a statement: `params![a, b]`, `[a, b]` (of one
/// type), `&[&a as &dyn ToSql]`, or `[]` for none.
pub trait Params {
    /// The values, in order.
    fn values(&self) -> Result<Vec<ToSqlOutput<'_>>>;
}

impl Params for [&(dyn ToSql + Send + Sync); 0] {
    fn values(&self) -> Result<Vec<ToSqlOutput<'_>>> {
        Ok(Vec::new())
    }
}

impl Params for () {
    fn values(&self) -> Result<Vec<ToSqlOutput<'_>>> {
        Ok(Vec::new())
    }
}

impl Params for &[&dyn ToSql] {
    fn values(&self) -> Result<Vec<ToSqlOutput<'_>>> {
        self.iter().map(|p| p.to_sql()).collect()
    }
}

// `[T; N]` for N of 1 to 16 and not for 0, so that `[]` is the empty
// array of `&dyn ToSql` above, not an array of an unknown type.
macro_rules! params_for_arrays {
    ($($n:literal)+) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn values(&self) -> Result<Vec<ToSqlOutput<'_>>> {
                self.iter().map(ToSql::to_sql).collect()
            }
        }
    )+};
}

params_for_arrays!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16);

/// The parameters of a statement, of any types: `params![id, n]`.
#[macro_export]
macro_rules! params {
    () => {
        &[] as &[&dyn $crate::sql::ToSql]
    };
    ($($param:expr),+ $(,)?) => {
        &[$(&$param as &dyn $crate::sql::ToSql),+] as &[&dyn $crate::sql::ToSql]
    };
}

pub use crate::params;

/// A column of a row: its position, or its name.
pub trait RowIndex {
    /// The position.
    fn index(&self, row: &dyn RawRow) -> Result<usize>;
}

impl RowIndex for usize {
    fn index(&self, _: &dyn RawRow) -> Result<usize> {
        Ok(*self)
    }
}

impl RowIndex for &str {
    fn index(&self, row: &dyn RawRow) -> Result<usize> {
        row.column_index(self)
    }
}

/// A row of a query's answer.
pub struct Row<'a> {
    raw: &'a dyn RawRow,
}

impl Row<'_> {
    /// A column, converted (`row.get::<_, String>(0)`, or `row.get(0)`
    /// where the type is known).
    pub fn get<I: RowIndex, T: FromSql>(&self, idx: I) -> Result<T> {
        let i = idx.index(self.raw)?;
        let value = self.raw.value(i)?;
        T::column_result(value).map_err(|e| match e {
            FromSqlError::InvalidType => Error::InvalidColumnType(i, value.data_type()),
            FromSqlError::OutOfRange(v) => Error::IntegralValueOutOfRange(i, v),
            FromSqlError::Other(e) => Error::FromSqlConversionFailure(i, value.data_type(), e),
        })
    }

    /// A column as it is stored.
    pub fn get_ref<I: RowIndex>(&self, idx: I) -> Result<ValueRef<'_>> {
        let i = idx.index(self.raw)?;
        self.raw.value(i)
    }
}

/// A statement made ready by [`Connection::prepare`] or
/// [`Connection::prepare_cached`].
pub struct Statement<'c> {
    raw: Box<dyn RawStatement + 'c>,
}

impl Statement<'_> {
    /// Runs it; the number of rows it changed.
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        let values = params.values()?;
        let refs: Vec<ValueRef<'_>> = values.iter().map(ToSqlOutput::value).collect();
        self.raw.execute(&refs)
    }

    /// The first row, through `f`; [`Error::QueryReturnedNoRows`] when
    /// there is none (see [`OptionalExtension::optional`]).
    pub fn query_row<T, P: Params, F>(&mut self, params: P, f: F) -> Result<T>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let values = params.values()?;
        let refs: Vec<ValueRef<'_>> = values.iter().map(ToSqlOutput::value).collect();
        let mut f = Some(f);
        let mut out = None;
        self.raw.query(&refs, &mut |raw| {
            if let Some(f) = f.take() {
                out = Some(f(&Row { raw }));
            }
            Ok(false)
        })?;
        out.unwrap_or(Err(Error::QueryReturnedNoRows))
    }

    /// Every row, through `f`, in order (read before this returns).
    pub fn query_map<T, P: Params, F>(&mut self, params: P, mut f: F) -> Result<MappedRows<T>>
    where
        F: FnMut(&Row<'_>) -> Result<T>,
    {
        let values = params.values()?;
        let refs: Vec<ValueRef<'_>> = values.iter().map(ToSqlOutput::value).collect();
        let mut rows = Vec::new();
        self.raw.query(&refs, &mut |raw| {
            let row = f(&Row { raw });
            let more = row.is_ok();
            rows.push(row);
            Ok(more)
        })?;
        Ok(MappedRows {
            rows: rows.into_iter(),
        })
    }

    /// Whether the query answers at least one row.
    pub fn exists<P: Params>(&mut self, params: P) -> Result<bool> {
        self.query_row(params, |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
    }
}

/// The rows of [`Statement::query_map`], each converted (or the error that
/// stopped the reading, last).
pub struct MappedRows<T> {
    rows: std::vec::IntoIter<Result<T>>,
}

impl<T> Iterator for MappedRows<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rows.next()
    }
}

/// A connection, as handlers and the runtime's tables see it: inside the
/// operation's transaction, or a read outside any.
pub struct Connection<'a> {
    raw: &'a dyn RawConnection,
}

impl<'a> Connection<'a> {
    /// The connection a host hands out.
    pub fn new(raw: &'a dyn RawConnection) -> Self {
        Connection { raw }
    }

    /// A statement, prepared once for this call.
    pub fn prepare(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            raw: self.raw.prepare(sql, false)?,
        })
    }

    /// A statement, kept prepared by the host for the next call with the
    /// same SQL.
    pub fn prepare_cached(&self, sql: &str) -> Result<Statement<'_>> {
        Ok(Statement {
            raw: self.raw.prepare(sql, true)?,
        })
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// [`Statement::query_row`] of one statement.
    pub fn query_row<T, P: Params, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// Runs statements separated by `;`, without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.raw.execute_batch(sql)
    }
}

/// `optional()` on a `query_row`'s result: no row is `Ok(None)`.
pub trait OptionalExtension<T> {
    /// No row is `Ok(None)`; other errors stay errors.
    fn optional(self) -> Result<Option<T>>;
}

impl<T> OptionalExtension<T> for Result<T> {
    fn optional(self) -> Result<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A host's connection (implemented by the native host over rusqlite and
/// by the Workers host over `ctx.storage.sql`).
pub trait RawConnection {
    /// Prepares a statement; `cached`: the SQL will come again.
    fn prepare<'a>(&'a self, sql: &str, cached: bool) -> Result<Box<dyn RawStatement + 'a>>;
    /// Runs statements separated by `;`, without parameters.
    fn execute_batch(&self, sql: &str) -> Result<()>;
}

/// A host's prepared statement.
pub trait RawStatement {
    /// Runs it with `params` bound to `?1`, `?2`...; the rows it changed.
    fn execute(&mut self, params: &[ValueRef<'_>]) -> Result<usize>;
    /// Runs it and hands each row to `each` until it answers `false` or
    /// the rows end.
    fn query(
        &mut self,
        params: &[ValueRef<'_>],
        each: &mut dyn FnMut(&dyn RawRow) -> Result<bool>,
    ) -> Result<()>;
}

/// A host's row.
pub trait RawRow {
    /// The value of column `i`.
    fn value(&self, i: usize) -> Result<ValueRef<'_>>;
    /// The position of the column `name`.
    fn column_index(&self, name: &str) -> Result<usize>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of rows in memory: enough of a host to test the API.
    struct Table(Vec<Vec<Value>>);

    struct Rows<'a>(&'a Table);

    struct Cells<'a>(&'a [Value]);

    impl RawRow for Cells<'_> {
        fn value(&self, i: usize) -> Result<ValueRef<'_>> {
            self.0
                .get(i)
                .map(Value::as_ref)
                .ok_or_else(|| Error::InvalidColumn(i.to_string()))
        }
        fn column_index(&self, name: &str) -> Result<usize> {
            Err(Error::InvalidColumn(name.to_string()))
        }
    }

    impl RawStatement for Rows<'_> {
        fn execute(&mut self, params: &[ValueRef<'_>]) -> Result<usize> {
            Ok(params.len())
        }
        fn query(
            &mut self,
            _: &[ValueRef<'_>],
            each: &mut dyn FnMut(&dyn RawRow) -> Result<bool>,
        ) -> Result<()> {
            for r in &self.0.0 {
                if !each(&Cells(r))? {
                    break;
                }
            }
            Ok(())
        }
    }

    impl RawConnection for Table {
        fn prepare<'a>(&'a self, _: &str, _: bool) -> Result<Box<dyn RawStatement + 'a>> {
            Ok(Box::new(Rows(self)))
        }
        fn execute_batch(&self, _: &str) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rows_convert_and_errors_name_the_column() {
        let t = Table(vec![
            vec![Value::Integer(7), Value::Text("a".into()), Value::Null],
            vec![
                Value::Integer(300),
                Value::Text("b".into()),
                Value::Real(1.5),
            ],
        ]);
        let c = Connection::new(&t);
        let first: (i64, String, Option<f64>) = c
            .query_row("q", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, (7, "a".into(), None));
        let all: Vec<u8> = c
            .prepare("q")
            .and_then(|mut s| s.query_map([], |r| r.get::<_, u8>(0)))
            .map(|rows| rows.filter_map(Result::ok).collect())
            .unwrap_or_default();
        assert_eq!(all, [7], "300 does not fit a u8: the reading stops there");
        let wrong = c.query_row("q", [], |r| r.get::<_, String>(0));
        assert!(matches!(
            wrong,
            Err(Error::InvalidColumnType(0, Type::Integer))
        ));
        assert_eq!(
            c.execute("x", params![1, "two", None::<i64>, vec![3u8]])
                .ok(),
            Some(4)
        );
        let none = Table(Vec::new());
        let c = Connection::new(&none);
        assert!(matches!(
            c.query_row("q", [], |r| r.get::<_, i64>(0)),
            Err(Error::QueryReturnedNoRows)
        ));
        assert_eq!(
            c.query_row("q", [], |r| r.get::<_, i64>(0)).optional().ok(),
            Some(None)
        );
        assert_eq!(
            u64::MAX.to_sql().err().map(|e| e.to_string()),
            Some(format!("{} does not fit an SQL integer", u64::MAX))
        );
    }
}
