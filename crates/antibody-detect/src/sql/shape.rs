//! Token sequences with a meaning of their own, shared by the fingerprint and the check so
//! that both agree on what is a value and what is structure.

use std::cell::OnceCell;

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

/// The list each token lies in, found in one forward pass so that judging many occurrences
/// stays linear: a token lies in a list when every token from the list's opening (`ORDER BY`
/// or `GROUP BY`, or `IN (`) up to the one before it belongs to the list.
pub(crate) struct Lists<'t> {
    sql: &'t str,
    tokens: &'t [Token],
    /// Computed on first use: most statements never ask.
    membership: OnceCell<Vec<List>>,
}

/// Whether the token at an index belongs to a list being read.
type Membership = fn(&str, &[Token], usize) -> bool;

#[derive(Clone, Copy, PartialEq, Eq)]
enum List {
    None,
    /// An `ORDER BY` or `GROUP BY` list of plain columns.
    Sort,
    /// The values of `IN (...)`.
    Values,
}

impl<'t> Lists<'t> {
    pub(crate) fn new(sql: &'t str, tokens: &'t [Token]) -> Self {
        Lists {
            sql,
            tokens,
            membership: OnceCell::new(),
        }
    }

    fn membership(&self) -> &[List] {
        self.membership.get_or_init(|| {
            let (sql, tokens) = (self.sql, self.tokens);
            let mut membership = vec![List::None; tokens.len()];
            let mut i = 0;
            while i < tokens.len() {
                let (list, belongs): (List, Membership) = if ends_sort_clause(sql, tokens, i) {
                    (List::Sort, is_sort_element)
                } else if opens_value_list(sql, tokens, i) {
                    (List::Values, |sql, tokens, j| {
                        tokens[j].kind == TokenKind::Comma || is_value_part(sql, tokens, j)
                    })
                } else {
                    i += 1;
                    continue;
                };
                let mut j = i + 1;
                while j < tokens.len() {
                    membership[j] = list;
                    if !belongs(sql, tokens, j) {
                        break;
                    }
                    j += 1;
                }
                i = j.max(i + 1);
            }
            membership
        })
    }

    /// Whether the token at `index` lies in an `ORDER BY` or `GROUP BY` list of plain
    /// columns that starts before it.
    pub(crate) fn in_sort_list(&self, index: usize) -> bool {
        self.membership()[index] == List::Sort
    }

    /// Whether the token at `index` lies in the value list of `IN (...)`, after its `(`.
    pub(crate) fn in_value_list(&self, index: usize) -> bool {
        self.membership()[index] == List::Values
    }
}

/// Whether the token at `index` is the `(` of `IN (`.
fn opens_value_list(sql: &str, tokens: &[Token], index: usize) -> bool {
    tokens[index].kind == TokenKind::OpenParen
        && index >= 1
        && tokens[index - 1].kind == TokenKind::Keyword
        && keyword::is(tokens[index - 1].text(sql), "IN")
}
