//! File paths: whether request input takes a path out of the folder its code meant.
//!
//! Input is harmless in a path while it names something inside the folder the code put it
//! in (`docs/` + `faq/returns.txt`, even `faq/../welcome.txt`). It is traversal when it climbs
//! above that folder with `..` segments, supplies an absolute path (which `Path::join` lets
//! replace the base), carries a NUL byte, or names a file no application serves (`.env`,
//! `.git/`, private keys). An input the application percent-decodes once more before use
//! (`..%2f..%2fetc%2fpasswd`) is searched for in its decoded forms too.
//!
//! ```
//! use antibody_detect::{Input, Source};
//! use antibody_detect::path::{PathAdded, PathVerdict, check};
//!
//! let attack = [Input::new(Source::Query, "file", "../../etc/passwd")];
//! let verdict = check("/srv/shop/docs/../../etc/passwd", &attack);
//! assert!(matches!(verdict, PathVerdict::Traversal(evidence) if evidence.added == PathAdded::Climb));
//!
//! let benign = [Input::new(Source::Query, "file", "faq/../welcome.txt")];
//! let verdict = check("/srv/shop/docs/faq/../welcome.txt", &benign);
//! assert_eq!(verdict, PathVerdict::Data { folder_end: "/srv/shop/docs/".len() });
//! ```

use std::borrow::Cow;
use std::ops::{ControlFlow, Range};

use crate::fingerprint::{Case, Fingerprint, Fnv};
use crate::input::Input;
use crate::occurrence::{Needle, each_occurrence};

/// What an input added to a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PathAdded {
    /// `..` segments that climb above the folder the input was put in.
    Climb,
    /// An absolute path or a drive, which replaces the folder.
    Absolute,
    /// A NUL byte, which C-based code reads as the path's end.
    NulByte,
    /// A file or folder that holds secrets (`.env`, `.git`, keys).
    SensitiveFile,
    /// A symbolic link inside the folder that leads out of it; only the file system can
    /// tell, so the caller finds it (see [`PathVerdict::Data`]).
    Symlink,
}

impl PathAdded {
    /// A short name for reports (`climb out of the folder`, `absolute path`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            PathAdded::Climb => "climb out of the folder",
            PathAdded::Absolute => "absolute path",
            PathAdded::NulByte => "NUL byte",
            PathAdded::SensitiveFile => "sensitive file",
            PathAdded::Symlink => "symbolic link out of the folder",
        }
    }
}

/// The input behind a traversal, and what it added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathEvidence<'a> {
    /// The input.
    pub input: &'a Input<'a>,
    /// Where its (decoded) value lies in the path.
    pub span: Range<usize>,
    /// What it added.
    pub added: PathAdded,
}

/// What the inputs do to a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathVerdict<'a> {
    /// No input of two characters or more occurs in the path.
    NoInput,
    /// Inputs occur, and each names something inside the folder it was put in; the first
    /// of them was put in the folder `path[..folder_end]` (empty: the working directory).
    /// Only the file system can tell whether a symbolic link there leads elsewhere.
    Data {
        /// Where the folder the first occurring input was put in ends.
        folder_end: usize,
    },
    /// An input takes the path out of its folder, or to a sensitive file.
    Traversal(PathEvidence<'a>),
}

impl PathVerdict<'_> {
    /// Whether this verdict is a traversal.
    pub fn is_traversal(&self) -> bool {
        matches!(self, PathVerdict::Traversal(_))
    }
}

/// Whether `byte` separates a path's segments on this platform.
fn is_separator(byte: u8) -> bool {
    byte == b'/' || (cfg!(windows) && byte == b'\\')
}

/// Names that hold secrets wherever they are: no application serves them as documents.
const SENSITIVE_NAMES: &[&str] = &[
    ".env",
    ".git",
    ".svn",
    ".hg",
    ".ssh",
    ".aws",
    ".docker",
    ".kube",
    ".gnupg",
    ".htpasswd",
    ".htaccess",
    ".netrc",
    ".npmrc",
    ".pgpass",
    ".bash_history",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "authorized_keys",
    "shadow",
    "wp-config.php",
    "web.config",
];

