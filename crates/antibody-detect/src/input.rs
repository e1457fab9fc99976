//! Request inputs as detectors see them: a decoded value and where it came from.

use std::borrow::Cow;
use std::fmt;

/// The part of a request an input was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// A query-string parameter (`?category=books`).
    Query,
    /// A field of an `application/x-www-form-urlencoded` or multipart body.
    Form,
    /// A leaf of a JSON body, named by its path (`items[0].name`).
    Json,
    /// A path parameter of the matched route (`/users/{id}`).
    Path,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
    /// A request body of any other type, whole (`text/plain`, no content type).
    Body,
    /// A value read from somewhere else, such as a message or a stored record.
    Other,
}

impl Source {
    /// A short lowercase name, as used in reports (`query`, `form`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Query => "query",
            Source::Form => "form",
            Source::Json => "json",
            Source::Path => "path",
            Source::Header => "header",
            Source::Cookie => "cookie",
            Source::Body => "body",
            Source::Other => "other",
        }
    }
}

/// The end of the name of an input that is a field's name rather than its value
/// (`filters.price (key)`). Applications paste field names as column names, so such an
/// input is searched for like any other, but a lone column name it matches is the
/// application's own: it never counts as a name an attacker chose.
pub const KEY_SUFFIX: &str = " (key)";

/// Where an input came from: its source and its name there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location<'a> {
    /// The part of the request.
    pub source: Source,
    /// The parameter, field, header or cookie name, or the JSON path.
    pub name: &'a str,
}

impl Location<'_> {
    /// Whether the input is a field's name (see [`KEY_SUFFIX`]).
    pub fn is_key(&self) -> bool {
        self.name.ends_with(KEY_SUFFIX)
    }
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`", self.source.as_str(), self.name)
    }
}

/// One decoded request input: the value exactly as the application sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Input<'a> {
    /// The decoded value.
    pub value: &'a str,
    /// Where the value came from.
    pub location: Location<'a>,
}

impl<'a> Input<'a> {
    /// An input named `name` in `source` with the decoded `value`.
    pub fn new(source: Source, name: &'a str, value: &'a str) -> Self {
        Input {
            value,
            location: Location { source, name },
        }
    }
}

/// The value, and what it decodes to when the application percent-decodes it once or
/// twice more.
pub(crate) fn decoded_forms(value: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let mut next = Some(Cow::Borrowed(value));
    let mut left = 3;
    std::iter::from_fn(move || {
        let current = next.take()?;
        left -= 1;
        if left > 0 && current.contains('%') {
            let decoded = percent_decode(&current);
            if decoded != current {
                next = Some(Cow::Owned(decoded));
            }
        }
        Some(current)
    })
}

/// `%XX` sequences decoded; what is not UTF-8 afterwards becomes U+FFFD.
pub(crate) fn percent_decode(text: &str) -> String {
    String::from_utf8_lossy(&percent_decode_bytes(text.as_bytes())).into_owned()
}

/// `%XX` sequences of `bytes` decoded.
pub(crate) fn percent_decode_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let digits = bytes.get(at + 1..at + 3).and_then(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        });
        match (bytes[at], digits) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                at += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                at += 1;
            }
        }
    }
    decoded
}

/// Whether `text` has two characters or more: a single character is too common to tell an
/// input from the text it is searched in.
pub(crate) fn has_two_characters(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some() && chars.next().is_some()
}
