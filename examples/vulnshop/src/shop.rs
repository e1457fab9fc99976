//! The shop's state, its router, and the two ways it reaches the database: sqlx for the
//! catalogue, rusqlite for sorting and logins, both behind Antibody's wrappers.
//!
//! Handlers run their statements themselves, on the line that is vulnerable, so that the
//! agent's reports name that line.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use antibody::Agent;
use antibody::integrations::{rusqlite as guarded_rusqlite, sqlx::Guarded};
use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

use crate::trace::Trace;
use crate::{calculator, catalog, data, documents, fetcher, pages, redirects, tools, users};

/// Everything the handlers share.
pub(crate) struct Shop {
    pool: Guarded<SqlitePool>,
    docs: PathBuf,
    connection: Arc<Mutex<guarded_rusqlite::Connection>>,
    trace: Trace,
}

/// Why a page could not be served.
pub(crate) enum Failure {
    /// The agent refused the statement; the layer answers 403.
    Blocked,
    /// The database failed; shown as vulnerable applications show it.
    Database(String),
    /// The request was malformed.
    BadRequest(String),
    /// Nothing matched.
    NotFound,
    /// Not logged in, or a wrong password.
    Unauthorized(String),
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            Failure::Blocked => (StatusCode::FORBIDDEN, "blocked".to_owned()),
            Failure::Database(error) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("database error: {error}"),
            ),
            Failure::BadRequest(error) => (StatusCode::BAD_REQUEST, error),
            Failure::NotFound => (StatusCode::NOT_FOUND, "not found".to_owned()),
            Failure::Unauthorized(error) => (StatusCode::UNAUTHORIZED, error),
        };
        (
            status,
            Html(pages::layout("Error", &pages::escape(&message))),
        )
            .into_response()
    }
}

impl Shop {
    /// Seeds `data_dir` and opens the shop on it.
    pub(crate) async fn open(
        data_dir: &Path,
        agent: Agent,
        trace: Trace,
    ) -> Result<Arc<Shop>, String> {
        data::seed(data_dir)?;
        let path = data_dir.join(data::DATABASE);
        let options = SqliteConnectOptions::new().filename(&path);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let connection = guarded_rusqlite::Connection::open(&path, agent.clone())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Arc::new(Shop {
            pool: Guarded::new(pool, agent),
            docs: data_dir.join(data::DOCS_FOLDER),
            connection: Arc::new(Mutex::new(connection)),
            trace,
        }))
    }

    /// Every route, behind the agent's layer; redirects are traced as they leave, after the
    /// agent had its say.
    pub(crate) fn router(self: Arc<Self>, agent: &Agent) -> Router {
        let traced = axum::middleware::from_fn_with_state(Arc::clone(&self), trace_redirects);
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .merge(catalog::routes())
            .merge(users::routes())
            .merge(documents::routes())
            .merge(tools::routes())
            .merge(redirects::routes())
            .merge(calculator::routes())
            .merge(fetcher::routes())
            .layer(agent.layer())
            .layer(traced)
            .with_state(self)
    }

    /// The `docs/` folder.
    pub(crate) fn docs(&self) -> &Path {
        &self.docs
    }

    /// Where sink actions are recorded.
    pub(crate) fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The database, through the agent.
    pub(crate) fn pool(&self) -> &Guarded<SqlitePool> {
        &self.pool
    }

    /// Records a statement run through sqlx in the trace, unless the agent refused it, and
    /// turns its result into a page's.
    pub(crate) fn settle<T>(
        &self,
        endpoint: &str,
        sql: &str,
        result: Result<T, sqlx::Error>,
    ) -> Result<T, Failure> {
        if let Err(error) = &result {
            if antibody::integrations::sqlx::blocked(error).is_some() {
                return Err(Failure::Blocked);
            }
        }
        self.trace.sql(
            endpoint,
            sql,
            result.as_ref().map(|_| ()).map_err(ToString::to_string),
        );
        result.map_err(|error| Failure::Database(error.to_string()))
    }

    /// Runs `work` with the rusqlite connection on the blocking pool (carrying the request
    /// context there), recording what it ran in the trace unless the agent refused it.
    pub(crate) async fn with_rusqlite<T, F>(
        &self,
        endpoint: &'static str,
        sql: String,
        work: F,
    ) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&guarded_rusqlite::Connection, &str) -> rusqlite::Result<Ran<T>> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        let trace = self.trace.clone();
        antibody::spawn_blocking(move || {
            let connection = connection
                .lock()
                .map_err(|_| Failure::Database("connection lock poisoned".into()))?;
            match work(&connection, &sql) {
                Ok(ran) => {
                    trace.sql(endpoint, ran.statement.as_deref().unwrap_or(&sql), Ok(()));
                    Ok(ran.value)
                }
                Err(error) if guarded_rusqlite::blocked(&error).is_some() => Err(Failure::Blocked),
                Err(error) => {
                    trace.sql(endpoint, &sql, Err(error.to_string()));
                    Err(Failure::Database(error.to_string()))
                }
            }
        })
        .await
        .map_err(|error| Failure::Database(error.to_string()))?
    }
}

/// What a rusqlite statement returned, and the text SQLite actually ran: `prepare` runs the
/// first statement of a text and ignores the rest, and the trace must say so.
pub(crate) struct Ran<T> {
    value: T,
    statement: Option<String>,
}

impl<T> Ran<T> {
    /// `value`, read from `statement`.
    pub(crate) fn of(statement: &rusqlite::Statement<'_>, value: T) -> Self {
        Ran {
            value,
            statement: statement.expanded_sql(),
        }
    }
}

/// Records each redirect the shop sends, with its `Location`, in the trace.
async fn trace_redirects(
    axum::extract::State(shop): axum::extract::State<Arc<Shop>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let endpoint = request.uri().path().to_owned();
    let response = next.run(request).await;
    if response.status().is_redirection() {
        if let Some(location) = response.headers().get(axum::http::header::LOCATION) {
            shop.trace
                .redirect(&endpoint, &String::from_utf8_lossy(location.as_bytes()));
        }
    }
    response
}
