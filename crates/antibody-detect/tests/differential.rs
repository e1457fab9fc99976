//! Differential test: our SQL lexers against sqlparser's tokenizer.
//!
//! Both read the same statement in the same dialect. Every literal (strings of every
//! flavour, numbers), every name (bare or quoted, keyword or not) and every comment must lie
//! at the same byte span, with the same broad class, in both token streams. Operators,
//! punctuation and whitespace are left out: the two lexers split and name operators
//! differently, and that carries no meaning here.
//!
//! Where the streams disagree, the tokens that one side has and the other has not are
//! grouped into clusters of overlapping spans. A cluster passes only when a named entry of
//! [`DIFFERENCES`] explains it: a place where our lexer follows the database and sqlparser
//! does not, text the database rejects, or an open defect of ours. Anything else fails the
//! test with both token streams.
//!
//! Statements come from a generator of well-formed fragments (`PROPTEST_CASES` sets how
//! many per dialect), and from the public SQL injection corpora found through
//! `ANTIBODY_CORPORA`.

use std::collections::BTreeMap;
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use antibody_detect::sql::{Dialect, Token, TokenKind, lex};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use sqlparser::dialect::{MySqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::tokenizer::{
    Location, Token as TheirToken, TokenWithSpan, Tokenizer, TokenizerError, Whitespace,
};

// ---------------------------------------------------------------------------------------
// The comparable form of a token stream.

/// The broad class of a token: all the comparison looks at besides the span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// A string literal of any flavour.
    Str,
    /// A numeric literal.
    Number,
    /// A bare word, keyword or not. Our keyword list holds the words reserved in any of the
    /// three dialects, sqlparser's every word that some dialect gives a meaning, so the two
    /// draw the line elsewhere by design; only where a word begins and ends is compared.
    Word,
    /// A quoted name.
    QuotedName,
    /// `-- ...` or `# ...`.
    LineComment,
    /// `/* ... */`.
    BlockComment,
}

/// A compared token: its byte span and class. Ordered by position first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Lexeme {
    start: usize,
    end: usize,
    class: Class,
}

fn our_class(kind: TokenKind) -> Option<Class> {
    match kind {
        TokenKind::String { .. } => Some(Class::Str),
        TokenKind::Number => Some(Class::Number),
        TokenKind::Keyword | TokenKind::Identifier => Some(Class::Word),
        TokenKind::QuotedIdentifier { .. } => Some(Class::QuotedName),
        TokenKind::LineComment => Some(Class::LineComment),
        TokenKind::BlockComment { .. } => Some(Class::BlockComment),
        _ => None,
    }
}

fn their_class(token: &TheirToken, text: &str) -> Option<Class> {
    match token {
        TheirToken::Word(word) if word.quote_style.is_some() => Some(Class::QuotedName),
        TheirToken::Word(_) => Some(Class::Word),
        TheirToken::Number(..) => Some(Class::Number),
        // Where a dialect has no non-decimal integers, sqlparser reuses its hex string token
        // for a `0x2A` numeral; the text tells the two apart.
        TheirToken::HexStringLiteral(_) if text.starts_with('0') => Some(Class::Number),
        TheirToken::SingleQuotedString(_)
        | TheirToken::DoubleQuotedString(_)
        | TheirToken::TripleSingleQuotedString(_)
        | TheirToken::TripleDoubleQuotedString(_)
        | TheirToken::DollarQuotedString(_)
        | TheirToken::SingleQuotedByteStringLiteral(_)
        | TheirToken::DoubleQuotedByteStringLiteral(_)
        | TheirToken::TripleSingleQuotedByteStringLiteral(_)
        | TheirToken::TripleDoubleQuotedByteStringLiteral(_)
        | TheirToken::SingleQuotedRawStringLiteral(_)
        | TheirToken::DoubleQuotedRawStringLiteral(_)
        | TheirToken::TripleSingleQuotedRawStringLiteral(_)
        | TheirToken::TripleDoubleQuotedRawStringLiteral(_)
        | TheirToken::NationalStringLiteral(_)
        | TheirToken::QuoteDelimitedStringLiteral(_)
        | TheirToken::NationalQuoteDelimitedStringLiteral(_)
        | TheirToken::EscapedStringLiteral(_)
        | TheirToken::UnicodeStringLiteral(_)
        | TheirToken::HexStringLiteral(_) => Some(Class::Str),
        TheirToken::Whitespace(Whitespace::SingleLineComment { .. }) => Some(Class::LineComment),
        TheirToken::Whitespace(Whitespace::MultiLineComment(_)) => Some(Class::BlockComment),
        _ => None,
    }
}

fn our_lexemes(tokens: &[Token]) -> Vec<Lexeme> {
    tokens
        .iter()
        .filter_map(|token| {
            our_class(token.kind).map(|class| Lexeme {
                start: token.start,
                end: token.end,
                class,
            })
        })
        .collect()
}

/// sqlparser reports line and column (both from 1, columns in chars, only `\n` starts a
/// line); this maps them back to byte offsets.
struct Positions {
    /// `(line, column, byte offset)` of every char boundary, the end included, in order.
    marks: Vec<(u64, u64, usize)>,
}

