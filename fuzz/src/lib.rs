//! What the fuzz targets of `antibody-detect` share: the lexer's invariants, and the ways
//! they build statements from fuzzed data.
//!
//! Every check panics with a message naming the broken promise; libFuzzer reports the panic
//! as a crash and keeps the input that caused it.

use antibody_detect::sql::{Dialect, Token, TokenKind, lex};

/// The dialect a fuzzed byte selects.
pub fn dialect_from(byte: u8) -> Dialect {
    Dialect::ALL[usize::from(byte) % Dialect::ALL.len()]
}

/// Whether the lexers skip `byte` between tokens: space, `\t`, `\n`, `\r`, vertical tab and
/// form feed.
pub fn is_sql_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Lexes `sql` in `dialect`, checks the lexer's invariants and returns the tokens.
///
/// The invariants: tokens come in order and do not overlap; every span is non-empty, lies in
/// `sql` and falls on `char` boundaries; every byte that is not whitespace belongs to a
/// token; there are at most as many tokens as bytes (so the iterator ends); lexing the same
/// statement twice gives the same tokens; and version-comment markers occur in MySQL only.
pub fn lex_checked(sql: &str, dialect: Dialect) -> Vec<Token> {
    // Non-empty, ordered spans leave room for one token per byte at most; taking one more
    // turns an endless iterator into a failed assertion instead of a hang.
    let tokens: Vec<Token> = lex(sql, dialect).take(sql.len() + 1).collect();
    assert!(
        tokens.len() <= sql.len(),
        "{dialect}: {} tokens from {} bytes in {sql:?}",
        tokens.len(),
        sql.len()
    );
    let mut covered_to = 0;
    for token in &tokens {
        assert!(
            token.start < token.end,
            "{dialect}: empty token {token:?} in {sql:?}"
        );
        assert!(
            token.end <= sql.len(),
            "{dialect}: token {token:?} past the end of {sql:?}"
        );
        assert!(
            covered_to <= token.start,
            "{dialect}: token {token:?} overlaps or precedes the one ending at {covered_to} in {sql:?}"
        );
        assert!(
            sql.is_char_boundary(token.start) && sql.is_char_boundary(token.end),
            "{dialect}: token {token:?} splits a character in {sql:?}"
        );
        assert!(
            dialect == Dialect::MySql
                || !matches!(
                    token.kind,
                    TokenKind::VersionCommentStart | TokenKind::VersionCommentEnd
                ),
            "{dialect}: version comment marker {token:?} outside MySQL in {sql:?}"
        );
        assert_whitespace(sql, covered_to, token.start, dialect);
        covered_to = token.end;
    }
    assert_whitespace(sql, covered_to, sql.len(), dialect);
    let again: Vec<Token> = lex(sql, dialect).take(sql.len() + 1).collect();
    assert_eq!(tokens, again, "{dialect}: lexing {sql:?} twice differs");
    tokens
}

/// Panics unless `sql[from..to]`, a gap between tokens, is whitespace only.
fn assert_whitespace(sql: &str, from: usize, to: usize, dialect: Dialect) {
    if let Some(offset) = sql.as_bytes()[from..to]
        .iter()
        .position(|&byte| !is_sql_whitespace(byte))
    {
        panic!(
            "{dialect}: byte {} at {} belongs to no token in {sql:?}",
            sql.as_bytes()[from + offset],
            from + offset
        );
    }
}

/// `value` as the body of a literal opened by `quote`, escaped the way an application
/// escapes it: `quote` doubled, and backslashes doubled where they escape (`backslashes`).
pub fn escape(value: &str, quote: char, backslashes: bool) -> String {
    let mut body = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if c == quote || (backslashes && c == '\\') {
            body.push(c);
        }
        body.push(c);
    }
    body
}
