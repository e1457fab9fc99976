//! A zero-allocation SQL lexer for SQLite, PostgreSQL and MySQL/MariaDB.
//!
//! The lexer yields [`Token`]s, spans into the statement, and never fails: malformed input
//! (an unterminated string, quoted name or comment) yields a token that says so, and a byte
//! with no meaning yields [`TokenKind::Unknown`]. Every decision is taken at an ASCII byte,
//! so spans always fall on `char` boundaries.

use memchr::memmem;

use super::dialect::Dialect;
use super::keyword::is_keyword_bytes;
use super::token::{Token, TokenKind};

/// Lexes `sql` in `dialect`: an iterator of tokens, whitespace skipped.
///
/// ```
/// use antibody_detect::sql::{lex, Dialect, TokenKind};
/// let kinds: Vec<TokenKind> = lex("SELECT 1 -- one", Dialect::Sqlite).map(|t| t.kind).collect();
/// assert_eq!(kinds, [TokenKind::Keyword, TokenKind::Number, TokenKind::LineComment]);
/// ```
pub fn lex(sql: &str, dialect: Dialect) -> Lexer<'_> {
    Lexer::new(sql, dialect)
}

/// The lexer's state: a position in the statement. See [`lex`].
#[derive(Clone, Debug)]
pub struct Lexer<'q> {
    sql: &'q [u8],
    pos: usize,
    dialect: Dialect,
    /// Inside a MySQL `/*! ... */`, where `*/` closes the version comment.
    in_version_comment: bool,
    /// The previous token's kind and end, for the few rules that depend on them.
    previous_kind: Option<TokenKind>,
    previous_end: usize,
}

/// Bytes that may continue a bare word. Every non-ASCII byte does: the three dialects
/// accept letters of any script in names, and look-alike quotes such as `’` are letters
/// to them, not quotes.
fn is_word_byte(byte: u8) -> bool {
    WORD_BYTES[usize::from(byte)]
}

/// [`is_word_byte`] as a table: the lexer asks it for nearly every byte.
const WORD_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte: u8 = 0;
    loop {
        table[byte as usize] =
            byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'$' || byte >= 0x80;
        if byte == u8::MAX {
            break table;
        }
        byte += 1;
    }
};

fn is_word_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80
}

/// The characters PostgreSQL builds operators from.
fn is_postgres_operator_byte(byte: u8) -> bool {
    matches!(
        byte,
        b'+' | b'-'
            | b'*'
            | b'/'
            | b'<'
            | b'>'
            | b'='
            | b'~'
            | b'!'
            | b'@'
            | b'#'
            | b'%'
            | b'^'
            | b'&'
            | b'|'
            | b'`'
            | b'?'
    )
}

/// Multi-character operators of SQLite and MySQL, longest first.
const SQLITE_OPERATORS: &[&[u8]] = &[
    b"->>", b"<=", b">=", b"<>", b"!=", b"==", b"||", b"<<", b">>", b"->",
];
const MYSQL_OPERATORS: &[&[u8]] = &[
    b"<=>", b"->>", b"<=", b">=", b"<>", b"!=", b"||", b"&&", b"<<", b">>", b":=", b"->",
];

impl<'q> Lexer<'q> {
    /// A lexer at the start of `sql`.
    pub fn new(sql: &'q str, dialect: Dialect) -> Self {
        Lexer {
            sql: sql.as_bytes(),
            pos: 0,
            dialect,
            in_version_comment: false,
            previous_kind: None,
            previous_end: 0,
        }
    }

    fn at(&self, index: usize) -> u8 {
        self.sql.get(index).copied().unwrap_or(0)
    }

    fn has(&self, index: usize) -> bool {
        index < self.sql.len()
    }

    fn token(&mut self, kind: TokenKind, start: usize, end: usize) -> Token {
        self.pos = end;
        self.previous_kind = Some(kind);
        self.previous_end = end;
        Token { kind, start, end }
    }

