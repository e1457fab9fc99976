//! Call-site keys: which line of the application reached a sink.
//!
//! Where the application calls the agent's API directly, `#[track_caller]` names the line
//! for the price of a pointer. Where a library stands in between (sqlx calls the executor
//! wrapper), the agent walks the stack, at most [`MAX_FRAMES`] frames, keyed by the frames'
//! offsets in their modules, and symbolises each distinct stack once, on first sight.
//!
//! Each site has two keys: *strict* (the chain of application frames with lines) and *loose*
//! (the same chain without lines), so a learned model survives edits that move lines.
//!
//! A walk costs microseconds, more than the check itself, so the [`SiteMemo`] remembers the
//! site found for each statement shape in each request route: the stack is walked when a
//! shape is new there, not on every call.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::panic::Location;
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::Duration;

use crate::event::CallSiteReport;

/// The most frames a stack walk looks at.
pub(crate) const MAX_FRAMES: usize = 24;

/// The most distinct stacks remembered; beyond it, new stacks are symbolised every time.
const MAX_CACHED_STACKS: usize = 4096;

/// A call site: its keys, and where it is for reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// Application frames with lines.
    pub strict: SiteKey,
    /// Application frames without lines.
    pub loose: SiteKey,
    origin: Origin,
}

/// Where a site's report comes from: a `#[track_caller]` location costs nothing until a
/// report needs its text.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origin {
    Caller(&'static Location<'static>),
    Stack(Arc<CallSiteReport>),
}

/// A stable 64-bit key: an FNV-1a hash of the site's text, the same in every process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteKey(pub u64);

/// Builds a [`SiteKey`] from text pieces without allocating; each part ends with `0xff`,
/// which UTF-8 never contains, so parts cannot run together.
struct KeyHasher(u64);

