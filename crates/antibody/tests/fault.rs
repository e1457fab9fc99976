//! Fault injection: an agent that fails inside its check must leave the application exactly
//! as it would be without the agent, and say that it failed.
//!
//! With `panic_in_checks_for_testing`, every SQL check panics inside the agent. The shop
//! below pastes a tautology, `' OR '1'='1`, into its statements; in protect mode a working
//! agent would answer 403. A failing one must let the handler's own answer through, count
//! the failure and report it as an `agent_error` event.
#![cfg(feature = "axum")]

use std::collections::HashMap;
use std::panic::Location;
use std::path::PathBuf;

use antibody::{Agent, Blocked, Dialect, EVENT_HEADER, Mode};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::Request;
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;

const ATTACK: &str = "' OR '1'='1";

/// A protect-mode agent whose checks panic, writing events to a file of its own.
struct Harness {
    agent: Agent,
    events: PathBuf,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn failing() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let events = dir.path().join("events.jsonl");
        // An empty environment: the process's ANTIBODY_* variables must not steer a test.
        let agent = Agent::builder()
            .mode(Mode::Protect)
            .strict(true)
            .events_file(&events)
            .panic_in_checks_for_testing()
            .build_with_env(|_| None)
            .expect("a valid configuration");
        Harness {
            agent,
            events,
            _dir: dir,
        }
    }

    fn events(&self) -> Vec<Value> {
        assert!(self.agent.flush(), "events were not delivered in time");
        std::fs::read_to_string(&self.events)
            .expect("the events file")
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON event per line"))
            .collect()
    }
}

/// The shop's search: the term pasted into the statement, checked before it would run.
#[track_caller]
fn search(agent: &Agent, term: &str) -> Result<(), Blocked> {
    let sql = format!("SELECT id, name FROM products WHERE name = '{term}'");
    agent.check_sql(
        Dialect::Sqlite,
        &sql,
        &Agent::caller_site(Location::caller()),
    )
}

fn outcome(result: Result<(), Blocked>) -> &'static str {
    if result.is_ok() { "ran" } else { "refused" }
}

type Params = Query<HashMap<String, String>>;

async fn in_handler(State(agent): State<Agent>, Query(params): Params) -> String {
    let term = params.get("q").cloned().unwrap_or_default();
    format!("results: {}", outcome(search(&agent, &term)))
}

async fn in_tasks(State(agent): State<Agent>, Query(params): Params) -> String {
    let term = params.get("q").cloned().unwrap_or_default();
    let (agent_2, term_2) = (agent.clone(), term.clone());
    let spawned = antibody::spawn(async move { search(&agent_2, &term_2) })
        .await
        .expect("the task finished");
    let blocking = antibody::spawn_blocking(move || search(&agent, &term))
        .await
        .expect("the task finished");
    format!(
        "spawned: {}, blocking: {}",
        outcome(spawned),
        outcome(blocking)
    )
}

fn routes() -> Router<Agent> {
    Router::new()
        .route("/search", get(in_handler))
        .route("/tasks", get(in_tasks))
}

/// An answer's status, content type, `x-antibody-event` header and body.
async fn answer(app: Router, uri: &str) -> (u16, Option<String>, Option<String>, String) {
    let request = Request::get(uri)
        .body(Body::empty())
        .expect("a valid request");
    let response = app.oneshot(request).await.expect("a router never fails");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let (content_type, event) = (header("content-type"), header(EVENT_HEADER));
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the whole answer");
    (
        status,
        content_type,
        event,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// The query string carrying the attack.
fn attack_query() -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("q", ATTACK)
        .finish()
}

#[tokio::test]
async fn a_failing_check_leaves_the_handlers_answer_exactly_as_with_the_agent_off() {
    let off = Agent::builder()
        .mode(Mode::Off)
        .build_with_env(|_| None)
        .expect("a valid configuration");
    let harness = Harness::failing();
    let uri = format!("/search?{}", attack_query());

    let expected = answer(routes().with_state(off.clone()).layer(off.layer()), &uri).await;
    assert_eq!((expected.0, expected.3.as_str()), (200, "results: ran"));

    let app = routes()
        .with_state(harness.agent.clone())
        .layer(harness.agent.layer());
    let got = answer(app, &uri).await;
    assert_eq!(got, expected);
    assert_eq!(
        got.2, None,
        "no event header on the application's own answer"
    );

    let stats = harness.agent.stats();
    assert_eq!(
        (
            stats.checks,
            stats.agent_errors,
            stats.blocked,
            stats.reported
        ),
        (1, 1, 0, 0)
    );
    let events = harness.events();
    assert_eq!(events.len(), 1, "only the failure is reported: {events:#?}");
    let error = &events[0];
    assert_eq!(error["kind"], "agent_error");
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|text| text.contains("panic")),
        "{error:#}"
    );
    assert!(
        error["call_site"]["file"]
            .as_str()
            .is_some_and(|file| file.ends_with("fault.rs")),
        "{error:#}"
    );
}

#[tokio::test]
async fn a_failing_check_in_carried_tasks_leaves_their_statements_running() {
    let harness = Harness::failing();
    let app = routes()
        .with_state(harness.agent.clone())
        .layer(harness.agent.layer());

    let (code, _, event_header, body) = answer(app, &format!("/tasks?{}", attack_query())).await;
    assert_eq!(
        (code, event_header, body.as_str()),
        (200, None, "spawned: ran, blocking: ran")
    );
    let stats = harness.agent.stats();
    assert_eq!((stats.checks, stats.agent_errors, stats.blocked), (2, 2, 0));
    let events = harness.events();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(events.iter().all(|event| event["kind"] == "agent_error"));
}
