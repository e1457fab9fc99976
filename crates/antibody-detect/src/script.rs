//! Scripts: whether request input adds code to a script an application evaluates (Rhai,
//! and scripting languages with the same C-like tokens).
//!
//! Input is harmless while it stays inside one literal of the script (a string, a number),
//! or while all it adds is arithmetic on literals (`2 + 1`, `(3 * 4) - 1`), which is what a
//! calculator field is for. It is code injection when it adds anything else: a name (a
//! variable such as `secret`, a function), a call, a statement separator, an assignment, a
//! block, an index or a property, or a string it closes. A name the script also uses where
//! the input is not is taken for the script's own.
//!
//! ```
//! use antibody_detect::{Input, Source};
//! use antibody_detect::script::{ScriptVerdict, check};
//!
//! let attack = [Input::new(Source::Query, "qty", "secret")];
//! assert!(check("let qty = secret; price * qty", &attack).is_injection());
//!
//! let benign = [Input::new(Source::Query, "qty", "2 + 1")];
//! assert_eq!(check("let qty = 2 + 1; price * qty", &benign), ScriptVerdict::Data);
//! ```

use std::ops::Range;

use crate::fingerprint::{Case, Fingerprint, Fnv};
use crate::input::Input;

/// A token of a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Number,
    String {
        terminated: bool,
    },
    Name,
    /// `+ - * / %` and `**`: arithmetic.
    Arithmetic,
    OpenParen,
    CloseParen,
    /// Any other operator or punctuation (`;`, `=`, `.`, `{`, `[`, `,`, `|`, ...).
    Other,
    Comment,
}

#[derive(Clone, Copy, Debug)]
struct Token {
    kind: Kind,
    start: usize,
    end: usize,
}

/// The tokens of `script`, without white space. Never fails: what it cannot read is one
/// `Other` byte.
fn tokens(script: &str) -> Vec<Token> {
    let bytes = script.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        let byte = bytes[at];
        let kind = match byte {
            b' ' | b'\t' | b'\n' | b'\r' => {
                at += 1;
                continue;
            }
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                at = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
                Kind::Comment
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                at = memchr::memmem::find(&bytes[at + 2..], b"*/")
                    .map_or(bytes.len(), |n| at + n + 4);
                Kind::Comment
            }
            b'"' | b'`' | b'\'' => {
                at += 1;
                let mut terminated = false;
                while at < bytes.len() {
                    match bytes[at] {
                        b'\\' => at += 2,
                        quote if quote == byte => {
                            at += 1;
                            terminated = true;
                            break;
                        }
                        _ => at += 1,
                    }
                }
                at = at.min(bytes.len());
                Kind::String { terminated }
            }
            b'0'..=b'9' => {
                while at < bytes.len()
                    && (bytes[at].is_ascii_alphanumeric() || matches!(bytes[at], b'_' | b'.'))
                {
                    // `1.` followed by a name is a method call on a number, not a fraction.
                    if bytes[at] == b'.' && !bytes.get(at + 1).is_some_and(u8::is_ascii_digit) {
                        break;
                    }
                    at += 1;
                }
                Kind::Number
            }
            b if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => {
                while at < bytes.len()
                    && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_' || bytes[at] >= 0x80)
                {
                    at += 1;
                }
                Kind::Name
            }
            b'*' if bytes.get(at + 1) == Some(&b'*') && bytes.get(at + 2) != Some(&b'=') => {
                at += 2;
                Kind::Arithmetic
            }
            b'+' | b'-' | b'*' | b'/' | b'%' if bytes.get(at + 1) != Some(&b'=') => {
                at += 1;
                Kind::Arithmetic
            }
            b'(' => {
                at += 1;
                Kind::OpenParen
            }
            b')' => {
                at += 1;
                Kind::CloseParen
            }
            _ => {
                at += 1;
                while at < bytes.len() && !script.is_char_boundary(at) {
                    at += 1;
                }
                Kind::Other
            }
        };
        tokens.push(Token {
            kind,
            start,
            end: at,
        });
    }
    tokens
}