impl Positions {
    fn new(sql: &str) -> Self {
        let mut marks = Vec::with_capacity(sql.len() + 1);
        let (mut line, mut column) = (1, 1);
        for (offset, ch) in sql.char_indices() {
            marks.push((line, column, offset));
            if ch == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        marks.push((line, column, sql.len()));
        Positions { marks }
    }

    fn offset(&self, location: Location) -> Option<usize> {
        let key = (location.line, location.column);
        self.marks
            .binary_search_by(|&(line, column, _)| (line, column).cmp(&key))
            .ok()
            .map(|index| self.marks[index].2)
    }
}

fn their_tokens(sql: &str, dialect: Dialect) -> Result<Vec<TokenWithSpan>, TokenizerError> {
    match dialect {
        Dialect::Sqlite => Tokenizer::new(&SQLiteDialect {}, sql).tokenize_with_location(),
        Dialect::Postgres => Tokenizer::new(&PostgreSqlDialect {}, sql).tokenize_with_location(),
        Dialect::MySql => Tokenizer::new(&MySqlDialect {}, sql).tokenize_with_location(),
    }
}

/// A MySQL `/*!50000 ... */` as sqlparser re-lexes it.
///
/// sqlparser lexes the content of the comment as statement text, as MySQL does, but starts
/// counting columns where the `/*` stands: on the comment's first line the content's tokens
/// are reported `/*!50000`'s length too far left. This is a reporting slip, not a lexical
/// difference, so the locations are moved back before comparing.
struct HintComment {
    from: Location,
    to: Location,
    /// The length of `/*!` and every digit after it (sqlparser strips all of them).
    shift: u64,
}

fn hint_comments(sql: &str, ours: &[Token], positions: &Positions) -> Vec<HintComment> {
    let location = |offset: usize| {
        let index = positions
            .marks
            .binary_search_by(|&(_, _, at)| at.cmp(&offset))
            .expect("our tokens start and end on char boundaries");
        let (line, column, _) = positions.marks[index];
        Location::new(line, column)
    };
    let mut hints = Vec::new();
    for (index, token) in ours.iter().enumerate() {
        if token.kind != TokenKind::VersionCommentStart || !token.text(sql).starts_with("/*!") {
            continue;
        }
        let digits = digits(&sql[token.start + 3..]);
        let end = ours[index..]
            .iter()
            .find(|t| t.kind == TokenKind::VersionCommentEnd)
            .map_or(sql.len(), |t| t.end);
        hints.push(HintComment {
            from: location(token.start),
            to: location(end),
            shift: 3 + u64::try_from(digits).expect("a digit count fits in u64"),
        });
    }
    hints
}

fn their_lexemes(
    sql: &str,
    dialect: Dialect,
    ours: &[Token],
    tokens: &[TokenWithSpan],
) -> Result<Vec<Lexeme>, String> {
    let positions = Positions::new(sql);
    let mut hints = if dialect == Dialect::MySql {
        hint_comments(sql, ours, &positions)
    } else {
        Vec::new()
    };
    // Where a token of sqlparser's runs over the `/*`, it never saw the comment.
    hints.retain(|hint| {
        !tokens
            .iter()
            .any(|t| t.span.start < hint.from && hint.from < t.span.end)
    });
    let mut lexemes = Vec::new();
    for token in tokens {
        let (mut from, mut to) = (token.span.start, token.span.end);
        if let Some(hint) = hints.iter().find(|h| h.from <= from && from < h.to) {
            if from.line == hint.from.line {
                from.column += hint.shift;
            }
            if to.line == hint.from.line {
                to.column += hint.shift;
            }
        }
        let (Some(start), Some(end)) = (positions.offset(from), positions.offset(to)) else {
            return Err(format!("sqlparser located {token:?} outside the statement"));
        };
        if let Some(class) = their_class(&token.token, &sql[start..end]) {
            lexemes.push(Lexeme { start, end, class });
        }
    }
    lexemes.sort();
    Ok(lexemes)
}

// ---------------------------------------------------------------------------------------
// Disagreements and their explanations.

/// Tokens that one side has and the other has not, overlapping one another.
#[derive(Debug, Default)]
struct Cluster {
    start: usize,
    end: usize,
    ours: Vec<Lexeme>,
    theirs: Vec<Lexeme>,
}

/// Groups the tokens that are not in both streams into clusters of overlapping spans.
fn clusters(ours: &[Lexeme], theirs: &[Lexeme]) -> Vec<Cluster> {
    let mut only = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < ours.len() || j < theirs.len() {
        match (ours.get(i), theirs.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                only.push((*a, true));
                i += 1;
            }
            (Some(a), None) => {
                only.push((*a, true));
                i += 1;
            }
            (_, Some(b)) => {
                only.push((*b, false));
                j += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    only.sort();
    let mut clusters: Vec<Cluster> = Vec::new();
    for (lexeme, is_ours) in only {
        let joins = clusters
            .last()
            .is_some_and(|c| lexeme.start < c.end || lexeme.start == c.start);
        if !joins {
            clusters.push(Cluster {
                start: lexeme.start,
                end: lexeme.end,
                ..Cluster::default()
            });
        }
        let cluster = clusters.last_mut().expect("a cluster was just pushed");
        cluster.end = cluster.end.max(lexeme.end);
        if is_ours {
            cluster.ours.push(lexeme);
        } else {
            cluster.theirs.push(lexeme);
        }
    }
    clusters
}

/// One statement under comparison.
struct Case<'q> {
    dialect: Dialect,
    sql: &'q str,
    /// Our whole token stream, compared classes or not.
    tokens: &'q [Token],
}

impl Case<'_> {
    fn text(&self, lexeme: &Lexeme) -> &str {
        &self.sql[lexeme.start..lexeme.end]
    }

    /// Whether one of our placeholders starts with one of `sigils` and holds `lexeme`
    /// after its first character.
    fn inside_placeholder(&self, lexeme: &Lexeme, sigils: &[char]) -> bool {
        self.tokens.iter().any(|t| {
            t.kind == TokenKind::Placeholder
                && t.text(self.sql).starts_with(sigils)
                && t.start < lexeme.start
                && lexeme.end <= t.end
        })
    }

    /// Whether one of our MySQL variables (`@name`) starts at `offset`.
    fn variable_at(&self, offset: usize) -> bool {
        self.tokens.iter().any(|t| {
            t.kind == TokenKind::Placeholder
                && t.start == offset
                && self.sql[offset..].starts_with('@')
        })
    }
}

/// A named, explained way in which the two token streams may differ: in each, our lexer
/// reads the text as the database does, and sqlparser's tokenizer, which serves a parser for
/// many dialects, reads it otherwise.
struct Difference {
    name: &'static str,
    why: &'static str,
    /// A statement that shows the difference, checked by
    /// `every_listed_difference_shows_in_its_example`.
    example: (Dialect, &'static str),
    explains: fn(&Case<'_>, &Cluster) -> bool,
}

/// Every way the token streams may differ; nothing else may. The first entry that
/// explains a cluster is the one counted.
const DIFFERENCES: &[Difference] = &[
    Difference {
        name: "nul-ends-the-statement",
        why: "SQLite stops reading at a NUL, and PostgreSQL's protocol carries statements as \
              C strings, so our lexer ends the statement at the first NUL; sqlparser reads on",
        example: (
            Dialect::Sqlite,
            "SELECT * FROM t WHERE a = 'x\0' OR 1=1 --'",
        ),
        explains: |case, cluster| {
            // Ours stops at the NUL; everything of ours in the cluster ends right there.
            case.dialect != Dialect::MySql
                && case.sql.find('\0').is_some_and(|nul| {
                    cluster.end > nul && cluster.ours.iter().all(|o| o.end == nul)
                })
        },
    },
    Difference {
        name: "operator-touching-comment",
        why: "every dialect ends an operator where `--` or `/*` begins; sqlparser's \
              PostgreSQL dialect runs custom operators over them (`#>/*`, `<--`), and in \
              every dialect it reads `|/` and `||/` as PostgreSQL root operators, eating the \
              `/` of a `/*` right after `|`",
        example: (Dialect::Postgres, "SELECT 1 >/* c */ 0"),
        explains: operator_touching_comment,
    },
    Difference {
        name: "sqlite-parameter-names",
        why: "SQLite reads `:name`, `@name`, `$name` and `#name` as one parameter; sqlparser \
              reads the `:` or `@` apart and the name as a word",
        example: (
            Dialect::Sqlite,
            "SELECT * FROM t WHERE a = :name AND b = @other",
        ),
        explains: |case, cluster| {
            case.dialect == Dialect::Sqlite
                && cluster.ours.is_empty()
                && cluster
                    .theirs
                    .iter()
                    .all(|t| case.inside_placeholder(t, &[':', '@', '$', '#']))
        },
    },
    Difference {
        name: "sqlite-uppercase-hex-prefix",
        why: "SQLite reads `0X41` as the numeral `0x41`; sqlparser knows only the lowercase \
              prefix and reads `0` and a name `X41`",
        example: (Dialect::Sqlite, "SELECT 0X41"),
        explains: |case, cluster| {
            case.dialect == Dialect::Sqlite
                && matches!((&cluster.ours[..], &cluster.theirs[..]),
                    ([ours], [zero, name]) if ours.class == Class::Number
                        && case.text(ours).starts_with("0X")
                        && (zero.start, zero.end, zero.class)
                            == (ours.start, ours.start + 1, Class::Number)
                        && (name.start, name.end, name.class) == (zero.end, ours.end, Class::Word))
        },
    },
    Difference {
        name: "postgres-unicode-names",
        why: "PostgreSQL reads `U&\"name\"` as one quoted name; sqlparser knows only \
              `U&'...'` strings and reads a word `U`, an operator and a quoted name",
        example: (Dialect::Postgres, "SELECT 2 AS U&\"x\""),
        explains: |case, cluster| {
            case.dialect == Dialect::Postgres
                && matches!((&cluster.ours[..], &cluster.theirs[..]),
                    ([ours], [u, name]) if ours.class == Class::QuotedName
                        && case.text(ours)[1..].starts_with("&\"")
                        && (u.start, u.end, u.class) == (ours.start, ours.start + 1, Class::Word)
                        && (name.start, name.end) == (ours.start + 2, ours.end))
        },
    },
    Difference {
        name: "bit-strings-take-single-quotes",
        why: "PostgreSQL and MySQL write bit strings `B'101'` with single quotes only, so \
              `b\"x\"` is the name `b` and then a quoted name (PostgreSQL) or a string \
              (MySQL); sqlparser reads one byte string, and where a backslash escapes its \
              quote, what follows too",
        example: (Dialect::Postgres, "SELECT b\"x\" FROM t"),
        explains: |case, cluster| {
            case.dialect != Dialect::Sqlite
                && matches!((&cluster.ours[..], &cluster.theirs[..]),
                    ([b, quoted, ..], [theirs, ..]) if theirs.class == Class::Str
                        && case.text(theirs)[1..].starts_with('"')
                        && (b.start, b.end, b.class) == (theirs.start, theirs.start + 1, Class::Word)
                        && quoted.start == b.end
                        && (quoted.end == theirs.end || case.text(theirs).contains('\\')))
        },
    },
    Difference {
        name: "mysql-variables",
        why: "MySQL reads `@name`, `@@scope.name` and `@'quoted'` as one variable, and `@` \
              never belongs to a bare name (`a@b` is `a` and `@b`); sqlparser reads `@` as a \
              name character, `@'quoted'` as `@` and a string, and `<@` as an operator",
        example: (
            Dialect::MySql,
            "SELECT @@session.sql_mode, @total, @`quoted`, a@b",
        ),
        explains: mysql_variables,
    },
    Difference {
        name: "mysql-binary-numerals",
        why: "MySQL reads `0b101` as a bit-value numeral; sqlparser's MySQL dialect has no \
              binary numerals and reads a name",
        example: (Dialect::MySql, "SELECT 0b101"),
        explains: |case, cluster| {
            case.dialect == Dialect::MySql
                && matches!((&cluster.ours[..], &cluster.theirs[..]),
                    ([ours], [theirs]) if ours.class == Class::Number
                        && theirs.class == Class::Word
                        && (ours.start, ours.end) == (theirs.start, theirs.end)
                        && case.text(ours).starts_with("0b"))
        },
    },
    Difference {
        name: "hex-and-bit-strings-end-at-the-quote",
        why: "every dialect's `X'...'` (and MySQL's and PostgreSQL's `B'...'`) holds hex \
              digits or bits only and ends at the next quote, so a backslash in it is a syntax \
              error; the two lexers disagree on whether it escapes the quote",
        example: (Dialect::MySql, r"SELECT X'\'a'"),
        explains: |case, cluster| {
            let opens_escaped_literal = |lexeme: &Lexeme| {
                let text = case.text(lexeme);
                lexeme.class == Class::Str
                    && text
                        .get(..2)
                        .is_some_and(|open| matches!(open, "x'" | "X'" | "b'" | "B'"))
                    && text.contains('\\')
            };
            matches!((cluster.ours.first(), cluster.theirs.first()),
                    (Some(ours), Some(theirs)) if ours.start == theirs.start
                        && (opens_escaped_literal(ours) || opens_escaped_literal(theirs)))
        },
    },
    Difference {
        name: "mysql-fraction-then-name",
        why: "MySQL ends a numeral with a fraction before the letters that follow (`.1or` \
              is `.1 OR`, `1.5abc` is `1.5` and the alias `abc`); sqlparser reads one name",
        example: (Dialect::MySql, "SELECT * FROM t WHERE id = .1or 1"),
        explains: |case, cluster| {
            case.dialect == Dialect::MySql
                && matches!(&cluster.theirs[..], [word] if word.class == Class::Word
                    && cluster.ours.first().is_some_and(|n| n.class == Class::Number
                        && n.start == word.start
                        && case.text(n).contains('.'))
                    && cluster.ours.iter().all(|o| o.end <= word.end))
        },
    },
    Difference {
        name: "mysql-dash-dash-then-control",
        why: "MySQL starts a `--` comment when a space or any control character follows, or \
              the statement ends; sqlparser wants Unicode white space, so it misses `--` at \
              the end and before a control character, and takes `--` before a non-ASCII space",
        example: (Dialect::MySql, "SELECT 1 --"),
        explains: |case, cluster| {
            let dashes =
                |l: &&Lexeme| l.class == Class::LineComment && case.text(l).starts_with("--");
            let after = |l: &Lexeme| case.sql[l.start + 2..].chars().next();
            case.dialect == Dialect::MySql
                && match (
                    cluster.ours.iter().find(dashes),
                    cluster.theirs.iter().find(dashes),
                ) {
                    (Some(ours), None) => {
                        cluster.start == ours.start
                            && after(ours).is_none_or(|c| c.is_control() && !c.is_whitespace())
                    }
                    (None, Some(theirs)) => {
                        cluster.start == theirs.start
                            && after(theirs).is_some_and(|c| c.is_whitespace() && !c.is_ascii())
                    }
                    _ => false,
                }
        },
    },
    Difference {
        name: "mariadb-executable-comments",
        why: "MariaDB runs the content of `/*M!100000 ... */` like MySQL's `/*!...*/`, and \
              our MySQL dialect covers MariaDB; sqlparser reads a comment",
        example: (Dialect::MySql, "SELECT 1 /*M!100000 + 1 */"),
        explains: |case, cluster| {
            case.dialect == Dialect::MySql
                && matches!(&cluster.theirs[..], [comment] if comment.class == Class::BlockComment
                    && case.text(comment).starts_with("/*M!")
                    && cluster.ours.iter().all(|o| comment.start <= o.start && o.end <= comment.end))
        },
    },
];

fn digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '$') || !c.is_ascii()
}

/// Whether the statement, with a space inserted wherever an operator touches a comment,
/// compares with every difference explained. Differences that only touching text causes
/// must vanish this way, which checks the spans of everything else around them. Every such
/// place is spaced at once: sqlparser may refuse a statement spaced at one place only.
fn compares_when_spaced(case: &Case<'_>) -> bool {
    let mut spaced = String::with_capacity(case.sql.len() + 8);
    let mut copied = 0;
    for pair in case.tokens.windows(2) {
        let [operator, comment] = pair else { continue };
        let touches = operator.kind == TokenKind::Operator
            && operator.end == comment.start
            && matches!(
                comment.kind,
                TokenKind::LineComment
                    | TokenKind::BlockComment { .. }
                    | TokenKind::VersionCommentStart
            );
        if touches {
            spaced.push_str(&case.sql[copied..comment.start]);
            spaced.push(' ');
            copied = comment.start;
        }
    }
    spaced.push_str(&case.sql[copied..]);
    let mut tally = Tally::default();
    compare(&spaced, case.dialect, &mut tally).is_ok() && tally.statements == 1
}

fn mysql_variables(case: &Case<'_>, cluster: &Cluster) -> bool {
    // sqlparser's word `a@b` (or `@@a@b`) is our name `a` and our variable `@b`.
    let split_word = |t: &Lexeme| {
        let text = case.text(t);
        t.class == Class::Word
            && text.contains('@')
            && text.match_indices('@').all(|(at, _)| {
                case.variable_at(t.start + at)
                        || text[..at].ends_with('@')
                        // `<@@v`: sqlparser's operator `<@` took the variable's first `@`.
                        || (at == 0
                            && case.sql[..t.start].ends_with('@')
                            && case.variable_at(t.start - 1))
            })
    };
    case.dialect == Dialect::MySql
        && !cluster.theirs.is_empty()
        && cluster
            .theirs
            .iter()
            .all(|t| case.inside_placeholder(t, &['@']) || split_word(t))
        && cluster.ours.iter().all(|o| case.variable_at(o.end))
}

/// The cluster begins inside a comment of ours (or a run of touching comments) that an
/// operator touches on its left,
/// sqlparser has no comment where ours begins, and a space between the two makes the
/// statement compare.
fn operator_touching_comment(case: &Case<'_>, cluster: &Cluster) -> bool {
    case.tokens.windows(2).enumerate().any(|(index, pair)| {
        let [operator, comment] = pair else {
            return false;
        };
        let end = match comment.kind {
            // Comments that touch the first one are run over too (`</**/--`).
            TokenKind::LineComment | TokenKind::BlockComment { .. } => case.tokens[index + 1..]
                .windows(2)
                .take_while(|pair| {
                    pair[0].end == pair[1].start
                        && matches!(
                            pair[1].kind,
                            TokenKind::LineComment | TokenKind::BlockComment { .. }
                        )
                })
                .last()
                .map_or(comment.end, |pair| pair[1].end),
            TokenKind::VersionCommentStart => case.tokens[index + 1..]
                .iter()
                .find(|t| t.kind == TokenKind::VersionCommentEnd)
                .map_or(case.sql.len(), |t| t.end),
            _ => return false,
        };
        operator.kind == TokenKind::Operator
            && operator.end == comment.start
            && (comment.start..end).contains(&cluster.start)
            && !cluster.theirs.iter().any(|t| {
                t.start == comment.start
                    && matches!(t.class, Class::LineComment | Class::BlockComment)
            })
            && compares_when_spaced(case)
    })
}

// ---------------------------------------------------------------------------------------
// Comparison and accounting.

/// What a run compared, and which differences it met how often.
#[derive(Debug, Default)]
struct Tally {
    statements: usize,
    lexemes: usize,
    /// Statements that sqlparser refused to tokenize, so nothing was compared.
    refused: usize,
    explained: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn print(&self, what: &str) {
        eprintln!(
            "{what}: {} statements compared ({} literals, names and comments of ours), \
             {} refused by sqlparser",
            self.statements, self.lexemes, self.refused
        );
        for difference in DIFFERENCES {
            if let Some(count) = self.explained.get(difference.name) {
                eprintln!("  {count:6} {}", difference.name);
            }
        }
    }
}

/// Both token streams, for a failure report.
fn describe(sql: &str, dialect: Dialect, tokens: &[Token], theirs: &[TokenWithSpan]) -> String {
    let mut out = format!("{dialect}: {sql:?}\n  ours:\n");
    for token in tokens {
        let (kind, start, end) = (token.kind, token.start, token.end);
        writeln!(out, "    {kind:?} {start}..{end} {:?}", token.text(sql)).expect("infallible");
    }
    out.push_str("  sqlparser:\n");
    for token in theirs {
        let blank = matches!(
            token.token,
            TheirToken::Whitespace(Whitespace::Space | Whitespace::Newline | Whitespace::Tab)
        );
        if !blank {
            writeln!(out, "    {:?} {:?}", token.token, token.span).expect("infallible");
        }
    }
    out
}

/// Compares one statement and counts what it met. `Err` with both token streams when a
/// cluster has no explanation.
fn compare(sql: &str, dialect: Dialect, tally: &mut Tally) -> Result<(), String> {
    let Ok(theirs) = their_tokens(sql, dialect) else {
        tally.refused += 1;
        return Ok(());
    };
    let tokens: Vec<Token> = lex(sql, dialect).collect();
    let ours = our_lexemes(&tokens);
    let their_lexemes = their_lexemes(sql, dialect, &tokens, &theirs)
        .map_err(|reason| format!("{reason}\n{}", describe(sql, dialect, &tokens, &theirs)))?;
    let case = Case {
        dialect,
        sql,
        tokens: &tokens,
    };
    tally.statements += 1;
    tally.lexemes += ours.len();
    for cluster in clusters(&ours, &their_lexemes) {
        let Some(difference) = DIFFERENCES.iter().find(|d| (d.explains)(&case, &cluster)) else {
            return Err(format!(
                "unexplained difference at {}..{} {:?}: ours {:?}, sqlparser {:?}\n{}",
                cluster.start,
                cluster.end,
                &sql[cluster.start..cluster.end],
                cluster.ours,
                cluster.theirs,
                describe(sql, dialect, &tokens, &theirs)
            ));
        };
        *tally.explained.entry(difference.name).or_default() += 1;
    }
    Ok(())
}

#[test]
fn every_listed_difference_shows_in_its_example() {
    for difference in DIFFERENCES {
        let (dialect, sql) = difference.example;
        let mut tally = Tally::default();
        compare(sql, dialect, &mut tally).unwrap_or_else(|report| panic!("{report}"));
        assert!(
            tally.explained.contains_key(difference.name),
            "{dialect}: {sql:?} no longer shows `{}` ({}), only {:?}; \
             if our lexer changed on purpose, remove or amend the entry",
            difference.name,
            difference.why,
            tally.explained
        );
    }
}

/// Statements on which the two lexers agree although a dialect rule is involved.
const AGREEMENTS: &[(Dialect, &str)] = &[
    // Columns count chars, and only `\n` starts a line.
    (
        Dialect::Sqlite,
        "SELECT \"café\", 'it''s\r\n’' /* ’ */, 1.5e3 FROM t -- done\n",
    ),
    // PostgreSQL nests block comments.
    (
        Dialect::Postgres,
        "SELECT /* a /* b */ c */ 1, E'\\'' || $x$'$x$",
    ),
    // MySQL runs `/*!...*/`; sqlparser lexes its content too, once its columns are mended.
    (
        Dialect::MySql,
        "SELECT 1 /*!50000 + 'a' */, /*!40101\n'b' */ 2",
    ),
    // MySQL wants a space after `--`; `#` needs none.
    (Dialect::MySql, "SELECT 1--1, 2 -- x\n, 3 #y\n"),
    // MySQL escapes with backslashes in both kinds of strings.
    (Dialect::MySql, "SELECT 'a\\'b', \"c\\\"d\", N'e\\''"),
];

#[test]
fn agreeing_statements_show_no_difference() {
    for &(dialect, sql) in AGREEMENTS {
        let mut tally = Tally::default();
        compare(sql, dialect, &mut tally).unwrap_or_else(|report| panic!("{report}"));
        assert_eq!(tally.statements, 1, "{dialect}: {sql:?} was refused");
        assert!(
            tally.explained.is_empty(),
            "{dialect}: {sql:?}: {:?}",
            tally.explained
        );
    }
}

#[test]
fn a_span_one_byte_short_is_unexplained() {
    let sql = "SELECT 'abc' FROM t";
    let ours = [Lexeme {
        start: 7,
        end: 11,
        class: Class::Str,
    }];
    let theirs = [Lexeme {
        start: 7,
        end: 12,
        class: Class::Str,
    }];
    for dialect in Dialect::ALL {
        let tokens: Vec<Token> = lex(sql, dialect).collect();
        let case = Case {
            dialect,
            sql,
            tokens: &tokens,
        };
        let found = clusters(&ours, &theirs);
        assert_eq!(found.len(), 1);
        assert!(
            DIFFERENCES.iter().all(|d| !(d.explains)(&case, &found[0])),
            "{dialect}: a shortened string was explained away"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Generated statements.

/// Whether a fragment is an operator: two operators side by side would make a new operator
/// or open a comment (`/` `*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Touch {
    Operator,
    Other,
}

type Fragment = (String, Touch);

fn pick(options: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(options)
        .prop_map(str::to_owned)
        .boxed()
}

fn pattern(regex: &'static str) -> BoxedStrategy<String> {
    prop::string::string_regex(regex)
        .expect("a valid pattern")
        .boxed()
}

/// A body made of `pieces`, between `open` and `close`.
fn quoted(
    open: &'static str,
    pieces: Vec<&'static str>,
    close: &'static str,
) -> BoxedStrategy<String> {
    prop::collection::vec(prop::sample::select(pieces), 0..6)
        .prop_map(move |body| format!("{open}{}{close}", body.concat()))
        .boxed()
}

/// Text that may stand inside any quoted literal or comment: comment and quote
/// look-alikes, and non-ASCII letters and tabs, so that columns count chars, not bytes.
/// Neither `*` nor `/` is a piece, so no body holds `*/`.
const TEXT: &[&str] = &[
    "a", "Z", "0", " ", ",", "(", ")", "%", "_", ";", "=", ".", "--", "#", "é", "’", "名", "\t",
];

fn pieces(extra: &[&'static str]) -> Vec<&'static str> {
    TEXT.iter().chain(extra).copied().collect()
}

fn keyword() -> BoxedStrategy<String> {
    pick(&[
        "SELECT", "select", "FROM", "WHERE", "AND", "or", "NOT", "UNION", "ALL", "NULL", "LIKE",
        "ORDER", "BY", "LIMIT", "AS", "IN", "IS", "Insert", "INTO", "values", "CASE", "WHEN",
        "THEN", "END", "SLEEP", "count", "CAST", "name",
    ])
}

fn name() -> BoxedStrategy<String> {
    prop_oneof![
        4 => pattern("[a-zA-Z_][a-zA-Z0-9_$]{0,7}"),
        1 => pick(&["café", "naïve", "名前", "Ölmenge", "x’y", "🦀col"]),
    ]
    .boxed()
}

fn number(dialect: Dialect) -> BoxedStrategy<String> {
    let common = prop_oneof![
        pattern("[0-9]{1,5}"),
        pattern("[0-9]{1,3}\\.[0-9]{1,3}"),
        pattern("\\.[0-9]{1,3}"),
        pattern("[0-9]{1,3}\\."),
        pattern("[0-9]{1,3}[eE][+-]?[0-9]{1,2}"),
        pattern("[0-9]?\\.[0-9]{1,2}[eE]-?[0-9]"),
        pattern("0x[0-9A-Fa-f]{1,6}"),
    ];
    match dialect {
        Dialect::Sqlite => prop_oneof![
            7 => common,
            1 => pattern("[1-9]_[0-9]{3}"),
            1 => pattern("0X[0-9A-F]{1,4}"),
        ]
        .boxed(),
        Dialect::Postgres => prop_oneof![
            7 => common,
            1 => pattern("[1-9]_[0-9]{3}"),
            1 => pattern("0[oO][0-7]{1,3}"),
            1 => pattern("0[bB][01]{1,6}"),
            1 => pattern("0X[0-9A-F]{1,4}"),
        ]
        .boxed(),
        Dialect::MySql => prop_oneof![7 => common, 1 => pattern("0b[01]{1,6}")].boxed(),
    }
}

fn string(dialect: Dialect) -> BoxedStrategy<String> {
    let hex = pattern("[xX]'([0-9A-Fa-f]{2}){0,4}'");
    match dialect {
        Dialect::Sqlite => prop_oneof![
            4 => quoted("'", pieces(&["''", "\"", "`", "\n", "\\"]), "'"),
            1 => hex,
        ]
        .boxed(),
        Dialect::Postgres => prop_oneof![
            4 => quoted("'", pieces(&["''", "\"", "\n", "\\", "$"]), "'"),
            1 => quoted("E'", pieces(&["''", "\\'", "\\\\", "\\n", "\""]), "'"),
            1 => quoted("N'", pieces(&["''"]), "'"),
            1 => quoted("U&'", pieces(&["''"]), "'"),
            1 => pattern("[bB]'[01]{0,8}'"),
            1 => hex,
            1 => quoted("$$", pieces(&["'", "\"", "\n"]), "$$"),
            1 => quoted("$body$", pieces(&["'", "$", "\n"]), "$body$"),
        ]
        .boxed(),
        Dialect::MySql => prop_oneof![
            4 => quoted(
                "'",
                pieces(&["''", "\\'", "\\\\", "\\\"", "\\n", "\\%", "\"", "\n"]),
                "'"
            ),
            2 => quoted("\"", pieces(&["\"\"", "\\\"", "\\\\", "\\'", "'"]), "\""),
            1 => quoted("N'", pieces(&["''", "\\'"]), "'"),
            1 => quoted("_utf8mb4'", pieces(&["''"]), "'"),
            1 => pattern("[bB]'[01]{0,8}'"),
            1 => hex,
        ]
        .boxed(),
    }
}

fn quoted_name(dialect: Dialect) -> BoxedStrategy<String> {
    let double = quoted("\"", pieces(&["\"\"", "'", "`"]), "\"");
    let backtick = quoted("`", pieces(&["``", "'", "\""]), "`");
    match dialect {
        Dialect::Sqlite => prop_oneof![
            2 => double,
            1 => backtick,
            1 => quoted("[", pieces(&["'", "\"", "["]), "]"),
        ]
        .boxed(),
        Dialect::Postgres => {
            prop_oneof![3 => double, 1 => quoted("U&\"", pieces(&[]), "\"")].boxed()
        }
        Dialect::MySql => backtick,
    }
}

fn comment(dialect: Dialect) -> BoxedStrategy<String> {
    let newline = pick(&["\n", "\r\n"]);
    let line = (
        quoted("-- ", pieces(&["'", "\"", "*/"]), ""),
        newline.clone(),
    )
        .prop_map(|(text, newline)| text + &newline);
    let block = quoted("/*", pieces(&["'", "\"", "\n", "*"]), "*/");
    match dialect {
        Dialect::Sqlite => prop_oneof![line, block].boxed(),
        Dialect::Postgres => prop_oneof![
            2 => line,
            2 => block,
            // Nested, as PostgreSQL allows.
            1 => (quoted("/*", pieces(&[]), "/*"), quoted("", pieces(&[]), "*/*/"))
                .prop_map(|(outer, inner)| outer + &inner),
        ]
        .boxed(),
        Dialect::MySql => {
            let hash = (quoted("#", pieces(&["'", "\""]), ""), newline)
                .prop_map(|(text, newline)| text + &newline);
            // Executed comments hold statement text; their strings hold no `/*`, which
            // would close the comment for sqlparser but not for MySQL.
            let inner = prop_oneof![
                keyword(),
                name(),
                number(dialect),
                quoted("'", vec!["a", " ", "''", "é", "--"], "'"),
            ];
            let executed = (
                pick(&["/*!", "/*!50000", "/*!40101 ", "/*M!100000"]),
                prop::collection::vec(inner, 1..4),
            )
                .prop_map(|(open, inner)| format!("{open} {} */", inner.join(" ")));
            prop_oneof![2 => line, 1 => hash, 2 => block, 1 => executed].boxed()
        }
    }
}

fn operator(dialect: Dialect) -> BoxedStrategy<String> {
    let common = pick(&[
        "=", "<>", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "||",
    ]);
    match dialect {
        Dialect::Sqlite => prop_oneof![4 => common, 1 => pick(&["==", "->>", "&", "<<"])].boxed(),
        Dialect::Postgres => {
            prop_oneof![4 => common, 1 => pick(&["::", "->>", "~", "@>", "#>", "!~*"])].boxed()
        }
        Dialect::MySql => prop_oneof![4 => common, 1 => pick(&["<=>", "&&", ":=", "^"])].boxed(),
    }
}

fn placeholder(dialect: Dialect) -> BoxedStrategy<String> {
    match dialect {
        Dialect::Sqlite => pick(&["?", "?1", "?27", ":name", "@name", "$name"]),
        Dialect::Postgres => pick(&["$1", "$27"]),
        Dialect::MySql => pick(&["?", "@var", "@@version", "@@session.sql_mode", "@`quoted`"]),
    }
}

/// Text where a database rule is easy to miss: a `?` right before a name (SQLite and MySQL
/// number `?` parameters with digits only), and MySQL names that begin with digits.
fn edge(dialect: Dialect) -> Option<BoxedStrategy<String>> {
    match dialect {
        Dialect::Sqlite => Some(pattern("\\?[0-9]?[a-zA-Z_][a-zA-Z0-9_]{0,4}")),
        Dialect::Postgres => None,
        Dialect::MySql => Some(
            prop_oneof![
                pattern("[1-9][0-9]{0,2}[a-df-zA-DF-Z_][a-zA-Z0-9_]{0,4}"),
                pattern("\\?[a-zA-Z_][a-zA-Z0-9_]{0,4}"),
            ]
            .boxed(),
        ),
    }
}

fn fragment(dialect: Dialect) -> BoxedStrategy<Fragment> {
    let other = |s: BoxedStrategy<String>| s.prop_map(|text| (text, Touch::Other)).boxed();
    let common = prop_oneof![
        3 => other(keyword()),
        3 => other(name()),
        3 => other(number(dialect)),
        4 => other(string(dialect)),
        2 => other(quoted_name(dialect)),
        2 => other(comment(dialect)),
        3 => operator(dialect).prop_map(|text| (text, Touch::Operator)),
        2 => other(pick(&[",", "(", ")", ".", ";"])),
        1 => other(placeholder(dialect)),
    ];
    match edge(dialect) {
        Some(edge) => prop_oneof![23 => common, 1 => other(edge)].boxed(),
        None => common.boxed(),
    }
}

/// Whether two fragments may touch without fusing into text that no fragment describes:
/// two operators would make a new operator; word characters, digits or dots on both sides
/// would make one word or numeral (`1` `abc`, `a` `.` `5`), which [`edge`] covers on
/// purpose; a dot after a quote would qualify a name; and a quote right after a hex or bit
/// string would be read as doubled by one lexer and as a new string by the database.
fn may_touch(before: &Fragment, after: &Fragment) -> bool {
    let wordy = |c: char| is_name_char(c) || c == '.';
    let operators = before.1 == Touch::Operator && after.1 == Touch::Operator;
    let last = before.0.chars().next_back();
    let first = after.0.chars().next();
    let fuse = last.is_some_and(wordy) && first.is_some_and(wordy);
    let qualify = last.is_some_and(|c| matches!(c, '"' | '`' | ']')) && first == Some('.');
    let requote = last == Some('\'') && first == Some('\'') && !before.0.starts_with('\'');
    !(operators || fuse || qualify || requote)
}

/// A statement: fragments with white space between them, or none at all now and then, so
/// that the lexers also meet fragments that touch.
fn statement(dialect: Dialect) -> BoxedStrategy<String> {
    let separator = pick(&[" ", " ", " ", " ", "\n", "\t", "  ", "\r\n", ""]);
    prop::collection::vec((fragment(dialect), separator), 1..16)
        .prop_map(|parts| {
            let mut sql = String::new();
            let mut last: Option<Fragment> = None;
            for (fragment, separator) in parts {
                if let Some(last) = &last {
                    let spaced = separator.is_empty() && !may_touch(last, &fragment);
                    sql.push_str(if spaced { " " } else { &separator });
                }
                sql.push_str(&fragment.0);
                last = Some(fragment);
            }
            sql
        })
        .boxed()
}

/// Generated statements per dialect, unless `PROPTEST_CASES` says otherwise.
const GENERATED: u32 = 2500;

fn generated(dialect: Dialect) {
    let cases = env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(GENERATED);
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let tally = std::cell::RefCell::new(Tally::default());
    let result = TestRunner::new(config).run(&statement(dialect), |sql| {
        compare(&sql, dialect, &mut tally.borrow_mut()).map_err(TestCaseError::fail)
    });
    let tally = tally.into_inner();
    tally.print(&format!("generated, {dialect}"));
    match result {
        Ok(()) => {}
        Err(TestError::Fail(reason, sql)) => panic!("{reason}\nminimal statement: {sql:?}"),
        Err(TestError::Abort(reason)) => panic!("aborted: {reason}"),
    }
    // The generator keeps to text both lexers read; sqlparser refuses only where it reads
    // an operator over a comment and then meets an unclosed quote.
    assert!(
        tally.refused * 100 <= tally.statements,
        "{dialect}: sqlparser refused {} of {} generated statements",
        tally.refused,
        tally.statements + tally.refused
    );
}

#[test]
fn generated_sqlite_statements_lex_like_sqlparser() {
    generated(Dialect::Sqlite);
}

#[test]
fn generated_postgres_statements_lex_like_sqlparser() {
    generated(Dialect::Postgres);
}

#[test]
fn generated_mysql_statements_lex_like_sqlparser() {
    generated(Dialect::MySql);
}

// ---------------------------------------------------------------------------------------
// Corpus statements.

/// The public corpora: `ANTIBODY_CORPORA` (a relative path is taken from the workspace
/// root), by default `../shared/corpora` beside the workspace. `None`, with the reason
/// printed, where they are absent outside CI; inside CI their absence fails the test.
fn corpora() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let folder = env::var_os("ANTIBODY_CORPORA").map_or_else(
        || workspace.join("../shared/corpora"),
        |path| workspace.join(path),
    );
    if folder.is_dir() {
        return Some(folder);
    }
    assert!(
        env::var_os("CI").is_none(),
        "the corpora are missing at {} (set ANTIBODY_CORPORA)",
        folder.display()
    );
    eprintln!(
        "skipped: no corpora at {} (set ANTIBODY_CORPORA)",
        folder.display()
    );
    None
}

/// Decodes one line of a libinjection data file: `%XX` escapes, and `+` for a space.
fn url_decode(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[i], escaped) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The payloads of one corpus file: blank lines and `#` comment lines left out, and
/// libinjection's URL encoding undone.
fn payloads(path: &Path) -> Vec<String> {
    let text = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let encoded = path
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("libinjection-"));
    String::from_utf8_lossy(&text)
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            if encoded {
                url_decode(line)
            } else {
                line.to_owned()
            }
        })
        .collect()
}

/// Where an application pastes a payload: into a string, a number, a double-quoted token
/// (a name in SQLite and PostgreSQL, a string in MySQL) and a select list.
const TEMPLATES: &[&str] = &[
    "SELECT * FROM products WHERE name = '{}' ORDER BY id",
    "SELECT * FROM products WHERE id = {} LIMIT 10",
    "SELECT * FROM products WHERE \"{}\" = 1",
    "SELECT {} FROM products",
];

/// About how many payloads of the other corpus files go into [`TEMPLATES`]: every
/// `n`-th line of each file, its first line included.
const SAMPLE: usize = 1000;

/// Every line of `libinjection-fullqueries.txt` as it stands, then a sample of the other
/// SQL injection payloads pasted into [`TEMPLATES`].
fn corpus_statements(folder: &Path) -> Vec<String> {
    let sqli = folder.join("sqli");
    let mut files: Vec<PathBuf> = fs::read_dir(&sqli)
        .unwrap_or_else(|e| panic!("{}: {e}", sqli.display()))
        .map(|entry| entry.expect("a readable folder entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    let full_queries = sqli.join("libinjection-fullqueries.txt");
    let mut statements = payloads(&full_queries);
    let others: Vec<Vec<String>> = files
        .iter()
        .filter(|path| **path != full_queries)
        .map(|path| payloads(path))
        .collect();
    let stride = (others.iter().map(Vec::len).sum::<usize>() / SAMPLE).max(1);
    for payload in others.iter().flat_map(|file| file.iter().step_by(stride)) {
        for template in TEMPLATES {
            statements.push(template.replace("{}", payload));
        }
    }
    statements
}

#[test]
fn corpus_statements_lex_like_sqlparser() {
    let Some(folder) = corpora() else { return };
    let statements = corpus_statements(&folder);
    let mut failures = Vec::new();
    for dialect in Dialect::ALL {
        let mut tally = Tally::default();
        for sql in &statements {
            if let Err(report) = compare(sql, dialect, &mut tally) {
                failures.push(report);
            }
        }
        tally.print(&format!("corpus, {dialect}"));
        assert!(
            tally.statements * 2 > statements.len(),
            "{dialect}: sqlparser refused most of the corpus"
        );
    }
    assert!(
        failures.is_empty(),
        "{} unexplained difference(s); the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
}
