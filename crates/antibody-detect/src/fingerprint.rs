//! Structure fingerprints: one stable 64-bit hash per shape of what a sink runs (an SQL
//! statement's structure, a path's folder and extension), the unit each call site learns.

use std::fmt;

/// The shape of what a sink runs, as a 64-bit hash with every value left out. The hash is
/// FNV-1a over a normalised sequence of symbols, so it is the same on every platform and in
/// every process: fingerprints can be stored and compared across restarts and machines.
/// Each sink defines what its shape is ([`crate::sql::Fingerprint::of`],
/// [`crate::path::fingerprint`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(u64);

impl Fingerprint {
    /// A fingerprint from its 64-bit value, as stored by [`Fingerprint::as_u64`].
    pub const fn from_u64(value: u64) -> Self {
        Fingerprint(value)
    }

    /// The 64-bit value, for storage.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// How a symbol's text is hashed.
#[derive(Clone, Copy)]
pub(crate) enum Case {
    Exact,
    Upper,
    Lower,
}

/// 64-bit FNV-1a: tiny, fast on short inputs and fixed forever, unlike `std`'s hasher.
pub(crate) struct Fnv(u64);

impl Fnv {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    pub(crate) fn new() -> Self {
        Fnv(Self::OFFSET)
    }

    fn byte(&mut self, byte: u8) {
        self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(Self::PRIME);
    }

    /// One symbol: a tag, its text in the given case, and a terminator, so that adjacent
    /// symbols can never run together.
    pub(crate) fn symbol(&mut self, tag: u8, text: &[u8], case: Case) {
        self.byte(tag);
        for &byte in text {
            self.byte(match case {
                Case::Exact => byte,
                Case::Upper => byte.to_ascii_uppercase(),
                Case::Lower => byte.to_ascii_lowercase(),
            });
        }
        self.byte(0xff);
    }

    /// The hash so far.
    pub(crate) fn finish(&self) -> u64 {
        self.0
    }
}