/// Extensions of private keys and key stores.
const SENSITIVE_EXTENSIONS: &[&str] = &["pem", "key", "p12", "pfx", "jks", "kdbx"];

fn is_sensitive_name(name: &str) -> bool {
    let lowercase = name.to_ascii_lowercase();
    SENSITIVE_NAMES.contains(&lowercase.as_str())
        || lowercase.starts_with(".env.")
        || lowercase.rsplit_once('.').is_some_and(|(stem, extension)| {
            !stem.is_empty() && SENSITIVE_EXTENSIONS.contains(&extension)
        })
}

/// Judges `path`, about to be opened, against the request's `inputs`.
pub fn check<'a>(path: &str, inputs: &'a [Input<'a>]) -> PathVerdict<'a> {
    let mut verdict = PathVerdict::NoInput;
    for input in inputs {
        for value in decoded_forms(input.value) {
            if !has_two_characters(&value) {
                continue;
            }
            let traversal = each_occurrence(path, Needle::new(&value), |span| {
                if verdict == PathVerdict::NoInput {
                    verdict = PathVerdict::Data {
                        folder_end: folder_start(path, span.start),
                    };
                }
                match judge_occurrence(path, &span) {
                    Some(added) => ControlFlow::Break(PathEvidence { input, span, added }),
                    None => ControlFlow::Continue(()),
                }
            });
            if let ControlFlow::Break(evidence) = traversal {
                return PathVerdict::Traversal(evidence);
            }
        }
    }
    verdict
}

fn has_two_characters(text: &str) -> bool {
    text.chars().nth(1).is_some()
}

/// The value, and what it decodes to when the application percent-decodes it once or
/// twice more.
fn decoded_forms(value: &str) -> impl Iterator<Item = Cow<'_, str>> {
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
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
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
    String::from_utf8_lossy(&decoded).into_owned()
}

/// What the input at `span` adds to `path`, if anything.
fn judge_occurrence(path: &str, span: &Range<usize>) -> Option<PathAdded> {
    let bytes = path.as_bytes();
    if bytes[span.clone()].contains(&0) {
        return Some(PathAdded::NulByte);
    }
    if span.start == 0 && is_absolute(&path[span.clone()]) {
        return Some(PathAdded::Absolute);
    }
    // Every segment from the folder the input was put in to the input's end counts, and
    // only the input's own `..` can climb.
    let mut depth: isize = 0;
    let mut start = folder_start(path, span.start);
    while start < span.end {
        let end = bytes[start..]
            .iter()
            .position(|&byte| is_separator(byte))
            .map_or(bytes.len(), |at| start + at);
        let segment = &path[start..end];
        match segment {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Some(PathAdded::Climb);
                }
            }
            name if is_sensitive_name(name) => return Some(PathAdded::SensitiveFile),
            _ => depth += 1,
        }
        start = end + 1;
    }
    None
}

/// Where the folder that text at `at` was put in ends: just past the last separator before
/// it.
fn folder_start(path: &str, at: usize) -> usize {
    path.as_bytes()[..at]
        .iter()
        .rposition(|&byte| is_separator(byte))
        .map_or(0, |separator| separator + 1)
}

/// Whether `text` is an absolute path or names a drive here (`/etc`, and on Windows also
/// `C:`, `\\server`).
fn is_absolute(text: &str) -> bool {
    let bytes = text.as_bytes();
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    bytes.first().is_some_and(|&byte| is_separator(byte)) || (cfg!(windows) && drive)
}

