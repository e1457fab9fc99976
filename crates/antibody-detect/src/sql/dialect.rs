//! The SQL dialects the lexer knows, and the lexical rules in which they differ.

use std::fmt;
use std::str::FromStr;

/// An SQL dialect: decides how strings, comments, identifiers and placeholders are lexed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite 3.
    Sqlite,
    /// PostgreSQL, with `standard_conforming_strings` on (the default since 9.1).
    Postgres,
    /// MySQL and MariaDB in their default SQL mode (backslash escapes, `"` strings).
    MySql,
}

impl Dialect {
    /// Every dialect, for tests and tools that cover them all.
    pub const ALL: [Dialect; 3] = [Dialect::Sqlite, Dialect::Postgres, Dialect::MySql];

    /// The name used in configuration and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }

    /// Whether a NUL byte ends the statement text. SQLite stops reading at the first NUL,
    /// and PostgreSQL's protocol carries statements as C strings; MySQL keeps NULs inside
    /// string literals as data.
    pub(crate) fn nul_ends_statement(self) -> bool {
        !matches!(self, Dialect::MySql)
    }

    /// Whether `--` starts a comment only when followed by whitespace, a control
    /// character or the end (MySQL: `1--1` is `1 - -1`).
    pub(crate) fn dash_comment_needs_space(self) -> bool {
        matches!(self, Dialect::MySql)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a dialect name that is not one of `sqlite`, `postgres` or `mysql`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownDialect(pub String);

impl fmt::Display for UnknownDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown SQL dialect `{}`: expected sqlite, postgres or mysql",
            self.0
        )
    }
}

impl std::error::Error for UnknownDialect {}

impl FromStr for Dialect {
    type Err = UnknownDialect;

    /// Parses `sqlite`, `postgres` (or `postgresql`) and `mysql` (or `mariadb`), ignoring case.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name.to_ascii_lowercase().as_str() {
            "sqlite" => Ok(Dialect::Sqlite),
            "postgres" | "postgresql" => Ok(Dialect::Postgres),
            "mysql" | "mariadb" => Ok(Dialect::MySql),
            _ => Err(UnknownDialect(name.to_owned())),
        }
    }
}
