//! The request context: what deep code needs to know about the request it serves.
//!
//! The layer builds one [`RequestContext`] per request and makes it current, through a
//! `tokio` task-local, while the handler runs *and* while the response body is polled. Work
//! moved to other tasks keeps it only when moved with [`spawn`], [`spawn_blocking`] or
//! [`WithContextExt::with_current_context`]; a bare `tokio::spawn` loses it, and a sink
//! reached there is reported as unattributed.

use std::future::Future;
use std::net::IpAddr;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use antibody_detect::{Input, Source};

use crate::agent::Agent;
use crate::callsite::{CallSite, route_key};
use crate::event::{EventId, RequestReport, is_secret};

tokio::task_local! {
    static CURRENT: Arc<RequestContext>;
}

/// One decoded input of the request, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInput {
    /// Where it came from.
    pub source: Source,
    /// Its name there.
    pub name: String,
    /// The decoded value.
    pub value: String,
}

/// The most inputs a context inspects. A request that carries more is marked: a statement
/// structure its sinks never ran before is then taken for an attack, since an input the
/// agent did not inspect may have supplied it.
pub const MAX_INPUTS: usize = 65_536;

/// Where one input's name and value are in an [`InputTable`]'s text.
#[derive(Clone, Debug)]
struct InputSpan {
    source: Source,
    name: Range<usize>,
    value: Range<usize>,
}

/// A request's inputs, every name and value in one buffer: two allocations however many
/// inputs there are.
#[derive(Debug, Default)]
pub(crate) struct InputTable {
    text: String,
    spans: Vec<InputSpan>,
    /// Whether inputs were left out past [`MAX_INPUTS`].
    overflowed: bool,
}

impl InputTable {
    /// A table with room for `inputs` inputs whose names and values take `text_bytes`.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn with_capacity(text_bytes: usize, inputs: usize) -> Self {
        InputTable {
            text: String::with_capacity(text_bytes),
            spans: Vec::with_capacity(inputs.min(MAX_INPUTS)),
            overflowed: false,
        }
    }

    /// Adds an input; an empty value, which no sink can be given through, is left out, and
    /// so is every input past [`MAX_INPUTS`], which marks the table as overflowed.
    pub(crate) fn push(&mut self, source: Source, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        if self.is_full() {
            self.overflowed = true;
            return;
        }
        let name = push_text(&mut self.text, name);
        let value = push_text(&mut self.text, value);
        self.spans.push(InputSpan {
            source,
            name,
            value,
        });
    }

    /// Records that some of the request's inputs never reached the table.
    #[cfg(feature = "axum")]
    pub(crate) fn mark_overflowed(&mut self) {
        self.overflowed = true;
    }

    /// Whether it holds [`MAX_INPUTS`] inputs.
    pub(crate) fn is_full(&self) -> bool {
        self.spans.len() >= MAX_INPUTS
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = Input<'_>> {
        self.spans.iter().map(|span| {
            Input::new(
                span.source,
                &self.text[span.name.clone()],
                &self.text[span.value.clone()],
            )
        })
    }
}

/// Appends `text` to `buffer`, answering where it went.
fn push_text(buffer: &mut String, text: &str) -> Range<usize> {
    let start = buffer.len();
    buffer.push_str(text);
    start..buffer.len()
}

/// The request line and route, as the context was given them.
#[derive(Debug)]
enum Head {
    /// Built by hand: the method, path and route in one buffer; the inputs came with them.
    Given {
        text: String,
        method: Range<usize>,
        path: Range<usize>,
        route: Option<Range<usize>>,
    },
    /// Captured by the HTTP layer, which decodes the inputs when a sink first asks for them:
    /// a request that reaches no sink, or only statements already judged, decodes nothing.
    #[cfg(feature = "axum")]
    Http(crate::layer::CapturedRequest),
}

