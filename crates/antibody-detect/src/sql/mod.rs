//! SQL injection detection: lexing, structure fingerprints and input correlation.
//!
//! - [`lex`] turns a statement into [`Token`]s for one [`Dialect`], without allocating.
//! - [`Fingerprint`] hashes a statement's structure with its values collapsed, so one query
//!   shape has one fingerprint whatever values it carries.
//! - [`SqlDetector::check`] decides whether request inputs that occur in a statement stay
//!   data or add structure, and says why in an [`Evidence`].

mod check;
mod dialect;
mod fingerprint;
mod keyword;
mod lexer;
mod shape;
mod token;

pub use crate::fingerprint::Fingerprint;
pub use check::{Added, Analysis, Evidence, FirstOccurrence, SqlDetector, Verdict};
pub use dialect::{Dialect, UnknownDialect};
pub use keyword::is_keyword;
pub use lexer::{Lexer, lex};
pub use token::{Token, TokenKind};
