//! Tokens: a kind and a byte span into the statement they were read from.

use std::ops::Range;

/// What a token is. Whitespace is not a token; everything else in a statement is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenKind {
    /// A reserved word such as `SELECT`, `OR` or `UNION` (see [`is_keyword`](super::is_keyword)).
    Keyword,
    /// A bare name: a table, a column, a function.
    Identifier,
    /// A quoted name: `"name"`, `` `name` `` or `[name]`.
    QuotedIdentifier {
        /// False when the statement ends before the closing quote.
        terminated: bool,
    },
    /// A string literal: `'...'`, MySQL `"..."`, `E'...'`, `N'...'`, `X'...'`, `B'...'`,
    /// `$tag$...$tag$`.
    String {
        /// False when the statement ends (or a NUL cuts it) before the closing quote.
        terminated: bool,
        /// Whether a backslash escapes the next character inside this literal
        /// (MySQL strings, PostgreSQL `E'...'`).
        backslash_escapes: bool,
    },
    /// A numeric literal: `42`, `1.5`, `.5`, `1e-3`, `0x2A`, `0b101`, `0o17`.
    Number,
    /// A bind placeholder: `?`, `?1`, `$1`, `:name`, `@name`, and MySQL `@variables`.
    Placeholder,
    /// An operator, possibly several characters long: `=`, `<>`, `||`, `::`, `->>`.
    Operator,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `;`, which ends one statement and lets another begin.
    Semicolon,
    /// `(`
    OpenParen,
    /// `)`
    CloseParen,
    /// `[` (PostgreSQL array subscripts)
    OpenBracket,
    /// `]`
    CloseBracket,
    /// `-- ...` or MySQL `# ...`, up to the end of the line.
    LineComment,
    /// `/* ... */`, nested in PostgreSQL.
    BlockComment {
        /// False when the statement ends inside the comment.
        terminated: bool,
    },
    /// MySQL `/*!50000` or MariaDB `/*M!`: looks like a comment, but the server executes
    /// what follows.
    VersionCommentStart,
    /// The `*/` that closes a version comment.
    VersionCommentEnd,
    /// A NUL byte outside a literal; where the dialect stops reading at NUL, the token runs
    /// to the end of the statement, because the database never sees the rest.
    Nul,
    /// A character with no meaning in the dialect, such as a stray `\`.
    Unknown,
}

impl TokenKind {
    /// Whether this token is a literal value: a string or a number.
    pub fn is_value(self) -> bool {
        matches!(self, TokenKind::String { .. } | TokenKind::Number)
    }

    /// Whether this token is a comment, or a marker of a MySQL version comment.
    pub fn is_comment(self) -> bool {
        matches!(
            self,
            TokenKind::LineComment
                | TokenKind::BlockComment { .. }
                | TokenKind::VersionCommentStart
                | TokenKind::VersionCommentEnd
        )
    }

    /// Whether the statement ended before this token was closed.
    pub fn is_unterminated(self) -> bool {
        matches!(
            self,
            TokenKind::String {
                terminated: false,
                ..
            } | TokenKind::QuotedIdentifier { terminated: false }
                | TokenKind::BlockComment { terminated: false }
        )
    }
}

/// A token: its kind and where it lies in the statement, as byte offsets.
///
/// Spans always fall on `char` boundaries, so [`Token::text`] never panics on the statement
/// the token was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Token {
    /// What the token is.
    pub kind: TokenKind,
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl Token {
    /// The token's bytes as a range into the statement.
    pub fn span(&self) -> Range<usize> {
        self.start..self.end
    }

    /// The token's text in `sql`, the statement it was read from.
    pub fn text<'q>(&self, sql: &'q str) -> &'q str {
        &sql[self.span()]
    }
}
