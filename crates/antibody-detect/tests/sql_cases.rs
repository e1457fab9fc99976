//! The SQL detector's specification, as tables: the attack, its benign twin, the verdict.
//!
//! Each case pastes an input into a query template at `{}` the way a careless application
//! does (no escaping) unless the case says the application doubled the quotes.

use antibody_detect::sql::{Added, Dialect, SqlDetector, Verdict};
use antibody_detect::{Input, Source};

/// What a case expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// No input occurs, or every input stays data.
    Allowed,
    /// An input stands alone where a name or keyword stands: learning decides.
    Ambiguous(Added),
    /// An input adds structure.
    Blocked(Added),
}
use Expect::{Allowed, Ambiguous, Blocked};

struct Case {
    template: &'static str,
    input: &'static str,
    expect: Expect,
}

const fn case(template: &'static str, input: &'static str, expect: Expect) -> Case {
    Case {
        template,
        input,
        expect,
    }
}

const STRING: &str = "SELECT * FROM products WHERE category = '{}' ORDER BY id";
const NUMBER: &str = "SELECT * FROM products WHERE id = {}";
const ORDER: &str = "SELECT * FROM products ORDER BY {}";
const LIMIT: &str = "SELECT * FROM products LIMIT {}";
const IN_LIST: &str = "SELECT * FROM products WHERE id IN ({})";
const IN_STRINGS: &str = "SELECT * FROM products WHERE category IN ('{}')";
const LIKE: &str = "SELECT * FROM products WHERE name LIKE '%{}%'";
const LOGIN: &str = "SELECT id FROM users WHERE username = '{}' AND password = 'x'";

fn outcome(dialect: Dialect, sql: &str, input: &str) -> Expect {
    let inputs = [Input::new(Source::Query, "q", input)];
    match SqlDetector::new(dialect).check(sql, &inputs) {
        Verdict::NoInput | Verdict::Data => Allowed,
        Verdict::Ambiguous(evidence) => Ambiguous(evidence.added),
        Verdict::Injection(evidence) => Blocked(evidence.added),
    }
}

