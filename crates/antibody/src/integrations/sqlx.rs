//! sqlx: [`Guarded`] puts the agent in front of a pool, a pooled connection, a connection or
//! a transaction, for SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! Adopt it by changing a type: keep a `Guarded<Pool<Sqlite>>` where the application kept a
//! `Pool<Sqlite>`, and pass `&guarded` wherever `&pool` went. Every query that goes through
//! it (`sqlx::query`, `query_as`, `query_scalar`, `raw_sql`, a bare `&str`, and `prepare`) is
//! checked before it reaches the database:
//!
//! ```no_run
//! use antibody::Agent;
//! use antibody::integrations::sqlx::Guarded;
//! use sqlx::SqlitePool;
//!
//! # async fn run(agent: Agent, category: &str) -> Result<(), sqlx::Error> {
//! let pool = Guarded::new(SqlitePool::connect("sqlite://shop.db").await?, agent);
//! let sql = format!("SELECT name FROM products WHERE category = '{category}'");
//! let rows = sqlx::query(&sql).fetch_all(&pool).await?;
//! # Ok(()) }
//! ```
//!
//! | executor | type to keep | pass |
//! |---|---|---|
//! | pool | `Guarded<Pool<DB>>` | `&guarded` |
//! | pooled connection | [`Guarded::acquire`] | `&mut conn` |
//! | transaction | [`Guarded::begin`], then `commit`/`rollback` | `&mut tx` |
//! | connection | `Guarded::new(SqliteConnection::connect(..).await?, agent)` | `&mut conn` |
//!
//! # A blocked query
//!
//! It never reaches the database: the stream or future fails at once with
//! [`sqlx::Error::Database`] whose [`DatabaseError`] is the [`Blocked`] itself (its kind is
//! [`ErrorKind::Other`], its message names the finding). Tell it apart with [`blocked`], or
//! with `error.as_database_error().and_then(|e| e.try_downcast_ref::<Blocked>())`. The
//! request layer answers 403 whatever the handler makes of the error.
//!
//! # Call sites
//!
//! sqlx stands between the application and the wrapper, so the call site is found by walking
//! the stack ([`Agent::check_sql_called_through_library`]), once per statement shape and
//! route; with the SQL sink off, nothing is walked or checked. The [`Guarded::unguarded`] escape hatch runs queries unchecked.

use std::borrow::Cow;

use antibody_detect::sql::Dialect;
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, future, stream};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::pool::PoolConnection;
use sqlx::{
    Database, Describe, Either, Error, Execute, Executor, MySql, MySqlConnection, PgConnection,
    Pool, Postgres, Sqlite, SqliteConnection, Transaction,
};

use crate::agent::Agent;
use crate::config::{Mode, SinkKind};
use crate::decision::Blocked;
use crate::event::EventKind;

/// An sqlx executor (a [`Pool`], a [`PoolConnection`], a [`Transaction`] or a connection)
/// whose queries the agent checks before they run. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct Guarded<T> {
    inner: T,
    agent: Agent,
}

impl<T> Guarded<T> {
    /// Wraps `inner`, checked by `agent`.
    pub fn new(inner: T, agent: Agent) -> Self {
        Guarded { inner, agent }
    }

    /// The unwrapped executor, for what the wrapper does not offer (`close`, `size`,
    /// `ping`, ...). Queries run through it are **not** checked.
    pub fn unguarded(&self) -> &T {
        &self.inner
    }

    /// The unwrapped executor, mutably; queries run through it are **not** checked.
    pub fn unguarded_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The agent that checks the queries.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// Unwraps the executor.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<DB: Database> Guarded<Pool<DB>> {
    /// A connection from the pool, guarded by the same agent.
    ///
    /// # Errors
    ///
    /// As [`Pool::acquire`].
    pub async fn acquire(&self) -> Result<Guarded<PoolConnection<DB>>, Error> {
        let connection = self.inner.acquire().await?;
        Ok(Guarded::new(connection, self.agent.clone()))
    }

    /// Starts a transaction on a connection from the pool, guarded by the same agent.
    ///
    /// # Errors
    ///
    /// As [`Pool::begin`].
    pub async fn begin(&self) -> Result<Guarded<Transaction<'static, DB>>, Error> {
        let transaction = self.inner.begin().await?;
        Ok(Guarded::new(transaction, self.agent.clone()))
    }
}

impl<DB: Database> Guarded<Transaction<'_, DB>> {
    /// Commits the transaction.
    ///
    /// # Errors
    ///
    /// As [`Transaction::commit`].
    pub async fn commit(self) -> Result<(), Error> {
        self.inner.commit().await
    }

    /// Rolls the transaction back.
    ///
    /// # Errors
    ///
    /// As [`Transaction::rollback`].
    pub async fn rollback(self) -> Result<(), Error> {
        self.inner.rollback().await
    }
}

