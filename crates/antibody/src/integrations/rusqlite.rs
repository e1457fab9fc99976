//! rusqlite: a [`Connection`] that the agent checks before any statement reaches SQLite.
//!
//! Adopt it by changing a type: `antibody::integrations::rusqlite::Connection` where the
//! application had `rusqlite::Connection`. The statement-taking methods keep rusqlite's
//! signatures:
//!
//! ```no_run
//! use antibody::Agent;
//! use antibody::integrations::rusqlite::Connection;
//!
//! # fn run(agent: Agent, name: &str) -> rusqlite::Result<()> {
//! let db = Connection::open("shop.db", agent)?;
//! let sql = format!("SELECT id FROM users WHERE name = '{name}'");
//! let id: i64 = db.query_row(&sql, [], |row| row.get(0))?;
//! # Ok(()) }
//! ```
//!
//! Checked: [`execute`](Connection::execute), [`execute_batch`](Connection::execute_batch),
//! [`query_row`](Connection::query_row), [`query_row_and_then`](Connection::query_row_and_then),
//! [`prepare`](Connection::prepare) and [`prepare_cached`](Connection::prepare_cached) (the
//! statement's text is checked when it is prepared; what runs later is that text with bound
//! values, which cannot change its structure), on the connection and on a
//! [`Transaction`] from [`Connection::transaction`]. There is deliberately no `Deref` to
//! `rusqlite::Connection`: it would let `execute` and friends run unchecked. Everything else
//! is on [`Connection::unguarded`], whose statements are **not** checked.
//!
//! # A blocked statement
//!
//! It never reaches SQLite. The method returns
//! [`rusqlite::Error::ToSqlConversionFailure`] holding the [`Blocked`] (the one variant that
//! carries any boxed error whatever rusqlite's features); find it with [`blocked`], or with
//! `std::error::Error::source(&error)` and `downcast_ref::<Blocked>()`. The request layer
//! answers 403 whatever the handler makes of the error.
//!
//! # Call sites
//!
//! Every method is `#[track_caller]`: the call site is the application's line that called
//! it, for the price of a pointer.

use std::panic::Location;
use std::path::Path;

use antibody_detect::sql::Dialect;
use rusqlite::{CachedStatement, Params, Row, Statement};

use crate::agent::Agent;
use crate::decision::Blocked;

/// The [`Blocked`] inside an error a guarded connection returned, if the agent blocked the
/// statement.
pub fn blocked(error: &rusqlite::Error) -> Option<&Blocked> {
    match error {
        rusqlite::Error::ToSqlConversionFailure(inner) => inner.downcast_ref::<Blocked>(),
        _ => None,
    }
}

/// Checks `sql` at the application's call site `location`; a block becomes rusqlite's error.
fn check(agent: &Agent, sql: &str, location: &'static Location<'static>) -> rusqlite::Result<()> {
    agent
        .check_sql(Dialect::Sqlite, sql, &Agent::caller_site(location))
        .map_err(|blocked| rusqlite::Error::ToSqlConversionFailure(Box::new(blocked)))
}

/// The checked statement methods, the same on a connection and a transaction; `$conn` turns
/// `self` into the `rusqlite::Connection` the statement runs on.
macro_rules! checked_statements {
    ($self:ident => $conn:expr) => {
        /// [`rusqlite::Connection::execute`], checked first.
        ///
        /// # Errors
        ///
        /// As rusqlite's, and a blocked statement (see [`blocked`]).
        #[track_caller]
        pub fn execute<P: Params>(&$self, sql: &str, params: P) -> rusqlite::Result<usize> {
            check($self.agent(), sql, Location::caller())?;
            $conn.execute(sql, params)
        }

        /// [`rusqlite::Connection::execute_batch`], checked first (the whole batch at once).
        ///
        /// # Errors
        ///
        /// As rusqlite's, and a blocked statement (see [`blocked`]).
        #[track_caller]
        pub fn execute_batch(&$self, sql: &str) -> rusqlite::Result<()> {
            check($self.agent(), sql, Location::caller())?;
            $conn.execute_batch(sql)
        }

        /// [`rusqlite::Connection::query_row`], checked first.
        ///
        /// # Errors
        ///
        /// As rusqlite's, and a blocked statement (see [`blocked`]).
        #[track_caller]
        pub fn query_row<T, P, F>(&$self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
        where
            P: Params,
            F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
        {
            check($self.agent(), sql, Location::caller())?;
            $conn.query_row(sql, params, f)
        }

        /// [`rusqlite::Connection::query_row_and_then`], checked first.
        ///
        /// # Errors
        ///
        /// As rusqlite's, and a blocked statement (see [`blocked`]), converted into `E`.
        #[track_caller]
        pub fn query_row_and_then<T, E, P, F>(&$self, sql: &str, params: P, f: F) -> Result<T, E>
        where
            P: Params,
            F: FnOnce(&Row<'_>) -> Result<T, E>,
            E: From<rusqlite::Error>,
        {
            check($self.agent(), sql, Location::caller())?;
            $conn.query_row_and_then(sql, params, f)
        }

        /// [`rusqlite::Connection::prepare`], with the statement's text checked first.
        ///
        /// # Errors
        ///
        /// As rusqlite's, and a blocked statement (see [`blocked`]).
        #[track_caller]
        pub fn prepare(&$self, sql: &str) -> rusqlite::Result<Statement<'_>> {
            check($self.agent(), sql, Location::caller())?;
            $conn.prepare(sql)
        }

        /// [`rusqlite::Connection::prepare_cached`], with the statement's text checked
        /// first, whether or not it is in the cache.
        ///
        /// # Errors
        ///
        /// As rusqlite's, and a blocked statement (see [`blocked`]).
        #[track_caller]
        pub fn prepare_cached(&$self, sql: &str) -> rusqlite::Result<CachedStatement<'_>> {
            check($self.agent(), sql, Location::caller())?;
            $conn.prepare_cached(sql)
        }
    };
}

