//! The script sink, specified through a small axum app that evaluates a quantity with Rhai
//! the way a vulnerable calculator does: the expression pasted into `let qty = ...; price *
//! qty`, with a `secret` in the script's scope.
#![cfg(all(feature = "axum", feature = "rhai"))]

use std::collections::HashMap;
use std::path::PathBuf;

use antibody::integrations::rhai::{CheckedEval, blocked};
use antibody::{Agent, Mode};
use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::Request;
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;

const SECRET: &str = "the-secret";

async fn calculate(Query(params): Query<HashMap<String, String>>) -> String {
    let qty = params.get("qty").cloned().unwrap_or_default();
    let mut scope = rhai::Scope::new();
    scope.push_constant("price", 12_i64);
    scope.push_constant("secret", SECRET.to_owned());
    let script = format!("let qty = {qty}; price * qty");
    match rhai::Engine::new().eval_with_scope_checked::<rhai::Dynamic>(&mut scope, &script) {
        Ok(total) => format!("total {total}"),
        Err(error) if blocked(&error).is_some() => "refused".to_owned(),
        Err(error) => format!("error: {error}"),
    }
}

struct Shop {
    agent: Agent,
    events: PathBuf,
    _dir: tempfile::TempDir,
}

impl Shop {
    fn new(mode: Mode) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let events = dir.path().join("events.jsonl");
        let agent = Agent::builder()
            .mode(mode)
            .events_file(&events)
            .build_with_env(|_| None)
            .expect("the agent starts");
        Shop {
            agent,
            events,
            _dir: dir,
        }
    }

    async fn calc(&self, qty: &str) -> (u16, String) {
        let app = Router::new()
            .route("/calc", get(calculate))
            .layer(self.agent.layer());
        let qty = percent_encoding::utf8_percent_encode(qty, percent_encoding::NON_ALPHANUMERIC);
        let request = Request::get(format!("/calc?qty={qty}"))
            .body(Body::empty())
            .expect("a valid request");
        let response = app.oneshot(request).await.expect("an answer");
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("the body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    fn events(&self) -> Vec<Value> {
        assert!(self.agent.flush());
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("JSON"))
            .collect()
    }
}

#[tokio::test]
async fn input_that_adds_code_to_the_script_is_answered_403() {
    let shop = Shop::new(Mode::Protect);
    for (qty, added) in [
        ("secret", "name"),
        ("1; secret", "code syntax"),
        ("secret.len()", "code syntax"),
        ("0; let x = secret; x", "code syntax"),
    ] {
        let (status, body) = shop.calc(qty).await;
        assert_eq!(status, 403, "{qty}: {body}");
        assert!(!body.contains(SECRET));
        let events = shop.events();
        let event = events.last().expect("an event");
        assert_eq!(event["kind"], "code_injection", "{event:#}");
        assert_eq!(event["structure"], added, "{qty}");
        assert_eq!(event["sink"]["kind"], "script");
    }
}

#[tokio::test]
async fn a_quantity_that_stays_arithmetic_is_evaluated() {
    let shop = Shop::new(Mode::Protect);
    for (qty, total) in [
        ("3", "total 36"),
        ("2 + 1", "total 36"),
        ("(2 * 5) - 1", "total 108"),
    ] {
        assert_eq!(shop.calc(qty).await, (200, total.to_owned()), "{qty}");
    }
    assert_eq!(shop.events(), Vec::<Value>::new());
}

#[tokio::test]
async fn monitor_mode_reports_and_the_script_runs() {
    let shop = Shop::new(Mode::Monitor);
    let (status, body) = shop.calc("secret").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("error"), "{body}");
    assert_eq!(shop.events()[0]["action"], "reported");
}
