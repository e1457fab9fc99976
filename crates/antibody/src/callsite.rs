//! Call-site keys: which line of the application reached a sink.
//!
//! Where the application calls the agent's API directly, `#[track_caller]` names the line
//! for the price of a pointer. Where a library stands in between (sqlx calls the executor
//! wrapper), the agent walks the stack, at most [`MAX_FRAMES`] frames, keyed by the frames'
//! offsets in their modules, and symbolises each distinct stack once, on first sight.
//!
//! Each site has two keys: *strict* (the chain of application frames with lines) and *loose*
//! (the same chain without lines), so a learned model survives edits that move lines.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::panic::Location;
use std::sync::{Arc, Mutex};

use crate::event::CallSiteReport;

/// The most frames a stack walk looks at.
pub(crate) const MAX_FRAMES: usize = 48;

/// The most distinct stacks remembered; beyond it, new stacks are symbolised every time.
const MAX_CACHED_STACKS: usize = 4096;

/// A call site: its keys and what reports say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// Application frames with lines.
    pub strict: SiteKey,
    /// Application frames without lines.
    pub loose: SiteKey,
    /// For reports.
    pub report: Arc<CallSiteReport>,
}

/// A stable 64-bit key: an FNV-1a hash of the site's text, the same in every process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteKey(pub u64);

impl SiteKey {
    fn of(parts: &[String]) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for part in parts {
            for &byte in part.as_bytes().iter().chain(&[0xff]) {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        SiteKey(hash)
    }
}

impl std::fmt::Display for SiteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl CallSite {
    /// The site of a direct call into the agent, named by `#[track_caller]`.
    pub fn from_location(location: &'static Location<'static>) -> Self {
        let file = location.file().to_owned();
        let strict = SiteKey::of(&[format!("{file}:{}", location.line())]);
        let loose = SiteKey::of(std::slice::from_ref(&file));
        CallSite {
            strict,
            loose,
            report: Arc::new(CallSiteReport {
                file: file.clone(),
                line: location.line(),
                function: None,
                chain: vec![format!("{file}:{}", location.line())],
            }),
        }
    }

    /// The site of the code that called into a library that called the agent: a bounded
    /// stack walk, symbolised once per distinct stack.
    pub fn from_stack(cache: &StackCache) -> Self {
        let mut offsets = [0usize; MAX_FRAMES];
        let mut count = 0;
        backtrace::trace(|frame| {
            let ip = frame.ip() as usize;
            let base = frame.module_base_address().map_or(0, |base| base as usize);
            offsets[count] = ip.wrapping_sub(base);
            count += 1;
            count < MAX_FRAMES
        });
        let stack = &offsets[..count];
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        stack.hash(&mut hasher);
        let stack_key = hasher.finish();
        if let Some(site) = cache.get(stack_key) {
            return site;
        }
        let site = symbolise();
        cache.insert(stack_key, site.clone());
        site
    }
}

/// Remembers each distinct stack's site, so symbolising happens once per stack.
#[derive(Debug, Default)]
pub struct StackCache {
    sites: Mutex<HashMap<u64, CallSite>>,
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

/// One application frame.
struct Frame {
    file: String,
    line: u32,
    function: Option<String>,
}

/// Walks and symbolises the current stack, keeping the application's frames: those whose
/// source is neither the standard library, a dependency from the registry, nor this crate.
fn symbolise() -> CallSite {
    let mut frames = Vec::new();
    let mut seen = 0;
    backtrace::trace(|frame| {
        backtrace::resolve_frame(frame, |symbol| {
            let (Some(file), Some(line)) = (symbol.filename(), symbol.lineno()) else {
                return;
            };
            let file = file.to_string_lossy().into_owned();
            if is_application_file(&file) {
                frames.push(Frame {
                    file,
                    line,
                    function: symbol.name().map(|name| format!("{name:#}")),
                });
            }
        });
        seen += 1;
        seen < MAX_FRAMES
    });
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
        report: Arc::new(CallSiteReport {
            file: innermost.map_or_else(|| "<unknown>".to_owned(), |f| f.file.clone()),
            line: innermost.map_or(0, |f| f.line),
            function: innermost.and_then(|f| f.function.clone()),
            chain: strict,
        }),
    }
}

fn is_application_file(file: &str) -> bool {
    let dependency = file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.starts_with("/rustc/")
        || file.contains("/rustlib/src/");
    let agent = file.contains("crates/antibody/src/") || file.contains("antibody/src/");
    !(dependency || agent)
}
