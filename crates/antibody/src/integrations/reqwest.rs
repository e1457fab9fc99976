//! Outbound HTTP, guarded against server-side request forgery: [`Client`] wraps
//! `reqwest::Client`. When a request input chose the host of a request (the URL comes from
//! the request, or its host does), that host must not be an internal address, must not
//! resolve to one (checked on the addresses the connection actually uses, so DNS that
//! changes its answer cannot lead inside), and no redirect may lead to one. Internal means
//! loopback, private, link-local (cloud metadata), unspecified and the other reserved
//! ranges, in every notation (`2130706433`, `0x7f.1`, `[::ffff:127.0.0.1]`). Hosts listed in
//! `ANTIBODY_ALLOWED_HOSTS` always pass. In protect mode the request fails with
//! [`FetchError::Blocked`] and the layer answers 403.

use std::net::SocketAddr;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect::{Attempt, Policy};
use reqwest::{IntoUrl, Method};

use crate::agent::Agent;
use crate::callsite::CallSite;
use crate::context::RequestContext;
use crate::decision::Blocked;

/// The most redirects a request follows, as reqwest's default policy.
const MAX_REDIRECTS: usize = 10;

/// Why a guarded request failed.
#[derive(Debug)]
pub enum FetchError {
    /// The agent refused it.
    Blocked(Blocked),
    /// reqwest failed (the URL, the connection, the answer).
    Http(reqwest::Error),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Blocked(blocked) => blocked.fmt(f),
            FetchError::Http(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for FetchError {}

impl FetchError {
    /// The error reqwest returned, unless it carries the agent's refusal (raised while
    /// resolving or following a redirect).
    fn from_reqwest(error: reqwest::Error) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(cause) = source {
            if let Some(blocked) = cause.downcast_ref::<Blocked>() {
                return FetchError::Blocked(*blocked);
            }
            source = cause.source();
        }
        FetchError::Http(error)
    }
}

/// `reqwest::Client`, guarded.
#[derive(Clone, Debug)]
pub struct Client {
    inner: reqwest::Client,
}

impl Client {
    /// A guarded client with reqwest's defaults.
    pub fn new() -> Result<Self, reqwest::Error> {
        Client::from_builder(reqwest::Client::builder())
    }

    /// A guarded client from `builder`, whose DNS resolver and redirect policy it replaces.
    pub fn from_builder(builder: reqwest::ClientBuilder) -> Result<Self, reqwest::Error> {
        let inner = builder
            .dns_resolver(Arc::new(GuardedResolver))
            .redirect(Policy::custom(follow))
            .build()?;
        Ok(Client { inner })
    }

    /// A `GET` request to `url`.
    #[track_caller]
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` request to `url`.
    #[track_caller]
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A request with `method` to `url`; the line that calls this is the one reported.
    #[track_caller]
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder {
            inner: self.inner.request(method, url),
            site: Agent::caller_site(Location::caller()),
        }
    }
}

/// `reqwest::RequestBuilder`, checked when it is sent.
#[derive(Debug)]
pub struct RequestBuilder {
    inner: reqwest::RequestBuilder,
    site: CallSite,
}

impl RequestBuilder {
    /// Adds a header.
    #[must_use]
    pub fn header(self, name: &str, value: &str) -> Self {
        RequestBuilder {
            inner: self.inner.header(name, value),
            site: self.site,
        }
    }

    /// Sets the body.
    #[must_use]
    pub fn body(self, body: impl Into<reqwest::Body>) -> Self {
        RequestBuilder {
            inner: self.inner.body(body),
            site: self.site,
        }
    }

    /// Sets a timeout for the whole request.
    #[must_use]
    pub fn timeout(self, timeout: Duration) -> Self {
        RequestBuilder {
            inner: self.inner.timeout(timeout),
            site: self.site,
        }
    }

    /// Checks the request against the current request's inputs, then sends it.
    pub async fn send(self) -> Result<reqwest::Response, FetchError> {
        let (client, request) = self.inner.build_split();
        let request = request.map_err(FetchError::Http)?;
        let agent = RequestContext::current().and_then(|context| context.agent().cloned());
        if let Some(agent) = agent {
            agent
                .check_outbound(request.url().as_str(), &self.site)
                .map_err(FetchError::Blocked)?;
        }
        client
            .execute(request)
            .await
            .map_err(FetchError::from_reqwest)
    }
}

/// Resolves names as the system does, then checks each address when a request input chose
/// the name. The connection uses exactly the addresses checked.
struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        // The connection is made while the request is sent, in the request's task.
        let context = RequestContext::current();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(context) = &context {
                if let Some(agent) = context.agent() {
                    for address in &addresses {
                        agent.check_resolved(context, &host, address.ip())?;
                    }
                }
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// Follows a redirect, unless a request input chose the first host and the next one is, or
/// resolves to, an internal address.
fn follow(attempt: Attempt<'_>) -> reqwest::redirect::Action {
    if attempt.previous().len() >= MAX_REDIRECTS {
        return attempt.error("too many redirects");
    }
    let Some(context) = RequestContext::current() else {
        return attempt.follow();
    };
    let first = attempt.previous().first().and_then(|url| url.host_str());
    let site = first.and_then(|host| context.outbound_site(host));
    let (Some(site), Some(agent)) = (site, context.agent()) else {
        return attempt.follow();
    };
    // The first server is the attacker's: wherever it sends the request, it chose.
    if let Some(next) = attempt.url().host_str() {
        context.choose_outbound_host(next, &site);
    }
    match agent.check_outbound(attempt.url().as_str(), &site) {
        Ok(()) => attempt.follow(),
        Err(blocked) => attempt.error(blocked),
    }
}