/// What the agent knows about the request being served.
#[derive(Debug)]
pub struct RequestContext {
    head: Head,
    inputs: OnceLock<InputTable>,
    /// The method and route, hashed: where sink calls are remembered by their shape.
    route_key: Option<u64>,
    client_ip: Option<IpAddr>,
    /// The agent serving the request: the one that checks integrations reached without an
    /// agent of their own (`antibody::fs`).
    agent: Option<Agent>,
    /// Inputs of a form or JSON body larger than the capture cap, read as the handler
    /// consumed it; set once, when the body ends.
    body_inputs: OnceLock<InputTable>,
    blocked: OnceLock<EventId>,
    attack_reported: AtomicBool,
    /// Hosts of outbound requests a request input chose, with the line that sent them: the
    /// addresses they resolve to and the redirects they answer with are checked too.
    outbound_hosts: Mutex<Vec<(String, CallSite)>>,
}

/// Builds a [`RequestContext`], from [`RequestContext::builder`].
#[derive(Debug)]
#[must_use]
pub struct ContextBuilder<'a> {
    method: &'a str,
    path: &'a str,
    route: Option<&'a str>,
    client_ip: Option<IpAddr>,
    agent: Option<Agent>,
    inputs: InputTable,
}

impl<'a> ContextBuilder<'a> {
    /// The agent serving the request, which checks the integrations that have no agent of
    /// their own (`antibody::fs`); without one, they run unchecked.
    pub fn agent(mut self, agent: &Agent) -> Self {
        self.agent = Some(agent.clone());
        self
    }

    /// The matched route pattern (`/items/{id}`).
    pub fn route(mut self, route: &'a str) -> Self {
        self.route = Some(route);
        self
    }

    /// The client's address.
    pub fn client_ip(mut self, client_ip: Option<IpAddr>) -> Self {
        self.client_ip = client_ip;
        self
    }

    /// Makes room for `inputs` more inputs whose names and values take `text_bytes`, so
    /// that building allocates once.
    pub fn reserve(&mut self, text_bytes: usize, inputs: usize) -> &mut Self {
        self.inputs.text.reserve(text_bytes);
        self.inputs.spans.reserve(inputs.min(MAX_INPUTS));
        self
    }

    /// Adds an input. An empty value is left out; past [`MAX_INPUTS`], inputs are left out
    /// and the context is marked as holding only part of the request's inputs.
    pub fn input(&mut self, source: Source, name: &str, value: &str) -> &mut Self {
        self.inputs.push(source, name, value);
        self
    }

    /// Whether [`MAX_INPUTS`] inputs were added.
    pub fn is_full(&self) -> bool {
        self.inputs.is_full()
    }

    /// The context.
    pub fn build(self) -> RequestContext {
        let mut text = String::with_capacity(
            self.method.len() + self.path.len() + self.route.map_or(0, str::len),
        );
        let method = push_text(&mut text, self.method);
        let path = push_text(&mut text, self.path);
        let route = self.route.map(|route| push_text(&mut text, route));
        RequestContext::with_head(
            Head::Given {
                text,
                method,
                path,
                route,
            },
            self.client_ip,
            self.agent,
            OnceLock::from(self.inputs),
        )
    }
}

impl RequestContext {
    /// A builder for a request's context.
    pub fn builder<'a>(method: &'a str, path: &'a str) -> ContextBuilder<'a> {
        ContextBuilder {
            method,
            path,
            route: None,
            client_ip: None,
            agent: None,
            inputs: InputTable::default(),
        }
    }

    /// A context for a request from owned parts.
    pub fn new(
        method: &str,
        path: &str,
        route: Option<&str>,
        client_ip: Option<IpAddr>,
        inputs: Vec<RequestInput>,
    ) -> Self {
        let text_bytes = inputs
            .iter()
            .map(|input| input.name.len() + input.value.len())
            .sum::<usize>();
        let mut builder = RequestContext::builder(method, path).client_ip(client_ip);
        builder.reserve(text_bytes, inputs.len());
        if let Some(route) = route {
            builder = builder.route(route);
        }
        for input in inputs {
            builder.input(input.source, &input.name, &input.value);
        }
        builder.build()
    }

