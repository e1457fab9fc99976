//! Input correlation: does a request input that occurs in a statement stay data, or does it
//! add structure?

use std::fmt;
use std::ops::{ControlFlow, Range};

use super::dialect::Dialect;
use super::lexer::lex;
use super::shape::{Lists, is_sign, is_sort_element, is_value_part};
use super::token::{Token, TokenKind};
use crate::fingerprint::Fingerprint;
use crate::input::{Input, has_two_characters};
use crate::occurrence::{ByteSet, Needle, each_occurrence, occurs};

/// The most tokens an [`Evidence`] keeps; an occurrence spanning more is still judged on all.
const EVIDENCE_TOKENS: usize = 32;

/// What an input added to a statement, from the least to the most telling.
///
/// When an input adds several things, the evidence names the most telling one: `' OR 1=1 --`
/// adds a keyword, a tautology and a comment, and is reported as [`Added::Comment`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Added {
    /// A literal beside the one the statement expected (`'a' 'b'`).
    Literal,
    /// A name where a value stood (`id = id`), or a placeholder.
    Identifier,
    /// Parentheses, commas, dots or a character with no meaning.
    Punctuation,
    /// A quote that leaves a literal open, or a trailing backslash that escapes the
    /// statement's own closing quote (`O'Brien`, `a\`).
    UnbalancedQuote,
    /// An operator (`||`, `-`, `<`).
    Operator,
    /// A keyword (`OR`, `UNION`, `SELECT`).
    Keyword,
    /// A function call (`SLEEP(5)`).
    FunctionCall,
    /// A comparison between two constants or a name and itself (`1=1`, `'a'='a'`).
    Tautology,
    /// A comment, a MySQL version comment or a NUL that cuts the statement short.
    Comment,
    /// A `;`, which lets another statement follow.
    Statement,
}

impl Added {
    /// A short lowercase name, as used in reports (`unbalanced quote`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Added::Literal => "literal",
            Added::Identifier => "identifier",
            Added::Punctuation => "punctuation",
            Added::UnbalancedQuote => "unbalanced quote",
            Added::Operator => "operator",
            Added::Keyword => "keyword",
            Added::FunctionCall => "function call",
            Added::Tautology => "tautology",
            Added::Comment => "comment",
            Added::Statement => "statement",
        }
    }
}

impl fmt::Display for Added {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a verdict was reached: which input, where it occurs and what it added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence<'a> {
    /// The input, with its value and location.
    pub input: &'a Input<'a>,
    /// The bytes of the statement the occurrence covers.
    pub span: Range<usize>,
    /// The tokens the occurrence overlaps, in order (at most 32).
    pub tokens: Vec<Token>,
    /// What the input added.
    pub added: Added,
}

impl<'a> Evidence<'a> {
    fn new(input: &'a Input<'a>, covered: &[Token], span: Range<usize>, added: Added) -> Self {
        Evidence {
            input,
            span,
            tokens: covered.iter().copied().take(EVIDENCE_TOKENS).collect(),
            added,
        }
    }
}

/// The outcome of [`SqlDetector::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// No input of two characters or more occurs in the statement (a whole-statement input,
    /// where [allowed](SqlDetector::allow_whole_query_inputs), does not count).
    NoInput,
    /// Inputs occur, and each stays inside one literal, an `IN (...)` list of values or an
    /// `ORDER BY` list of plain columns.
    Data,
    /// An input is one whole name, keyword or operator on its own. That adds no structure
    /// beyond itself, but it explains a structure the call site has never seen: learning
    /// decides. (An input found inside a longer name, or that also stands as data elsewhere
    /// in the statement, or that is a field's name, is there by coincidence: data.)
    Ambiguous(Evidence<'a>),
    /// An input adds SQL structure.
    Injection(Evidence<'a>),
}

impl Verdict<'_> {
    /// Whether this verdict is an injection.
    pub fn is_injection(&self) -> bool {
        matches!(self, Verdict::Injection(_))
    }

    /// The evidence, when there is any.
    pub fn evidence(&self) -> Option<&Evidence<'_>> {
        match self {
            Verdict::Ambiguous(evidence) | Verdict::Injection(evidence) => Some(evidence),
            Verdict::NoInput | Verdict::Data => None,
        }
    }
}