/// What an input added to a script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScriptAdded {
    /// A name: a variable, a function, a keyword.
    Name,
    /// Operators or punctuation beyond arithmetic: statements, assignments, blocks, calls
    /// on values, indexing, closures.
    Syntax,
    /// A quote that ends a string, or a string left open.
    StringBreakout,
    /// A comment, which hides the rest of the line or script.
    Comment,
}

impl ScriptAdded {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptAdded::Name => "name",
            ScriptAdded::Syntax => "code syntax",
            ScriptAdded::StringBreakout => "string breakout",
            ScriptAdded::Comment => "comment",
        }
    }
}

/// The input behind a code injection, and what it added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptEvidence<'a> {
    /// The input.
    pub input: &'a Input<'a>,
    /// Where it lies in the script.
    pub span: Range<usize>,
    /// What it added.
    pub added: ScriptAdded,
}

/// What the inputs do to a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptVerdict<'a> {
    /// No input of two characters or more (or a lone digit) occurs in the script.
    NoInput,
    /// Inputs occur, each inside one literal or adding arithmetic only.
    Data,
    /// An input adds code.
    Injection(ScriptEvidence<'a>),
}

impl ScriptVerdict<'_> {
    /// Whether this verdict is an injection.
    pub fn is_injection(&self) -> bool {
        matches!(self, ScriptVerdict::Injection(_))
    }
}

/// Judges `script`, about to be evaluated, against the request's `inputs`.
pub fn check<'a>(script: &str, inputs: &'a [Input<'a>]) -> ScriptVerdict<'a> {
    let mut tokens_of_script = None;
    let mut verdict = ScriptVerdict::NoInput;
    for input in inputs {
        // A single letter may name a variable (`x`): it is judged too.
        if input.value.trim().is_empty() {
            continue;
        }
        for start in memchr::memmem::find_iter(script.as_bytes(), input.value.as_bytes()) {
            verdict = ScriptVerdict::Data;
            let tokens = tokens_of_script.get_or_insert_with(|| tokens(script));
            let span = start..start + input.value.len();
            if let Some(added) = judge(script, tokens, &span) {
                return ScriptVerdict::Injection(ScriptEvidence { input, span, added });
            }
        }
    }
    verdict
}

/// What the input at `span` adds, if anything.
fn judge(script: &str, tokens: &[Token], span: &Range<usize>) -> Option<ScriptAdded> {
    let covered: Vec<&Token> = tokens
        .iter()
        .filter(|token| token.start < span.end && token.end > span.start)
        .collect();
    let text = |token: &Token| &script[token.start..token.end];
    match covered.as_slice() {
        [] => None,
        // Part of a longer token (`e` in `price`): a coincidence.
        [token]
            if (token.start < span.start || token.end > span.end)
                && !matches!(token.kind, Kind::String { .. }) =>
        {
            None
        }
        // A name the script also uses elsewhere is the script's own (`price` searched for
        // in `price * qty`).
        [token]
            if token.kind == Kind::Name
                && tokens
                    .iter()
                    .any(|other| other.start != token.start && text(other) == text(token)) =>
        {
            None
        }
        // Inside one literal, and not the literal's own end: data.
        [token]
            if matches!(token.kind, Kind::String { terminated: true })
                && token.start < span.start
                && token.end > span.end =>
        {
            None
        }
        [token] if token.kind == Kind::Number => None,
        covered => {
            let mut added = None;
            for token in covered {
                let this = match token.kind {
                    Kind::Number | Kind::Arithmetic | Kind::OpenParen | Kind::CloseParen => {
                        continue;
                    }
                    Kind::String { .. } => ScriptAdded::StringBreakout,
                    Kind::Comment => ScriptAdded::Comment,
                    Kind::Name => ScriptAdded::Name,
                    Kind::Other => ScriptAdded::Syntax,
                };
                added = added.max(Some(this));
            }
            added
        }
    }
}

impl PartialOrd for ScriptAdded {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ScriptAdded {
    /// Where an input adds several things, the event names the most telling.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let weight = |added: &ScriptAdded| match added {
            ScriptAdded::Name => 0,
            ScriptAdded::Comment => 1,
            ScriptAdded::Syntax => 2,
            ScriptAdded::StringBreakout => 3,
        };
        weight(self).cmp(&weight(other))
    }
}

