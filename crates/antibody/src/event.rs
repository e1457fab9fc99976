//! Events: the one record of everything the agent saw and did.
//!
//! Every report, block and internal problem is an [`Event`], serialised as one JSON object.
//! Secrets never reach an event: values of password, token, key, session and cookie inputs
//! and of `Authorization`-like headers are replaced by a marker wherever they would appear,
//! including inside the reported statement.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use antibody_detect::Source;
use serde::{Serialize, Serializer};

use crate::config::{Mode, SinkKind};

/// An event's identifier: a per-process random prefix and a counter, shown as 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventId(u64);

impl EventId {
    /// A fresh identifier.
    pub(crate) fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static PREFIX: OnceLock<u64> = OnceLock::new();
        // `RandomState` is seeded from the operating system's randomness once per process.
        let prefix = *PREFIX.get_or_init(|| RandomState::new().build_hasher().finish() << 24);
        EventId(prefix ^ COUNTER.fetch_add(1, Ordering::Relaxed))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A request input added structure to an SQL statement, or explained a structure the
    /// call site never learned.
    SqlInjection,
    /// A call site ran an SQL structure it never learned, and no request input explains it
    /// (a stored or second-order injection, or a new feature).
    SqlAnomaly,
    /// A request input took a file path out of the folder its code meant (`..`, an absolute
    /// path, a NUL byte, a symbolic link) or to a file that holds secrets.
    PathTraversal,
    /// A call site reached a folder or an extension it never learned, and no request input
    /// takes the path out of its folder.
    FileAnomaly,
    /// A request input added shell syntax to a command, or supplied its program or an
    /// option.
    CommandInjection,
    /// A call site started a command of a shape it never learned, and no request input
    /// explains it.
    CommandAnomaly,
    /// A request input sent a redirect to another site, or to a scheme that runs script.
    OpenRedirect,
    /// A request input added code to a script the application evaluates.
    CodeInjection,
    /// A call site evaluated a script of a shape it never learned, and no request input
    /// explains it.
    ScriptAnomaly,
    /// A request input chose the host of an outbound request, and it is or resolves to an
    /// internal address (loopback, private, link-local, cloud metadata, reserved).
    ServerSideRequestForgery,
    /// The agent failed inside a sink (a panic or an exhausted time budget); the
    /// application's call went ahead unchecked.
    AgentError,
    /// The event queue was full and events were dropped; `dropped` says how many.
    EventsDropped,
    /// A sink ran outside any request context (a background task, or a task spawned without
    /// carrying the context); reported once per call site.
    UnattributedSink,
}

impl EventKind {
    /// The name used in the JSON form (`sql_injection`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SqlInjection => "sql_injection",
            EventKind::SqlAnomaly => "sql_anomaly",
            EventKind::PathTraversal => "path_traversal",
            EventKind::FileAnomaly => "file_anomaly",
            EventKind::CommandInjection => "command_injection",
            EventKind::CommandAnomaly => "command_anomaly",
            EventKind::OpenRedirect => "open_redirect",
            EventKind::CodeInjection => "code_injection",
            EventKind::ScriptAnomaly => "script_anomaly",
            EventKind::ServerSideRequestForgery => "server_side_request_forgery",
            EventKind::AgentError => "agent_error",
            EventKind::EventsDropped => "events_dropped",
            EventKind::UnattributedSink => "unattributed_sink",
        }
    }
}

/// What the agent did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The action was stopped; the request was answered with 403.
    Blocked,
    /// The action went ahead and was reported.
    Reported,
}

/// Where in the application the sink was reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallSiteReport {
    /// Source file of the innermost application frame.
    pub file: String,
    /// Line in that file.
    pub line: u32,
    /// The function, when known.
    pub function: Option<String>,
    /// The application frames that led there, innermost first, as `file:line`.
    pub chain: Vec<String>,
}

/// The request input behind an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InputReport {
    /// `query`, `form`, `json`, `path`, `header` or `cookie`.
    pub source: &'static str,
    /// The parameter, field, header or cookie name.
    pub name: String,
    /// The value, or a marker when it is a secret.
    pub value: String,
}

/// The request an event happened in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestReport {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// The matched route pattern (`/products/{id}`), when the router knows it.
    pub route: Option<String>,
    /// The client's address (from a trusted proxy's forwarding header when configured).
    pub client_ip: Option<IpAddr>,
}