/// A verdict and a fingerprint from one lexing of the statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analysis<'a> {
    /// What the inputs do to the statement.
    pub verdict: Verdict<'a>,
    /// The statement's structure.
    pub fingerprint: Fingerprint,
}

/// The first input found in a statement, from [`SqlDetector::first_occurrence`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FirstOccurrence(Option<usize>);

impl FirstOccurrence {
    /// Whether some input occurs.
    pub const fn is_some(self) -> bool {
        self.0.is_some()
    }
}

/// The SQL injection detector for one dialect: immutable, cheap to copy, and safe to share
/// between threads.
///
/// ```
/// use antibody_detect::{Input, Source};
/// use antibody_detect::sql::{Dialect, SqlDetector, Verdict};
///
/// let detector = SqlDetector::new(Dialect::Postgres);
/// let benign = [Input::new(Source::Query, "category", "garden tools")];
/// let query = "SELECT * FROM products WHERE category = 'garden tools'";
/// assert_eq!(detector.check(query, &benign), Verdict::Data);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlDetector {
    dialect: Dialect,
    allow_whole_query_inputs: bool,
}

impl SqlDetector {
    /// A detector that reads statements in `dialect`.
    pub const fn new(dialect: Dialect) -> Self {
        SqlDetector {
            dialect,
            allow_whole_query_inputs: false,
        }
    }

    /// Whether an input that *is* the whole statement (a database console feature) is
    /// allowed; off by default.
    #[must_use]
    pub const fn allow_whole_query_inputs(mut self, allow: bool) -> Self {
        self.allow_whole_query_inputs = allow;
        self
    }

    /// The dialect statements are read in.
    pub const fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Decides, for each input of two characters or more that occurs in `sql`, whether it
    /// adds structure. Lexes `sql` only when some input occurs in it, and at most once.
    ///
    /// An input is looked for without surrounding whitespace, because applications often
    /// trim it, and also as an application may have escaped it for a quoted literal
    /// (quotes doubled, or quotes and backslashes behind a backslash), because what matters
    /// is what the database reads. The evidence's span is the occurrence found.
    pub fn check<'a>(&self, sql: &str, inputs: &'a [Input<'a>]) -> Verdict<'a> {
        let Some(first) = self.first_occurring(sql, inputs) else {
            return Verdict::NoInput;
        };
        self.judge(sql, &self.tokens(sql), inputs, first)
    }

    /// Where in `inputs` the first input [`check`](Self::check) would judge occurs in `sql`,
    /// in any form it looks for. Never lexes: when none occurs, `check` is
    /// [`Verdict::NoInput`]. Pass it on to [`analyze_from`](Self::analyze_from), so the
    /// search is not repeated.
    pub fn first_occurrence(&self, sql: &str, inputs: &[Input<'_>]) -> FirstOccurrence {
        FirstOccurrence(self.first_occurring(sql, inputs))
    }

    /// The fingerprint of `sql`.
    pub fn fingerprint(&self, sql: &str) -> Fingerprint {
        Fingerprint::of(sql, self.dialect)
    }

    /// [`check`](Self::check) and [`fingerprint`](Self::fingerprint) together, lexing
    /// `sql` once.
    pub fn analyze<'a>(&self, sql: &str, inputs: &'a [Input<'a>]) -> Analysis<'a> {
        self.analyze_from(sql, inputs, self.first_occurrence(sql, inputs))
    }

    /// [`analyze`](Self::analyze), given what [`first_occurrence`](Self::first_occurrence)
    /// found for the same `sql` and `inputs`.
    pub fn analyze_from<'a>(
        &self,
        sql: &str,
        inputs: &'a [Input<'a>],
        first: FirstOccurrence,
    ) -> Analysis<'a> {
        let tokens = self.tokens(sql);
        let verdict = match first.0 {
            Some(first) if first < inputs.len() => self.judge(sql, &tokens, inputs, first),
            _ => Verdict::NoInput,
        };
        Analysis {
            verdict,
            fingerprint: Fingerprint::of_tokens(sql, &tokens),
        }
    }