/// The [`Blocked`] inside an error a guarded executor returned, if the agent blocked the query.
pub fn blocked(error: &Error) -> Option<&Blocked> {
    error
        .as_database_error()
        .and_then(|error| error.try_downcast_ref::<Blocked>())
}

/// A blocked query surfaces as a database error, the variant applications already handle as
/// "the statement failed"; it carries the [`Blocked`] for downcasting.
impl DatabaseError for Blocked {
    fn message(&self) -> &str {
        match self.kind {
            EventKind::SqlInjection => "blocked by Antibody: SQL injection",
            EventKind::SqlAnomaly => "blocked by Antibody: SQL structure never seen at this line",
            _ => "blocked by Antibody",
        }
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        None
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::Other
    }
}

/// Checks `sql` for the guarded executor: `Err` holds the error to return instead of running it.
fn check(agent: &Agent, dialect: Dialect, sql: &str) -> Result<(), Error> {
    if agent.config().mode_for(SinkKind::Sql) == Mode::Off {
        return Ok(());
    }
    agent
        .check_sql_called_through_library(dialect, sql)
        .map_err(|blocked| Error::Database(Box::new(blocked)))
}

fn failed_stream<'e, T: Send + 'e>(error: Error) -> BoxStream<'e, Result<T, Error>> {
    stream::once(future::ready(Err(error))).boxed()
}

fn failed_future<'e, T: Send + 'e>(error: Error) -> BoxFuture<'e, Result<T, Error>> {
    future::ready(Err(error)).boxed()
}

/// Implements [`Executor`] for a guarded executor type: each method checks the statement,
/// then hands it to the executor `$inner` (an expression over `$this`, the wrapper).
macro_rules! guarded_executor {
    ($db:ty, $dialect:expr, [$($lifetimes:lifetime),*], $self_ty:ty, $this:ident => $inner:expr) => {
        impl<'c, $($lifetimes),*> Executor<'c> for $self_ty {
            type Database = $db;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxStream<
                'e,
                Result<Either<<$db as Database>::QueryResult, <$db as Database>::Row>, Error>,
            >
            where
                'c: 'e,
                E: 'q + Execute<'q, $db>,
            {
                match check(&self.agent, $dialect, query.sql()) {
                    Ok(()) => {
                        let $this = self;
                        $inner.fetch_many(query)
                    }
                    Err(error) => failed_stream(error),
                }
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxFuture<'e, Result<Option<<$db as Database>::Row>, Error>>
            where
                'c: 'e,
                E: 'q + Execute<'q, $db>,
            {
                match check(&self.agent, $dialect, query.sql()) {
                    Ok(()) => {
                        let $this = self;
                        $inner.fetch_optional(query)
                    }
                    Err(error) => failed_future(error),
                }
            }

            fn prepare_with<'e, 'q: 'e>(
                self,
                sql: &'q str,
                parameters: &'e [<$db as Database>::TypeInfo],
            ) -> BoxFuture<'e, Result<<$db as Database>::Statement<'q>, Error>>
            where
                'c: 'e,
            {
                match check(&self.agent, $dialect, sql) {
                    Ok(()) => {
                        let $this = self;
                        $inner.prepare_with(sql, parameters)
                    }
                    Err(error) => failed_future(error),
                }
            }

            fn describe<'e, 'q: 'e>(
                self,
                sql: &'q str,
            ) -> BoxFuture<'e, Result<Describe<$db>, Error>>
            where
                'c: 'e,
            {
                match check(&self.agent, $dialect, sql) {
                    Ok(()) => {
                        let $this = self;
                        $inner.describe(sql)
                    }
                    Err(error) => failed_future(error),
                }
            }
        }
    };
}

/// The four guarded executors of one database. Written per database rather than generically:
/// a generic bound on `&mut DB::Connection: Executor` overflows the trait solver.
macro_rules! guarded_executors {
    ($db:ty, $connection:ty, $dialect:expr) => {
        guarded_executor!($db, $dialect, [], &'c Guarded<Pool<$db>>, this => &this.inner);
        guarded_executor!($db, $dialect, [], &'c mut Guarded<$connection>, this => &mut this.inner);
        guarded_executor!(
            $db, $dialect, [], &'c mut Guarded<PoolConnection<$db>>, this => &mut *this.inner
        );
        guarded_executor!(
            $db, $dialect, ['t], &'c mut Guarded<Transaction<'t, $db>>, this => &mut *this.inner
        );
    };
}

guarded_executors!(Sqlite, SqliteConnection, Dialect::Sqlite);
guarded_executors!(Postgres, PgConnection, Dialect::Postgres);
guarded_executors!(MySql, MySqlConnection, Dialect::MySql);
