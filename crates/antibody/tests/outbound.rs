//! The outbound-request sink, specified through a small axum app that fetches whatever URL
//! it is given, the way a vulnerable link previewer does, with `antibody`'s reqwest client.
//! The "internal" service is a listener on loopback; the benign twin fetches it through a
//! host the configuration allows.
#![cfg(all(feature = "axum", feature = "reqwest"))]

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;

use antibody::Mode;
use antibody::integrations::reqwest::{Client, FetchError};
use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use support::{Recorded, encoded};

/// The internal service: it answers with a secret.
async fn internal() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    let app = Router::new().route("/secret", get(|| async { "internal secret" }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

/// The flaw: the server fetches the URL it is given.
async fn fetch(Query(params): Query<HashMap<String, String>>) -> String {
    let url = params.get("url").cloned().unwrap_or_default();
    let client = Client::new().expect("a client");
    match client.get(url.as_str()).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(FetchError::Blocked(_)) => "refused".to_owned(),
        Err(FetchError::Http(error)) => format!("error: {error}"),
    }
}

async fn fetched(shop: &Recorded, url: &str) -> (u16, String) {
    let app = Router::new()
        .route("/fetch", get(fetch))
        .layer(shop.agent.layer());
    let answer = support::get(app, &format!("/fetch?url={}", encoded(url)), &[]).await;
    (answer.status, answer.body)
}

#[tokio::test]
async fn an_internal_address_in_any_notation_is_refused() {
    let service = internal().await;
    let port = service.port();
    let shop = Recorded::with(Mode::Protect, |builder| builder.allowed_host("localhost"));
    for url in [
        format!("http://127.0.0.1:{port}/secret"),
        format!("http://2130706433:{port}/secret"),
        format!("http://0x7f.1:{port}/secret"),
        format!("http://0177.0.0.1:{port}/secret"),
        format!("http://[::ffff:127.0.0.1]:{port}/secret"),
        format!("http://169.254.169.254:{port}/latest/meta-data/"),
    ] {
        let (status, body) = fetched(&shop, &url).await;
        assert_eq!(status, 403, "{url}: {body}");
        let event = shop.last_event();
        assert_eq!(event["kind"], "server_side_request_forgery", "{event:#}");
        assert_eq!(event["input"]["name"], "url");
    }
    // The benign twin: the same service through a host the configuration allows.
    let (status, body) = fetched(&shop, &format!("http://localhost:{port}/secret")).await;
    assert_eq!((status, body.as_str()), (200, "internal secret"));
}

#[tokio::test]
async fn a_name_that_resolves_to_an_internal_address_is_refused() {
    let service = internal().await;
    let shop = Recorded::with(Mode::Protect, |builder| builder.allowed_host("127.0.0.1"));
    let (status, body) = fetched(
        &shop,
        &format!("http://localhost:{}/secret", service.port()),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let event = shop.last_event();
    assert_eq!(event["kind"], "server_side_request_forgery");
    assert!(
        event["structure"]
            .as_str()
            .is_some_and(|structure| structure.starts_with("loopback address")),
        "{event:#}"
    );
}

/// The application's own fetch: the parameter only picks the port of its own internal
/// service.
async fn own(Query(params): Query<HashMap<String, String>>) -> String {
    let port = params.get("port").cloned().unwrap_or_default();
    let url = format!("http://127.0.0.1:{port}/secret");
    let client = Client::new().expect("a client");
    match client.get(url.as_str()).send().await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(error) => format!("error: {error}"),
    }
}

#[tokio::test]
async fn a_url_the_application_wrote_itself_is_not_checked() {
    let service = internal().await;
    let shop = Recorded::new(Mode::Protect);
    let app = Router::new()
        .route("/own", get(own))
        .layer(shop.agent.layer());
    let answer = support::get(app, &format!("/own?port={}", service.port()), &[]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "internal secret")
    );
}

#[tokio::test]
async fn monitor_mode_reports_and_fetches() {
    let service = internal().await;
    let shop = Recorded::new(Mode::Monitor);
    let url = format!("http://127.0.0.1:{}/secret", service.port());
    let (status, body) = fetched(&shop, &url).await;
    assert_eq!((status, body.as_str()), (200, "internal secret"));
    assert_eq!(shop.events()[0]["action"], "reported");
}
