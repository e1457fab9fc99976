//! Redirects: whether request input sends the browser to another site.
//!
//! A `Location` is read the way browsers read it (the WHATWG URL rules that matter here):
//! surrounding spaces and control characters are dropped, tabs and newlines anywhere are
//! ignored, `\` counts as `/` in web URLs, any number of slashes may open the authority
//! (`///evil`, `/\evil`, `\/evil`), `https:evil` without slashes still names a host, the
//! host is what follows the last `@`, and it is percent-decoded and compared without case.
//! The target leaves the site when it names a host that is not allowed, or uses a scheme
//! that runs code (`javascript:`, `data:`, `vbscript:`) or leaves the web. That is an open
//! redirect when a request input supplies the part of the `Location` that decides it: the
//! scheme or the host. A relative target with an off-site URL only in its query string
//! (`/login?next=https://elsewhere`) stays on the site.
//!
//! ```
//! use antibody_detect::{Input, Source};
//! use antibody_detect::redirect::{RedirectVerdict, check};
//!
//! let attack = [Input::new(Source::Query, "next", "//evil.example/")];
//! assert!(check("//evil.example/", &attack, &["shop.example"]).is_open_redirect());
//!
//! let benign = [Input::new(Source::Query, "next", "/account")];
//! assert_eq!(check("/account", &benign, &["shop.example"]), RedirectVerdict::Data);
//! ```

use std::ops::Range;

use crate::input::{Input, decoded_forms, has_two_characters, percent_decode_bytes};

/// Why a redirect target leaves the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RedirectAdded {
    /// A host that is not the application's or an allowed one.
    OffSiteHost,
    /// A scheme that runs code in the page (`javascript:`, `data:`, `vbscript:`).
    ScriptScheme,
    /// A scheme that is not the web's (`mailto:`, an application's own).
    OtherScheme,
}

impl RedirectAdded {
    /// A short name for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RedirectAdded::OffSiteHost => "off-site host",
            RedirectAdded::ScriptScheme => "script scheme",
            RedirectAdded::OtherScheme => "other scheme",
        }
    }
}

/// The input behind an open redirect, and what it supplied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectEvidence<'a> {
    /// The input.
    pub input: &'a Input<'a>,
    /// Where it lies in the `Location`.
    pub span: Range<usize>,
    /// Why the target leaves the site.
    pub added: RedirectAdded,
    /// The host the browser would go to, when there is one.
    pub host: Option<String>,
}

/// What the inputs do to a redirect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RedirectVerdict<'a> {
    /// No input of two characters or more decides the target.
    NoInput,
    /// Inputs occur, and the target stays on the site (or they do not decide it).
    Data,
    /// An input sends the browser off the site.
    OpenRedirect(RedirectEvidence<'a>),
}

impl RedirectVerdict<'_> {
    /// Whether this verdict is an open redirect.
    pub fn is_open_redirect(&self) -> bool {
        matches!(self, RedirectVerdict::OpenRedirect(_))
    }
}

/// Where a browser would go, as far as the site is concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The scheme, lowercase, when the target names one.
    pub scheme: Option<String>,
    /// The host, decoded and lowercase, when the target names one.
    pub host: Option<String>,
    /// Where, in the `Location` as sent, the byte that decides where it leads lies: the
    /// host's first byte, or a scheme's `:`. An input decides the target when it covers it.
    pub decisive: usize,
}

/// Schemes with an authority that browsers read leniently (`\` as `/`, slashes optional).
const WEB_SCHEMES: &[&str] = &["http", "https", "ws", "wss", "ftp"];

/// Schemes that run code in the page they open.
const SCRIPT_SCHEMES: &[&str] = &["javascript", "data", "vbscript"];

