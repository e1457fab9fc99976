//! The agent: configuration, the learned model, event delivery and counters, behind one
//! cheap, cloneable handle.

use std::collections::HashSet;
use std::panic::Location;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ipnet::IpNet;

use crate::callsite::{CallSite, SiteKey, SiteMemo, StackCache};
use crate::config::{self, Config, ConfigError, Mode, Origin, Settings, SinkKind};
use crate::event::{Action, Event, EventKind};
use crate::learning::Learning;
use crate::transport::Transport;

/// How many events may wait for delivery before new ones are dropped and counted.
const EVENT_QUEUE: usize = 4096;

/// The Antibody agent. Clones share one agent.
#[derive(Clone, Debug)]
pub struct Agent {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) transport: Transport,
    pub(crate) learning: Learning,
    pub(crate) stacks: StackCache,
    pub(crate) counters: Counters,
    pub(crate) sites: SiteMemo,
    unattributed_sites: Mutex<HashSet<SiteKey>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) checks: AtomicU64,
    pub(crate) blocked: AtomicU64,
    pub(crate) reported: AtomicU64,
    pub(crate) unattributed: AtomicU64,
    pub(crate) agent_errors: AtomicU64,
    pub(crate) stack_walks: AtomicU64,
}

/// A snapshot of the agent's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sink calls checked.
    pub checks: u64,
    /// Sink calls blocked.
    pub blocked: u64,
    /// Findings reported without blocking.
    pub reported: u64,
    /// Sink calls made outside any request context.
    pub unattributed: u64,
    /// Panics and exhausted budgets inside the agent; the application's call went ahead.
    pub agent_errors: u64,
    /// Events dropped because the queue was full, not yet reported.
    pub events_dropped: u64,
    /// Call sites found by walking the stack: once per statement shape and route, and once
    /// per injection.
    pub stack_walks: u64,
}

/// Builds an [`Agent`]. Settings made here are overridden by the TOML file named by
/// `ANTIBODY_CONFIG`, which is overridden by environment variables.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct Builder {
    settings: Settings,
}

impl Builder {
    /// The mode of every sink kind without a mode of its own (default: monitor).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.settings.mode = Some(mode);
        self
    }

    /// The mode of one sink kind.
    pub fn sink_mode(mut self, sink: SinkKind, mode: Mode) -> Self {
        self.settings.sink_modes.insert(sink, mode);
        self
    }

    /// In protect mode, also block anomalies that no request input explains.
    pub fn strict(mut self, strict: bool) -> Self {
        self.settings.strict = Some(strict);
        self
    }

    /// Where the learned model is kept.
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.state_dir = Some(dir.into());
        self
    }

    /// Where events are appended as JSON lines.
    pub fn events_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.settings.events_file = Some(path.into());
        self
    }

    /// Calls each site learns for before enforcing (`None`: no bound on calls).
    pub fn learning_calls(mut self, calls: Option<u64>) -> Self {
        self.settings.learning_calls = Some(calls.unwrap_or(0));
        self
    }

    /// Time each site learns for before enforcing (`None`: no bound on time).
    pub fn learning_duration(mut self, duration: Option<Duration>) -> Self {
        self.settings.learning_duration = Some(duration.unwrap_or(Duration::ZERO));
        self
    }

    /// A proxy whose forwarding headers are believed.
    pub fn trusted_proxy(mut self, proxy: IpNet) -> Self {
        self.settings
            .trusted_proxies
            .get_or_insert_with(Vec::new)
            .push(proxy);
        self
    }

    /// A host of the application's own (`shop.example`): a redirect there is never an open
    /// redirect. Outbound requests are not allowed there by it.
    pub fn own_host(mut self, host: &str) -> Self {
        self.settings
            .own_hosts
            .get_or_insert_with(Vec::new)
            .push(host.trim().to_ascii_lowercase());
        self
    }

    /// A host redirects and outbound requests may go to besides the application's own
    /// (`partner.example`, `*.cdn.example`).
    pub fn allowed_host(mut self, host: &str) -> Self {
        self.settings
            .allowed_hosts
            .get_or_insert_with(Vec::new)
            .push(host.trim().to_ascii_lowercase());
        self
    }

    /// The most bytes of a form, JSON or multipart body read for inputs before the handler
    /// runs; see [`Config::body_cap`](crate::Config::body_cap).
    pub fn body_cap(mut self, bytes: usize) -> Self {
        self.settings.body_cap = Some(bytes);
        self
    }

    /// Makes every check panic inside the agent: a fault-injection switch for tests that
    /// prove a failing agent leaves the application's calls unchanged.
    #[doc(hidden)]
    pub fn panic_in_checks_for_testing(mut self) -> Self {
        self.settings.panic_in_checks = true;
        self
    }

    /// Builds the agent, reading `ANTIBODY_CONFIG` and the `ANTIBODY_*` environment.
    pub fn build(self) -> Result<Agent, ConfigError> {
        self.build_with_env(|key| std::env::var(key).ok())
    }

    /// Builds the agent with the environment read through `env` instead of the process's.
    pub fn build_with_env(
        self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Agent, ConfigError> {
        Agent::start(config::resolve(self.settings, &env)?)
    }
}