    /// Whether the previous token is `kind` and ends right at `at`.
    fn follows(&self, kind: TokenKind, at: usize) -> bool {
        self.previous_kind == Some(kind) && self.previous_end == at
    }

    fn skip_whitespace(&mut self) {
        while let Some(&byte) = self.sql.get(self.pos) {
            if matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// Scans a quoted run that opened at `quote_at`: a doubled quote stands for itself, a
    /// backslash escapes the next byte when `backslash_escapes`, and a NUL ends the text
    /// where the dialect stops reading there. Returns the end and whether it closed.
    fn scan_quoted(&self, quote_at: usize, quote: u8, backslash_escapes: bool) -> (usize, bool) {
        let nul_ends = self.dialect.nul_ends_statement();
        let mut i = quote_at + 1;
        while let Some(&byte) = self.sql.get(i) {
            if byte == quote {
                if self.at(i + 1) == quote && self.has(i + 1) {
                    i += 2;
                    continue;
                }
                return (i + 1, true);
            }
            if byte == b'\\' && backslash_escapes {
                i = (i + 2).min(self.sql.len());
                continue;
            }
            if byte == 0 && nul_ends {
                return (i, false);
            }
            i += 1;
        }
        (self.sql.len(), false)
    }

    fn string(&mut self, start: usize, quote_at: usize, backslash_escapes: bool) -> Token {
        let quote = self.sql[quote_at];
        let (end, terminated) = self.scan_quoted(quote_at, quote, backslash_escapes);
        self.token(
            TokenKind::String {
                terminated,
                backslash_escapes,
            },
            start,
            end,
        )
    }

    fn quoted_identifier(&mut self, start: usize, quote_at: usize, close: u8) -> Token {
        let (end, terminated) = if close == b']' {
            // `[name]` has no escape: the first `]` closes it.
            match memchr::memchr(b']', &self.sql[quote_at + 1..]) {
                Some(offset) => (quote_at + 1 + offset + 1, true),
                None => (self.sql.len(), false),
            }
        } else {
            self.scan_quoted(quote_at, close, false)
        };
        self.token(TokenKind::QuotedIdentifier { terminated }, start, end)
    }

    /// A comment to the end of the line: `\n` everywhere, and also `\r` in PostgreSQL.
    fn line_comment(&mut self, start: usize) -> Token {
        let rest = &self.sql[start..];
        let newline = if self.dialect == Dialect::Postgres {
            memchr::memchr2(b'\n', b'\r', rest)
        } else {
            memchr::memchr(b'\n', rest)
        };
        let end = newline.map_or(self.sql.len(), |offset| start + offset);
        self.token(TokenKind::LineComment, start, end)
    }

    fn block_comment(&mut self, start: usize) -> Token {
        if self.dialect == Dialect::MySql {
            // `/*!50000 ...*/` and MariaDB's `/*M!100000 ...*/` run their content.
            let bang = if self.at(start + 2) == b'M' {
                start + 3
            } else {
                start + 2
            };
            if self.at(bang) == b'!' {
                let mut end = bang + 1;
                while self.at(end).is_ascii_digit() && end - bang <= 6 {
                    end += 1;
                }
                self.in_version_comment = true;
                return self.token(TokenKind::VersionCommentStart, start, end);
            }
        }
        let nested = self.dialect == Dialect::Postgres;
        let mut depth = 1usize;
        let mut i = start + 2;
        while i < self.sql.len() {
            match (self.sql[i], self.at(i + 1)) {
                (b'*', b'/') if self.has(i + 1) => {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        return self.token(TokenKind::BlockComment { terminated: true }, start, i);
                    }
                }
                (b'/', b'*') if nested && self.has(i + 1) => {
                    depth += 1;
                    i += 2;
                }
                (0, _) if self.dialect.nul_ends_statement() => break,
                _ => i += 1,
            }
        }
        let end = i.min(self.sql.len());
        self.token(TokenKind::BlockComment { terminated: false }, start, end)
    }

    /// The end of a run of digits starting at `i`. PostgreSQL and SQLite accept `_` between
    /// digits (`1_000`); MySQL reads `1_000` as `1` and a name.
    fn digits(&self, mut i: usize, is_digit: fn(u8) -> bool) -> usize {
        let separators = self.dialect != Dialect::MySql;
        let first = i;
        loop {
            let byte = self.at(i);
            let separator = separators && byte == b'_' && i > first && is_digit(self.at(i + 1));
            if !(is_digit(byte) || separator) {
                return i;
            }
            i += 1;
        }
    }

    fn number(&mut self, start: usize) -> Token {
        let mysql = self.dialect == Dialect::MySql;
        let radix_digit: Option<fn(u8) -> bool> = match (self.at(start), self.at(start + 1)) {
            // MySQL's prefixes are lowercase only: `0X41` is a name there.
            (b'0', b'x') => Some(|b: u8| b.is_ascii_hexdigit()),
            (b'0', b'X') if !mysql => Some(|b: u8| b.is_ascii_hexdigit()),
            (b'0', b'b') if self.dialect != Dialect::Sqlite => {
                Some(|b: u8| matches!(b, b'0' | b'1'))
            }
            (b'0', b'B') if self.dialect == Dialect::Postgres => {
                Some(|b: u8| matches!(b, b'0' | b'1'))
            }
            (b'0', b'o' | b'O') if self.dialect == Dialect::Postgres => {
                Some(|b: u8| matches!(b, b'0'..=b'7'))
            }
            _ => None,
        };
        let mut end = start;
        let mut fraction = false;
        if let Some(is_digit) = radix_digit.filter(|is_digit| is_digit(self.at(start + 2))) {
            end = self.digits(start + 2, is_digit);
        } else {
            let decimal = |b: u8| b.is_ascii_digit();
            end = self.digits(end, decimal);
            if self.at(end) == b'.' {
                fraction = true;
                end = self.digits(end + 1, decimal);
            }
            if matches!(self.at(end), b'e' | b'E') {
                let sign = usize::from(matches!(self.at(end + 1), b'+' | b'-'));
                if self.at(end + 1 + sign).is_ascii_digit() {
                    end = self.digits(end + 1 + sign, decimal);
                }
            }
        }
        // MySQL reads digits run into name characters as one name (`1abc`, `0x1g`, `1e5x`).
        if mysql && !fraction && is_word_byte(self.at(end)) && self.has(end) {
            return self.word(start);
        }
        self.token(TokenKind::Number, start, end)
    }

    fn word(&mut self, start: usize) -> Token {
        let mut end = start + 1;
        while self.has(end) && is_word_byte(self.sql[end]) {
            end += 1;
        }
        let kind = if is_keyword_bytes(&self.sql[start..end]) {
            TokenKind::Keyword
        } else {
            TokenKind::Identifier
        };
        self.token(kind, start, end)
    }

    /// `?`, `?7`, `:name`, `@name`, `$name`, `#name`: the sigil and the name or digits after it.
    fn placeholder(&mut self, start: usize) -> Token {
        let mut end = start + 1;
        while self.has(end) && is_word_byte(self.sql[end]) {
            end += 1;
        }
        self.token(TokenKind::Placeholder, start, end)
    }

    /// A PostgreSQL `$tag$...$tag$` string (the tag may be empty), or `None` when the `$`
    /// at `start` does not open one.
    fn dollar_quoted(&mut self, start: usize) -> Option<Token> {
        let mut tag_end = start + 1;
        while self.has(tag_end) && is_word_byte(self.sql[tag_end]) && self.sql[tag_end] != b'$' {
            tag_end += 1;
        }
        if self.at(tag_end) != b'$' || !self.has(tag_end) {
            return None;
        }
        let tag = &self.sql[start..=tag_end];
        let body = tag_end + 1;
        let kind = |terminated| TokenKind::String {
            terminated,
            backslash_escapes: false,
        };
        let (end, terminated) = memmem::find(&self.sql[body..], tag)
            .map_or((self.sql.len(), false), |offset| {
                (body + offset + tag.len(), true)
            });
        Some(self.token(kind(terminated), start, end))
    }

    fn operator(&mut self, start: usize) -> Token {
        let end = match self.dialect {
            Dialect::Postgres => self.postgres_operator_end(start),
            Dialect::Sqlite => self.listed_operator_end(start, SQLITE_OPERATORS),
            Dialect::MySql => self.listed_operator_end(start, MYSQL_OPERATORS),
        };
        self.token(TokenKind::Operator, start, end)
    }

    fn listed_operator_end(&self, start: usize, operators: &[&[u8]]) -> usize {
        operators
            .iter()
            .find(|op| self.sql[start..].starts_with(op))
            .map_or(start + 1, |op| start + op.len())
    }

    /// PostgreSQL reads the longest run of operator characters that does not start a
    /// comment; a run longer than one cannot end in `+` or `-` unless it holds one of
    /// `~ ! @ # % ^ & | ?` or a backtick.
    fn postgres_operator_end(&self, start: usize) -> usize {
        let mut end = start;
        // PostgreSQL's operator names are at most 63 bytes; bounding the run keeps lexing a
        // long run of `+` linear.
        while self.has(end) && end - start < 63 && is_postgres_operator_byte(self.sql[end]) {
            let pair = (self.sql[end], self.at(end + 1));
            if end > start && matches!(pair, (b'-', b'-') | (b'/', b'*')) {
                break;
            }
            end += 1;
        }
        let run = &self.sql[start..end];
        let exotic = run.iter().any(|b| {
            matches!(
                b,
                b'~' | b'!' | b'@' | b'#' | b'%' | b'^' | b'&' | b'|' | b'`' | b'?'
            )
        });
        if !exotic {
            while end - start > 1 && matches!(self.sql[end - 1], b'+' | b'-') {
                end -= 1;
            }
        }
        end
    }

    fn nul(&mut self, start: usize) -> Token {
        let end = if self.dialect.nul_ends_statement() {
            self.sql.len()
        } else {
            start + 1
        };
        self.token(TokenKind::Nul, start, end)
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        self.skip_whitespace();
        let start = self.pos;
        let &byte = self.sql.get(start)?;
        let next = self.at(start + 1);
        let dialect = self.dialect;
        let token = match byte {
            b'\'' => self.string(start, start, dialect == Dialect::MySql),
            b'"' if dialect == Dialect::MySql => self.string(start, start, true),
            b'"' => self.quoted_identifier(start, start, b'"'),
            b'`' if dialect != Dialect::Postgres => self.quoted_identifier(start, start, b'`'),
            b'[' if dialect == Dialect::Sqlite => self.quoted_identifier(start, start, b']'),
            b'[' => self.token(TokenKind::OpenBracket, start, start + 1),
            b']' => self.token(TokenKind::CloseBracket, start, start + 1),
            b'(' => self.token(TokenKind::OpenParen, start, start + 1),
            b')' => self.token(TokenKind::CloseParen, start, start + 1),
            b',' => self.token(TokenKind::Comma, start, start + 1),
            b';' => self.token(TokenKind::Semicolon, start, start + 1),
            0 => self.nul(start),
            b'-' if next == b'-'
                && (!dialect.dash_comment_needs_space()
                    || !self.has(start + 2)
                    || self.at(start + 2) <= b' ') =>
            {
                self.line_comment(start)
            }
            b'#' if dialect == Dialect::MySql => self.line_comment(start),
            b'#' if dialect == Dialect::Sqlite && is_word_byte(next) => self.placeholder(start),
            b'/' if next == b'*' => self.block_comment(start),
            b'*' if next == b'/' && self.in_version_comment => {
                self.in_version_comment = false;
                self.token(TokenKind::VersionCommentEnd, start, start + 2)
            }
            // MySQL reads what directly follows `name.` as a name, digits included (`t.5`).
            b'.' if dialect == Dialect::MySql && self.follows(TokenKind::Identifier, start) => {
                self.token(TokenKind::Dot, start, start + 1)
            }
            b'0'..=b'9' if dialect == Dialect::MySql && self.follows(TokenKind::Dot, start) => {
                self.word(start)
            }
            b'0'..=b'9' => self.number(start),
            b'.' if next.is_ascii_digit() => self.number(start),
            b'.' => self.token(TokenKind::Dot, start, start + 1),
            b'x' | b'X' if next == b'\'' => self.string(start, start + 1, false),
            b'b' | b'B' | b'n' | b'N' if next == b'\'' && dialect != Dialect::Sqlite => {
                self.string(start, start + 1, dialect == Dialect::MySql)
            }
            b'e' | b'E' if next == b'\'' && dialect == Dialect::Postgres => {
                self.string(start, start + 1, true)
            }
            b'u' | b'U'
                if next == b'&'
                    && dialect == Dialect::Postgres
                    && matches!(self.at(start + 2), b'\'' | b'"') =>
            {
                if self.at(start + 2) == b'\'' {
                    self.string(start, start + 2, false)
                } else {
                    self.quoted_identifier(start, start + 2, b'"')
                }
            }
            b'$' if dialect == Dialect::Postgres && next.is_ascii_digit() => {
                self.placeholder(start)
            }
            b'$' if dialect == Dialect::Postgres => match self.dollar_quoted(start) {
                Some(token) => token,
                None => self.token(TokenKind::Unknown, start, start + 1),
            },
            b'$' if dialect == Dialect::Sqlite => {
                if is_word_byte(next) {
                    self.placeholder(start)
                } else {
                    self.token(TokenKind::Unknown, start, start + 1)
                }
            }
            // `?7` numbers a parameter; a name after `?` is not part of it.
            b'?' if dialect != Dialect::Postgres => {
                let digits = self.sql[start + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                self.token(TokenKind::Placeholder, start, start + 1 + digits)
            }
            b':' if next == b':' && dialect == Dialect::Postgres => {
                self.token(TokenKind::Operator, start, start + 2)
            }
            b':' | b'@' if dialect == Dialect::Sqlite && is_word_start(next) => {
                self.placeholder(start)
            }
            b'@' if dialect == Dialect::MySql => self.mysql_variable(start),
            _ if is_word_start(byte) || (byte == b'$' && dialect == Dialect::MySql) => {
                self.word(start)
            }
            b'+' | b'-' | b'*' | b'/' | b'<' | b'>' | b'=' | b'~' | b'!' | b'%' | b'^' | b'&'
            | b'|' => self.operator(start),
            b'@' | b'#' | b'?' | b'`' if dialect == Dialect::Postgres => self.operator(start),
            b':' if dialect == Dialect::MySql && next == b'=' => self.operator(start),
            b':' => self.token(TokenKind::Operator, start, start + 1),
            _ => self.token(TokenKind::Unknown, start, start + 1),
        };
        Some(token)
    }
}

impl Lexer<'_> {
    /// MySQL `@name`, `@@session.name` and `@'quoted name'`: user and system variables.
    fn mysql_variable(&mut self, start: usize) -> Token {
        let sigils = if self.at(start + 1) == b'@' { 2 } else { 1 };
        let first = start + sigils;
        match self.at(first) {
            quote @ (b'\'' | b'"' | b'`') if self.has(first) => {
                let (end, _) = self.scan_quoted(first, quote, quote != b'`');
                self.token(TokenKind::Placeholder, start, end)
            }
            _ => {
                let mut end = first;
                while self.has(end) && (is_word_byte(self.sql[end]) || self.sql[end] == b'.') {
                    end += 1;
                }
                self.token(TokenKind::Placeholder, start, end)
            }
        }
    }
}
