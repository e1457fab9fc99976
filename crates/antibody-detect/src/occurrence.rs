//! Finding where a request input occurs in what a sink is about to run: verbatim, or the
//! way an application escaped it for a quoted literal.
//!
//! Applications that escape by hand rarely escape for the dialect they talk to: doubling
//! quotes leaves MySQL's backslash open (`\'` + `'` becomes `\''`), and backslash-escaping
//! does nothing in SQLite or standard PostgreSQL strings. Looking for the escaped forms too
//! lets the check judge what the database will actually read.

use std::ops::{ControlFlow, Range};

use memchr::memmem;

/// A way an application may rewrite an input before pasting it between quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escaping {
    /// Unchanged.
    Verbatim,
    /// `'` written as `''`.
    DoubledQuotes,
    /// `'`, `"` and `\` written with a backslash before them.
    Backslashes,
}

impl Escaping {
    /// The two bytes `byte` becomes, when this escaping rewrites it.
    fn rewrite(self, byte: u8) -> Option<[u8; 2]> {
        match (self, byte) {
            (Escaping::DoubledQuotes, b'\'') => Some(*b"''"),
            (Escaping::Backslashes, b'\'' | b'"' | b'\\') => Some([b'\\', byte]),
            _ => None,
        }
    }

    fn changes(self, needle: &[u8]) -> bool {
        self == Escaping::Verbatim || needle.iter().any(|&byte| self.rewrite(byte).is_some())
    }

    /// Writes `needle`, escaped this way, into `out` (at least twice its length); returns
    /// the length written.
    fn write_escaped(self, needle: &[u8], out: &mut [u8]) -> usize {
        let mut len = 0;
        for &byte in needle {
            let (pair, width) = self.rewrite(byte).map_or(([byte, 0], 1), |pair| (pair, 2));
            out[len..len + width].copy_from_slice(&pair[..width]);
            len += width;
        }
        len
    }

    /// Calls `visit` with each non-overlapping occurrence of `needle` escaped this way.
    fn each<B>(
        self,
        haystack: &[u8],
        needle: &[u8],
        visit: &mut impl FnMut(Range<usize>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        // Most inputs (headers above all) are longer than the statement, or nearly.
        if needle.len() > haystack.len() {
            return ControlFlow::Continue(());
        }
        if self == Escaping::Verbatim && !is_short_search(haystack, needle) {
            for start in memmem::find_iter(haystack, needle) {
                visit(start..start + needle.len())?;
            }
            return ControlFlow::Continue(());
        }
        if self == Escaping::Verbatim {
            return each_verbatim_short(haystack, needle, visit);
        }
        // The escaped form is built once and searched in linear time; this runs only for
        // inputs holding a byte the escaping rewrites. Short ones are built on the stack, so
        // the common case still never allocates.
        let mut stack = [0u8; 256];
        let mut heap = Vec::new();
        let buffer: &mut [u8] = if needle.len() * 2 <= stack.len() {
            &mut stack
        } else {
            heap.resize(needle.len() * 2, 0);
            &mut heap
        };
        let len = self.write_escaped(needle, buffer);
        let escaped = &buffer[..len];
        for start in memmem::find_iter(haystack, escaped) {
            visit(start..start + escaped.len())?;
        }
        ControlFlow::Continue(())
    }
}

/// Whether a search is small enough that finding the rarest byte with `memchr` and comparing
/// beats building a `memmem` searcher, which costs about 100 ns whatever the haystack (a
/// `User-Agent` is longer than 64 bytes, and every request has one); its worst case stays
/// bounded by the limits on both lengths.
fn is_short_search(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.len() <= 4096 && needle.len() <= 256
}

/// [`Escaping::each`] for a short verbatim search: `memchr` for the needle's rarest byte,
/// then a comparison around each hit.
fn each_verbatim_short<B>(
    haystack: &[u8],
    needle: &[u8],
    visit: &mut impl FnMut(Range<usize>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return ControlFlow::Continue(());
    }
    // The rarest of the first few bytes is rare enough, and choosing costs next to nothing.
    let anchor = (0..needle.len().min(8))
        .min_by_key(|&i| commonness(needle[i]))
        .unwrap_or(0);
    // The anchor byte can only stand where a whole needle still fits around it.
    let last_anchor = haystack.len() - needle.len() + anchor;
    let (first, last) = (needle[0], needle[needle.len() - 1]);
    // Where the next occurrence may start: occurrences do not overlap.
    let mut from = 0;
    for hit in memchr::memchr_iter(needle[anchor], &haystack[anchor..=last_anchor]) {
        let start = hit;
        if start < from {
            continue;
        }
        // The two ends reject most false hits before a full comparison is called.
        let ends_match = haystack[start] == first && haystack[start + needle.len() - 1] == last;
        if ends_match && haystack[start..].starts_with(needle) {
            visit(start..start + needle.len())?;
            from = start + needle.len();
        }
    }
    ControlFlow::Continue(())
}

/// How common a byte is in SQL statements and the text inside them, roughly: anchoring a
/// search on a needle's least common byte keeps false hits, and so comparisons, few.
fn commonness(byte: u8) -> u8 {
    COMMONNESS[usize::from(byte)]
}

const COMMONNESS: [u8; 256] = {
    let mut table = [50u8; 256];
    let mut byte = b'!';
    while byte <= b'~' {
        table[byte as usize] = 100;
        byte += 1;
    }
    let mut byte = 0x80;
    loop {
        table[byte] = 80;
        if byte == 0xff {
            break;
        }
        byte += 1;
    }
    let mut digit = b'0';
    while digit <= b'9' {
        table[digit as usize] = if digit <= b'2' { 215 } else { 200 };
        digit += 1;
    }
    let punctuation = b"=,()'._*";
    let mut i = 0;
    while i < punctuation.len() {
        table[punctuation[i] as usize] = 190;
        i += 1;
    }
    // Letters by frequency: English for lowercase, SQL keywords for uppercase.
    let lower = b"etaoinsrhldcumfpgwybvkxjqz";
    let upper = b"ESTLCRONAIDUFMWHPBGYVKXQJZ";
    let mut rank: u8 = 0;
    while rank < 26 {
        table[lower[rank as usize] as usize] = 240 - 3 * rank;
        table[upper[rank as usize] as usize] = 235 - 3 * rank;
        rank += 1;
    }
    table[b' ' as usize] = 255;
    table
};

/// What to look for: an input's text, and where its last quote or backslash is, found once
/// since every search of it asks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Needle<'a> {
    text: &'a str,
    /// The last `'`, `"`, `\` or backtick.
    last_escape: Option<usize>,
}