    /// The context of a request the HTTP layer captured; its inputs are decoded on first use.
    #[cfg(feature = "axum")]
    pub(crate) fn captured(
        request: crate::layer::CapturedRequest,
        client_ip: Option<IpAddr>,
        agent: &Agent,
    ) -> Self {
        RequestContext::with_head(
            Head::Http(request),
            client_ip,
            Some(agent.clone()),
            OnceLock::new(),
        )
    }

    fn with_head(
        head: Head,
        client_ip: Option<IpAddr>,
        agent: Option<Agent>,
        inputs: OnceLock<InputTable>,
    ) -> Self {
        let mut context = RequestContext {
            head,
            inputs,
            route_key: None,
            client_ip,
            agent,
            body_inputs: OnceLock::new(),
            blocked: OnceLock::new(),
            attack_reported: AtomicBool::new(false),
            outbound_hosts: Mutex::new(Vec::new()),
        };
        context.route_key = context
            .route()
            .map(|route| route_key(context.method(), route));
        context
    }

    fn input_table(&self) -> &InputTable {
        self.inputs.get_or_init(|| match &self.head {
            // A context built by hand holds its inputs from the start.
            Head::Given { .. } => InputTable::default(),
            #[cfg(feature = "axum")]
            Head::Http(request) => request.decode(),
        })
    }

    fn method(&self) -> &str {
        match &self.head {
            Head::Given { text, method, .. } => &text[method.clone()],
            #[cfg(feature = "axum")]
            Head::Http(request) => request.method(),
        }
    }

    fn path(&self) -> &str {
        match &self.head {
            Head::Given { text, path, .. } => &text[path.clone()],
            #[cfg(feature = "axum")]
            Head::Http(request) => request.path(),
        }
    }

    /// The context current in this task, if any.
    pub fn current() -> Option<Arc<RequestContext>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// `future`, run with `context` current.
    pub fn scope<F: Future>(
        context: Arc<RequestContext>,
        future: F,
    ) -> tokio::task::futures::TaskLocalFuture<Arc<RequestContext>, F> {
        CURRENT.scope(context, future)
    }

    /// Runs `f` with `context` current.
    pub fn sync_scope<R>(context: Arc<RequestContext>, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(context, f)
    }

