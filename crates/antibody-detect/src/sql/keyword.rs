//! The reserved words that make a bare word a [`Keyword`](super::TokenKind::Keyword).
//!
//! One list for every dialect: a word that is reserved anywhere is structure everywhere,
//! because an input that adds it changes what a statement means. Words that are commonly
//! used as column names (`name`, `date`, `key`, `status`, `user`) are deliberately absent,
//! so that they stay identifiers in `ORDER BY` lists.

/// Sorted, uppercase; `is_keyword` binary-searches it.
const KEYWORDS: &[&str] = &[
    "ADD",
    "ALL",
    "ALTER",
    "ANALYZE",
    "AND",
    "ANY",
    "AS",
    "ASC",
    "ATTACH",
    "BEGIN",
    "BETWEEN",
    "BINARY",
    "BY",
    "CALL",
    "CASE",
    "CAST",
    "COLLATE",
    "COMMIT",
    "COPY",
    "CREATE",
    "CROSS",
    "DECLARE",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DETACH",
    "DISTINCT",
    "DIV",
    "DO",
    "DROP",
    "DUMPFILE",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXEC",
    "EXECUTE",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FETCH",
    "FIRST",
    "FOR",
    "FROM",
    "FULL",
    "GLOB",
    "GRANT",
    "GROUP",
    "HANDLER",
    "HAVING",
    "IF",
    "ILIKE",
    "IN",
    "INNER",
    "INSERT",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "LAST",
    "LATERAL",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LOAD",
    "LOCK",
    "MATCH",
    "MOD",
    "NATURAL",
    "NOT",
    "NOTNULL",
    "NULL",
    "NULLS",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OUTFILE",
    "OVER",
    "PARTITION",
    "PRAGMA",
    "PREPARE",
    "PROCEDURE",
    "REGEXP",
    "RENAME",
    "REPLACE",
    "RETURNING",
    "REVOKE",
    "RIGHT",
    "RLIKE",
    "ROLLBACK",
    "SELECT",
    "SET",
    "SHOW",
    "SHUTDOWN",
    "SIMILAR",
    "SOUNDS",
    "TABLE",
    "THEN",
    "TO",
    "TRUE",
    "TRUNCATE",
    "UNION",
    "UPDATE",
    "USING",
    "VACUUM",
    "VALUES",
    "WAITFOR",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "XOR",
];

/// The longest keyword, in bytes; longer words are never keywords.
const LONGEST: usize = 9;

/// A word of at most [`LONGEST`] bytes, uppercased and packed big-endian into an integer, so
/// that looking it up is a few integer comparisons instead of string comparisons. Letters
/// are never zero, so words of different lengths never pack alike.
const fn pack(word: &[u8]) -> u128 {
    let mut packed = 0u128;
    let mut i = 0;
    while i < word.len() {
        packed = (packed << 8) | word[i].to_ascii_uppercase() as u128;
        i += 1;
    }
    packed
}

/// Slots in the keyword table: a power of two, about twice the number of keywords, so
/// that open addressing finds or rejects a word in one or two probes.
const SLOTS: usize = 256;

/// The first slot to probe for `packed`: a multiplicative hash of its folded halves.
#[allow(clippy::cast_possible_truncation)] // Folding and keeping the top bits is the point.
const fn start_slot(packed: u128) -> usize {
    let folded = (packed as u64) ^ ((packed >> 64) as u64);
    (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize % SLOTS
}

/// [`KEYWORDS`], packed, in an open-addressing table with linear probing built by the
/// compiler; an empty slot is zero, which no word packs to.
const TABLE: [u128; SLOTS] = {
    let mut table = [0u128; SLOTS];
    let mut i = 0;
    while i < KEYWORDS.len() {
        let packed = pack(KEYWORDS[i].as_bytes());
        let mut slot = start_slot(packed);
        while table[slot] != 0 {
            slot = (slot + 1) % SLOTS;
        }
        table[slot] = packed;
        i += 1;
    }
    table
};

/// Whether `word` (any case) is a reserved word.
///
/// ```
/// use antibody_detect::sql::is_keyword;
/// assert!(is_keyword("union"));
/// assert!(!is_keyword("category"));
/// ```
pub fn is_keyword(word: &str) -> bool {
    is_keyword_bytes(word.as_bytes())
}

pub(crate) fn is_keyword_bytes(bytes: &[u8]) -> bool {
    if !(2..=LONGEST).contains(&bytes.len()) {
        return false;
    }
    let packed = pack(bytes);
    let mut slot = start_slot(packed);
    loop {
        match TABLE[slot] {
            0 => return false,
            entry if entry == packed => return true,
            _ => slot = (slot + 1) % SLOTS,
        }
    }
}

/// Whether `word` is the keyword `keyword` (given in uppercase), ignoring case.
pub(crate) fn is(word: &str, keyword: &str) -> bool {
    word.eq_ignore_ascii_case(keyword)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_uppercase_and_within_the_length_bound() {
        assert!(KEYWORDS.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(KEYWORDS.iter().all(|k| k.len() <= LONGEST));
        assert!(KEYWORDS.iter().all(|k| *k == k.to_ascii_uppercase()));
        assert_eq!(KEYWORDS.iter().map(|k| k.len()).max(), Some(LONGEST));
    }

    #[test]
    fn recognises_keywords_in_any_case_and_nothing_else() {
        for word in ["SELECT", "select", "UnIoN", "or", "ORDER", "xor"] {
            assert!(is_keyword(word), "{word}");
        }
        for word in [
            "name",
            "price",
            "id",
            "o",
            "",
            "selects",
            "sélect",
            "INTERVALS",
        ] {
            assert!(!is_keyword(word), "{word}");
        }
    }
}
