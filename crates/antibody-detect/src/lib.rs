//! Antibody's detection core.
//!
//! Pure functions over strings: a detector takes what a sink is about to execute (an SQL
//! query, a file path, a command, a redirect, a script) and the request's inputs, and returns a verdict with evidence. Nothing in
//! this crate performs I/O, spawns tasks or keeps global state, so every decision can be
//! reproduced from its arguments alone, fuzzed and benchmarked in isolation.
//!
//! The central idea is *input correlation*: request data is harmless while it stays inside
//! one literal of the statement it ends up in, and an injection as soon as it adds
//! structure (closes a string, adds an operator, a keyword, a comment or a statement).
//!
//! ```
//! use antibody_detect::{Input, Source};
//! use antibody_detect::sql::{Added, Dialect, SqlDetector, Verdict};
//!
//! let detector = SqlDetector::new(Dialect::Sqlite);
//! let inputs = [Input::new(Source::Query, "category", "' OR '1'='1")];
//! let query = "SELECT * FROM products WHERE category = '' OR '1'='1'";
//! match detector.check(query, &inputs) {
//!     Verdict::Injection(evidence) => assert_eq!(evidence.added, Added::Tautology),
//!     other => panic!("not detected: {other:?}"),
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod address;
pub mod command;
mod fingerprint;
mod input;
mod occurrence;
pub mod path;
pub mod redirect;
pub mod script;
pub mod sql;

pub use fingerprint::Fingerprint;
pub use input::{Input, KEY_SUFFIX, Location, Source};