impl<'a> Needle<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let is_escape = |byte: &u8| matches!(byte, b'\'' | b'"' | b'\\' | b'`');
        // Most inputs are short, where a plain loop beats setting up vectorised searches.
        let last_escape = if bytes.len() <= 64 {
            bytes.iter().rposition(is_escape)
        } else {
            memchr::memrchr3(b'\'', b'"', b'\\', bytes).max(memchr::memrchr(b'`', bytes))
        };
        Needle { text, last_escape }
    }

    /// What follows the last quote or backslash, if there is one.
    pub(crate) fn tail(&self) -> Option<&'a str> {
        self.last_escape.map(|at| &self.text[at + 1..])
    }

    /// Whether an escaping would rewrite the needle; most inputs hold nothing it would.
    fn escapable(&self) -> bool {
        self.last_escape.is_some()
            && memchr::memchr3(b'\'', b'"', b'\\', self.text.as_bytes()).is_some()
    }
}

/// The bytes a haystack holds, to rule needles out before searching for them.
pub(crate) struct ByteSet([bool; 256]);

impl ByteSet {
    pub(crate) fn of(haystack: &str) -> Self {
        let mut present = [false; 256];
        for &byte in haystack.as_bytes() {
            present[usize::from(byte)] = true;
        }
        ByteSet(present)
    }

    /// Whether `needle` may occur in the haystack, verbatim or escaped: escaping only adds
    /// bytes, so every byte of the needle must be there. Looks at the first 32 bytes, which
    /// rule out almost every needle that cannot occur.
    pub(crate) fn may_hold(&self, needle: &str) -> bool {
        needle
            .bytes()
            .take(32)
            .all(|byte| self.0[usize::from(byte)])
    }

    /// Whether neither `needle` nor what follows its last quote or backslash can occur: a
    /// byte after that last quote, missing from the haystack, rules out both. Looks at the
    /// last 32 bytes; most inputs are dismissed by their last byte or two.
    pub(crate) fn rules_out_with_tail(&self, needle: &str) -> bool {
        for &byte in needle.as_bytes().iter().rev().take(32) {
            if matches!(byte, b'\'' | b'"' | b'\\' | b'`') {
                return false;
            }
            if !self.0[usize::from(byte)] {
                return true;
            }
        }
        false
    }
}