    /// `sql`'s tokens, in a vector sized once for a typical statement's density.
    fn tokens(self, sql: &str) -> Vec<Token> {
        let mut tokens = Vec::with_capacity(sql.len() / 4 + 8);
        tokens.extend(lex(sql, self.dialect));
        tokens
    }

    /// The part of `input` to look for in `sql`, when the input is judged at all: its value
    /// without surrounding whitespace (applications often trim), two characters or more,
    /// and not the whole statement where that is allowed.
    fn needle_text<'a>(self, sql: &str, input: &Input<'a>) -> Option<&'a str> {
        let value = trimmed(input.value);
        let whole_statement = self.allow_whole_query_inputs && value == sql.trim();
        (has_two_characters(value) && !whole_statement).then_some(value)
    }

    /// The index of the first input that occurs in `sql` in any form: judging starts there,
    /// since the inputs before it were already searched for in vain.
    fn first_occurring(self, sql: &str, inputs: &[Input<'_>]) -> Option<usize> {
        // Most inputs (headers, cookies) hold a byte the statement lacks: one pass over the
        // statement lets each of them be dismissed without a search.
        let bytes = ByteSet::of(sql);
        let found = |text: &str| bytes.may_hold(text) && occurs(sql, Needle::new(text));
        inputs.iter().position(|input| {
            self.needle_text(sql, input).is_some_and(|text| {
                !bytes.rules_out_with_tail(text) && {
                    let needle = Needle::new(text);
                    found(text) || escape_tail(needle).is_some_and(found)
                }
            })
        })
    }

    fn judge<'a>(
        self,
        sql: &str,
        tokens: &[Token],
        inputs: &'a [Input<'a>],
        first: usize,
    ) -> Verdict<'a> {
        let mut ambiguous = None;
        // Only an occurrence that spans several tokens, or one name, asks which list it is
        // in: most occurrences sit inside one literal and never do.
        let lists = Lists::new(sql, tokens);
        let bytes = ByteSet::of(sql);
        for input in &inputs[first..] {
            let Some(text) = self.needle_text(sql, input) else {
                continue;
            };
            if bytes.rules_out_with_tail(text) {
                continue;
            }
            let needle = Needle::new(text);
            // An input that also stands as data somewhere put its lone-name occurrences there
            // by coincidence (`name` in the select list and in `ORDER BY name`).
            let (mut as_data, mut as_name) = (false, None);
            let injection = each_occurrence(sql, needle, |span| {
                let covered = covered_tokens(tokens, &span);
                let Some(judgement) = judge_occurrence(sql, tokens, &lists, covered.clone(), &span)
                else {
                    as_data = true;
                    return ControlFlow::Continue(());
                };
                let evidence = Evidence::new(input, &tokens[covered], span, judgement.added);
                if judgement.injection {
                    return ControlFlow::Break(evidence);
                }
                if !input.location.is_key() {
                    as_name.get_or_insert(evidence);
                }
                ControlFlow::Continue(())
            });
            if let ControlFlow::Break(evidence) = injection {
                return Verdict::Injection(evidence);
            }
            if let Some(evidence) = tail_breakout(sql, tokens, &lists, input, needle) {
                return Verdict::Injection(evidence);
            }
            if !as_data && ambiguous.is_none() {
                ambiguous = as_name;
            }
        }
        ambiguous.map_or(Verdict::Data, Verdict::Ambiguous)
    }
}

/// An input escaped in a way the search does not know (`'` as `\'` where backslash means
/// nothing, quotes doubled where it does, extra characters escaped, the input cut short) is
/// still caught by what follows its last quote or backslash: when that tail begins exactly
/// where a quoted literal ends, the quote closed the literal, and the tail is judged as an
/// input of its own.
fn tail_breakout<'a>(
    sql: &str,
    tokens: &[Token],
    lists: &Lists<'_>,
    input: &'a Input<'a>,
    needle: Needle<'_>,
) -> Option<Evidence<'a>> {
    let tail = escape_tail(needle)?;
    memchr::memmem::find_iter(sql.as_bytes(), tail.as_bytes()).find_map(|start| {
        let closed = tokens.partition_point(|token| token.end < start);
        let after_literal = tokens.get(closed).is_some_and(|token| {
            token.end == start
                && matches!(
                    token.kind,
                    TokenKind::String { .. } | TokenKind::QuotedIdentifier { .. }
                )
        });
        if !after_literal {
            return None;
        }
        let span = start..start + tail.len();
        let covered = covered_tokens(tokens, &span);
        let judgement = judge_occurrence(sql, tokens, lists, covered.clone(), &span)?;
        judgement
            .injection
            .then(|| Evidence::new(input, &tokens[covered], span, judgement.added))
    })
}