/// Reads `location` as a browser would, for where it leads.
pub fn target(location: &str) -> Target {
    // Drop what browsers drop, keeping where each kept byte came from.
    let bytes = location.as_bytes();
    let start = bytes.iter().position(|&b| b > b' ').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| b > b' ')
        .map_or(start, |at| at + 1);
    let (clean, origin): (Vec<u8>, Vec<usize>) = (start..end)
        .filter(|&at| !matches!(bytes[at], b'\t' | b'\n' | b'\r'))
        .map(|at| (bytes[at], at))
        .unzip();
    let original = |at: usize| origin.get(at).map_or(end, |&o| o);
    let scheme_end = scheme_length(&clean);
    let scheme = scheme_end.map(|len| String::from_utf8_lossy(&clean[..len]).to_ascii_lowercase());
    let slash = |b: &u8| *b == b'/' || *b == b'\\';
    let authority_start = match (&scheme, scheme_end) {
        (Some(name), Some(len)) if WEB_SCHEMES.contains(&name.as_str()) => {
            let after = len + 1;
            after + clean[after..].iter().take_while(|b| slash(b)).count()
        }
        (Some(_), Some(len)) => {
            return Target {
                scheme,
                host: None,
                decisive: original(len),
            };
        }
        _ if clean.len() >= 2 && slash(&clean[0]) && slash(&clean[1]) => {
            clean.iter().take_while(|b| slash(b)).count()
        }
        // A relative path: the current site.
        _ => {
            return Target {
                scheme: None,
                host: None,
                decisive: original(0),
            };
        }
    };
    let authority_end = clean[authority_start..]
        .iter()
        .position(|&b| matches!(b, b'/' | b'\\' | b'?' | b'#'))
        .map_or(clean.len(), |at| authority_start + at);
    let authority = &clean[authority_start..authority_end];
    let host_start = authority
        .iter()
        .rposition(|&b| b == b'@')
        .map_or(authority_start, |at| authority_start + at + 1);
    Target {
        scheme,
        host: Some(normal_host(&clean[host_start..authority_end])),
        decisive: original(host_start),
    }
}

/// The length of the scheme `text` starts with (`https` in `https:...`), if any.
fn scheme_length(text: &[u8]) -> Option<usize> {
    let first = text.first()?;
    if !first.is_ascii_alphabetic() {
        return None;
    }
    let len = text
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))?;
    (text[len] == b':').then_some(len)
}

/// A host as browsers compare it: percent-decoded, without port or brackets' contents
/// changed, lowercase, without a trailing dot.
fn normal_host(host: &[u8]) -> String {
    let decoded = percent_decode_bytes(host);
    let text = String::from_utf8_lossy(&decoded).to_lowercase();
    let without_port = if text.starts_with('[') {
        text.split_inclusive(']').next().unwrap_or(&text).to_owned()
    } else {
        text.rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(text.clone(), |(host, _)| host.to_owned())
    };
    without_port.trim_end_matches('.').to_owned()
}

/// Whether `host` is one of `allowed` (`shop.example`), or below one written with a
/// leading dot or star (`.shop.example`, `*.shop.example`).
pub fn is_allowed(host: &str, allowed: &[&str]) -> bool {
    allowed.iter().any(|pattern| {
        let pattern = pattern.trim().to_ascii_lowercase();
        match pattern
            .strip_prefix("*.")
            .or_else(|| pattern.strip_prefix('.'))
        {
            Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
            None => host == pattern,
        }
    })
}

/// Where `value` occurs in `url`, as sent or as an application may have trimmed or decoded
/// it; forms of one character are too common to tell.
fn spans(url: &str, value: &str) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    for form in decoded_forms(value) {
        let form = form.trim();
        if has_two_characters(form) {
            spans.extend(
                memchr::memmem::find_iter(url.as_bytes(), form.as_bytes())
                    .map(|start| start..start + form.len()),
            );
        }
    }
    spans
}

/// Whether `value` (as sent, or as an application may have trimmed or decoded it) occurs in
/// `url` covering its byte `decisive` (see [`Target::decisive`]).
pub fn covers(url: &str, value: &str, decisive: usize) -> bool {
    spans(url, value)
        .iter()
        .any(|span| span.contains(&decisive))
}