/// The shape of a script, as a call site learns it: its tokens with every literal
/// collapsed, names and punctuation kept.
pub fn fingerprint(script: &str) -> Fingerprint {
    let mut hash = Fnv::new();
    for token in tokens(script) {
        let text = &script.as_bytes()[token.start..token.end];
        match token.kind {
            Kind::Number | Kind::String { terminated: true } => {
                hash.symbol(b'?', b"", Case::Exact);
            }
            Kind::String { terminated: false } => hash.symbol(b'\'', b"", Case::Exact),
            Kind::Comment => hash.symbol(b'C', b"", Case::Exact),
            Kind::Name => hash.symbol(b'N', text, Case::Exact),
            Kind::Arithmetic | Kind::OpenParen | Kind::CloseParen | Kind::Other => {
                hash.symbol(b'O', text, Case::Exact);
            }
        }
    }
    Fingerprint::from_u64(hash.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Source;

    fn verdict(template: &str, value: &str) -> Option<ScriptAdded> {
        let script = template.replace("{}", value);
        let inputs = [Input::new(Source::Query, "qty", value)];
        match check(&script, &inputs) {
            ScriptVerdict::Injection(evidence) => Some(evidence.added),
            ScriptVerdict::Data | ScriptVerdict::NoInput => None,
        }
    }

    const CALC: &str = "let qty = {}; price * qty";
    const QUOTED: &str = "let note = \"{}\"; note.len()";

    #[test]
    fn input_that_adds_code_is_injection_and_its_benign_twin_is_not() {
        use ScriptAdded::*;
        let cases: &[(&str, &str, std::option::Option<ScriptAdded>)] = &[
            (CALC, "secret", Some(Name)),
            (CALC, "1; secret", Some(Syntax)),
            (CALC, "secret.len()", Some(Syntax)),
            (CALC, "[secret][0]", Some(Syntax)),
            (CALC, "1 // ", Some(Comment)),
            (CALC, "x", Some(Name)),
            (QUOTED, "a\"; secret; \"", Some(StringBreakout)),
            (QUOTED, "a\\", Some(StringBreakout)),
            // Benign twins.
            (CALC, "3", None),
            (CALC, "2 + 1", None),
            (CALC, "(3 * 4) - 1", None),
            (CALC, "2 ** 3", None),
            (CALC, "1.5", None),
            (CALC, "price", None),
            (QUOTED, "it's; secret", None),
            (QUOTED, "Zo\u{eb}", None),
        ];
        for (template, value, expected) in cases {
            assert_eq!(
                verdict(template, value),
                *expected,
                "{template} with {value:?}"
            );
        }
    }

    #[test]
    fn an_input_inside_a_longer_name_is_a_coincidence() {
        let inputs = [Input::new(Source::Header, "accept-language", "ic")];
        assert_eq!(
            check("let qty = 3; price * qty", &inputs),
            ScriptVerdict::Data
        );
    }

    #[test]
    fn shapes_collapse_literals() {
        assert_eq!(
            fingerprint("let qty = 3; price * qty"),
            fingerprint("let qty = 41; price * qty")
        );
        assert_ne!(
            fingerprint("let qty = 3; price * qty"),
            fingerprint("let qty = secret; price * qty")
        );
    }
}
