//! The command sink, specified through a small axum app that looks hosts up the way a
//! vulnerable application does: a shell script built by pasting (`sh -c "getent hosts
//! HOST"`), and an argument vector (`getent hosts HOST`), started with `antibody::process`
//! (std and tokio). Each attack is sent next to its benign twin, over the layer; a canary
//! file tells whether an injected command ran.
#![cfg(all(feature = "axum", unix))]

use std::collections::HashMap;
use std::path::PathBuf;

use antibody::{Agent, Mode};
use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::Request;
use axum::routing::get;
use serde_json::Value;
use tower::ServiceExt;

struct Shop {
    agent: Agent,
    dir: tempfile::TempDir,
    events: PathBuf,
}

type Params = Query<HashMap<String, String>>;

fn host(params: &HashMap<String, String>) -> String {
    params.get("host").cloned().unwrap_or_default()
}

/// The flaw: the host is pasted into a shell script.
async fn lookup_in_shell(Query(params): Params) -> String {
    let script = format!("getent hosts {}", host(&params));
    match antibody::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
    {
        Ok(output) => format!("exit {}", output.status.code().unwrap_or(-1)),
        Err(error) => format!("error: {error}"),
    }
}

/// The same flaw, started with tokio.
async fn lookup_in_tokio_shell(Query(params): Params) -> String {
    let script = format!("getent hosts {}", host(&params));
    let mut command = antibody::process::tokio::Command::new("sh");
    command.arg("-c").arg(script);
    match command.output().await {
        Ok(output) => format!("exit {}", output.status.code().unwrap_or(-1)),
        Err(error) => format!("error: {error}"),
    }
}

/// No shell, but the host may start with `-`.
async fn lookup_with_arguments(Query(params): Params) -> String {
    match antibody::process::Command::new("getent")
        .args(["hosts", &host(&params)])
        .output()
    {
        Ok(output) => format!("exit {}", output.status.code().unwrap_or(-1)),
        Err(error) => format!("error: {error}"),
    }
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
        Shop { agent, dir, events }
    }

    fn canary(&self) -> PathBuf {
        self.dir.path().join("canary")
    }

    async fn get(&self, route: &str, host: &str) -> (u16, String) {
        let app = Router::new()
            .route("/shell", get(lookup_in_shell))
            .route("/tokio-shell", get(lookup_in_tokio_shell))
            .route("/arguments", get(lookup_with_arguments))
            .layer(self.agent.layer());
        let query = percent_encoding::utf8_percent_encode(host, percent_encoding::NON_ALPHANUMERIC);
        let request = Request::get(format!("{route}?host={query}"))
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
async fn shell_syntax_in_a_pasted_host_is_blocked_before_the_shell_starts() {
    let shop = Shop::new(Mode::Protect);
    let canary = shop.canary();
    let canary = canary.to_str().expect("UTF-8");
    for route in ["/shell", "/tokio-shell"] {
        for (attack, added) in [
            (format!("localhost; touch {canary}"), "command separator"),
            (format!("localhost && touch {canary}"), "command separator"),
            (format!("localhost | touch {canary}"), "pipe"),
            (format!("$(touch {canary})"), "substitution"),
            (format!("`touch {canary}`"), "substitution"),
            (format!("localhost\ntouch {canary}"), "command separator"),
            (format!("localhost > {canary}"), "redirection"),
        ] {
            let (status, body) = shop.get(route, &attack).await;
            assert_eq!(status, 403, "{route} {attack:?}: {body}");
            assert!(!shop.canary().exists(), "{route} {attack:?} ran");
            let events = shop.events();
            let event = events.last().expect("an event");
            assert_eq!(event["kind"], "command_injection", "{event:#}");
            assert_eq!(event["structure"], added, "{attack:?}");
            assert_eq!(event["sink"]["operation"], "shell");
            assert_eq!(event["input"]["name"], "host");
        }
        // The benign twins run.
        for host in ["localhost", "shop-01.internal"] {
            let (status, body) = shop.get(route, host).await;
            assert_eq!(status, 200, "{route} {host}: {body}");
            assert!(body.starts_with("exit "), "{body}");
        }
    }
}

#[tokio::test]
async fn an_option_in_an_argument_vector_is_argument_injection() {
    let shop = Shop::new(Mode::Protect);
    let (status, _) = shop.get("/arguments", "--service=files").await;
    assert_eq!(status, 403);
    let events = shop.events();
    assert_eq!(events[0]["kind"], "command_injection");
    assert_eq!(events[0]["structure"], "option");
    assert_eq!(events[0]["sink"]["operation"], "exec");
    // Without a shell, shell syntax is only a strange host name.
    let (status, body) = shop.get("/arguments", "localhost; id").await;
    assert_eq!((status, body.as_str()), (200, "exit 2"));
}

#[tokio::test]
async fn monitor_mode_reports_and_the_command_runs() {
    let shop = Shop::new(Mode::Monitor);
    let canary = shop.canary();
    let attack = format!("localhost; touch {}", canary.to_str().expect("UTF-8"));
    let (status, _) = shop.get("/shell", &attack).await;
    assert_eq!(status, 200);
    assert!(canary.exists(), "monitor mode lets the command run");
    assert_eq!(shop.events()[0]["action"], "reported");
}