/// Judges the `Location` of a redirect against the request's `inputs`; `allowed` lists
/// the application's own hosts and those it may send users to.
pub fn check<'a>(location: &str, inputs: &'a [Input<'a>], allowed: &[&str]) -> RedirectVerdict<'a> {
    let target = target(location);
    let added = match (&target.scheme, &target.host) {
        (Some(scheme), _) if SCRIPT_SCHEMES.contains(&scheme.as_str()) => {
            Some(RedirectAdded::ScriptScheme)
        }
        (Some(scheme), None) if !WEB_SCHEMES.contains(&scheme.as_str()) => {
            Some(RedirectAdded::OtherScheme)
        }
        (_, Some(host)) if !is_allowed(host, allowed) => Some(RedirectAdded::OffSiteHost),
        _ => None,
    };
    let mut verdict = RedirectVerdict::NoInput;
    for input in inputs {
        for span in spans(location, input.value) {
            verdict = RedirectVerdict::Data;
            // The input decides the target when it supplies the host's first byte (or the
            // scheme's `:`): a value that merely occurs earlier (`https` from
            // `X-Forwarded-Proto`) or inside the host (`en` in `identity`) does not.
            if let (Some(added), true) = (added, span.contains(&target.decisive)) {
                return RedirectVerdict::OpenRedirect(RedirectEvidence {
                    input,
                    span,
                    added,
                    host: target.host.clone(),
                });
            }
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Source;

    const SHOP: &[&str] = &["shop.example", "*.cdn.example"];

    fn verdict(location: &str, value: &str) -> Option<RedirectAdded> {
        let inputs = [Input::new(Source::Query, "next", value)];
        match check(location, &inputs, SHOP) {
            RedirectVerdict::OpenRedirect(evidence) => Some(evidence.added),
            RedirectVerdict::Data | RedirectVerdict::NoInput => None,
        }
    }

    #[test]
    fn input_that_names_another_site_is_an_open_redirect_and_its_benign_twin_is_not() {
        use RedirectAdded::*;
        let whole = |location: &'static str, expected| (location, location, expected);
        let cases: &[(&str, &str, Option<RedirectAdded>)] = &[
            whole("//evil.example/", Some(OffSiteHost)),
            whole("https://evil.example", Some(OffSiteHost)),
            whole("HTTPS://EVIL.example", Some(OffSiteHost)),
            whole("/\\evil.example", Some(OffSiteHost)),
            whole("\\/evil.example", Some(OffSiteHost)),
            whole("///evil.example/%2f..", Some(OffSiteHost)),
            whole("https:evil.example", Some(OffSiteHost)),
            whole("//shop.example@evil.example/", Some(OffSiteHost)),
            whole("///\\;@evil.example", Some(OffSiteHost)),
            whole("//evil%2Eexample", Some(OffSiteHost)),
            whole(" \t//evil.example", Some(OffSiteHost)),
            whole("/\t/evil.example", Some(OffSiteHost)),
            whole("javascript:alert(1)", Some(ScriptScheme)),
            whole("JaVaScRiPt:alert(1)", Some(ScriptScheme)),
            whole("data:text/html,<script>", Some(ScriptScheme)),
            // The app's prefix decides the host: the input is only a path.
            ("https://shop.example//evil.example", "/evil.example", None),
            // Benign twins.
            whole("/account", None),
            whole("/products?category=books", None),
            whole("/login?next=https://evil.example/", None),
            whole("/https://evil.example/", None),
            whole("/%2f%2fevil.example", None),
            whole("/%09/evil.example", None),
            whole("https://shop.example/account", None),
            whole("//img.cdn.example/a.png", None),
            whole("https://shop.example:8443/x", None),
            whole("account", None),
            // Values that occur without deciding anything.
            ("https://accounts.partner.example/", "https", None),
            ("https://identity.partner.example/", "en", None),
            ("https://accounts.google.example/", "google", None),
            // Forms an application may have made of the value.
            ("//evil.example", "//evil.example ", Some(OffSiteHost)),
            ("//evil.example", "%2F%2Fevil.example", Some(OffSiteHost)),
        ];
        for (location, value, expected) in cases {
            assert_eq!(verdict(location, value), *expected, "{location:?}");
        }
    }

    #[test]
    fn an_off_site_redirect_no_input_decides_is_the_application_s_own() {
        let inputs = [Input::new(Source::Query, "next", "account")];
        assert_eq!(
            check("https://login.example/?back=account", &inputs, SHOP),
            RedirectVerdict::Data
        );
    }
}
