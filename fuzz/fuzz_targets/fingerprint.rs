//! Checks that a statement's fingerprint is deterministic, and that it ignores the values of
//! literals: the fuzzed statement is a template whose string and number literals are
//! rewritten twice with fuzzed values (strings escaped as its dialect requires), and all
//! three statements must share one fingerprint.
//!
//! A rewrite counts only when each new literal lexes as one token of the old literal's kind,
//! spanning exactly the new text; a literal that would merge with its neighbours
//! (`0x1` before `a`) makes a different statement, not a different value.
//!
//! The data is a dialect byte, the template, and the values.
#![no_main]

use std::fmt::Write as _;
use std::ops::Range;

use antibody_detect::sql::{Dialect, Fingerprint, SqlDetector, Token, TokenKind, lex};
use antibody_detect_fuzz::{dialect_from, escape};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (u8, String, Vec<String>)| {
    let (selector, template, values) = data;
    let dialect = dialect_from(selector);
    let fingerprint = Fingerprint::of(&template, dialect);
    assert_eq!(
        fingerprint,
        Fingerprint::of(&template, dialect),
        "{dialect}: two fingerprints of {template:?}"
    );
    let detector = SqlDetector::new(dialect);
    assert_eq!(detector.fingerprint(&template), fingerprint);
    assert_eq!(detector.analyze(&template, &[]).fingerprint, fingerprint);

    let even = values.iter().step_by(2).map(String::as_str);
    let odd = values.iter().skip(1).step_by(2).map(String::as_str);
    for values in [even.collect::<Vec<_>>(), odd.collect()] {
        let Some(sql) = rewrite(&template, dialect, &values) else {
            return;
        };
        assert_eq!(
            Fingerprint::of(&sql, dialect),
            fingerprint,
            "{dialect}: {sql:?} and {template:?} differ only in values"
        );
    }
});

/// `template` with each literal it can rewrite given the next of `values` (cycling; none
/// gives empty strings and zeros), or `None` when a new literal does not lex as one token
/// of the old one's kind.
fn rewrite(template: &str, dialect: Dialect, values: &[&str]) -> Option<String> {
    let mut sql = String::with_capacity(template.len());
    let mut slots: Vec<(Range<usize>, TokenKind)> = Vec::new();
    let mut copied_to = 0;
    for (i, token) in lex(template, dialect).enumerate() {
        let value = if values.is_empty() {
            ""
        } else {
            values[i % values.len()]
        };
        let Some(literal) = literal(template, token, value, dialect) else {
            continue;
        };
        sql.push_str(&template[copied_to..token.start]);
        let start = sql.len();
        sql.push_str(&literal);
        slots.push((start..sql.len(), token.kind));
        copied_to = token.end;
    }
    sql.push_str(&template[copied_to..]);

    let tokens: Vec<Token> = lex(&sql, dialect).collect();
    slots
        .iter()
        .all(|(span, kind)| tokens.iter().any(|t| t.span() == *span && t.kind == *kind))
        .then_some(sql)
}

/// A new spelling of `token` with `value`, when it is a literal this target rewrites:
/// a terminated string opened by a quote, optionally after `N`, `E`, `X` or `B`, or a
/// number.
fn literal(template: &str, token: Token, value: &str, dialect: Dialect) -> Option<String> {
    let text = token.text(template);
    match token.kind {
        TokenKind::Number => Some(number(value, dialect)),
        TokenKind::String {
            terminated: true,
            backslash_escapes,
        } => {
            let quote_at = text.find(['\'', '"'])?;
            let (prefix, rest) = text.split_at(quote_at);
            let quote = rest.chars().next()?;
            let body = match prefix {
                "" | "N" | "n" | "E" | "e" => escape(value, quote, backslash_escapes),
                "X" | "x" => value.bytes().fold(String::new(), |mut hex, byte| {
                    let _ = write!(hex, "{byte:02X}");
                    hex
                }),
                "B" | "b" => value.bytes().fold(String::new(), |mut bits, byte| {
                    let _ = write!(bits, "{byte:08b}");
                    bits
                }),
                // `U&'...'` has escapes of its own; `$tag$...$tag$` is left as it is.
                _ => return None,
            };
            Some(format!("{prefix}{quote}{body}{quote}"))
        }
        _ => None,
    }
}

/// A number literal of `dialect` derived from `value`, in one of the forms the dialect reads.
fn number(value: &str, dialect: Dialect) -> String {
    let seed = value.bytes().fold(0u64, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u64::from(byte))
    });
    let n = seed >> 4;
    match (seed % 8, dialect) {
        (1, _) => format!("{}.{}", n % 10_000, n / 10_000 % 1000),
        (2, _) => format!(".{}", n % 1000),
        (3, _) => format!(
            "{}e{}{}",
            n % 100,
            ["", "+", "-"][(n % 3) as usize],
            n / 100 % 40
        ),
        (4, _) => format!("0x{n:X}"),
        (5, _) => format!("{}.", n % 1000),
        (6, Dialect::Postgres | Dialect::MySql) => format!("0b{:b}", n % 64),
        (7, Dialect::Postgres) => format!("0o{:o}", n % 512),
        (7, Dialect::Sqlite) => format!("{}_{:03}", n % 100, n / 100 % 1000),
        _ => n.to_string(),
    }
}
