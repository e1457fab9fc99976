//! The lexers' specification: statements and the tokens each dialect reads from them.

use antibody_detect::sql::{Dialect, TokenKind, lex};

const fn string(terminated: bool, backslash_escapes: bool) -> TokenKind {
    TokenKind::String {
        terminated,
        backslash_escapes,
    }
}
const STR: TokenKind = string(true, false);
const ESTR: TokenKind = string(true, true);
const QID: TokenKind = TokenKind::QuotedIdentifier { terminated: true };
const CMT: TokenKind = TokenKind::BlockComment { terminated: true };
use TokenKind::{
    Comma, Dot, Identifier as ID, Keyword as KW, LineComment, Nul, Number as NUM, Operator as OP,
    Placeholder as PH, Semicolon, Unknown, VersionCommentEnd, VersionCommentStart,
};

fn tokens(dialect: Dialect, sql: &str) -> Vec<(TokenKind, &str)> {
    lex(sql, dialect).map(|t| (t.kind, t.text(sql))).collect()
}

fn assert_lexes(dialect: Dialect, sql: &str, expected: &[(TokenKind, &str)]) {
    assert_eq!(tokens(dialect, sql), expected, "{dialect}: {sql:?}");
}

fn assert_lexes_everywhere(sql: &str, expected: &[(TokenKind, &str)]) {
    for dialect in Dialect::ALL {
        assert_lexes(dialect, sql, expected);
    }
}

#[test]
fn a_plain_select_reads_the_same_in_every_dialect() {
    assert_lexes_everywhere(
        "SELECT p.name, price FROM products WHERE id = 42;",
        &[
            (KW, "SELECT"),
            (ID, "p"),
            (Dot, "."),
            (ID, "name"),
            (Comma, ","),
            (ID, "price"),
            (KW, "FROM"),
            (ID, "products"),
            (KW, "WHERE"),
            (ID, "id"),
            (OP, "="),
            (NUM, "42"),
            (Semicolon, ";"),
        ],
    );
}

#[test]
fn numbers_in_every_form() {
    for number in [
        "42", "1.5", ".5", "1.", "1e10", "1.5E-3", "2e+7", "0x2A", "0xfF",
    ] {
        assert_lexes_everywhere(number, &[(NUM, number)]);
    }
    // An exponent needs digits; otherwise the `e` starts a name.
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        assert_lexes(dialect, "1ex", &[(NUM, "1"), (ID, "ex")]);
    }
    assert_lexes(Dialect::MySql, "0b101", &[(NUM, "0b101")]);
    assert_lexes(Dialect::Postgres, "0b101", &[(NUM, "0b101")]);
    assert_lexes(Dialect::Sqlite, "0X2A", &[(NUM, "0X2A")]);
    assert_lexes(Dialect::Postgres, "0o17", &[(NUM, "0o17")]);
    assert_lexes(Dialect::Postgres, "1_000_000", &[(NUM, "1_000_000")]);
    assert_lexes(Dialect::Sqlite, "1_000", &[(NUM, "1_000")]);
    assert_lexes(Dialect::MySql, "1_000", &[(ID, "1_000")]);
    for dialect in Dialect::ALL {
        let hex = tokens(dialect, "X'4142'");
        assert_eq!(hex.len(), 1, "{dialect}");
        assert!(hex[0].0.is_value(), "{dialect}");
    }
}

