//! Redirects: `/go` sends the browser where `next` says, beside its safe twin.

use std::sync::Arc;

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::shop::Shop;

pub(crate) fn routes() -> Router<Arc<Shop>> {
    Router::new()
        .route("/go", get(go))
        .route("/safe/go", get(safe_go))
}

#[derive(Deserialize)]
struct Next {
    #[serde(default)]
    next: String,
}

/// Vulnerable: a 302 to whatever `next` says.
async fn go(Query(query): Query<Next>) -> Response {
    found(&query.next)
}

/// Safe: only a path of this site (one leading `/`, not `//` or `/\`); anything else goes
/// home.
async fn safe_go(Query(query): Query<Next>) -> Response {
    let next = query.next.as_str();
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\t', '\n', '\r']);
    found(if local { next } else { "/" })
}

/// A 302 to `location`; the shop records it in the trace once it is sent (see
/// [`Shop::router`]).
fn found(location: &str) -> Response {
    match axum::http::HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::FOUND, [(LOCATION, value)]).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "not a valid Location").into_response(),
    }
}
