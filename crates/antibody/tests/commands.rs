//! The command sink, specified through a small axum app that looks hosts up the way a
//! vulnerable application does: a shell script built by pasting (`sh -c "getent hosts
//! HOST"`), and an argument vector (`getent hosts HOST`), started with `antibody::process`
//! (std and tokio). Each attack is sent next to its benign twin, over the layer; a canary
//! file tells whether an injected command ran.
#![cfg(all(feature = "axum", unix))]

mod support;

use std::collections::HashMap;
use std::path::PathBuf;

use antibody::Mode;
use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use support::{Recorded, encoded};

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

/// Where an injected command leaves its mark.
fn canary(shop: &Recorded) -> PathBuf {
    shop.dir.path().join("canary")
}

/// `route?host=<host>` through the lookup app behind `shop`'s agent.
async fn lookup(shop: &Recorded, route: &str, host: &str) -> (u16, String) {
    lookup_with(shop, route, host, &[]).await
}

/// The same, with `headers`.
async fn lookup_with(
    shop: &Recorded,
    route: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let app = Router::new()
        .route("/shell", get(lookup_in_shell))
        .route("/tokio-shell", get(lookup_in_tokio_shell))
        .route("/arguments", get(lookup_with_arguments))
        .layer(shop.agent.layer());
    let answer = support::get(app, &format!("{route}?host={}", encoded(host)), headers).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn shell_syntax_in_a_pasted_host_is_blocked_before_the_shell_starts() {
    let shop = Recorded::new(Mode::Protect);
    let mark = canary(&shop);
    let canary = mark.to_str().expect("UTF-8");
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
            let (status, body) = lookup(&shop, route, &attack).await;
            assert_eq!(status, 403, "{route} {attack:?}: {body}");
            assert!(!mark.exists(), "{route} {attack:?} ran");
            let events = shop.events();
            let event = events.last().expect("an event");
            assert_eq!(event["kind"], "command_injection", "{event:#}");
            assert_eq!(event["structure"], added, "{attack:?}");
            assert_eq!(event["sink"]["operation"], "shell");
            assert_eq!(event["input"]["name"], "host");
        }
        // The benign twins run.
        for host in ["localhost", "shop-01.internal"] {
            let (status, body) = lookup(&shop, route, host).await;
            assert_eq!(status, 200, "{route} {host}: {body}");
            assert!(body.starts_with("exit "), "{body}");
        }
    }
}

#[tokio::test]
async fn an_option_in_an_argument_vector_is_argument_injection() {
    let shop = Recorded::new(Mode::Protect);
    let (status, _) = lookup(&shop, "/arguments", "--service=files").await;
    assert_eq!(status, 403);
    let events = shop.events();
    assert_eq!(events[0]["kind"], "command_injection");
    assert_eq!(events[0]["structure"], "option");
    assert_eq!(events[0]["sink"]["operation"], "exec");
    // Without a shell, shell syntax is only a strange host name.
    let (status, body) = lookup(&shop, "/arguments", "localhost; id").await;
    assert_eq!((status, body.as_str()), (200, "exit 2"));
}

#[tokio::test]
async fn monitor_mode_reports_and_the_command_runs() {
    let shop = Recorded::new(Mode::Monitor);
    let canary = canary(&shop);
    let attack = format!("localhost; touch {}", canary.to_str().expect("UTF-8"));
    let (status, _) = lookup(&shop, "/shell", &attack).await;
    assert_eq!(status, 200);
    assert!(canary.exists(), "monitor mode lets the command run");
    assert_eq!(shop.events()[0]["action"], "reported");
}

#[tokio::test]
async fn a_browser_s_headers_never_look_like_the_program() {
    // `en` (from `Accept-Language`) occurs in `getent`, `gzip` in `gzip`'s own name is not
    // chosen by the request either.
    let shop = Recorded::new(Mode::Protect);
    let browser = [
        ("accept-language", "en-US,en;q=0.9"),
        ("accept-encoding", "gzip, deflate, br"),
    ];
    for route in ["/arguments", "/shell"] {
        let (status, body) = lookup_with(&shop, route, "localhost", &browser).await;
        assert_eq!(status, 200, "{route}: {body}");
    }
    assert_eq!(shop.events(), Vec::<serde_json::Value>::new());
}