/// What follows the last quote or backslash of `needle`, when it has two visible characters
/// or more.
fn escape_tail(needle: Needle<'_>) -> Option<&str> {
    needle.tail().filter(|tail| has_two_characters(tail.trim()))
}

/// `value` without surrounding whitespace; most values have none, and two byte tests say
/// so without decoding characters.
fn trimmed(value: &str) -> &str {
    let bytes = value.as_bytes();
    // `char::is_whitespace`, as `str::trim` uses it: unlike `u8::is_ascii_whitespace`, it
    // counts the vertical tab.
    let plain = |byte: u8| byte.is_ascii() && !char::from(byte).is_whitespace();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) if plain(first) && plain(last) => value,
        _ => value.trim(),
    }
}

/// The indices of the tokens that overlap `span`.
fn covered_tokens(tokens: &[Token], span: &Range<usize>) -> Range<usize> {
    let first = tokens.partition_point(|token| token.end <= span.start);
    let count = tokens[first..].partition_point(|token| token.start < span.end);
    first..first + count
}

/// What one occurrence does, when it is more than data.
struct Judgement {
    added: Added,
    injection: bool,
}

fn judge_occurrence(
    sql: &str,
    tokens: &[Token],
    lists: &Lists<'_>,
    covered: Range<usize>,
    span: &Range<usize>,
) -> Option<Judgement> {
    let injection = |added| {
        Some(Judgement {
            added,
            injection: true,
        })
    };
    match covered.len() {
        0 => None,
        1 => {
            let token = tokens[covered.start];
            let opens_here = token.start >= span.start;
            match token.kind {
                TokenKind::String {
                    terminated: false, ..
                }
                | TokenKind::QuotedIdentifier { terminated: false } => {
                    injection(Added::UnbalancedQuote)
                }
                TokenKind::String {
                    backslash_escapes: true,
                    ..
                } if escapes_closing_quote(sql, span) => injection(Added::UnbalancedQuote),
                TokenKind::String { .. } | TokenKind::Number => None,
                TokenKind::LineComment | TokenKind::BlockComment { .. } if !opens_here => None,
                _ if is_sort_element(sql, tokens, covered.start)
                    && lists.in_sort_list(covered.start) =>
                {
                    None
                }
                // Part of a name, keyword or operator is a coincidence (`en` in `tenant`):
                // only an input that is the whole token puts it there.
                TokenKind::Identifier
                | TokenKind::Keyword
                | TokenKind::QuotedIdentifier { .. }
                | TokenKind::Operator
                | TokenKind::Placeholder
                    if token.start < span.start || span.end < token.end =>
                {
                    None
                }
                _ => {
                    let added = addition(sql, tokens, covered.start, span);
                    Some(Judgement {
                        added,
                        injection: added >= Added::Comment || added == Added::UnbalancedQuote,
                    })
                }
            }
        }
        _ if stays_data(sql, tokens, lists, covered.clone(), span) => None,
        _ => {
            let added = covered
                .map(|i| addition(sql, tokens, i, span))
                .max()
                .unwrap_or(Added::Punctuation);
            injection(added)
        }
    }
}

