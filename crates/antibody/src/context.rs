//! The request context: what deep code needs to know about the request it serves.
//!
//! The layer builds one [`RequestContext`] per request and makes it current, through a
//! `tokio` task-local, while the handler runs *and* while the response body is polled. Work
//! moved to other tasks keeps it only when moved with [`spawn`], [`spawn_blocking`] or
//! [`WithContextExt::with_current_context`]; a bare `tokio::spawn` loses it, and a sink
//! reached there is reported as unattributed.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use antibody_detect::{Input, Source};

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

/// What the agent knows about the request being served.
#[derive(Debug)]
pub struct RequestContext {
    method: String,
    path: String,
    route: Option<String>,
    client_ip: Option<IpAddr>,
    inputs: Vec<RequestInput>,
    /// Inputs of a form or JSON body larger than the capture cap, read as the handler
    /// consumed it; set once, when the body ends.
    body_inputs: OnceLock<Vec<RequestInput>>,
    // Read by the HTTP layer, when it is built.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    wants_json: bool,
    blocked: Mutex<Option<EventId>>,
    attack_reported: Mutex<bool>,
}

impl RequestContext {
    /// A context for a request; the layer builds these, tests and other integrations may too.
    pub fn new(
        method: impl Into<String>,
        path: impl Into<String>,
        route: Option<String>,
        client_ip: Option<IpAddr>,
        inputs: Vec<RequestInput>,
    ) -> Self {
        RequestContext {
            method: method.into(),
            path: path.into(),
            route,
            client_ip,
            inputs,
            body_inputs: OnceLock::new(),
            wants_json: false,
            blocked: Mutex::new(None),
            attack_reported: Mutex::new(false),
        }
    }

    #[cfg(feature = "axum")]
    pub(crate) fn with_json_answers(mut self, wants_json: bool) -> Self {
        self.wants_json = wants_json;
        self
    }

    /// The context current in this task, if any.
    pub fn current() -> Option<Arc<RequestContext>> {
        CURRENT.try_with(Arc::clone).ok()
    }

    /// Runs `future` with `context` current.
    pub async fn scope<F: Future>(context: Arc<RequestContext>, future: F) -> F::Output {
        CURRENT.scope(context, future).await
    }

    /// Runs `f` with `context` current.
    pub fn sync_scope<R>(context: Arc<RequestContext>, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(context, f)
    }

    /// The request's inputs, borrowed for the detectors.
    pub fn inputs(&self) -> Vec<Input<'_>> {
        self.request_inputs()
            .map(|input| Input::new(input.source, &input.name, &input.value))
            .collect()
    }

    /// The request's inputs, owned.
    pub fn request_inputs(&self) -> impl Iterator<Item = &RequestInput> {
        self.inputs
            .iter()
            .chain(self.body_inputs.get().into_iter().flatten())
    }

    /// Adds the inputs of a large body, read as the handler consumed it; they replace any
    /// body inputs taken from the part read before the handler ran.
    #[cfg(feature = "axum")]
    pub(crate) fn add_body_inputs(&self, inputs: Vec<RequestInput>) {
        let _ = self.body_inputs.set(inputs);
    }

    /// The values of inputs that are secrets, to be masked in reports.
    pub(crate) fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.request_inputs()
            .filter(|input| is_secret(input.source, &input.name))
            .map(|input| input.value.as_str())
    }

    /// The client's address.
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.client_ip
    }

    /// The matched route pattern.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    #[cfg(feature = "axum")]
    pub(crate) fn wants_json(&self) -> bool {
        self.wants_json
    }

    /// Records that a sink blocked this request; the first block decides the answer.
    pub(crate) fn block(&self, id: EventId) {
        if let Ok(mut blocked) = self.blocked.lock() {
            blocked.get_or_insert(id);
        }
    }

    /// The event that blocked this request, if a sink blocked it.
    pub fn blocked(&self) -> Option<EventId> {
        self.blocked.lock().ok().and_then(|blocked| *blocked)
    }

    /// Records that an attack was reported in this request: nothing it does is learned.
    pub(crate) fn mark_attack(&self) {
        if let Ok(mut reported) = self.attack_reported.lock() {
            *reported = true;
        }
    }

    pub(crate) fn attack_reported(&self) -> bool {
        self.attack_reported.lock().is_ok_and(|reported| *reported)
    }

    pub(crate) fn report(&self) -> RequestReport {
        RequestReport {
            method: self.method.clone(),
            path: self.path.clone(),
            route: self.route.clone(),
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
