//! Runs `SqlDetector::check` and `analyze` on a fuzzed statement and fuzzed inputs, and
//! checks that:
//!
//! - neither panics, and both agree: `analyze` gives `check`'s verdict and `fingerprint`'s
//!   fingerprint;
//! - evidence names one of the inputs; its span lies in the statement and holds the input's
//!   value without surrounding whitespace, verbatim or as an application escapes it (quotes
//!   doubled, or a backslash before each quote and backslash); its tokens overlap the span;
//! - an input that the application escaped correctly and pasted into a string literal,
//!   `SELECT * FROM t WHERE a = '...'`, stays data: never `Injection`, never `Ambiguous`.
//!   Correctly is: quotes doubled, and in MySQL backslashes doubled too, or in MySQL a
//!   backslash before each quote and backslash.
//!
//! The data is a dialect byte (its top bit allows whole-statement inputs), the statement,
//! and the inputs' values.
#![no_main]

use antibody_detect::sql::{Dialect, Evidence, SqlDetector, Verdict};
use antibody_detect::{Input, Source};
use antibody_detect_fuzz::{dialect_from, escape};
use libfuzzer_sys::fuzz_target;

/// The statement an escaped input is pasted into; the literal follows it.
const BEFORE_LITERAL: &str = "SELECT * FROM t WHERE a = ";

fuzz_target!(|data: (u8, String, Vec<String>)| {
    let (selector, sql, values) = data;
    let dialect = dialect_from(selector & 0x7f);
    let detector = SqlDetector::new(dialect).allow_whole_query_inputs(selector & 0x80 != 0);
    let names: Vec<String> = (0..values.len()).map(|i| format!("p{i}")).collect();
    let inputs: Vec<Input<'_>> = values
        .iter()
        .zip(&names)
        .map(|(value, name)| Input::new(Source::Query, name, value))
        .collect();

    let verdict = detector.check(&sql, &inputs);
    let analysis = detector.analyze(&sql, &inputs);
    assert_eq!(
        analysis.verdict, verdict,
        "{dialect}: analyze and check disagree on {sql:?}"
    );
    assert_eq!(
        analysis.fingerprint,
        detector.fingerprint(&sql),
        "{dialect}: analyze and fingerprint disagree on {sql:?}"
    );
    if let Some(evidence) = verdict.evidence() {
        assert_evidence(&sql, evidence, &inputs);
    }

    for input in &inputs {
        assert_escaped_input_stays_data(dialect, input);
    }
});

fn assert_evidence(sql: &str, evidence: &Evidence<'_>, inputs: &[Input<'_>]) {
    assert!(
        inputs
            .iter()
            .any(|input| std::ptr::eq(input, evidence.input)),
        "evidence names an input that was not given: {evidence:?}"
    );
    let found = sql.get(evidence.span.clone());
    assert!(
        found.is_some_and(|found| spellings(evidence.input.value).iter().any(|s| s == found)),
        "evidence span {:?} holds {found:?}, not the input {:?}, in {sql:?}",
        evidence.span,
        evidence.input.value
    );
    assert!(
        !evidence.tokens.is_empty(),
        "evidence without tokens in {sql:?}"
    );
    for token in &evidence.tokens {
        assert!(
            token.start < evidence.span.end && evidence.span.start < token.end,
            "evidence token {token:?} outside the span {:?} in {sql:?}",
            evidence.span
        );
    }
}

/// The ways the detector looks for an input: trimmed, then verbatim, with quotes doubled, or
/// with a backslash before each quote and backslash, and the tail after its last quote.
fn spellings(value: &str) -> Vec<String> {
    let value = value.trim();
    let mut spellings = vec![
        value.to_owned(),
        value.replace('\'', "''"),
        backslash_escaped(value),
    ];
    // What follows the last quote or backslash, found where a literal ends: the input escaped
    // in a way of the application's own.
    if let Some(last) = value.rfind(['\'', '"', '`', '\\']) {
        spellings.push(value[last + 1..].to_owned());
    }
    spellings
}

/// `value` with a backslash before each `'`, `"` and `\`, as MySQL's own escaping writes it.
fn backslash_escaped(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '\'' | '"' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// An application that escapes `input` correctly and pastes it into a string literal has
/// done its job: the detector must call that data.
fn assert_escaped_input_stays_data(dialect: Dialect, input: &Input<'_>) {
    // SQLite and PostgreSQL stop reading at a NUL, even inside a literal: the database
    // runs a shorter statement, so the input does change it.
    if dialect != Dialect::MySql && input.value.contains('\0') {
        return;
    }
    let mut bodies = vec![escape(input.value, '\'', dialect == Dialect::MySql)];
    if dialect == Dialect::MySql {
        bodies.push(backslash_escaped(input.value));
    }
    for body in bodies {
        let sql = format!("{BEFORE_LITERAL}'{body}'");
        // An occurrence that starts in the statement's own text, the opening quote
        // included, is a coincidence judged where it lies, not in the literal; this
        // invariant is about the literal's body.
        let body_start = BEFORE_LITERAL.len() + 1;
        if spellings(input.value).iter().any(|spelling| {
            !spelling.is_empty()
                && sql
                    .find(spelling.as_str())
                    .is_some_and(|at| at < body_start)
        }) {
            continue;
        }
        let inputs = [*input];
        let verdict = SqlDetector::new(dialect).check(&sql, &inputs);
        assert!(
            matches!(verdict, Verdict::NoInput | Verdict::Data),
            "{dialect}: escaped input {:?} in {sql:?} judged {verdict:?}",
            input.value
        );
    }
}