/// The shape of a path, as a call site learns it: the folder it lies in, with `.` and `..`
/// resolved, and its extension, without case. `docs/faq/a.txt` and `docs/faq/b.TXT` share a
/// shape; `docs/faq/a.txt` and `etc/passwd` do not.
pub fn fingerprint(path: &str) -> Fingerprint {
    let mut folders: Vec<&str> = Vec::new();
    let absolute = path
        .as_bytes()
        .first()
        .is_some_and(|&byte| is_separator(byte));
    let segments: Vec<&str> = path
        .split(|c: char| u8::try_from(c).is_ok_and(is_separator))
        .collect();
    let (file, parents) = segments.split_last().unwrap_or((&"", &[]));
    for segment in parents {
        match *segment {
            "" | "." => {}
            ".." => {
                if folders.pop().is_none() && !absolute {
                    folders.push("..");
                }
            }
            name => folders.push(name),
        }
    }
    let extension = file
        .rsplit_once('.')
        .filter(|(stem, _)| !stem.is_empty())
        .map_or("", |(_, extension)| extension);
    let mut hash = Fnv::new();
    hash.symbol(b'R', if absolute { b"/" } else { b"" }, Case::Exact);
    for folder in folders {
        hash.symbol(b'D', folder.as_bytes(), Case::Exact);
    }
    hash.symbol(b'E', extension.as_bytes(), Case::Lower);
    Fingerprint::from_u64(hash.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Source;

    /// A path the code opens, with `value` from the query parameter `file`, and the verdict.
    fn verdict(path: &str, value: &str) -> Option<PathAdded> {
        let inputs = [Input::new(Source::Query, "file", value)];
        match check(path, &inputs) {
            PathVerdict::Traversal(evidence) => Some(evidence.added),
            PathVerdict::Data { .. } | PathVerdict::NoInput => None,
        }
    }

    #[test]
    fn input_that_leaves_its_folder_is_traversal_and_its_benign_twin_is_not() {
        let cases: &[(&str, &str, Option<PathAdded>)] = &[
            (
                "docs/../../etc/passwd",
                "../../etc/passwd",
                Some(PathAdded::Climb),
            ),
            (
                "docs/faq/../../../x",
                "faq/../../../x",
                Some(PathAdded::Climb),
            ),
            ("docs/..", "..", Some(PathAdded::Climb)),
            ("/etc/passwd", "/etc/passwd", Some(PathAdded::Absolute)),
            ("docs/a\0.txt", "a\0.txt", Some(PathAdded::NulByte)),
            ("docs/.env", ".env", Some(PathAdded::SensitiveFile)),
            (
                "docs/.git/config",
                ".git/config",
                Some(PathAdded::SensitiveFile),
            ),
            (
                "docs/keys/server.pem",
                "keys/server.pem",
                Some(PathAdded::SensitiveFile),
            ),
            // Benign twins.
            ("docs/faq/../welcome.txt", "faq/../welcome.txt", None),
            ("docs/v1..2.txt", "v1..2.txt", None),
            ("docs/faq/returns.txt", "faq/returns.txt", None),
            ("docs//etc/passwd", "/etc/passwd", None),
            ("docs/..hidden", "..hidden", None),
            ("docs/report.key.txt", "report.key.txt", None),
            ("docs/welcome.txt", "welcome.txt", None),
            // The code's own `..` is not the input's.
            ("docs/x/../../shared/a.txt", "x", None),
        ];
        for (path, value, expected) in cases {
            assert_eq!(verdict(path, value), *expected, "{path:?} with {value:?}");
        }
    }

    #[test]
    fn input_the_application_decodes_again_is_searched_for_decoded() {
        assert_eq!(
            verdict("docs/../../etc/passwd", "..%2f..%2fetc%2fpasswd"),
            Some(PathAdded::Climb)
        );
        assert_eq!(
            verdict("docs/../../etc/passwd", "..%252f..%252fetc%252fpasswd"),
            Some(PathAdded::Climb)
        );
        assert_eq!(verdict("docs/100%.txt", "100%.txt"), None);
    }

    #[test]
    fn a_path_without_input_has_no_input() {
        let inputs = [Input::new(Source::Query, "file", "welcome.txt")];
        assert_eq!(check("docs/index.txt", &inputs), PathVerdict::NoInput);
    }

    #[test]
    fn shapes_are_folder_and_extension() {
        assert_eq!(fingerprint("docs/faq/a.txt"), fingerprint("docs/faq/B.TXT"));
        assert_eq!(fingerprint("docs/faq/../a.txt"), fingerprint("docs/b.txt"));
        assert_ne!(fingerprint("docs/a.txt"), fingerprint("docs/a.md"));
        assert_ne!(fingerprint("docs/a.txt"), fingerprint("etc/a.txt"));
        assert_ne!(fingerprint("/docs/a.txt"), fingerprint("docs/a.txt"));
        assert_ne!(fingerprint("docs/../../a.txt"), fingerprint("a.txt"));
    }
}