    /// The request's inputs, borrowed for the detectors.
    pub fn inputs(&self) -> Vec<Input<'_>> {
        let table = self.input_table();
        let body = self.body_inputs.get().map_or(0, |body| body.spans.len());
        let mut inputs = Vec::with_capacity(table.spans.len() + body);
        inputs.extend(self.request_inputs());
        inputs
    }

    /// The request's inputs, one by one.
    pub fn request_inputs(&self) -> impl Iterator<Item = Input<'_>> {
        let body = self
            .body_inputs
            .get()
            .into_iter()
            .flat_map(InputTable::iter);
        self.input_table().iter().chain(body)
    }

    /// Adds the inputs of a large body, read as the handler consumed it; they join those
    /// taken from the part read before the handler ran. An incomplete table (a body larger
    /// than the agent reads) marks the request as holding inputs the agent did not inspect.
    #[cfg(feature = "axum")]
    pub(crate) fn add_body_inputs(&self, inputs: InputTable) {
        let _ = self.body_inputs.set(inputs);
    }

    /// Whether the request carried inputs the agent did not inspect: more than
    /// [`MAX_INPUTS`], or a body larger than it reads.
    pub(crate) fn inputs_overflowed(&self) -> bool {
        self.input_table().overflowed || self.body_inputs.get().is_some_and(|body| body.overflowed)
    }

    /// The values of inputs that are secrets, to be masked in reports.
    pub(crate) fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.request_inputs()
            .filter(|input| is_secret(input.location.source, input.location.name))
            .map(|input| input.value)
    }

    /// The client's address.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// The agent serving the request, when it is known.
    pub(crate) fn agent(&self) -> Option<&Agent> {
        self.agent.as_ref()
    }

    /// The matched route pattern.
    pub fn route(&self) -> Option<&str> {
        match &self.head {
            Head::Given { text, route, .. } => route.clone().map(|route| &text[route]),
            #[cfg(feature = "axum")]
            Head::Http(request) => request.route(),
        }
    }

    /// The method and route pattern, hashed; `None` without a matched route.
    pub(crate) fn route_key(&self) -> Option<u64> {
        self.route_key
    }

    /// Whether the client asked for JSON rather than a page.
    #[cfg(feature = "axum")]
    pub(crate) fn wants_json(&self) -> bool {
        match &self.head {
            Head::Given { .. } => false,
            Head::Http(request) => request.wants_json(),
        }
    }

    /// Records that a request input chose `host` for an outbound request sent at `site`.
    pub(crate) fn choose_outbound_host(&self, host: &str, site: &CallSite) {
        if let Ok(mut hosts) = self.outbound_hosts.lock() {
            if !hosts.iter().any(|(known, _)| known == host) && hosts.len() < 64 {
                hosts.push((host.to_owned(), site.clone()));
            }
        }
    }

    /// Whether a request input chose `host` for an outbound request.
    pub(crate) fn outbound_host_chosen(&self, host: &str) -> bool {
        self.outbound_site(host).is_some()
    }

    /// The line that sent an outbound request to `host`, when a request input chose it.
    pub(crate) fn outbound_site(&self, host: &str) -> Option<CallSite> {
        let hosts = self.outbound_hosts.lock().ok()?;
        hosts
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(host))
            .map(|(_, site)| site.clone())
    }

    /// Records that a sink blocked this request; the first block decides the answer.
    pub(crate) fn block(&self, id: EventId) {
        let _ = self.blocked.set(id);
    }

    /// The event that blocked this request, if a sink blocked it.
    pub fn blocked(&self) -> Option<EventId> {
        self.blocked.get().copied()
    }

    /// Records that an attack was reported in this request: nothing it does is learned.
    pub(crate) fn mark_attack(&self) {
        self.attack_reported.store(true, Ordering::Relaxed);
    }

    pub(crate) fn attack_reported(&self) -> bool {
        self.attack_reported.load(Ordering::Relaxed)
    }

    pub(crate) fn report(&self) -> RequestReport {
        RequestReport {
            method: self.method().to_owned(),
            path: self.path().to_owned(),
            route: self.route().map(str::to_owned),
            client_ip: self.client_ip,
        }
    }
}

/// Spawns `future` on the current `tokio` runtime, carrying the current request context.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.with_current_context())
}

/// Runs `f` on `tokio`'s blocking pool, carrying the current request context.
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let context = RequestContext::current();
    tokio::task::spawn_blocking(move || match context {
        Some(context) => CURRENT.sync_scope(context, f),
        None => f(),
    })
}

/// Carries a request context into a future that will run elsewhere.
pub trait WithContextExt: Future + Sized {
    /// This future, run with the context current at the time of this call.
    fn with_current_context(self) -> WithContext<Self> {
        self.with_context(RequestContext::current())
    }

    /// This future, run with `context` current (or none).
    fn with_context(self, context: Option<Arc<RequestContext>>) -> WithContext<Self> {
        WithContext {
            future: Box::pin(self),
            context,
        }
    }
}

impl<F: Future> WithContextExt for F {}

/// A future that makes a request context current each time it is polled.
pub struct WithContext<F> {
    future: Pin<Box<F>>,
    context: Option<Arc<RequestContext>>,
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        match &this.context {
            Some(context) => {
                CURRENT.sync_scope(Arc::clone(context), || this.future.as_mut().poll(cx))
            }
            None => this.future.as_mut().poll(cx),
        }
    }
}
