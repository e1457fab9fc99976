//! The redirect sink, specified through a small axum app whose `/go` answers a 302 to
//! whatever `next` says, the way a vulnerable login page does. The layer reads the
//! `Location`; the application changes nothing. The shop's own host, `shop.example`, is
//! configured, never taken from the request's `Host` header.
#![cfg(feature = "axum")]

mod support;

use std::collections::HashMap;

use antibody::Mode;
use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use support::{Recorded, encoded};

type Params = Query<HashMap<String, String>>;

async fn go(Query(params): Params) -> Response {
    let next = params.get("next").cloned().unwrap_or_default();
    (StatusCode::FOUND, [(LOCATION, next)]).into_response()
}

/// The application's own redirect to a partner, with the input only in the query.
async fn partner(Query(params): Params) -> Response {
    let back = params.get("back").cloned().unwrap_or_default();
    let location = format!("https://pay.partner.example/?back={back}");
    (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response()
}

/// The agent, with the shop's own host and its image servers allowed.
fn shop(mode: Mode) -> Recorded {
    Recorded::with(mode, |builder| {
        builder
            .own_host("shop.example")
            .allowed_host("*.cdn.example")
    })
}

/// The status and `Location` of `/route?name=value`, sent with a `Host` of the attacker's
/// choosing.
async fn redirect(shop: &Recorded, route: &str, name: &str, value: &str) -> (u16, Option<String>) {
    let app = Router::new()
        .route("/go", get(go))
        .route("/partner", get(partner))
        .layer(shop.agent.layer());
    let target = format!("{route}?{name}={}", encoded(value));
    let answer = support::get(app, &target, &[("host", "evil.example")]).await;
    let location = answer
        .headers
        .get(LOCATION)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    (answer.status, location)
}

#[tokio::test]
async fn a_target_an_input_sends_off_the_site_is_answered_403() {
    let shop = shop(Mode::Protect);
    for (next, structure) in [
        ("//evil.example/", "off-site host: evil.example"),
        ("https://evil.example/", "off-site host: evil.example"),
        ("/\\evil.example", "off-site host: evil.example"),
        ("\\/evil.example", "off-site host: evil.example"),
        ("https:evil.example", "off-site host: evil.example"),
        ("HTTPS://Evil.Example", "off-site host: evil.example"),
        ("//shop.example@evil.example", "off-site host: evil.example"),
        ("/\t/evil.example", "off-site host: evil.example"),
        ("javascript:alert(1)", "script scheme"),
        ("data:text/html,x", "script scheme"),
    ] {
        let (status, location) = redirect(&shop, "/go", "next", next).await;
        assert_eq!((status, location), (403, None), "{next:?}");
        let events = shop.events();
        let event = events.last().expect("an event");
        assert_eq!(event["kind"], "open_redirect", "{event:#}");
        assert_eq!(event["action"], "blocked");
        assert_eq!(event["structure"], structure, "{next:?}");
        assert_eq!(event["input"]["name"], "next");
        assert_eq!(event["request"]["route"], "/go");
    }
}

#[tokio::test]
async fn targets_on_the_site_or_allowed_hosts_are_sent_as_they_are() {
    let shop = shop(Mode::Protect);
    for next in [
        "/account",
        "/products?category=books",
        "/login?next=https://evil.example/",
        "/https://evil.example/",
        "https://shop.example/account",
        "//img.cdn.example/a.png",
        "account",
    ] {
        let (status, location) = redirect(&shop, "/go", "next", next).await;
        assert_eq!((status, location.as_deref()), (302, Some(next)), "{next:?}");
    }
    // The application's own off-site redirect, with the input in its query only.
    let (status, _) = redirect(&shop, "/partner", "back", "//evil.example").await;
    assert_eq!(status, 303);
    assert_eq!(shop.events(), Vec::<Value>::new());
}

#[tokio::test]
async fn monitor_mode_reports_and_sends_the_redirect() {
    let shop = shop(Mode::Monitor);
    let (status, location) = redirect(&shop, "/go", "next", "//evil.example").await;
    assert_eq!((status, location.as_deref()), (302, Some("//evil.example")));
    let events = shop.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["action"], "reported");
}