#[test]
fn strings_with_each_dialects_escapes() {
    assert_lexes(Dialect::Sqlite, "'it''s'", &[(STR, "'it''s'")]);
    assert_lexes(Dialect::Postgres, "'it''s'", &[(STR, "'it''s'")]);
    assert_lexes(Dialect::MySql, "'it''s'", &[(ESTR, "'it''s'")]);
    // Backslash: data in SQLite and standard PostgreSQL strings, an escape in MySQL.
    assert_lexes(
        Dialect::Sqlite,
        r"'a\' OR 1",
        &[(STR, r"'a\'"), (KW, "OR"), (NUM, "1")],
    );
    assert_lexes(
        Dialect::Postgres,
        r"'a\' OR 1",
        &[(STR, r"'a\'"), (KW, "OR"), (NUM, "1")],
    );
    assert_lexes(Dialect::MySql, r"'a\' OR 1'", &[(ESTR, r"'a\' OR 1'")]);
    assert_lexes(
        Dialect::MySql,
        r"'a\\' OR 1",
        &[(ESTR, r"'a\\'"), (KW, "OR"), (NUM, "1")],
    );
    // PostgreSQL escape strings.
    assert_lexes(Dialect::Postgres, r"E'a\'b'", &[(ESTR, r"E'a\'b'")]);
    assert_lexes(Dialect::Postgres, r"e'a\\'", &[(ESTR, r"e'a\\'")]);
    // MySQL double-quoted strings; elsewhere quoted names.
    assert_lexes(
        Dialect::MySql,
        r#""say \"hi\"""#,
        &[(ESTR, r#""say \"hi\"""#)],
    );
    assert_lexes(
        Dialect::Sqlite,
        r#""my ""col""""#,
        &[(QID, r#""my ""col""""#)],
    );
    assert_lexes(
        Dialect::Postgres,
        r#"U&"d\0061t""#,
        &[(QID, r#"U&"d\0061t""#)],
    );
    // Prefixed strings.
    assert_lexes(
        Dialect::Postgres,
        "B'101' N'x' U&'y'",
        &[(STR, "B'101'"), (STR, "N'x'"), (STR, "U&'y'")],
    );
    assert_lexes(
        Dialect::MySql,
        "N'x' b'1'",
        &[(ESTR, "N'x'"), (ESTR, "b'1'")],
    );
    // SQLite has no N'' strings: `N` is a name.
    assert_lexes(Dialect::Sqlite, "N'x'", &[(ID, "N"), (STR, "'x'")]);
}

#[test]
fn postgres_dollar_quotes() {
    assert_lexes(Dialect::Postgres, "$$it's$$", &[(STR, "$$it's$$")]);
    assert_lexes(
        Dialect::Postgres,
        "$fn$ SELECT $$x$$ $fn$ || $1",
        &[(STR, "$fn$ SELECT $$x$$ $fn$"), (OP, "||"), (PH, "$1")],
    );
    assert_lexes(
        Dialect::Postgres,
        "$a$ open",
        &[(string(false, false), "$a$ open")],
    );
    assert_lexes(Dialect::Postgres, "$ x", &[(Unknown, "$"), (ID, "x")]);
}

#[test]
fn quoted_names() {
    assert_lexes(
        Dialect::Sqlite,
        "[order] `a``b`",
        &[(QID, "[order]"), (QID, "`a``b`")],
    );
    assert_lexes(Dialect::MySql, "`a``b`", &[(QID, "`a``b`")]);
    assert_lexes(Dialect::Postgres, r#""a""b""#, &[(QID, r#""a""b""#)]);
    assert_lexes(
        Dialect::Sqlite,
        "[open",
        &[(TokenKind::QuotedIdentifier { terminated: false }, "[open")],
    );
}

#[test]
fn comments() {
    assert_lexes_everywhere(
        "1 -- x\n2",
        &[(NUM, "1"), (LineComment, "-- x"), (NUM, "2")],
    );
    assert_lexes_everywhere("1 /* x */ 2", &[(NUM, "1"), (CMT, "/* x */"), (NUM, "2")]);
    assert_lexes_everywhere("/**/", &[(CMT, "/**/")]);
    // Nested in PostgreSQL only.
    assert_lexes(
        Dialect::Postgres,
        "/* a /* b */ c */ 1",
        &[(CMT, "/* a /* b */ c */"), (NUM, "1")],
    );
    assert_lexes(
        Dialect::Sqlite,
        "/* a /* b */ c */",
        &[(CMT, "/* a /* b */"), (ID, "c"), (OP, "*"), (OP, "/")],
    );
    // Unterminated.
    let open = TokenKind::BlockComment { terminated: false };
    assert_lexes_everywhere("1 /* open", &[(NUM, "1"), (open, "/* open")]);
    // MySQL: `--` needs whitespace after it, `#` is a comment.
    assert_lexes(
        Dialect::MySql,
        "1--1",
        &[(NUM, "1"), (OP, "-"), (OP, "-"), (NUM, "1")],
    );
    assert_lexes(
        Dialect::MySql,
        "1-- 1",
        &[(NUM, "1"), (LineComment, "-- 1")],
    );
    assert_lexes(Dialect::MySql, "1--", &[(NUM, "1"), (LineComment, "--")]);
    assert_lexes(
        Dialect::MySql,
        "1 # x\n2",
        &[(NUM, "1"), (LineComment, "# x"), (NUM, "2")],
    );
    assert_lexes(Dialect::Sqlite, "1--1", &[(NUM, "1"), (LineComment, "--1")]);
    assert_lexes(
        Dialect::Postgres,
        "1 # 2",
        &[(NUM, "1"), (OP, "#"), (NUM, "2")],
    );
}

#[test]
fn mysql_version_comments_run_their_content() {
    assert_lexes(
        Dialect::MySql,
        "1 /*!50000UNION*/ SELECT",
        &[
            (NUM, "1"),
            (VersionCommentStart, "/*!50000"),
            (KW, "UNION"),
            (VersionCommentEnd, "*/"),
            (KW, "SELECT"),
        ],
    );
    assert_lexes(
        Dialect::MySql,
        "/*!UNION*/",
        &[
            (VersionCommentStart, "/*!"),
            (KW, "UNION"),
            (VersionCommentEnd, "*/"),
        ],
    );
    assert_lexes(
        Dialect::MySql,
        "/*M!100000 SELECT */",
        &[
            (VersionCommentStart, "/*M!100000"),
            (KW, "SELECT"),
            (VersionCommentEnd, "*/"),
        ],
    );
    // Elsewhere it is an ordinary comment.
    assert_lexes(
        Dialect::Sqlite,
        "/*!50000UNION*/",
        &[(CMT, "/*!50000UNION*/")],
    );
}

#[test]
fn operators_including_multi_character_ones() {
    assert_lexes(
        Dialect::Sqlite,
        "a == b <> c || d ->> e",
        &[
            (ID, "a"),
            (OP, "=="),
            (ID, "b"),
            (OP, "<>"),
            (ID, "c"),
            (OP, "||"),
            (ID, "d"),
            (OP, "->>"),
            (ID, "e"),
        ],
    );
    assert_lexes(
        Dialect::MySql,
        "a <=> b && @x := 1",
        &[
            (ID, "a"),
            (OP, "<=>"),
            (ID, "b"),
            (OP, "&&"),
            (PH, "@x"),
            (OP, ":="),
            (NUM, "1"),
        ],
    );
    assert_lexes(
        Dialect::Postgres,
        "a::int @> b ->> 'k' !~* c",
        &[
            (ID, "a"),
            (OP, "::"),
            (ID, "int"),
            (OP, "@>"),
            (ID, "b"),
            (OP, "->>"),
            (STR, "'k'"),
            (OP, "!~*"),
            (ID, "c"),
        ],
    );
    // PostgreSQL: a run cannot end in `-` unless it holds an exotic character, and never
    // swallows the start of a comment.
    assert_lexes(
        Dialect::Postgres,
        "a=-1",
        &[(ID, "a"), (OP, "="), (OP, "-"), (NUM, "1")],
    );
    assert_lexes(
        Dialect::Postgres,
        "a @- 1",
        &[(ID, "a"), (OP, "@-"), (NUM, "1")],
    );
    assert_lexes(
        Dialect::Postgres,
        "a<--c",
        &[(ID, "a"), (OP, "<"), (LineComment, "--c")],
    );
}

#[test]
fn placeholders() {
    assert_lexes(
        Dialect::Sqlite,
        "? ?7 :name @name $name",
        &[
            (PH, "?"),
            (PH, "?7"),
            (PH, ":name"),
            (PH, "@name"),
            (PH, "$name"),
        ],
    );
    assert_lexes(
        Dialect::Postgres,
        "$1, $22",
        &[(PH, "$1"), (Comma, ","), (PH, "$22")],
    );
    assert_lexes(
        Dialect::MySql,
        "?, @@session.sql_mode, @`a b`",
        &[
            (PH, "?"),
            (Comma, ","),
            (PH, "@@session.sql_mode"),
            (Comma, ","),
            (PH, "@`a b`"),
        ],
    );
}

#[test]
fn keywords_are_recognised_in_any_case() {
    assert_lexes_everywhere(
        "select Name from T union ALL Select 1",
        &[
            (KW, "select"),
            (ID, "Name"),
            (KW, "from"),
            (ID, "T"),
            (KW, "union"),
            (KW, "ALL"),
            (KW, "Select"),
            (NUM, "1"),
        ],
    );
}

#[test]
fn look_alike_quotes_are_letters() {
    for quote in ['\u{2019}', '\u{2bc}', '\u{ff07}', '\u{2032}'] {
        let sql = format!("a = {quote}x{quote}");
        let word = format!("{quote}x{quote}");
        assert_lexes_everywhere(&sql, &[(ID, "a"), (OP, "="), (ID, &word)]);
    }
}

#[test]
fn nul_bytes() {
    // SQLite and PostgreSQL stop reading at NUL, so the rest is one token.
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        assert_lexes(dialect, "1\0 OR 1", &[(NUM, "1"), (Nul, "\0 OR 1")]);
        assert_lexes(
            dialect,
            "'a\0b'",
            &[(string(false, false), "'a"), (Nul, "\0b'")],
        );
    }
    // MySQL keeps NUL inside a literal, and marks one outside.
    assert_lexes(Dialect::MySql, "'a\0b'", &[(ESTR, "'a\0b'")]);
    assert_lexes(
        Dialect::MySql,
        "1\0 OR 1",
        &[(NUM, "1"), (Nul, "\0"), (KW, "OR"), (NUM, "1")],
    );
}

#[test]
fn malformed_input_is_marked_never_fatal() {
    let open = string(false, false);
    assert_lexes(Dialect::Sqlite, "'open", &[(open, "'open")]);
    assert_lexes(
        Dialect::MySql,
        "'open\\",
        &[(string(false, true), "'open\\")],
    );
    assert_lexes(
        Dialect::Sqlite,
        "\"open",
        &[(TokenKind::QuotedIdentifier { terminated: false }, "\"open")],
    );
    assert_lexes_everywhere("\\ {", &[(Unknown, "\\"), (Unknown, "{")]);
    for dialect in Dialect::ALL {
        for sql in [
            "", "'", "\"", "`", "[", "$", "/*", "--", "#", "@", "0x", "1e", "E'", "U&", "/*!", "\0",
        ] {
            let tokens: Vec<_> = lex(sql, dialect).collect();
            assert!(
                tokens.iter().all(|t| t.start < t.end && t.end <= sql.len()),
                "{dialect}: {sql:?}"
            );
        }
    }
}

#[test]
fn spans_cover_every_byte_but_whitespace() {
    let sql = "SELECT  'a',\t\"b\" FROM t  WHERE x IN (1,2)\n-- done";
    for dialect in Dialect::ALL {
        let mut covered = vec![false; sql.len()];
        let mut previous_end = 0;
        for token in lex(sql, dialect) {
            assert!(token.start >= previous_end, "{dialect}: tokens overlap");
            previous_end = token.end;
            covered[token.span()].iter_mut().for_each(|c| *c = true);
        }
        for (i, byte) in sql.bytes().enumerate() {
            assert!(
                covered[i] || byte.is_ascii_whitespace(),
                "{dialect}: byte {i} uncovered"
            );
        }
    }
}

#[test]
fn question_marks_take_digits_but_never_a_name() {
    assert_lexes(
        Dialect::Sqlite,
        "?OR 1",
        &[(PH, "?"), (KW, "OR"), (NUM, "1")],
    );
    assert_lexes(Dialect::Sqlite, "?12", &[(PH, "?12")]);
    assert_lexes(Dialect::MySql, "?AS x", &[(PH, "?"), (KW, "AS"), (ID, "x")]);
}

#[test]
fn line_comments_end_at_a_carriage_return_only_in_postgres() {
    for dialect in [Dialect::Sqlite, Dialect::MySql] {
        assert_lexes(
            dialect,
            "1 -- x\r, 2\n3",
            &[(NUM, "1"), (LineComment, "-- x\r, 2"), (NUM, "3")],
        );
    }
    assert_lexes(
        Dialect::Postgres,
        "1 -- x\r2",
        &[(NUM, "1"), (LineComment, "-- x"), (NUM, "2")],
    );
}

#[test]
fn mysql_names_may_begin_with_digits() {
    assert_lexes(
        Dialect::MySql,
        "1abc 0x1g 0X41 1e5x",
        &[(ID, "1abc"), (ID, "0x1g"), (ID, "0X41"), (ID, "1e5x")],
    );
    // A fraction ends the number: `.1or` is `.1 OR`.
    assert_lexes(Dialect::MySql, ".1or", &[(NUM, ".1"), (KW, "or")]);
    // After `name.`, digits are a name; after a number they are a number.
    assert_lexes(Dialect::MySql, "t.5", &[(ID, "t"), (Dot, "."), (ID, "5")]);
    assert_lexes(Dialect::MySql, "4.0.26", &[(NUM, "4.0"), (NUM, ".26")]);
    assert_lexes(Dialect::Sqlite, "1abc", &[(NUM, "1"), (ID, "abc")]);
}
