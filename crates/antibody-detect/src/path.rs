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
//! assert!(matches!(verdict, PathVerdict::Data { folder_end: 15, .. }));
//! ```

use std::ops::{ControlFlow, Range};

use crate::fingerprint::{Case, Fingerprint, Fnv};
use crate::input::{Input, decoded_forms, has_two_characters};
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
    /// Inputs occur, and each names something inside the folder it was put in. The
    /// deepest such folder is `path[..folder_end]` (empty: the working directory), and
    /// `input` lies at `span` below it: only the file system can tell whether a symbolic
    /// link there leads out.
    Data {
        /// Where the deepest folder an input was put in ends.
        folder_end: usize,
        /// The input put there.
        input: &'a Input<'a>,
        /// Where it (or the form the application decoded it to) lies in the path.
        span: Range<usize>,
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
    "wp-config.php",
    "web.config",
];

/// Extensions of private keys and key stores (not `.key`, which is also Keynote's).
const SENSITIVE_EXTENSIONS: &[&str] = &["pem", "p12", "pfx", "jks", "kdbx"];

/// Endings editors and administrators give backup copies (`.env~`, `id_rsa.bak`).
const BACKUP_ENDINGS: &[&str] = &["~", ".bak", ".old", ".orig", ".swp", ".save"];

fn is_sensitive_name(name: &str) -> bool {
    let lowercase = name.to_ascii_lowercase();
    let lowercase = BACKUP_ENDINGS
        .iter()
        .find_map(|ending| lowercase.strip_suffix(ending))
        .unwrap_or(&lowercase);
    SENSITIVE_NAMES.contains(&lowercase)
        || lowercase.starts_with(".env.")
        || lowercase.rsplit_once('.').is_some_and(|(stem, extension)| {
            !stem.is_empty() && SENSITIVE_EXTENSIONS.contains(&extension)
        })
}

/// Judges `path`, about to be opened, against the request's `inputs`.
pub fn check<'a>(path: &str, inputs: &'a [Input<'a>]) -> PathVerdict<'a> {
    let mut verdict = PathVerdict::NoInput;
    // Where each folder ends, found once: a long path with many matches stays linear.
    let separators: Vec<usize> = path
        .bytes()
        .enumerate()
        .filter(|(_, byte)| is_separator(*byte))
        .map(|(at, _)| at)
        .collect();
    let folder_start = |at: usize| {
        let before = separators.partition_point(|&separator| separator < at);
        before
            .checked_sub(1)
            .map_or(0, |index| separators[index] + 1)
    };
    for input in inputs {
        for value in decoded_forms(input.value) {
            // One character can only matter as the root (`/`), which replaces the folder.
            if !has_two_characters(&value) && !value.bytes().all(is_separator) {
                continue;
            }
            // Occurrences inside one segment already judged are judged alike: skipping them
            // keeps a long name full of short matches linear.
            let mut judged_segment = None;
            let traversal = each_occurrence(path, Needle::new(&value), |span| {
                let folder_end = folder_start(span.start);
                let within_segment = folder_start(span.end) == folder_end;
                if within_segment && judged_segment == Some(folder_end) {
                    return ControlFlow::Continue(());
                }
                judged_segment = within_segment.then_some(folder_end);
                // The deepest folder an input was put in is the one the code meant: an input
                // that also matches the code's own prefix (`tmp` in `/tmp/...`) decides nothing.
                let deeper = match &verdict {
                    PathVerdict::Data {
                        folder_end: known, ..
                    } => folder_end > *known,
                    _ => true,
                };
                if deeper {
                    verdict = PathVerdict::Data {
                        folder_end,
                        input,
                        span: span.clone(),
                    };
                }
                match judge_occurrence(path, &span, folder_end) {
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

/// What the input at `span` adds to `path`, if anything.
fn judge_occurrence(path: &str, span: &Range<usize>, folder: usize) -> Option<PathAdded> {
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
    let mut start = folder;
    while start < span.end {
        let end = bytes[start..]
            .iter()
            .position(|&byte| is_separator(byte))
            .map_or(bytes.len(), |at| start + at);
        let segment = &path[start..end];
        // A sensitive name counts only when the input supplies all of it.
        let supplied = start >= span.start && end <= span.end;
        match segment {
            "" | "." => {}
            ".." => {
                depth -= 1;
                if depth < 0 {
                    return Some(PathAdded::Climb);
                }
            }
            name if supplied && is_sensitive_name(name) => {
                return Some(PathAdded::SensitiveFile);
            }
            _ => depth += 1,
        }
        start = end + 1;
    }
    None
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
            ("docs/talk.key", "talk.key", None),
            ("docs/Shadow/notes.txt", "Shadow/notes.txt", None),
            // `en` (from `Accept-Language`) inside the code's own `.env` chose nothing.
            ("app/.env", "en", None),
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
    fn the_folder_is_the_deepest_one_an_input_was_put_in() {
        let inputs = [
            Input::new(Source::Query, "decoy", "tmp"),
            Input::new(Source::Query, "file", "up/secret.txt"),
        ];
        let path = "/tmp/site/docs/up/secret.txt";
        match check(path, &inputs) {
            PathVerdict::Data {
                folder_end,
                input,
                span,
            } => {
                assert_eq!(&path[..folder_end], "/tmp/site/docs/");
                assert_eq!(input.location.name, "file");
                assert_eq!(&path[span], "up/secret.txt");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_long_name_full_of_short_matches_is_data() {
        let name = "a".repeat(200_000);
        let path = format!("docs/{name}");
        let inputs = [Input::new(Source::Query, "x", "aa")];
        assert!(matches!(check(&path, &inputs), PathVerdict::Data { .. }));
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
