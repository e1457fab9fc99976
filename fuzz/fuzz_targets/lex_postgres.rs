//! Lexes arbitrary UTF-8 as PostgreSQL and checks the lexer's invariants: it never panics; its
//! tokens come in order, do not overlap, are non-empty and fall on `char` boundaries; every
//! byte but whitespace belongs to a token; the iterator ends, after at most one token per
//! byte; and lexing is deterministic (see `lex_checked` for the full list). Input that is
//! not UTF-8 is skipped: the lexer takes `&str`.
#![no_main]

use antibody_detect::sql::Dialect;
use antibody_detect_fuzz::lex_checked;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sql) = std::str::from_utf8(data) {
        lex_checked(sql, Dialect::Postgres);
    }
});