fn run(dialect: Dialect, cases: &[Case]) {
    let mut failures = Vec::new();
    for case in cases {
        let sql = case.template.replace("{}", case.input);
        let got = outcome(dialect, &sql, case.input);
        if got != case.expect {
            failures.push(format!(
                "{dialect}: {:?} in {sql:?}: expected {:?}, got {got:?}",
                case.input, case.expect
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Cases whose verdict is the same in every dialect.
const EVERY_DIALECT: &[Case] = &[
    // String context.
    case(STRING, "books", Allowed),
    case(STRING, "garden tools", Allowed),
    case(STRING, "' OR '1'='1", Blocked(Added::Tautology)),
    case(STRING, "' OR 'a'='b", Blocked(Added::Tautology)),
    case(
        STRING,
        "'; DROP TABLE products; --",
        Blocked(Added::Statement),
    ),
    case(
        STRING,
        "x' UNION SELECT name FROM users WHERE name = '",
        Blocked(Added::Keyword),
    ),
    case(
        STRING,
        "x' AND SLEEP(5) AND 'a' LIKE 'a",
        Blocked(Added::FunctionCall),
    ),
    case(STRING, "O'Brien", Blocked(Added::UnbalancedQuote)),
    case(STRING, "x' || 'y", Blocked(Added::Operator)),
    case(STRING, "'/**/OR/**/'1'='1", Blocked(Added::Comment)),
    // Phrases that read as SQL stay data inside the literal.
    case(STRING, "is not null", Allowed),
    case(STRING, "time zone", Allowed),
    case(STRING, "order by price", Allowed),
    case(STRING, "1; DROP TABLE products", Allowed),
    case(STRING, "/* not a comment */", Allowed),
    case(STRING, "-- not a comment", Allowed),
    case(STRING, "SLEEP(5)", Allowed),
    // Look-alike quotes are letters, not quotes.
    case(STRING, "\u{2019} OR \u{2019}1\u{2019}=\u{2019}1", Allowed),
    case(STRING, "\u{2bc} OR 1=1 --", Allowed),
    case(STRING, "\u{ff07} UNION SELECT 1 --", Allowed),
    // Numeric context.
    case(NUMBER, "42", Allowed),
    case(NUMBER, "-1", Allowed),
    case(NUMBER, "1.5", Allowed),
    case(NUMBER, "0x2A", Allowed),
    case(NUMBER, "1e3", Allowed),
    case(NUMBER, "1 OR 1=1", Blocked(Added::Tautology)),
    case(NUMBER, "1 OR 2>1", Blocked(Added::Tautology)),
    case(NUMBER, "-1 OR id=id", Blocked(Added::Tautology)),
    case(NUMBER, "1; DROP TABLE products", Blocked(Added::Statement)),
    case(NUMBER, "1 UNION SELECT 1,2,3", Blocked(Added::Keyword)),
    case(NUMBER, "1 AND SLEEP(5)", Blocked(Added::FunctionCall)),
    case(NUMBER, "2-1", Blocked(Added::Operator)),
    case(NUMBER, "1/**/OR/**/1", Blocked(Added::Comment)),
    case(
        NUMBER,
        "1 /*!50000UNION*/ SELECT 1",
        Blocked(Added::Comment),
    ),
    case(NUMBER, "(1)", Blocked(Added::Punctuation)),
    // An identifier where a number stood: the call site's learned structure decides.
    case(NUMBER, "id", Ambiguous(Added::Identifier)),
    // An input inside a longer name is a coincidence (`en` in `tenant`, `close` in `closed`).
    case(
        "SELECT tenant, closed FROM shops WHERE id = 1 -- {}",
        "en",
        Allowed,
    ),
    case(
        "SELECT tenant FROM shops WHERE {} = 1",
        "closed",
        Ambiguous(Added::Identifier),
    ),
    // ORDER BY lists of plain columns.
    case(ORDER, "name", Allowed),
    case(ORDER, "price DESC", Allowed),
    case(ORDER, "name ASC, price DESC", Allowed),
    case(ORDER, "products.price desc", Allowed),
    case(ORDER, "2, 1", Allowed),
    case(ORDER, "price DESC NULLS LAST", Allowed),
    case(
        ORDER,
        "name; DROP TABLE products",
        Blocked(Added::Statement),
    ),
    case(
        ORDER,
        "(CASE WHEN 1=1 THEN name ELSE price END)",
        Blocked(Added::Tautology),
    ),
    case(ORDER, "name, (SELECT 1)", Blocked(Added::Keyword)),
    case(ORDER, "price DESC LIMIT 1", Blocked(Added::Keyword)),
    case(ORDER, "LENGTH(name)", Blocked(Added::FunctionCall)),
    // LIMIT.
    case(LIMIT, "10", Allowed),
    case(
        LIMIT,
        "10 UNION SELECT * FROM users",
        Blocked(Added::Keyword),
    ),
    case(LIMIT, "10; DELETE FROM products", Blocked(Added::Statement)),
    case(LIMIT, "5,10", Blocked(Added::Punctuation)),
    // IN lists of values, trailing comma included.
    case(IN_LIST, "1,2,3", Allowed),
    case(IN_LIST, "1, 2, 3,", Allowed),
    case(IN_LIST, "-1, +2", Allowed),
    case(IN_LIST, "1) OR (1=1", Blocked(Added::Tautology)),
    case(
        IN_LIST,
        "1) UNION SELECT id FROM users WHERE (1",
        Blocked(Added::Keyword),
    ),
    // Closing one literal and opening another chooses the rows: not data.
    case(
        IN_STRINGS,
        "books','kitchen",
        Blocked(Added::UnbalancedQuote),
    ),
    case(IN_STRINGS, "books') OR ('1'='1", Blocked(Added::Tautology)),
    // LIKE patterns.
    case(LIKE, "red shoes", Allowed),
    case(LIKE, "100%", Allowed),
    case(LIKE, "a_b", Allowed),
    case(LIKE, "%' OR name LIKE '%", Blocked(Added::Keyword)),
    // Login form.
    case(LOGIN, "alice", Allowed),
    case(LOGIN, "admin' -- ", Blocked(Added::Comment)),
    case(LOGIN, "admin' OR 'x'='x", Blocked(Added::Tautology)),
    // Quotes at the edges of an input that stays inside the literal.
    case("SELECT * FROM t WHERE a = {}", "'quoted'", Allowed),
    case(
        "SELECT * FROM t WHERE a = {}",
        "'a' 'b'",
        Blocked(Added::Literal),
    ),
];

#[test]
fn every_dialect_agrees_on_the_common_cases() {
    for dialect in Dialect::ALL {
        run(dialect, EVERY_DIALECT);
    }
}

#[test]
fn sqlite_cases() {
    run(
        Dialect::Sqlite,
        &[
            // Backslash is an ordinary character.
            case(STRING, "abc\\' OR 1=1 --", Blocked(Added::Comment)),
            case(STRING, "C:\\temp\\", Allowed),
            // `--` always opens a comment.
            case(NUMBER, "1--1", Blocked(Added::Comment)),
            case(NUMBER, "1 OR 1=1 --", Blocked(Added::Comment)),
            // `#` is no comment.
            case(STRING, "' OR 1=1#", Blocked(Added::Tautology)),
            // SQLite stops reading at NUL, inside a literal too.
            case(STRING, "x'\0", Blocked(Added::Comment)),
            case(STRING, "x\0y", Blocked(Added::Comment)),
            case(NUMBER, "1\0 OR 2", Blocked(Added::Comment)),
            // Bracketed and backticked names.
            case(ORDER, "[name] DESC", Allowed),
            case(ORDER, "`price`", Allowed),
            case(NUMBER, "1 == 1", Blocked(Added::Tautology)),
        ],
    );
}

#[test]
fn postgres_cases() {
    run(
        Dialect::Postgres,
        &[
            case(STRING, "abc\\' OR 1=1 --", Blocked(Added::Comment)),
            case(STRING, "C:\\temp\\", Allowed),
            // E'' strings escape with backslashes.
            case(
                "SELECT * FROM t WHERE a = E'{}'",
                "abc\\' OR 1=1 --",
                Allowed,
            ),
            case(
                "SELECT * FROM t WHERE a = E'{}'",
                "abc\\\\' OR 1=1 --",
                Blocked(Added::Comment),
            ),
            case(
                "SELECT * FROM t WHERE a = E'{}'",
                "a\\",
                Blocked(Added::UnbalancedQuote),
            ),
            // Dollar quotes.
            case("SELECT * FROM t WHERE a = $${}$$", "it's here", Allowed),
            case(
                "SELECT * FROM t WHERE a = $${}$$",
                "x$$ OR $$1$$=$$1",
                Blocked(Added::Tautology),
            ),
            case(
                "SELECT * FROM t WHERE a = $${}$$",
                "x$$; DROP TABLE t; --",
                Blocked(Added::Statement),
            ),
            case(
                "SELECT * FROM t WHERE a = $q${}$q$",
                "x$$ OR 1=1 --",
                Allowed,
            ),
            case(STRING, "$$ OR 1=1 $$", Allowed),
            // Nested comments.
            case(NUMBER, "1 /* /* */ OR 1=1 */", Blocked(Added::Comment)),
            case(NUMBER, "1--1", Blocked(Added::Comment)),
            // Casts are structure.
            case(NUMBER, "1::int", Blocked(Added::Operator)),
            case(NUMBER, "1 OR 1=1 --", Blocked(Added::Comment)),
            // NUL ends the statement on the wire.
            case(STRING, "x'\0", Blocked(Added::Comment)),
            case(
                "SELECT * FROM t WHERE a = ${}",
                "1 OR 1=1",
                Blocked(Added::Tautology),
            ),
        ],
    );
}

#[test]
fn mysql_cases() {
    run(
        Dialect::MySql,
        &[
            // A backslash escapes the quote, so this stays inside the literal ...
            case(STRING, "abc\\' OR 1=1 -- ", Allowed),
            // ... unless the attacker escapes the backslash.
            case(STRING, "abc\\\\' OR 1=1 -- ", Blocked(Added::Comment)),
            // A trailing backslash swallows the application's closing quote.
            case(LOGIN, "admin\\", Blocked(Added::UnbalancedQuote)),
            case(STRING, "C:\\\\temp\\\\", Allowed),
            // `--` needs a space after it; `#` is a comment.
            case(NUMBER, "1--1", Blocked(Added::Operator)),
            case(STRING, "' OR 1=1 -- ", Blocked(Added::Comment)),
            case(STRING, "' OR 1=1 --", Blocked(Added::Tautology)),
            case(STRING, "' OR 1=1#", Blocked(Added::Comment)),
            case(STRING, "#hashtag", Allowed),
            // Version comments run their content.
            case(
                NUMBER,
                "1 /*!50000UNION*/ SELECT 1",
                Blocked(Added::Comment),
            ),
            case(NUMBER, "1/*!UNION*/SELECT 1", Blocked(Added::Comment)),
            case(STRING, "/*!50000 UNION */", Allowed),
            // Double quotes delimit strings.
            case("SELECT * FROM t WHERE a = \"{}\"", "it's", Allowed),
            case(
                "SELECT * FROM t WHERE a = \"{}\"",
                "\" OR \"1\"=\"1",
                Blocked(Added::Tautology),
            ),
            case(ORDER, "`name` DESC", Allowed),
            // NUL stays data inside a literal, and is suspicious outside one.
            case(STRING, "x\0y", Allowed),
            case(NUMBER, "1\0 OR 1", Blocked(Added::Comment)),
            // Operators of MySQL's own.
            case(NUMBER, "1 && 1", Blocked(Added::Operator)),
            case(NUMBER, "1 <=> 1", Blocked(Added::Tautology)),
            case(NUMBER, "@@version", Ambiguous(Added::Identifier)),
        ],
    );
}

#[test]
fn an_input_shorter_than_two_characters_is_ignored() {
    for dialect in Dialect::ALL {
        assert_eq!(
            outcome(dialect, "SELECT * FROM t WHERE a = '''", "'"),
            Allowed
        );
        assert_eq!(
            outcome(dialect, "SELECT * FROM t WHERE a = 'é'", "é"),
            Allowed
        );
    }
}

#[test]
fn an_input_that_never_occurs_is_not_judged() {
    let inputs = [Input::new(Source::Form, "comment", "' OR 1=1 --")];
    let sql = "SELECT * FROM t WHERE a = ''' OR 1=1 --'";
    assert_eq!(
        SqlDetector::new(Dialect::Sqlite).check(sql, &inputs),
        Verdict::Data
    );
    let escaped_away = "SELECT * FROM t WHERE a = 'x'";
    assert_eq!(
        SqlDetector::new(Dialect::Sqlite).check(escaped_away, &inputs),
        Verdict::NoInput
    );
}

#[test]
fn evidence_names_the_input_its_location_and_the_tokens_it_spans() {
    let inputs = [
        Input::new(Source::Query, "page", "2"),
        Input::new(Source::Query, "category", "books' OR 1=1 --"),
    ];
    let sql = "SELECT * FROM products WHERE category = 'books' OR 1=1 --' LIMIT 2";
    let Verdict::Injection(evidence) = SqlDetector::new(Dialect::Postgres).check(sql, &inputs)
    else {
        panic!("not detected");
    };
    assert_eq!(evidence.input.location.name, "category");
    assert_eq!(evidence.input.location.to_string(), "query `category`");
    assert_eq!(&sql[evidence.span.clone()], "books' OR 1=1 --");
    assert_eq!(evidence.added, Added::Comment);
    let texts: Vec<&str> = evidence.tokens.iter().map(|t| t.text(sql)).collect();
    assert_eq!(texts, ["'books'", "OR", "1", "=", "1", "--' LIMIT 2"]);
}

#[test]
fn a_console_input_that_is_the_whole_query_is_allowed_only_when_configured() {
    let sql = "DELETE FROM sessions; VACUUM";
    let inputs = [Input::new(Source::Form, "statement", sql)];
    let strict = SqlDetector::new(Dialect::Sqlite);
    assert!(strict.check(sql, &inputs).is_injection());
    let console = strict.allow_whole_query_inputs(true);
    assert_eq!(console.check(sql, &inputs), Verdict::NoInput);
}

#[test]
fn the_first_injecting_input_wins_over_ambiguous_ones() {
    let inputs = [
        Input::new(Source::Query, "sort", "name"),
        Input::new(Source::Query, "id", "1 OR 1=1"),
    ];
    let sql = "SELECT name FROM products WHERE id = 1 OR 1=1";
    let verdict = SqlDetector::new(Dialect::Sqlite).check(sql, &inputs);
    assert_eq!(
        verdict.evidence().map(|e| e.input.location.name),
        Some("id")
    );
    assert!(verdict.is_injection());
}

#[test]
fn analyze_returns_the_verdict_and_the_fingerprint_of_one_lexing() {
    let detector = SqlDetector::new(Dialect::MySql);
    let inputs = [Input::new(Source::Query, "id", "7")];
    let sql = "SELECT * FROM products WHERE id = 7";
    let analysis = detector.analyze(sql, &inputs);
    assert_eq!(analysis.verdict, detector.check(sql, &inputs));
    assert_eq!(analysis.fingerprint, detector.fingerprint(sql));
}

#[test]
fn an_input_is_found_even_when_the_application_trimmed_it() {
    let inputs = [Input::new(Source::Form, "username", "  admin' --  ")];
    let sql = "SELECT id FROM users WHERE username = 'admin' --' AND password = 'x'";
    let Verdict::Injection(evidence) = SqlDetector::new(Dialect::Sqlite).check(sql, &inputs) else {
        panic!("trimmed input not detected");
    };
    assert_eq!(&sql[evidence.span], "admin' --");
}

/// The application escaped the input by hand before pasting it between quotes.
fn escaped_outcome(
    dialect: Dialect,
    template: &str,
    input: &str,
    escape: fn(&str) -> String,
) -> Expect {
    outcome(dialect, &template.replace("{}", &escape(input)), input)
}

fn doubled_quotes(input: &str) -> String {
    input.replace('\'', "''")
}

fn backslashes(input: &str) -> String {
    input
        .replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('"', "\\\"")
}

#[test]
fn hand_escaping_that_fits_the_dialect_keeps_the_input_data() {
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        for input in ["O'Brien", "' OR '1'='1", "x'; DROP TABLE t; --"] {
            assert_eq!(
                escaped_outcome(dialect, STRING, input, doubled_quotes),
                Allowed,
                "{dialect} {input}"
            );
        }
    }
    for input in ["O'Brien", "' OR '1'='1", r"\' OR 1=1 -- ", r"C:\temp\"] {
        assert_eq!(
            escaped_outcome(Dialect::MySql, STRING, input, backslashes),
            Allowed,
            "{input}"
        );
    }
}

#[test]
fn hand_escaping_that_misses_the_dialect_is_seen_through() {
    // Doubling quotes leaves MySQL's backslash escape open: `\'` becomes `\''`.
    assert_eq!(
        escaped_outcome(Dialect::MySql, STRING, r"\' OR 1=1 -- ", doubled_quotes),
        Blocked(Added::Comment)
    );
    // A backslash before a quote escapes nothing in SQLite or standard PostgreSQL strings.
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        assert_eq!(
            escaped_outcome(dialect, STRING, "' OR 1=1 --", backslashes),
            Blocked(Added::Comment),
            "{dialect}"
        );
    }
}

#[test]
fn backslashes_the_application_doubled_do_not_escape_its_closing_quote() {
    // MySQL: the input `\\\` escaped correctly is `\\\\\\`, an even run before the quote.
    let inputs = [Input::new(Source::Query, "q", "\\\\\\")];
    let sql = "SELECT * FROM t WHERE a = '\\\\\\\\\\\\'";
    assert_eq!(
        SqlDetector::new(Dialect::MySql).check(sql, &inputs),
        Verdict::Data
    );
    // Pasted raw, the same input leaves an odd run and swallows the quote.
    let raw = "SELECT * FROM t WHERE a = '\\\\\\' AND b = 1";
    assert!(
        SqlDetector::new(Dialect::MySql)
            .check(raw, &inputs)
            .is_injection()
    );
}

#[test]
fn escaping_the_search_does_not_know_is_seen_through_by_what_follows_the_last_quote() {
    // Each application escapes by hand in its own way; what the database reads after the
    // closing quote is what counts.
    let cases: &[(Dialect, &str, &str)] = &[
        // `'` as `\'` where backslash means nothing, with a `"` in front of it.
        (
            Dialect::Sqlite,
            "SELECT * FROM t WHERE name = '\"\\' OR 1=1 --'",
            "\"' OR 1=1 --",
        ),
        // Quotes doubled, but the backslash left for MySQL to read.
        (
            Dialect::MySql,
            "SELECT * FROM t WHERE name = 'x\\'' OR 1=1 -- '",
            "x\\' OR 1=1 -- ",
        ),
        // `_` escaped for LIKE as well.
        (
            Dialect::Postgres,
            "SELECT * FROM t WHERE name LIKE '%a\\_b\\' OR 1=1 --%'",
            "a_b' OR 1=1 --",
        ),
        // A newline escaped as `\n` before a quote escaped as `\'`.
        (
            Dialect::Sqlite,
            "SELECT * FROM t WHERE name = 'a\\n\\' OR 1=1 --'",
            "a\n' OR 1=1 --",
        ),
    ];
    for (dialect, sql, input) in cases {
        assert_eq!(
            outcome(*dialect, sql, input),
            Blocked(Added::Comment),
            "{dialect}: {sql}"
        );
    }
    // The same inputs escaped correctly stay inside their literal.
    assert_eq!(
        outcome(
            Dialect::Sqlite,
            "SELECT * FROM t WHERE name = '\"'' OR 1=1 --'",
            "\"' OR 1=1 --"
        ),
        Allowed
    );
    assert_eq!(
        outcome(
            Dialect::Sqlite,
            "SELECT * FROM t WHERE name = 'O''Brien'",
            "O'Brien"
        ),
        Allowed
    );
}

#[test]
fn inputs_are_trimmed_of_every_whitespace_str_trim_knows() {
    // The vertical tab is whitespace to `str::trim`, though not to `u8::is_ascii_whitespace`.
    let inputs = [Input::new(Source::Query, "q", "\u{b}\u{b}\u{b}")];
    let sql = "SELECT * FROM t WHERE a = 1 \u{b}\u{b}\u{b}";
    assert_eq!(
        SqlDetector::new(Dialect::Sqlite).check(sql, &inputs),
        Verdict::NoInput
    );
    let padded = [Input::new(Source::Query, "q", "\u{b}' OR 1=1 --\u{b}")];
    let attacked = "SELECT * FROM t WHERE a = '' OR 1=1 --'";
    assert!(
        SqlDetector::new(Dialect::Sqlite)
            .check(attacked, &padded)
            .is_injection()
    );
}

#[test]
fn first_occurrence_answers_whether_check_has_anything_to_judge() {
    let detector = SqlDetector::new(Dialect::Sqlite);
    let sql = "SELECT * FROM t WHERE a = 'O''Brien'";
    for (value, occurs) in [("kitchen", false), ("O'Brien", true), ("x", false)] {
        let inputs = [Input::new(Source::Query, "q", value)];
        assert_eq!(
            detector.first_occurrence(sql, &inputs).is_some(),
            occurs,
            "{value}"
        );
        assert_eq!(
            detector.check(sql, &inputs) == Verdict::NoInput,
            !occurs,
            "{value}"
        );
    }
}