impl Agent {
    /// A builder.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// An agent configured by the environment (and `ANTIBODY_CONFIG`) alone.
    pub fn from_env() -> Result<Agent, ConfigError> {
        Builder::default().build()
    }

    /// Starts an agent with `config`.
    pub fn start(config: Config) -> Result<Agent, ConfigError> {
        let setting_error = |key: &str, error: std::io::Error| ConfigError {
            origin: Origin::Builder,
            key: key.to_owned(),
            message: error.to_string(),
        };
        let transport = Transport::start(config.events_file.as_deref(), EVENT_QUEUE)
            .map_err(|error| setting_error("events_file", error))?;
        let learning = Learning::start(config.learning, config.state_dir.as_deref())
            .map_err(|error| setting_error("state_dir", error))?;
        Ok(Agent {
            inner: Arc::new(Inner {
                config,
                transport,
                learning,
                stacks: StackCache::default(),
                counters: Counters::default(),
                sites: SiteMemo::default(),
                unattributed_sites: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// The resolved configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The agent's counters.
    pub fn stats(&self) -> Stats {
        let counters = &self.inner.counters;
        Stats {
            checks: counters.checks.load(Ordering::Relaxed),
            blocked: counters.blocked.load(Ordering::Relaxed),
            reported: counters.reported.load(Ordering::Relaxed),
            unattributed: counters.unattributed.load(Ordering::Relaxed),
            agent_errors: counters.agent_errors.load(Ordering::Relaxed),
            events_dropped: self.inner.transport.dropped(),
            stack_walks: counters.stack_walks.load(Ordering::Relaxed),
        }
    }

    /// Waits (up to a second) until every event so far is delivered and the model written.
    pub fn flush(&self) -> bool {
        let events = self.inner.transport.flush(Duration::from_secs(1));
        let model = self.inner.learning.persist().is_ok();
        events && model
    }

    /// Delivers every event and writes the model; later events are dropped. Call it before
    /// the process exits.
    pub fn shutdown(&self) {
        self.inner.learning.shutdown();
        self.inner.transport.shutdown();
    }

    /// The call site of the application code that called the `#[track_caller]` function
    /// this is called from.
    pub fn caller_site(location: &'static Location<'static>) -> CallSite {
        CallSite::from_location(location)
    }

    /// The call site found by walking the stack (for sinks reached through a library).
    pub fn stack_site(&self) -> CallSite {
        self.inner
            .counters
            .stack_walks
            .fetch_add(1, Ordering::Relaxed);
        CallSite::from_stack(&self.inner.stacks)
    }

    /// Queues `event` for delivery.
    pub(crate) fn emit(&self, event: Event) {
        match event.action {
            Action::Blocked => self.inner.counters.blocked.fetch_add(1, Ordering::Relaxed),
            Action::Reported => self.inner.counters.reported.fetch_add(1, Ordering::Relaxed),
        };
        self.inner.transport.send(event);
    }

    /// Counts a sink call made outside any request.
    pub(crate) fn count_unattributed(&self) {
        self.inner
            .counters
            .unattributed
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Reports the site of a sink call made outside any request, the first time it is seen.
    pub(crate) fn report_unattributed(&self, sink: SinkKind, site: &CallSite) {
        let first = self
            .inner
            .unattributed_sites
            .lock()
            .is_ok_and(|mut sites| sites.len() < 10_000 && sites.insert(site.strict));
        if first {
            let mut event = Event::new(
                EventKind::UnattributedSink,
                Action::Reported,
                self.config().mode_for(sink),
            );
            event.call_site = Some(site.report());
            self.inner.transport.send(event);
        }
    }

    /// Counts and reports a failure inside the agent.
    pub(crate) fn note_error(&self, sink: SinkKind, site: Option<&CallSite>, error: String) {
        self.inner
            .counters
            .agent_errors
            .fetch_add(1, Ordering::Relaxed);
        let mut event = Event::new(
            EventKind::AgentError,
            Action::Reported,
            self.config().mode_for(sink),
        );
        event.call_site = site.map(CallSite::report);
        event.error = Some(error);
        self.inner.transport.send(event);
    }
}