/// Whether an occurrence over several tokens is still data: one signed number, a run of an
/// `IN (...)` list of values, or a run of an `ORDER BY` list of plain columns. A run of a list
/// must start and end on token boundaries: an input that closes one literal and opens
/// another (`alice', 'bob`) chose which rows a list holds.
fn stays_data(
    sql: &str,
    tokens: &[Token],
    lists: &Lists<'_>,
    covered: Range<usize>,
    span: &Range<usize>,
) -> bool {
    let first = covered.start;
    let whole_tokens = span.start <= tokens[first].start && tokens[covered.end - 1].end <= span.end;
    let values_and_commas = covered
        .clone()
        .all(|i| tokens[i].kind == TokenKind::Comma || is_value_part(sql, tokens, i));
    let signed_number = covered.len() == 2 && is_sign(sql, tokens, first);
    if values_and_commas && whole_tokens && (signed_number || lists.in_value_list(first)) {
        return true;
    }
    whole_tokens
        && covered.clone().all(|i| is_sort_element(sql, tokens, i))
        && lists.in_sort_list(first)
}

/// Whether the occurrence ends in backslashes that leave an odd run right before a quote:
/// in a dialect where backslash escapes, that swallows the statement's own closing quote.
/// The whole run counts, since an application that escapes correctly doubles each backslash.
fn escapes_closing_quote(sql: &str, span: &Range<usize>) -> bool {
    let bytes = sql.as_bytes();
    if !matches!(bytes.get(span.end), Some(b'\'' | b'"')) || bytes[span.end - 1] != b'\\' {
        return false;
    }
    let run = bytes[..span.end]
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count();
    run % 2 == 1
}

/// What the token at `index`, overlapped by the occurrence `span`, adds.
fn addition(sql: &str, tokens: &[Token], index: usize, span: &Range<usize>) -> Added {
    let token = tokens[index];
    match token.kind {
        TokenKind::Semicolon => Added::Statement,
        TokenKind::LineComment
        | TokenKind::BlockComment { .. }
        | TokenKind::VersionCommentStart
        | TokenKind::VersionCommentEnd
        | TokenKind::Nul => Added::Comment,
        TokenKind::String { .. } | TokenKind::QuotedIdentifier { .. }
            if closes_or_opens(token, span) =>
        {
            Added::UnbalancedQuote
        }
        TokenKind::Keyword => Added::Keyword,
        TokenKind::Identifier
            if tokens
                .get(index + 1)
                .is_some_and(|next| next.kind == TokenKind::OpenParen) =>
        {
            Added::FunctionCall
        }
        TokenKind::Identifier | TokenKind::QuotedIdentifier { .. } | TokenKind::Placeholder => {
            Added::Identifier
        }
        TokenKind::Operator if is_sign(sql, tokens, index) => Added::Literal,
        TokenKind::Operator if is_tautology(sql, tokens, index) => Added::Tautology,
        TokenKind::Operator => Added::Operator,
        TokenKind::String { .. } | TokenKind::Number => Added::Literal,
        TokenKind::Comma
        | TokenKind::Dot
        | TokenKind::OpenParen
        | TokenKind::CloseParen
        | TokenKind::OpenBracket
        | TokenKind::CloseBracket
        | TokenKind::Unknown => Added::Punctuation,
    }
}

/// Whether the occurrence `span` starts inside the quoted `token` and goes past its end
/// (the input closed the literal), or opens it and the statement never closes it.
fn closes_or_opens(token: Token, span: &Range<usize>) -> bool {
    let closes = token.start < span.start && token.end <= span.end;
    let opens_unclosed = token.start >= span.start && token.kind.is_unterminated();
    closes || opens_unclosed
}

/// Whether the operator at `index` compares two constants, or a name with itself.
fn is_tautology(sql: &str, tokens: &[Token], index: usize) -> bool {
    const COMPARISONS: [&str; 9] = ["=", "==", "<>", "!=", "<", ">", "<=", ">=", "<=>"];
    if !COMPARISONS.contains(&tokens[index].text(sql)) || index == 0 {
        return false;
    }
    let (Some(left), Some(right_start)) = (tokens.get(index - 1), tokens.get(index + 1)) else {
        return false;
    };
    // A signed right operand (`1=-1`) is a value too.
    let right = if is_sign(sql, tokens, index + 1) {
        tokens[index + 2]
    } else {
        *right_start
    };
    let constant = |token: &Token| token.kind.is_value();
    let same_name = left.kind == TokenKind::Identifier
        && right.kind == TokenKind::Identifier
        && left.text(sql).eq_ignore_ascii_case(right.text(sql));
    (constant(left) && constant(&right)) || same_name
}
