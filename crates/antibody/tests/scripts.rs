//! The script sink, specified through a small axum app that evaluates a quantity with Rhai
//! the way a vulnerable calculator does: the expression pasted into `let qty = ...; price *
//! qty`, with a `secret` in the script's scope.
#![cfg(all(feature = "axum", feature = "rhai"))]

mod support;

use std::collections::HashMap;

use antibody::Mode;
use antibody::integrations::rhai::{CheckedEval, blocked};
use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde_json::Value;
use support::{Recorded, encoded};

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

/// `/calc?qty=<qty>` through the calculator behind `recorded`'s agent.
async fn calc(recorded: &Recorded, qty: &str) -> (u16, String) {
    let app = Router::new()
        .route("/calc", get(calculate))
        .layer(recorded.agent.layer());
    let answer = support::get(app, &format!("/calc?qty={}", encoded(qty)), &[]).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn input_that_adds_code_to_the_script_is_answered_403() {
    let shop = Recorded::new(Mode::Protect);
    for (qty, added) in [
        ("secret", "name"),
        ("1; secret", "code syntax"),
        ("secret.len()", "code syntax"),
        ("0; let x = secret; x", "code syntax"),
    ] {
        let (status, body) = calc(&shop, qty).await;
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
    let shop = Recorded::new(Mode::Protect);
    for (qty, total) in [
        ("3", "total 36"),
        ("2 + 1", "total 36"),
        ("(2 * 5) - 1", "total 108"),
    ] {
        assert_eq!(calc(&shop, qty).await, (200, total.to_owned()), "{qty}");
    }
    assert_eq!(shop.events(), Vec::<Value>::new());
}

#[tokio::test]
async fn monitor_mode_reports_and_the_script_runs() {
    let shop = Recorded::new(Mode::Monitor);
    let (status, body) = calc(&shop, "secret").await;
    assert_eq!(status, 200);
    assert!(body.starts_with("error"), "{body}");
    assert_eq!(shop.events()[0]["action"], "reported");
}