/// The dangerous action an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SinkReport {
    /// The sink kind (`sql`, `file`).
    pub kind: SinkKind,
    /// The SQL dialect, for SQL sinks.
    pub dialect: Option<&'static str>,
    /// What the application was about to do, for file and command sinks (`read`, `write`,
    /// `shell`, `exec`, ...).
    pub operation: Option<&'static str>,
    /// What the application was about to run (a statement, a path), with secrets masked.
    pub statement: String,
    /// The structure fingerprint of the statement.
    pub fingerprint: Option<String>,
}

/// One thing the agent saw and did. Serialised as one JSON object; fields that do not apply
/// are `null`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Unique identifier, also sent in the `x-antibody-event` header of a 403.
    pub id: EventId,
    /// When it happened, RFC 3339 in UTC.
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    /// What it is about.
    pub kind: EventKind,
    /// What the agent did.
    pub action: Action,
    /// The mode that applied.
    pub mode: Mode,
    /// The request, or `null` when the sink ran outside any request (unattributed).
    pub request: Option<RequestReport>,
    /// Where in the application the sink was reached.
    pub call_site: Option<CallSiteReport>,
    /// The offending input and its location.
    pub input: Option<InputReport>,
    /// The sink and what it was about to run.
    pub sink: Option<SinkReport>,
    /// What the input changed in the statement's structure (`comment`, `tautology`, ...), or
    /// `new structure` for an anomaly.
    pub structure: Option<String>,
    /// How to fix the code.
    pub fix: Option<String>,
    /// For `events_dropped` events: how many were dropped since the last such event.
    pub dropped: Option<u64>,
    /// For `agent_error` events: what went wrong.
    pub error: Option<String>,
}

impl Event {
    /// A new event of `kind` with nothing but its identity filled in.
    pub(crate) fn new(kind: EventKind, action: Action, mode: Mode) -> Self {
        Event {
            id: EventId::new(),
            time: SystemTime::now(),
            kind,
            action,
            mode,
            request: None,
            call_site: None,
            input: None,
            sink: None,
            structure: None,
            fix: None,
            dropped: None,
            error: None,
        }
    }

    /// The event as one line of JSON.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|error| format!("{{\"serialisation_error\":\"{error}\"}}"))
    }
}

fn rfc3339<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&humantime::format_rfc3339_millis(*time))
}

/// Words that make an input's name a secret wherever they appear in it.
const SECRET_PARTS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "authorization",
    "authentication",
    "session",
    "cookie",
    "credential",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "csrf",
];

/// Names that are secrets only as a whole (`auth` is, `author` is not).
const SECRET_NAMES: &[&str] = &["auth", "otp", "pin", "key", "cvv", "ssn"];

/// The marker that replaces a secret value.
pub const REDACTED: &str = "[redacted]";

/// Whether an input named `name` in `source` carries a secret: every cookie, and any input
/// whose name contains a secret word (`password`, `access_token`, `Authorization`, ...).
pub fn is_secret(source: Source, name: &str) -> bool {
    if source == Source::Cookie {
        return true;
    }
    let name = name.to_ascii_lowercase();
    SECRET_PARTS.iter().any(|part| name.contains(part)) || SECRET_NAMES.contains(&name.as_str())
}

/// `text` with every occurrence of each secret value masked, verbatim or escaped the ways
/// applications escape values into SQL literals (`''`, `""`, backslashes). Values shorter than
/// two characters are left, as they reveal nothing and would mask everything.
pub(crate) fn mask_secrets<'v>(text: &str, secrets: impl IntoIterator<Item = &'v str>) -> String {
    let mut forms: Vec<String> = secrets
        .into_iter()
        .filter(|secret| secret.chars().nth(1).is_some())
        .flat_map(|secret| {
            [
                secret.to_owned(),
                secret.replace('\'', "''"),
                secret.replace('"', "\"\""),
                secret
                    .replace('\\', "\\\\")
                    .replace('\'', "\\'")
                    .replace('"', "\\\""),
            ]
        })
        .collect();
    // Longest first, so that a secret holding a shorter one is masked whole.
    forms.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    let mut masked = text.to_owned();
    for form in &forms {
        if masked.contains(form.as_str()) {
            masked = masked.replace(form.as_str(), REDACTED);
        }
    }
    masked
}