/// Calls `visit` with each span of `haystack` where `needle` occurs, verbatim first, then
/// in each escaped form that differs from it; stops when `visit` breaks.
pub(crate) fn each_occurrence<B>(
    haystack: &str,
    needle: Needle<'_>,
    mut visit: impl FnMut(Range<usize>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    let (haystack, text) = (haystack.as_bytes(), needle.text.as_bytes());
    Escaping::Verbatim.each(haystack, text, &mut visit)?;
    if needle.escapable() {
        for escaping in [Escaping::DoubledQuotes, Escaping::Backslashes] {
            if escaping.changes(text) {
                escaping.each(haystack, text, &mut visit)?;
            }
        }
    }
    ControlFlow::Continue(())
}

/// Whether `needle` occurs in `haystack`, verbatim or escaped.
pub(crate) fn occurs(haystack: &str, needle: Needle<'_>) -> bool {
    each_occurrence(haystack, needle, |_| ControlFlow::Break(())).is_break()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_needle_with_a_byte_the_haystack_lacks_cannot_occur_in_any_form() {
        let haystack = r"SELECT * FROM t WHERE name = 'O\'Brien' AND note = 'it''s'";
        let bytes = ByteSet::of(haystack);
        for needle in ["O'Brien", "it's", "Brien", "name", "SELECT *"] {
            assert!(bytes.may_hold(needle), "{needle}");
            assert!(occurs(haystack, Needle::new(needle)), "{needle}");
        }
        for needle in ["Mozilla/5.0", "o'brien", "x", "tab\t"] {
            assert!(!bytes.may_hold(needle), "{needle}");
            assert!(!occurs(haystack, Needle::new(needle)), "{needle}");
        }
    }

    fn spans<'h>(haystack: &'h str, needle: &str) -> Vec<&'h str> {
        let mut found = Vec::new();
        let _ = each_occurrence::<()>(haystack, Needle::new(needle), |span| {
            found.push(&haystack[span]);
            ControlFlow::Continue(())
        });
        found
    }

    #[test]
    fn finds_verbatim_and_escaped_forms() {
        assert_eq!(spans("a = 'O'Brien'", "O'Brien"), ["O'Brien"]);
        assert_eq!(spans("a = 'O''Brien'", "O'Brien"), ["O''Brien"]);
        assert_eq!(spans(r"a = 'O\'Brien'", "O'Brien"), [r"O\'Brien"]);
        assert_eq!(spans(r"a = 'C:\\dir'", r"C:\dir"), [r"C:\\dir"]);
        assert_eq!(
            spans("x = 'books' OR y = 'books'", "books"),
            ["books", "books"]
        );
        assert!(spans("a = 'O Brien'", "O'Brien").is_empty());
    }

    #[test]
    fn short_searches_find_every_non_overlapping_occurrence() {
        assert_eq!(spans("aaaa", "aa"), ["aa", "aa"]);
        assert_eq!(spans("xkx", "xk"), ["xk"]);
        assert_eq!(spans("kx", "xk"), Vec::<&str>::new());
        assert_eq!(spans("ab", "abc"), Vec::<&str>::new());
        assert_eq!(spans("zq", "zq"), ["zq"]);
        let long = "x".repeat(5000) + "needle";
        assert_eq!(spans(&long, "needle"), ["needle"]);
        // A needle longer than the haystack, anchored past its end, is simply absent.
        assert!(spans("abcd", "xyzzy").is_empty());
        assert!(spans("", "ab").is_empty());
    }

    #[test]
    fn an_input_without_escapable_bytes_is_searched_once() {
        assert!(!Escaping::DoubledQuotes.changes(b"books"));
        assert!(!Escaping::Backslashes.changes(b"books"));
        assert!(occurs("category = 'books'", Needle::new("books")));
        assert!(!occurs("category = 'books'", Needle::new("kitchen")));
    }

    #[test]
    fn a_lone_escape_lead_byte_is_skipped_not_matched() {
        // The verbatim `'x` inside `\'x` is found too: each occurrence is judged.
        assert_eq!(spans(r"a = '\x' AND b = '\'x'", "'x"), ["'x", r"\'x"]);
        assert_eq!(spans("''''", "''"), ["''", "''", "''''"]);
    }
}
