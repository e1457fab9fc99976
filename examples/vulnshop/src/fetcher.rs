//! The fetcher: `/fetch` fetches a URL server-side and shows the first kilobyte of the
//! answer, beside its safe twin.

use std::sync::Arc;
use std::time::Duration;

use antibody::integrations::reqwest::{Client, FetchError};
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;

use crate::pages;
use crate::shop::{Failure, Shop};

/// How much of an answer is shown.
const SHOWN: usize = 1024;

pub(crate) fn routes() -> Router<Arc<Shop>> {
    Router::new()
        .route("/fetch", get(fetch))
        .route("/safe/fetch", get(safe_fetch))
}

#[derive(Deserialize)]
struct Url {
    #[serde(default)]
    url: String,
}

/// Vulnerable: whatever URL it is given.
async fn fetch(
    State(shop): State<Arc<Shop>>,
    Query(query): Query<Url>,
) -> Result<Html<String>, Failure> {
    retrieve(&shop, "/fetch", &query.url).await
}

/// Safe: only `http` or `https` URLs on the hosts `ANTIBODY_ALLOWED_HOSTS` lists.
async fn safe_fetch(
    State(shop): State<Arc<Shop>>,
    Query(query): Query<Url>,
) -> Result<Html<String>, Failure> {
    let host = query
        .url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .and_then(|authority| authority.rsplit('@').next())
        .map(|host| {
            host.rsplit_once(':')
                .map_or(host, |(name, _)| name)
                .to_ascii_lowercase()
        });
    let allowed = std::env::var("ANTIBODY_ALLOWED_HOSTS").unwrap_or_default();
    let on_list = host.is_some_and(|host| allowed.split(',').any(|entry| entry.trim() == host));
    if !on_list {
        return Err(Failure::BadRequest("not an allowed host".to_owned()));
    }
    retrieve(&shop, "/safe/fetch", &query.url).await
}

/// Fetches `url`, recording it in the trace unless the agent refused it.
async fn retrieve(shop: &Shop, endpoint: &str, url: &str) -> Result<Html<String>, Failure> {
    let client = Client::from_builder(reqwest::Client::builder().timeout(Duration::from_secs(5)))
        .map_err(|error| Failure::BadRequest(error.to_string()))?;
    let answer = match client.get(url).send().await {
        Err(FetchError::Blocked(_)) => return Err(Failure::Blocked),
        Err(FetchError::Http(error)) => Err(error.to_string()),
        Ok(response) => response.text().await.map_err(|error| error.to_string()),
    };
    shop.trace().fetch(
        endpoint,
        url,
        answer.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    match answer {
        Ok(text) => {
            let shown: String = text.chars().take(SHOWN).collect();
            Ok(Html(pages::layout(
                "Fetched",
                &format!("<pre>{}</pre>", pages::escape(&shown)),
            )))
        }
        Err(error) => Err(Failure::BadRequest(format!("cannot fetch {url}: {error}"))),
    }
}
