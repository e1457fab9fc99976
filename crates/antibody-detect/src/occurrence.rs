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
    const ALL: [Escaping; 3] = [
        Escaping::Verbatim,
        Escaping::DoubledQuotes,
        Escaping::Backslashes,
    ];

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

    /// The length of `needle`, escaped this way, when it occurs at `at` in `haystack`.
    fn match_at(self, haystack: &[u8], at: usize, needle: &[u8]) -> Option<usize> {
        let mut i = at;
        for &byte in needle {
            match self.rewrite(byte) {
                Some(pair) if haystack.get(i..i + 2) == Some(&pair) => i += 2,
                None if haystack.get(i) == Some(&byte) => i += 1,
                _ => return None,
            }
        }
        Some(i - at)
    }

    /// Calls `visit` with each non-overlapping occurrence of `needle` escaped this way.
    fn each<B>(
        self,
        haystack: &[u8],
        needle: &[u8],
        visit: &mut impl FnMut(Range<usize>) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        if self == Escaping::Verbatim {
            for start in memmem::find_iter(haystack, needle) {
                visit(start..start + needle.len())?;
            }
            return ControlFlow::Continue(());
        }
        let Some(&first) = needle.first() else {
            return ControlFlow::Continue(());
        };
        let lead = self.rewrite(first).map_or(first, |pair| pair[0]);
        let mut from = 0;
        while let Some(offset) = memchr::memchr(lead, &haystack[from..]) {
            let start = from + offset;
            match self.match_at(haystack, start, needle) {
                Some(len) => {
                    visit(start..start + len)?;
                    from = start + len;
                }
                None => from = start + 1,
            }
        }
        ControlFlow::Continue(())
    }
}

/// Calls `visit` with each span of `haystack` where `needle` occurs, verbatim first, then
/// in each escaped form that differs from it; stops when `visit` breaks.
pub(crate) fn each_occurrence<B>(
    haystack: &str,
    needle: &str,
    mut visit: impl FnMut(Range<usize>) -> ControlFlow<B>,
) -> ControlFlow<B> {
    let (haystack, needle) = (haystack.as_bytes(), needle.as_bytes());
    for escaping in Escaping::ALL {
        if escaping.changes(needle) {
            escaping.each(haystack, needle, &mut visit)?;
        }
    }
    ControlFlow::Continue(())
}

/// Whether `needle` occurs in `haystack`, verbatim or escaped.
pub(crate) fn occurs(haystack: &str, needle: &str) -> bool {
    each_occurrence(haystack, needle, |_| ControlFlow::Break(())).is_break()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans<'h>(haystack: &'h str, needle: &str) -> Vec<&'h str> {
        let mut found = Vec::new();
        let _ = each_occurrence::<()>(haystack, needle, |span| {
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
    fn an_input_without_escapable_bytes_is_searched_once() {
        assert!(!Escaping::DoubledQuotes.changes(b"books"));
        assert!(!Escaping::Backslashes.changes(b"books"));
        assert!(occurs("category = 'books'", "books"));
        assert!(!occurs("category = 'books'", "kitchen"));
    }

    #[test]
    fn a_lone_escape_lead_byte_is_skipped_not_matched() {
        // The verbatim `'x` inside `\'x` is found too: each occurrence is judged.
        assert_eq!(spans(r"a = '\x' AND b = '\'x'", "'x"), ["'x", r"\'x"]);
        assert_eq!(spans("''''", "''"), ["''", "''", "''''"]);
    }
}
