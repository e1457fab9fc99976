//! Token sequences with a meaning of their own, shared by the fingerprint and the check so
//! that both agree on what is a value and what is structure.

use super::keyword;
use super::token::{Token, TokenKind};

/// Whether the token at `index` is a `-` or `+` glued to the number after it in a position
/// where no operand precedes it (`= -1`, `IN (-1, +2)`): a sign, part of the value.
pub(crate) fn is_sign(sql: &str, tokens: &[Token], index: usize) -> bool {
    let token = tokens[index];
    if token.kind != TokenKind::Operator || !matches!(token.text(sql), "-" | "+") {
        return false;
    }
    let Some(next) = tokens.get(index + 1) else {
        return false;
    };
    if next.kind != TokenKind::Number || next.start != token.end {
        return false;
    }
    match index.checked_sub(1).map(|previous| tokens[previous]) {
        None => true,
        Some(previous) => !ends_operand(sql, previous),
    }
}

/// Whether `token` can end an operand, making a following `-` binary.
fn ends_operand(sql: &str, token: Token) -> bool {
    match token.kind {
        TokenKind::String { .. }
        | TokenKind::Number
        | TokenKind::Identifier
        | TokenKind::QuotedIdentifier { .. }
        | TokenKind::Placeholder
        | TokenKind::CloseParen
        | TokenKind::CloseBracket => true,
        TokenKind::Keyword => ["NULL", "TRUE", "FALSE", "END"]
            .iter()
            .any(|word| keyword::is(token.text(sql), word)),
        _ => false,
    }
}

/// Whether the token at `index` is a value or the sign of one.
pub(crate) fn is_value_part(sql: &str, tokens: &[Token], index: usize) -> bool {
    tokens[index].kind.is_value() || is_sign(sql, tokens, index)
}

/// Whether the token at `index` may stand in an `ORDER BY` or `GROUP BY` list of plain
/// columns: names, qualified names, positions, commas and `ASC`, `DESC`, `NULLS FIRST|LAST`.
pub(crate) fn is_sort_element(sql: &str, tokens: &[Token], index: usize) -> bool {
    let token = tokens[index];
    match token.kind {
        TokenKind::Identifier
        | TokenKind::QuotedIdentifier { terminated: true }
        | TokenKind::Number
        | TokenKind::Dot
        | TokenKind::Comma => true,
        TokenKind::Keyword => ["ASC", "DESC", "NULLS", "FIRST", "LAST"]
            .iter()
            .any(|word| keyword::is(token.text(sql), word)),
        _ => false,
    }
}

/// Whether tokens `index` and `index - 1` are `ORDER BY` or `GROUP BY`.
pub(crate) fn ends_sort_clause(sql: &str, tokens: &[Token], index: usize) -> bool {
    let is_keyword = |i: usize, word: &str| {
        tokens[i].kind == TokenKind::Keyword && keyword::is(tokens[i].text(sql), word)
    };
    index >= 1
        && is_keyword(index, "BY")
        && (is_keyword(index - 1, "ORDER") || is_keyword(index - 1, "GROUP"))
}

/// Whether the token at `index` lies in an `ORDER BY` or `GROUP BY` list of plain columns
/// that starts before it.
pub(crate) fn in_sort_list(sql: &str, tokens: &[Token], index: usize) -> bool {
    let mut i = index;
    while i > 0 {
        i -= 1;
        if !is_sort_element(sql, tokens, i) {
            return ends_sort_clause(sql, tokens, i);
        }
    }
    false
}

/// Whether the token at `index` lies in the value list of `IN (...)`, after its `(`.
pub(crate) fn in_value_list(sql: &str, tokens: &[Token], index: usize) -> bool {
    let mut i = index;
    while i > 0 {
        i -= 1;
        match tokens[i].kind {
            TokenKind::Comma => {}
            TokenKind::OpenParen => {
                return i >= 1
                    && tokens[i - 1].kind == TokenKind::Keyword
                    && keyword::is(tokens[i - 1].text(sql), "IN");
            }
            _ if is_value_part(sql, tokens, i) => {}
            _ => return false,
        }
    }
    false
}