impl KeyHasher {
    fn new() -> Self {
        KeyHasher(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) -> &mut Self {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self
    }

    fn end_part(&mut self) -> &mut Self {
        self.write(&[0xff])
    }

    /// Writes `number` in decimal.
    fn write_number(&mut self, number: u32) -> &mut Self {
        let mut digits = [0u8; 10];
        let mut start = digits.len();
        let mut rest = number;
        loop {
            start -= 1;
            digits[start] = b'0' + u8::try_from(rest % 10).unwrap_or(0);
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        self.write(&digits[start..])
    }

    fn key(&self) -> SiteKey {
        SiteKey(self.0)
    }
}

impl SiteKey {
    fn of(parts: &[String]) -> Self {
        let mut hasher = KeyHasher::new();
        for part in parts {
            hasher.write(part.as_bytes()).end_part();
        }
        hasher.key()
    }
}

impl std::fmt::Display for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl CallSite {
    /// The site of a direct call into the agent, named by `#[track_caller]`: two short
    /// hashes, no allocation.
    pub fn from_location(location: &'static Location<'static>) -> Self {
        let file = location.file().as_bytes();
        CallSite {
            strict: KeyHasher::new()
                .write(file)
                .write(b":")
                .write_number(location.line())
                .end_part()
                .key(),
            loose: KeyHasher::new().write(file).end_part().key(),
            origin: Origin::Caller(location),
        }
    }

    /// A site with keys and a report of its own, for integrations that know their call
    /// sites some other way (a template name and line, a job's name).
    pub fn with_keys(strict: SiteKey, loose: SiteKey, report: CallSiteReport) -> Self {
        CallSite {
            strict,
            loose,
            origin: Origin::Stack(Arc::new(report)),
        }
    }

    /// Where the site is, for a report.
    pub fn report(&self) -> CallSiteReport {
        match &self.origin {
            Origin::Caller(location) => {
                let place = format!("{}:{}", location.file(), location.line());
                CallSiteReport {
                    file: location.file().to_owned(),
                    line: location.line(),
                    function: None,
                    chain: vec![place],
                }
            }
            Origin::Stack(report) => (**report).clone(),
        }
    }

    /// The site of the code that called into a library that called the agent: a bounded
    /// stack walk, symbolised once per distinct stack.
    pub fn from_stack(cache: &StackCache) -> Self {
        let mut addresses = [0usize; MAX_FRAMES];
        let mut offsets = [0usize; MAX_FRAMES];
        let mut count = 0;
        backtrace::trace(|frame| {
            let ip = frame.ip() as usize;
            let base = frame.module_base_address().map_or(0, |base| base as usize);
            addresses[count] = ip;
            offsets[count] = ip.wrapping_sub(base);
            count += 1;
            count < MAX_FRAMES
        });
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        offsets[..count].hash(&mut hasher);
        let stack_key = hasher.finish();
        if let Some(site) = cache.get(stack_key) {
            return site;
        }
        let site = cache.symboliser.site_of(&addresses[..count]);
        cache.insert(stack_key, site.clone());
        site
    }
}

/// How long symbolising must have been idle before the symbol tables it loaded are let go:
/// they take tens of megabytes, and once the application is warm new stacks are rare.
const SYMBOLS_IDLE: Duration = Duration::from_secs(10);

/// Remembers each distinct stack's site, so symbolising happens once per stack.
#[derive(Debug, Default)]
pub struct StackCache {
    sites: Mutex<HashMap<u64, CallSite>>,
    symboliser: Symboliser,
}

impl StackCache {
    fn get(&self, key: u64) -> Option<CallSite> {
        self.sites.lock().ok()?.get(&key).cloned()
    }

    fn insert(&self, key: u64, site: CallSite) {
        if let Ok(mut sites) = self.sites.lock() {
            if sites.len() < MAX_CACHED_STACKS {
                sites.insert(key, site);
            }
        }
    }
}

/// A stack's return addresses, and where to send its site.
type SymbolRequest = (Vec<usize>, mpsc::Sender<CallSite>);

/// Looks symbols up on a thread of its own, which lets the symbol tables go when it has been
/// idle for [`SYMBOLS_IDLE`].
#[derive(Debug, Default)]
struct Symboliser {
    requests: Mutex<Option<mpsc::Sender<SymbolRequest>>>,
}

impl Symboliser {
    /// The site of a stack, from its return addresses, innermost first.
    fn site_of(&self, addresses: &[usize]) -> CallSite {
        let (reply, answer) = mpsc::channel();
        let asked = self
            .sender()
            .is_some_and(|requests| requests.send((addresses.to_vec(), reply)).is_ok());
        if asked {
            if let Ok(site) = answer.recv() {
                return site;
            }
        }
        // Without the thread, symbols are looked up here.
        site_of_frames(addresses)
    }

    fn sender(&self) -> Option<mpsc::Sender<SymbolRequest>> {
        let mut requests = self.requests.lock().ok()?;
        if requests.is_none() {
            let (sender, receiver) = mpsc::channel();
            std::thread::Builder::new()
                .name("antibody-symbols".to_owned())
                .spawn(move || serve_symbol_requests(&receiver))
                .ok()?;
            *requests = Some(sender);
        }
        requests.clone()
    }
}

fn serve_symbol_requests(requests: &mpsc::Receiver<SymbolRequest>) {
    let mut loaded = false;
    loop {
        match requests.recv_timeout(SYMBOLS_IDLE) {
            Ok((addresses, reply)) => {
                let _ = reply.send(site_of_frames(&addresses));
                loaded = true;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if loaded {
                    backtrace::clear_symbol_cache();
                    loaded = false;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The most shapes the [`SiteMemo`] remembers; when full, it starts afresh.
const MAX_MEMO_ENTRIES: usize = 65_536;

/// How a sink call is named before its site is known.
#[derive(Clone, Copy, Debug)]
pub(crate) enum SiteSource<'a> {
    /// The integration knows the site for free (`#[track_caller]`).
    Known(&'a CallSite),
    /// A library stands in between: the site is on the stack.
    Stack,
}

/// What a sink call is recognised by before its site is: a scope (the site itself when
/// known for free, else the request's route) and a shape (the statement's text, or its
/// structure when a request input occurs in it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ShapeKey {
    scope: u64,
    shape: u64,
    by_text: bool,
}

/// Sites already found for a shape in a scope. A structure's entry names the site found
/// for it; a text's entry says, besides, that the text was judged harmless and learned
/// there, so the same text skips the check (the same text is the same verdict).
///
/// Within one route, two lines that run a statement of the same shape share the first
/// line's site; a shape new to the route (an injection, a stored payload) always gets a
/// walk of its own, so what is reported and learned as new is named exactly.
#[derive(Debug, Default)]
pub(crate) struct SiteMemo {
    entries: RwLock<HashMap<ShapeKey, CallSite, foldhash::fast::RandomState>>,
    hasher: foldhash::fast::RandomState,
}

impl SiteMemo {
    /// The key of a statement's text in `scope`.
    pub(crate) fn text_key(&self, scope: u64, text: &str) -> ShapeKey {
        ShapeKey {
            scope,
            shape: self.hasher.hash_one(text),
            by_text: true,
        }
    }

    /// The key of a statement's structure in `scope`.
    pub(crate) fn structure_key(scope: u64, structure: u64) -> ShapeKey {
        ShapeKey {
            scope,
            shape: structure,
            by_text: false,
        }
    }

    pub(crate) fn contains(&self, key: ShapeKey) -> bool {
        self.entries
            .read()
            .is_ok_and(|entries| entries.contains_key(&key))
    }

    pub(crate) fn get(&self, key: ShapeKey) -> Option<CallSite> {
        self.entries.read().ok()?.get(&key).cloned()
    }

    pub(crate) fn insert(&self, key: ShapeKey, site: CallSite) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_MEMO_ENTRIES {
                entries.clear();
            }
            entries.insert(key, site);
        }
    }
}

impl SiteSource<'_> {
    /// The scope a call is remembered in: the site when known, else the request's route.
    pub(crate) fn scope(self, route_key: Option<u64>) -> u64 {
        match self {
            SiteSource::Known(site) => site.strict.0,
            SiteSource::Stack => route_key.unwrap_or(0),
        }
    }
}

/// The key of a request route (method and pattern), for the [`SiteMemo`]: it lives only as
/// long as the process, so a fast hash serves.
pub(crate) fn route_key(method: &str, route: &str) -> u64 {
    foldhash::fast::FixedState::default().hash_one((method, route))
}

/// One application frame.
struct Frame {
    file: String,
    line: u32,
    function: Option<String>,
}

/// The site of a stack, from its return addresses, innermost first: the application's
/// frames, those whose source is neither the standard library, a dependency from the
/// registry, nor this crate.
fn site_of_frames(addresses: &[usize]) -> CallSite {
    let mut frames = Vec::new();
    for &address in addresses {
        // A return address is turned back into a pointer only to be looked up.
        backtrace::resolve(address as *mut std::ffi::c_void, |symbol| {
            let (Some(file), Some(line)) = (symbol.filename(), symbol.lineno()) else {
                return;
            };
            let file = file.to_string_lossy();
            if is_application_file(&file) {
                frames.push(Frame {
                    file: file.into_owned(),
                    line,
                    function: symbol.name().map(|name| format!("{name:#}")),
                });
            }
        });
    }
    let strict: Vec<String> = frames
        .iter()
        .map(|f| format!("{}:{}", f.file, f.line))
        .collect();
    let loose: Vec<String> = frames
        .iter()
        .map(|f| format!("{}:{}", f.file, f.function.as_deref().unwrap_or("?")))
        .collect();
    let innermost = frames.first();
    CallSite {
        strict: SiteKey::of(&strict),
        loose: SiteKey::of(&loose),
        origin: Origin::Stack(Arc::new(CallSiteReport {
            file: innermost.map_or_else(|| "<unknown>".to_owned(), |f| f.file.clone()),
            line: innermost.map_or(0, |f| f.line),
            function: innermost.and_then(|f| f.function.clone()),
            chain: strict,
        })),
    }
}

/// Whether `file` is the application's: neither the standard library, a dependency from a
/// registry, the C library (whose debug paths are relative, `./nptl/...`), the system, nor
/// this agent.
fn is_application_file(file: &str) -> bool {
    let dependency = file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.starts_with("/rustc/")
        || file.contains("/rustlib/src/");
    let system = file.starts_with("./") || file.starts_with("/usr/") || file.starts_with("/build/");
    let agent = file.contains("crates/antibody/src/") || file.contains("antibody/src/");
    !(dependency || system || agent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[track_caller]
    fn a_location_key_is_the_hash_of_its_file_and_line() {
        let location = Location::caller();
        let site = CallSite::from_location(location);
        let place = format!("{}:{}", location.file(), location.line());
        assert_eq!(site.strict, SiteKey::of(std::slice::from_ref(&place)));
        assert_eq!(site.loose, SiteKey::of(&[location.file().to_owned()]));
        assert_eq!(site.report().chain, [place]);
        for (line, text) in [
            (0, "0"),
            (7, "7"),
            (1_234_567, "1234567"),
            (u32::MAX, "4294967295"),
        ] {
            let mut hasher = KeyHasher::new();
            hasher.write_number(line);
            assert_eq!(hasher.key(), KeyHasher::new().write(text.as_bytes()).key());
        }
    }

    #[test]
    fn only_the_applications_own_files_are_call_sites() {
        for file in [
            "/srv/shop/src/orders.rs",
            "examples/vulnshop/src/catalog.rs",
        ] {
            assert!(is_application_file(file), "{file}");
        }
        for file in [
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/sqlx-core-0.8.6/src/executor.rs",
            "/rustc/59807616e1fa2540724bfbac14d7976d7e4a3860/library/core/src/ops/function.rs",
            "./nptl/pthread_create.c",
            "/usr/include/x86_64-linux-gnu/bits/stdio2.h",
            "/work/main/crates/antibody/src/sql.rs",
        ] {
            assert!(!is_application_file(file), "{file}");
        }
    }
}