/// A `rusqlite::Connection` whose statements the agent checks. See the
/// [module documentation](self).
#[derive(Debug)]
pub struct Connection {
    inner: rusqlite::Connection,
    agent: Agent,
}

impl Connection {
    /// Opens the database at `path` (as [`rusqlite::Connection::open`]), checked by `agent`.
    ///
    /// # Errors
    ///
    /// As rusqlite's.
    pub fn open(path: impl AsRef<Path>, agent: Agent) -> rusqlite::Result<Self> {
        Ok(Connection::new(rusqlite::Connection::open(path)?, agent))
    }

    /// Opens an in-memory database, checked by `agent`.
    ///
    /// # Errors
    ///
    /// As rusqlite's.
    pub fn open_in_memory(agent: Agent) -> rusqlite::Result<Self> {
        Ok(Connection::new(
            rusqlite::Connection::open_in_memory()?,
            agent,
        ))
    }

    /// Wraps an open connection, checked by `agent`.
    pub fn new(connection: rusqlite::Connection, agent: Agent) -> Self {
        Connection {
            inner: connection,
            agent,
        }
    }

    /// The agent that checks the statements.
    pub fn agent(&self) -> &Agent {
        &self.agent
    }

    /// The unwrapped connection, for what the wrapper does not offer (`pragma_update`,
    /// `busy_timeout`, `last_insert_rowid`, ...). Statements run through it are **not**
    /// checked.
    pub fn unguarded(&self) -> &rusqlite::Connection {
        &self.inner
    }

    /// Unwraps the connection.
    pub fn into_inner(self) -> rusqlite::Connection {
        self.inner
    }

    /// Begins a transaction (as [`rusqlite::Connection::transaction`]) whose statements are
    /// checked too.
    ///
    /// # Errors
    ///
    /// As rusqlite's.
    pub fn transaction(&mut self) -> rusqlite::Result<Transaction<'_>> {
        Ok(Transaction {
            inner: self.inner.transaction()?,
            agent: &self.agent,
        })
    }

    checked_statements!(self => self.inner);
}

/// A `rusqlite::Transaction` whose statements the agent checks, from
/// [`Connection::transaction`]. Dropped without [`commit`](Transaction::commit), it rolls
/// back, as rusqlite's does.
#[derive(Debug)]
pub struct Transaction<'conn> {
    inner: rusqlite::Transaction<'conn>,
    agent: &'conn Agent,
}

impl Transaction<'_> {
    /// The agent that checks the statements.
    pub fn agent(&self) -> &Agent {
        self.agent
    }

    /// The unwrapped transaction; statements run through it are **not** checked.
    pub fn unguarded(&self) -> &rusqlite::Transaction<'_> {
        &self.inner
    }

    /// Commits the transaction.
    ///
    /// # Errors
    ///
    /// As rusqlite's.
    pub fn commit(self) -> rusqlite::Result<()> {
        self.inner.commit()
    }

    /// Rolls the transaction back.
    ///
    /// # Errors
    ///
    /// As rusqlite's.
    pub fn rollback(self) -> rusqlite::Result<()> {
        self.inner.rollback()
    }

    checked_statements!(self => self.inner);
}
