//! Logins and the account page.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::pages;
use crate::shop::{Failure, Ran, Shop};

pub(crate) fn routes() -> Router<Arc<Shop>> {
    Router::new()
        .route("/login", post(login))
        .route("/safe/login", post(safe_login))
        .route("/account", get(account))
        .route("/safe/account", get(account))
}

#[derive(Deserialize)]
struct Credentials {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// The outcome of a login: the user found, if any.
type Found = Option<(i64, String)>;

fn read_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String)> {
    Ok((row.get(0)?, row.get(1)?))
}

/// Vulnerable: both fields are pasted inside single quotes.
async fn login(
    State(shop): State<Arc<Shop>>,
    Form(credentials): Form<Credentials>,
) -> Result<Response, Failure> {
    let sql = format!(
        "SELECT id, username FROM users WHERE username = '{}' AND password = '{}'",
        credentials.username, credentials.password
    );
    let found: Found = shop
        .with_rusqlite("/login", sql, |connection, sql| {
            let mut statement = connection.prepare(sql)?;
            let found = statement.query_map([], read_user)?.next().transpose()?;
            Ok(Ran::of(&statement, found))
        })
        .await?;
    welcome(&shop, found).await
}

async fn safe_login(
    State(shop): State<Arc<Shop>>,
    Form(credentials): Form<Credentials>,
) -> Result<Response, Failure> {
    let sql = "SELECT id, username FROM users WHERE username = ?1 AND password = ?2".to_owned();
    let found: Found = shop
        .with_rusqlite("/safe/login", sql, move |connection, sql| {
            let mut statement = connection.prepare(sql)?;
            let found = statement
                .query_map([&credentials.username, &credentials.password], read_user)?
                .next()
                .transpose()?;
            Ok(Ran::of(&statement, found))
        })
        .await?;
    welcome(&shop, found).await
}

/// 200 with a session cookie for a user found, 401 otherwise.
async fn welcome(shop: &Shop, found: Found) -> Result<Response, Failure> {
    let Some((user_id, username)) = found else {
        return Err(Failure::Unauthorized(
            "wrong username or password".to_owned(),
        ));
    };
    let token = session_token();
    let sql = "INSERT INTO sessions (token, user_id) VALUES (?, ?)";
    let result = sqlx::query(sql)
        .bind(&token)
        .bind(user_id)
        .execute(shop.pool())
        .await;
    shop.settle("/login", sql, result)?;
    let page = pages::layout(
        "Welcome",
        &format!("<p>Welcome, {}.</p>", pages::escape(&username)),
    );
    Ok((
        StatusCode::OK,
        [(
            SET_COOKIE,
            format!("session={token}; Path=/; HttpOnly; SameSite=Lax"),
        )],
        Html(page),
    )
        .into_response())
}

/// A session token from the operating system's randomness (through `std`'s hasher seeds).
fn session_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = |n: u64| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(n);
        hasher.finish()
    };
    format!("{:016x}{:016x}", random(1), random(2))
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == "session")
        .map(|(_, value)| value.to_owned())
}

/// The page of the logged-in user.
async fn account(
    State(shop): State<Arc<Shop>>,
    headers: HeaderMap,
) -> Result<Html<String>, Failure> {
    let token = session_cookie(&headers)
        .ok_or_else(|| Failure::Unauthorized("please log in".to_owned()))?;
    let sql = "SELECT users.username FROM sessions JOIN users ON users.id = sessions.user_id WHERE sessions.token = ?";
    let result = sqlx::query_scalar::<_, String>(sql)
        .bind(&token)
        .fetch_optional(shop.pool())
        .await;
    let username = shop
        .settle("/account", sql, result)?
        .ok_or_else(|| Failure::Unauthorized("please log in".to_owned()))?;
    Ok(Html(pages::layout(
        "Your account",
        &format!("<p>Logged in as <b>{}</b>.</p>", pages::escape(&username)),
    )))
}
