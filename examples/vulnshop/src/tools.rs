//! The tools: `/tools/lookup` resolves a host name with `getent`, beside its safe twin.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;

use crate::pages;
use crate::shop::{Failure, Shop};

pub(crate) fn routes() -> Router<Arc<Shop>> {
    Router::new()
        .route("/tools/lookup", get(lookup))
        .route("/safe/tools/lookup", get(safe_lookup))
}

#[derive(Deserialize)]
struct Host {
    #[serde(default)]
    host: String,
}

/// Vulnerable: the host is pasted into a shell script.
async fn lookup(
    State(shop): State<Arc<Shop>>,
    Query(query): Query<Host>,
) -> Result<Html<String>, Failure> {
    let script = format!("getent hosts {}", query.host);
    let argv = ["sh", "-c", script.as_str()];
    let output = antibody::process::tokio::Command::new(argv[0])
        .args(&argv[1..])
        .kill_on_drop(true)
        .output()
        .await;
    answer(&shop, "/tools/lookup", &argv, output)
}

/// Safe: no shell, and the host is one argument after `--`.
async fn safe_lookup(
    State(shop): State<Arc<Shop>>,
    Query(query): Query<Host>,
) -> Result<Html<String>, Failure> {
    let argv = ["getent", "hosts", "--", query.host.as_str()];
    let output = antibody::process::tokio::Command::new(argv[0])
        .args(&argv[1..])
        .kill_on_drop(true)
        .output()
        .await;
    answer(&shop, "/safe/tools/lookup", &argv, output)
}

/// Records the command in the trace, unless the agent refused it, and shows what it printed.
fn answer(
    shop: &Shop,
    endpoint: &str,
    argv: &[&str],
    output: std::io::Result<std::process::Output>,
) -> Result<Html<String>, Failure> {
    let output = match output {
        Err(error) if antibody::process::blocked(&error).is_some() => return Err(Failure::Blocked),
        Err(error) => {
            shop.trace().command(endpoint, argv, Err(error.to_string()));
            return Err(Failure::BadRequest(format!(
                "cannot start {}: {error}",
                argv[0]
            )));
        }
        Ok(output) => output,
    };
    shop.trace()
        .command(endpoint, argv, Ok(output.status.code()));
    let printed = String::from_utf8_lossy(&output.stdout);
    let body = if printed.trim().is_empty() {
        "<p>No such host.</p>".to_owned()
    } else {
        format!("<pre>{}</pre>", pages::escape(&printed))
    };
    Ok(Html(pages::layout("Host lookup", &body)))
}
