//! What the sink specifications share: an agent that writes its events to a file of its
//! own, and requests sent through an axum app in process.
// Each test file uses the parts it needs.
#![allow(dead_code)]

use std::path::PathBuf;

use antibody::{Agent, Builder, Mode};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request};
use serde_json::Value;
use tower::ServiceExt;

/// An agent in `mode` whose events go to a file in a temporary folder of its own.
pub(crate) struct Recorded {
    pub(crate) agent: Agent,
    pub(crate) dir: tempfile::TempDir,
    events: PathBuf,
}

impl Recorded {
    pub(crate) fn new(mode: Mode) -> Self {
        Recorded::with(mode, |builder| builder)
    }

    /// The agent as `configure` builds it on top of `mode` and the events file; the
    /// process's `ANTIBODY_*` variables are ignored.
    pub(crate) fn with(mode: Mode, configure: impl FnOnce(Builder) -> Builder) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let events = dir.path().join("events.jsonl");
        let agent = configure(Agent::builder().mode(mode).events_file(&events))
            .build_with_env(|_| None)
            .expect("the agent starts");
        Recorded { agent, dir, events }
    }

    /// Every event so far, in order.
    pub(crate) fn events(&self) -> Vec<Value> {
        assert!(self.agent.flush(), "events were not delivered in time");
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON event a line"))
            .collect()
    }

    /// The last event so far.
    pub(crate) fn last_event(&self) -> Value {
        self.events().pop().expect("an event")
    }
}

/// An answer: its status, headers and body as text.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// Sends `GET target` through `app` (behind the agent's layer) with `headers`.
pub(crate) async fn get(app: Router, target: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = Request::get(target);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Body::empty()).expect("a valid request");
    let response = app.oneshot(request).await.expect("a router never fails");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the whole answer");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// `value` percent-encoded whole, for a query string.
pub(crate) fn encoded(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}
