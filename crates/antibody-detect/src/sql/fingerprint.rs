//! SQL structure fingerprints: one stable hash per query shape.

use super::dialect::Dialect;
use super::lexer::lex;
use super::shape::{ends_sort_clause, is_sign, is_sort_element, is_value_part};
use super::token::{Token, TokenKind};
use crate::fingerprint::{Case, Fingerprint, Fnv};

impl Fingerprint {
    /// The fingerprint of `sql` read in `dialect`: its keywords, names, operators and
    /// punctuation, with every value (string, number, placeholder) collapsed to one symbol,
    /// every list of values in parentheses (`IN (1, 2, 3)`, `VALUES (...), (...)`) collapsed
    /// to one symbol, and `ORDER BY` / `GROUP BY` lists of plain columns collapsed to one
    /// symbol.
    ///
    /// Keywords and bare names are compared without case, quoted names exactly, comments by
    /// their presence only. The hash is FNV-1a over that normalised sequence, so it is the
    /// same on every platform and in every process: fingerprints can be stored and compared
    /// across restarts and machines. Fingerprints never contain a value from the statement.
    ///
    /// ```
    /// use antibody_detect::sql::{Dialect, Fingerprint};
    /// let a = Fingerprint::of("SELECT * FROM t WHERE id IN (1, 2, 3)", Dialect::Sqlite);
    /// let b = Fingerprint::of("select * from T where ID in (42)", Dialect::Sqlite);
    /// let c = Fingerprint::of("SELECT * FROM t WHERE id = 1 OR 1 = 1", Dialect::Sqlite);
    /// assert_eq!(a, b);
    /// assert_ne!(a, c);
    /// ```
    pub fn of(sql: &str, dialect: Dialect) -> Self {
        let tokens: Vec<Token> = lex(sql, dialect).collect();
        Self::of_tokens(sql, &tokens)
    }

    /// The fingerprint of `sql`, already lexed into `tokens`.
    pub(crate) fn of_tokens(sql: &str, tokens: &[Token]) -> Self {
        let mut hash = Fnv::new();
        let mut i = 0;
        while i < tokens.len() {
            if ends_sort_clause(sql, tokens, i) {
                hash.symbol(b'K', b"BY", Case::Exact);
                let list_end = (i + 1..tokens.len())
                    .find(|&j| !is_sort_element(sql, tokens, j))
                    .unwrap_or(tokens.len());
                if list_end > i + 1 {
                    hash.symbol(b'S', b"", Case::Exact);
                }
                i = list_end;
                continue;
            }
            if let Some(close) = value_list_end(sql, tokens, i) {
                hash.symbol(b'L', b"", Case::Exact);
                i = close + 1;
                // Further rows of a `VALUES (...), (...)` list.
                while tokens.get(i).is_some_and(|t| t.kind == TokenKind::Comma) {
                    match value_list_end(sql, tokens, i + 1) {
                        Some(close) => i = close + 1,
                        None => break,
                    }
                }
                continue;
            }
            if !is_sign(sql, tokens, i) {
                symbol(&mut hash, sql, tokens[i]);
            }
            i += 1;
        }
        Fingerprint::from_u64(hash.finish())
    }
}

/// When the token at `open` is a `(` holding only values, placeholders and commas (at least
/// one value or placeholder), the index of its `)`.
fn value_list_end(sql: &str, tokens: &[Token], open: usize) -> Option<usize> {
    if tokens.get(open)?.kind != TokenKind::OpenParen {
        return None;
    }
    let mut has_value = false;
    for (i, token) in tokens.iter().enumerate().skip(open + 1) {
        match token.kind {
            TokenKind::CloseParen => return has_value.then_some(i),
            TokenKind::Comma => {}
            TokenKind::Placeholder => has_value = true,
            _ if is_value_part(sql, tokens, i) => has_value = true,
            _ => return None,
        }
    }
    None
}

fn symbol(hash: &mut Fnv, sql: &str, token: Token) {
    let text = token.text(sql).as_bytes();
    let (tag, text, case): (u8, &[u8], Case) = match token.kind {
        TokenKind::String {
            terminated: false, ..
        } => (b'\'', b"", Case::Exact),
        TokenKind::String { .. } | TokenKind::Number | TokenKind::Placeholder => {
            (b'?', b"", Case::Exact)
        }
        TokenKind::Keyword => (b'K', text, Case::Upper),
        TokenKind::Identifier => (b'I', text, Case::Lower),
        TokenKind::QuotedIdentifier { .. } => (b'Q', text, Case::Exact),
        TokenKind::Operator | TokenKind::Unknown => (b'O', text, Case::Exact),
        TokenKind::LineComment | TokenKind::BlockComment { .. } => (b'C', b"", Case::Exact),
        TokenKind::VersionCommentStart => (b'V', b"", Case::Exact),
        TokenKind::VersionCommentEnd => (b'v', b"", Case::Exact),
        TokenKind::Nul => (b'0', b"", Case::Exact),
        TokenKind::Comma => (b',', b"", Case::Exact),
        TokenKind::Dot => (b'.', b"", Case::Exact),
        TokenKind::Semicolon => (b';', b"", Case::Exact),
        TokenKind::OpenParen => (b'(', b"", Case::Exact),
        TokenKind::CloseParen => (b')', b"", Case::Exact),
        TokenKind::OpenBracket => (b'[', b"", Case::Exact),
        TokenKind::CloseBracket => (b']', b"", Case::Exact),
    };
    hash.symbol(tag, text, case);
}
