//! The SQL integrations against real databases: the sqlx wrapper on SQLite, PostgreSQL and
//! MariaDB, and the rusqlite wrapper on SQLite.
//!
//! For each: an injection that would empty or drop a table is blocked in protect mode (the
//! table is untouched, and the event names this file's line), reported *and* executed in
//! monitor mode (the table really changed), and benign input returns its rows in every mode.
//! Tables are read back through plain, unwrapped connections.
//!
//! PostgreSQL (`postgres@127.0.0.1:5432/test`) and MariaDB (`root@127.0.0.1:3306/test`)
//! tests skip with a printed reason when the server is unreachable, and fail when `CI` is set.
#![cfg(all(feature = "sqlx", feature = "rusqlite", feature = "axum"))]

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use antibody::integrations::rusqlite::Connection as GuardedConnection;
use antibody::integrations::sqlx::Guarded;
use antibody::{Agent, Dialect, EVENT_HEADER, Mode, RequestContext, RequestInput};
use antibody_detect::Source;
use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use serde_json::Value;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection as _, Database, Executor, IntoArguments, Pool, Sqlite, SqliteConnection};
use tower::ServiceExt;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Closes the quoted name and adds an always-true condition: every row matches.
const TAUTOLOGY: &str = "x' OR '1'='1";
/// Closes the quoted name, ends the statement and drops the table.
const STACKED_DROP: &str = "'; DROP TABLE {table}; -- ";
/// A name that merely looks unusual, and the row it finds.
const BENIGN: &str = "garden tools";

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const MARIADB_URL: &str = "mysql://root@127.0.0.1:3306/test";

// ----------------------------------------------------------------------------------------
// The agent and its events

/// An agent in one mode, with an events file of its own.
struct Fixture {
    agent: Agent,
    events: PathBuf,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new(mode: Mode) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let events = dir.path().join("events.jsonl");
        let agent = Agent::builder()
            .mode(mode)
            .state_dir(dir.path())
            .events_file(&events)
            // The process's ANTIBODY_* variables must not change what these tests see.
            .build_with_env(|_| None)
            .expect("an agent");
        Fixture {
            agent,
            events,
            _dir: dir,
        }
    }

    /// The `sql_injection` events delivered so far.
    fn injections(&self) -> Vec<Value> {
        assert!(self.agent.flush(), "events delivered in time");
        std::fs::read_to_string(&self.events)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str::<Value>(line).expect("an event per line"))
            .filter(|event| event["kind"] == "sql_injection")
            .collect()
    }
}

/// Asserts that `event` reports query parameter `q` = `payload` injected into a `dialect`
/// statement at `line` of this file, and that the agent took `action`.
fn assert_event(event: &Value, action: &str, dialect: Dialect, payload: &str, line: u32) {
    assert_eq!(event["kind"], "sql_injection", "{event:#}");
    assert_eq!(event["action"], action, "{event:#}");
    assert_eq!(event["sink"]["dialect"], dialect.as_str(), "{event:#}");
    assert_eq!(event["input"]["source"], "query", "{event:#}");
    assert_eq!(event["input"]["name"], "q", "{event:#}");
    assert_eq!(event["input"]["value"], payload, "{event:#}");
    let file = event["call_site"]["file"].as_str().unwrap_or_default();
    assert!(
        file.ends_with("tests/sql_integrations.rs"),
        "call site in this file: {event:#}"
    );
    assert_eq!(event["call_site"]["line"], line, "{event:#}");
}

/// A request context whose query parameter `q` is `value`, as the layer would build it.
fn request_with_q(value: &str) -> Arc<RequestContext> {
    Arc::new(RequestContext::new(
        "GET",
        "/search",
        None,
        None,
        vec![RequestInput {
            source: Source::Query,
            name: "q".into(),
            value: value.into(),
        }],
    ))
}

/// A table name no other test (in this process or another) uses.
fn unique_table(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{n}", std::process::id())
}

/// The payload that drops `table`.
fn stacked_drop(table: &str) -> String {
    STACKED_DROP.replace("{table}", table)
}

/// A server this test needs is unreachable: fail under CI, else say why and skip.
fn unavailable<T>(server: &str, error: &sqlx::Error) -> Option<T> {
    assert!(
        std::env::var_os("CI").is_none(),
        "{server} is unreachable under CI: {error}"
    );
    eprintln!("skipped: {server} is unreachable: {error}");
    None
}

// ----------------------------------------------------------------------------------------
// An axum app whose one route runs a statement built from query parameter `q`

type Handler = Arc<dyn Fn(String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// `GET /products?q=...` runs `handler(q)` behind the agent's layer.
fn app(agent: &Agent, handler: Handler) -> Router {
    Router::new()
        .route(
            "/products",
            get(move |Query(params): Query<HashMap<String, String>>| {
                let handler = Arc::clone(&handler);
                async move {
                    let q = params.get("q").cloned().unwrap_or_default();
                    match handler(q).await {
                        Ok(()) => (StatusCode::OK, "done".to_owned()),
                        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error),
                    }
                }
            }),
        )
        .layer(agent.layer())
}

/// Sends `GET /products?q=<q>`; the status and the `x-antibody-event` header.
async fn get_products(app: Router, q: &str) -> (StatusCode, Option<String>) {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("q", q)
        .finish();
    let request = Request::get(format!("/products?{query}"))
        .body(Body::empty())
        .expect("a request");
    let response = app.oneshot(request).await.expect("a response");
    let event = response
        .headers()
        .get(EVENT_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(ToOwned::to_owned);
    (response.status(), event)
}

// ----------------------------------------------------------------------------------------
// sqlx: one products table, through a guarded pool and a plain one

/// What the sqlx scenarios do with a products table, whatever the database.
trait Products: Send + Sync {
    fn dialect(&self) -> Dialect;
    fn table(&self) -> &str;
    /// Runs `sql` with `sqlx::query` through the guarded pool; also the line of the call.
    fn run(&self, sql: String) -> BoxFuture<'_, (Result<(), sqlx::Error>, u32)>;
    /// Runs `sql` without arguments, like `sqlx::raw_sql` (the text protocol, so stacked
    /// statements run), through the guarded pool; also the line of the call.
    fn run_raw(&self, sql: String) -> BoxFuture<'_, (Result<(), sqlx::Error>, u32)>;
    /// The names `sql` selects, through the guarded pool.
    fn names(&self, sql: String) -> BoxFuture<'_, Result<Vec<String>, sqlx::Error>>;
    /// Every stored name, sorted, read through the plain pool; an error once the table is gone.
    fn stored(&self) -> BoxFuture<'_, Result<Vec<String>, sqlx::Error>>;
    /// Creates the table with three products, through the plain pool.
    fn create(&self) -> BoxFuture<'_, ()>;
    /// Drops the table, through the plain pool.
    fn remove(&self) -> BoxFuture<'_, ()>;
}

struct SqlxProducts<DB: Database> {
    guarded: Guarded<Pool<DB>>,
    plain: Pool<DB>,
    table: String,
    dialect: Dialect,
}

impl<DB: Database> SqlxProducts<DB> {
    fn new(pool: &Pool<DB>, table: &str, dialect: Dialect, agent: &Agent) -> Self {
        SqlxProducts {
            guarded: Guarded::new(pool.clone(), agent.clone()),
            plain: pool.clone(),
            table: table.to_owned(),
            dialect,
        }
    }
}

impl<DB> Products for SqlxProducts<DB>
where
    DB: Database,
    for<'c> &'c Guarded<Pool<DB>>: Executor<'c, Database = DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    String: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    fn dialect(&self) -> Dialect {
        self.dialect
    }

    fn table(&self) -> &str {
        &self.table
    }

    fn run(&self, sql: String) -> BoxFuture<'_, (Result<(), sqlx::Error>, u32)> {
        let db = &self.guarded;
        Box::pin(async move { (sqlx::query(&sql).execute(db).await.map(drop), line!()) })
    }

    fn run_raw(&self, sql: String) -> BoxFuture<'_, (Result<(), sqlx::Error>, u32)> {
        let db = &self.guarded;
        Box::pin(async move { (db.execute(sql.as_str()).await.map(drop), line!()) })
    }

    fn names(&self, sql: String) -> BoxFuture<'_, Result<Vec<String>, sqlx::Error>> {
        let db = &self.guarded;
        Box::pin(async move { sqlx::query_scalar::<DB, String>(&sql).fetch_all(db).await })
    }

    fn stored(&self) -> BoxFuture<'_, Result<Vec<String>, sqlx::Error>> {
        let sql = format!("SELECT name FROM {} ORDER BY name", self.table);
        Box::pin(async move {
            sqlx::query_scalar::<DB, String>(&sql)
                .fetch_all(&self.plain)
                .await
        })
    }

    fn create(&self) -> BoxFuture<'_, ()> {
        let table = &self.table;
        let sql = format!(
            "CREATE TABLE {table} (name VARCHAR(64) NOT NULL, price BIGINT NOT NULL); \
             INSERT INTO {table} (name, price) VALUES ('apple', 1), ('{BENIGN}', 2), ('pear', 3)"
        );
        Box::pin(async move {
            self.plain
                .execute(sql.as_str())
                .await
                .expect("the products table");
        })
    }

    fn remove(&self) -> BoxFuture<'_, ()> {
        let sql = format!("DROP TABLE IF EXISTS {}", self.table);
        Box::pin(async move {
            self.plain
                .execute(sql.as_str())
                .await
                .expect("the table dropped");
        })
    }
}

/// The three stored products.
fn all_products() -> Vec<String> {
    vec!["apple".to_owned(), BENIGN.to_owned(), "pear".to_owned()]
}

/// Makes the products table of one database, guarded by a given agent.
type Open<'a> = &'a (dyn Fn(&Agent) -> Arc<dyn Products> + Sync);

/// The app: `GET /products?q=NAME` deletes product NAME; `line` receives the line that ran
/// the statement.
fn deleting_app(agent: &Agent, products: Arc<dyn Products>, line: Arc<AtomicU32>) -> Router {
    let handler: Handler = Arc::new(move |q: String| {
        let (products, line) = (Arc::clone(&products), Arc::clone(&line));
        Box::pin(async move {
            let sql = format!("DELETE FROM {} WHERE name = '{q}'", products.table());
            let (result, at) = products.run(sql).await;
            line.store(at, Ordering::Relaxed);
            result.map_err(|error| error.to_string())
        })
    });
    app(agent, handler)
}

/// Protect mode: a tautology in a `DELETE`, sent through the axum app, and a stacked
/// `DROP TABLE`, run in a request context, are both blocked; the table keeps every row, and
/// each block is an event naming the line that ran the statement.
async fn protect_blocks_injections(open: Open<'_>) {
    let fixture = Fixture::new(Mode::Protect);
    let products = open(&fixture.agent);
    products.create().await;
    let dialect = products.dialect();
    let table = products.table().to_owned();

    let line = Arc::new(AtomicU32::new(0));
    let app = deleting_app(&fixture.agent, Arc::clone(&products), Arc::clone(&line));
    let (status, event_id) = get_products(app, TAUTOLOGY).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(products.stored().await.expect("the table"), all_products());

    let payload = stacked_drop(&table);
    let sql = format!("SELECT name FROM {table} WHERE name = '{payload}'");
    let (result, drop_line) =
        RequestContext::scope(request_with_q(&payload), products.run_raw(sql)).await;
    let error = result.expect_err("the stacked DROP TABLE is refused");
    let blocked = antibody::integrations::sqlx::blocked(&error).expect("the error carries Blocked");
    assert_eq!(products.stored().await.expect("the table"), all_products());

    let events = fixture.injections();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_event(
        &events[0],
        "blocked",
        dialect,
        TAUTOLOGY,
        line.load(Ordering::Relaxed),
    );
    assert_eq!(event_id.as_deref(), events[0]["id"].as_str());
    assert_event(&events[1], "blocked", dialect, &payload, drop_line);
    assert_eq!(events[1]["id"], blocked.event.to_string());
    products.remove().await;
}

/// Monitor mode: the same injections are reported, and run: the `DELETE` empties the table,
/// then the stacked `DROP TABLE` removes it.
async fn monitor_reports_and_runs_injections(open: Open<'_>) {
    let fixture = Fixture::new(Mode::Monitor);
    let products = open(&fixture.agent);
    products.create().await;
    let dialect = products.dialect();
    let table = products.table().to_owned();

    let line = Arc::new(AtomicU32::new(0));
    let app = deleting_app(&fixture.agent, Arc::clone(&products), Arc::clone(&line));
    let (status, event_id) = get_products(app, TAUTOLOGY).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event_id, None);
    assert_eq!(
        products.stored().await.expect("the table"),
        Vec::<String>::new()
    );

    let payload = stacked_drop(&table);
    let sql = format!("SELECT name FROM {table} WHERE name = '{payload}'");
    let (result, drop_line) =
        RequestContext::scope(request_with_q(&payload), products.run_raw(sql)).await;
    result.expect("monitor mode lets the statements run");
    assert!(products.stored().await.is_err(), "the table was dropped");

    let events = fixture.injections();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_event(
        &events[0],
        "reported",
        dialect,
        TAUTOLOGY,
        line.load(Ordering::Relaxed),
    );
    assert_event(&events[1], "reported", dialect, &payload, drop_line);
    products.remove().await;
}

/// Every mode: a benign name finds its one row, through the axum app and in a request
/// context, and nothing is reported.
async fn benign_input_finds_its_rows(open: Open<'_>) {
    let fixtures = [Mode::Off, Mode::Monitor, Mode::Protect].map(Fixture::new);
    let first = open(&fixtures[0].agent);
    first.create().await;
    for fixture in &fixtures {
        let products = open(&fixture.agent);
        let sql = format!(
            "SELECT name FROM {} WHERE name = '{BENIGN}'",
            products.table()
        );
        let names = RequestContext::scope(request_with_q(BENIGN), products.names(sql))
            .await
            .expect("the benign query runs");
        assert_eq!(names, [BENIGN], "{:?}", fixture.agent.config().mode);

        let handler: Handler = {
            let products = Arc::clone(&products);
            Arc::new(move |q: String| {
                let products = Arc::clone(&products);
                Box::pin(async move {
                    let sql = format!("SELECT name FROM {} WHERE name = '{q}'", products.table());
                    match products.names(sql).await {
                        Ok(names) if names == [q] => Ok(()),
                        Ok(names) => Err(format!("wrong rows: {names:?}")),
                        Err(error) => Err(error.to_string()),
                    }
                })
            })
        };
        let (status, _) = get_products(app(&fixture.agent, handler), BENIGN).await;
        assert_eq!(status, StatusCode::OK, "{:?}", fixture.agent.config().mode);
        assert_eq!(fixture.injections(), Vec::<Value>::new());
    }
    assert_eq!(first.stored().await.expect("the table"), all_products());
    first.remove().await;
}

async fn sqlite_pool(dir: &tempfile::TempDir) -> Pool<Sqlite> {
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("shop.db"))
        .create_if_missing(true);
    SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("an SQLite database")
}

async fn postgres_pool() -> Option<Pool<sqlx::Postgres>> {
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect(POSTGRES_URL)
        .await
        .map_or_else(|error| unavailable("PostgreSQL", &error), Some)
}

async fn mariadb_pool() -> Option<Pool<sqlx::MySql>> {
    MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect(MARIADB_URL)
        .await
        .map_or_else(|error| unavailable("MariaDB", &error), Some)
}

#[tokio::test]
async fn sqlx_sqlite_protect_blocks_injections() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let pool = sqlite_pool(&dir).await;
    let table = unique_table("products");
    protect_blocks_injections(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::Sqlite, agent))
    })
    .await;
}

/// A library-called sink finds its site by walking the stack once per statement shape and
/// route, not on every call: forty harmless deletes of different names, some long enough to
/// be found in the statement and some not, walk once. An injection always walks, so that its
/// event names the exact line.
#[tokio::test]
async fn sqlx_walks_the_stack_once_per_statement_shape_and_route() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let pool = sqlite_pool(&dir).await;
    let table = unique_table("walks");
    let fixture = Fixture::new(Mode::Protect);
    let products: Arc<dyn Products> = Arc::new(SqlxProducts::new(
        &pool,
        &table,
        Dialect::Sqlite,
        &fixture.agent,
    ));
    products.create().await;
    let line = Arc::new(AtomicU32::new(0));
    let app = deleting_app(&fixture.agent, Arc::clone(&products), Arc::clone(&line));

    for n in 0..40 {
        let name = if n % 2 == 0 {
            format!("nothing {n}")
        } else {
            "x".to_owned()
        };
        let (status, _) = get_products(app.clone(), &name).await;
        assert_eq!(status, StatusCode::OK, "{name}");
    }
    assert_eq!(fixture.agent.stats().stack_walks, 1);

    let (status, _) = get_products(app, TAUTOLOGY).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(fixture.agent.stats().stack_walks, 2);
    let injections = fixture.injections();
    assert_eq!(injections.len(), 1);
    let line = line.load(Ordering::Relaxed);
    assert_event(&injections[0], "blocked", Dialect::Sqlite, TAUTOLOGY, line);
    assert_eq!(products.stored().await.expect("the table"), all_products());
}

#[tokio::test]
async fn sqlx_sqlite_monitor_reports_and_runs_injections() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let pool = sqlite_pool(&dir).await;
    let table = unique_table("products");
    monitor_reports_and_runs_injections(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::Sqlite, agent))
    })
    .await;
}

#[tokio::test]
async fn sqlx_sqlite_benign_input_finds_its_rows_in_every_mode() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let pool = sqlite_pool(&dir).await;
    let table = unique_table("products");
    benign_input_finds_its_rows(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::Sqlite, agent))
    })
    .await;
}

#[tokio::test]
async fn sqlx_postgres_protect_blocks_injections() {
    let Some(pool) = postgres_pool().await else {
        return;
    };
    let table = unique_table("products");
    protect_blocks_injections(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::Postgres, agent))
    })
    .await;
}

#[tokio::test]
async fn sqlx_postgres_monitor_reports_and_runs_injections() {
    let Some(pool) = postgres_pool().await else {
        return;
    };
    let table = unique_table("products");
    monitor_reports_and_runs_injections(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::Postgres, agent))
    })
    .await;
}

#[tokio::test]
async fn sqlx_postgres_benign_input_finds_its_rows_in_every_mode() {
    let Some(pool) = postgres_pool().await else {
        return;
    };
    let table = unique_table("products");
    benign_input_finds_its_rows(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::Postgres, agent))
    })
    .await;
}

#[tokio::test]
async fn sqlx_mariadb_protect_blocks_injections() {
    let Some(pool) = mariadb_pool().await else {
        return;
    };
    let table = unique_table("products");
    protect_blocks_injections(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::MySql, agent))
    })
    .await;
}

#[tokio::test]
async fn sqlx_mariadb_monitor_reports_and_runs_injections() {
    let Some(pool) = mariadb_pool().await else {
        return;
    };
    let table = unique_table("products");
    monitor_reports_and_runs_injections(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::MySql, agent))
    })
    .await;
}

#[tokio::test]
async fn sqlx_mariadb_benign_input_finds_its_rows_in_every_mode() {
    let Some(pool) = mariadb_pool().await else {
        return;
    };
    let table = unique_table("products");
    benign_input_finds_its_rows(&|agent| {
        Arc::new(SqlxProducts::new(&pool, &table, Dialect::MySql, agent))
    })
    .await;
}

/// Protect mode, SQLite: a pooled connection, a transaction and a bare connection are
/// guarded too, and so are `fetch_optional`, `raw_sql`, `prepare` and `describe`; the
/// benign twin of each runs.
#[tokio::test]
async fn sqlx_every_executor_and_method_is_checked() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let pool = sqlite_pool(&dir).await;
    let table = unique_table("products");
    let fixture = Fixture::new(Mode::Protect);
    let products = SqlxProducts::new(&pool, &table, Dialect::Sqlite, &fixture.agent);
    products.create().await;
    let guarded = &products.guarded;
    let attack = format!("DELETE FROM {table} WHERE name = '{TAUTOLOGY}'");
    let benign = format!("SELECT name FROM {table} WHERE name = '{BENIGN}'");
    let is_blocked = |result: Result<(), sqlx::Error>| {
        result.is_err_and(|error| antibody::integrations::sqlx::blocked(&error).is_some())
    };

    let checks = async {
        let mut connection = guarded.acquire().await.expect("a pooled connection");
        assert!(is_blocked(
            sqlx::query(&attack)
                .execute(&mut connection)
                .await
                .map(drop)
        ));
        assert!(
            sqlx::query(&benign)
                .fetch_one(&mut connection)
                .await
                .is_ok()
        );

        let mut transaction = guarded.begin().await.expect("a transaction");
        assert!(is_blocked(
            sqlx::query(&attack)
                .execute(&mut transaction)
                .await
                .map(drop)
        ));
        assert!(
            sqlx::query(&benign)
                .fetch_one(&mut transaction)
                .await
                .is_ok()
        );
        transaction.commit().await.expect("committed");

        let bare = SqliteConnection::connect_with(
            &SqliteConnectOptions::new().filename(dir.path().join("shop.db")),
        )
        .await
        .expect("a connection");
        let mut bare = Guarded::new(bare, fixture.agent.clone());
        assert!(is_blocked(
            sqlx::query(&attack).execute(&mut bare).await.map(drop)
        ));
        assert!(sqlx::query(&benign).fetch_all(&mut bare).await.is_ok());

        assert!(is_blocked(
            sqlx::query(&attack).fetch_optional(guarded).await.map(drop)
        ));
        assert!(is_blocked(
            sqlx::raw_sql(&attack).execute(guarded).await.map(drop)
        ));
        assert!(is_blocked(guarded.prepare(&attack).await.map(drop)));
        assert!(is_blocked(guarded.describe(&attack).await.map(drop)));
        assert!(guarded.prepare(&benign).await.is_ok());
    };
    RequestContext::scope(request_with_q(TAUTOLOGY), checks).await;

    assert_eq!(products.stored().await.expect("the table"), all_products());
    let events = fixture.injections();
    assert_eq!(events.len(), 7, "{events:#?}");
    assert!(events.iter().all(|event| event["action"] == "blocked"));
}

// ----------------------------------------------------------------------------------------
// rusqlite

/// A products table in a fresh SQLite file: the file and a plain connection to it.
fn rusqlite_products() -> (tempfile::TempDir, PathBuf, rusqlite::Connection) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("shop.db");
    let plain = rusqlite::Connection::open(&path).expect("an SQLite database");
    plain
        .execute_batch(&format!(
            "CREATE TABLE products (name TEXT NOT NULL, price INTEGER NOT NULL); \
             INSERT INTO products (name, price) VALUES ('apple', 1), ('{BENIGN}', 2), ('pear', 3)"
        ))
        .expect("the products table");
    (dir, path, plain)
}

/// Every stored product and its price, read through the plain connection.
fn prices(plain: &rusqlite::Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut statement = plain.prepare("SELECT name, price FROM products ORDER BY name")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

fn original_prices() -> Vec<(String, i64)> {
    vec![
        ("apple".to_owned(), 1),
        (BENIGN.to_owned(), 2),
        ("pear".to_owned(), 3),
    ]
}

/// Sets the price of the product named `name` to 0, pasting `name` into the statement.
fn clear_price(db: &GuardedConnection, name: &str) -> (rusqlite::Result<usize>, u32) {
    let sql = format!("UPDATE products SET price = 0 WHERE name = '{name}'");
    (db.execute(&sql, []), line!())
}

/// Looks up the product named `name` with a batch, pasting `name` into it.
fn batch_lookup(db: &GuardedConnection, name: &str) -> (rusqlite::Result<()>, u32) {
    let sql = format!("SELECT name FROM products WHERE name = '{name}'");
    (db.execute_batch(&sql), line!())
}

/// The app: `GET /products?q=NAME` clears the price of product NAME.
fn clearing_app(agent: &Agent, db: GuardedConnection, line: Arc<AtomicU32>) -> Router {
    let db = Arc::new(Mutex::new(db));
    let handler: Handler = Arc::new(move |q: String| {
        let (db, line) = (Arc::clone(&db), Arc::clone(&line));
        Box::pin(async move {
            let db = db.lock().expect("the connection");
            let (result, at) = clear_price(&db, &q);
            line.store(at, Ordering::Relaxed);
            result.map(drop).map_err(|error| error.to_string())
        })
    });
    app(agent, handler)
}

/// Protect mode: a tautology in an `UPDATE`, sent through the axum app, and a stacked
/// `DROP TABLE` in a batch, run in a request context, are both blocked; every price is
/// unchanged and the table is still there.
#[tokio::test]
async fn rusqlite_protect_blocks_injections() {
    let (_dir, path, plain) = rusqlite_products();
    let fixture = Fixture::new(Mode::Protect);
    let db = GuardedConnection::open(&path, fixture.agent.clone()).expect("a connection");
    let line = Arc::new(AtomicU32::new(0));
    let app = clearing_app(&fixture.agent, db, Arc::clone(&line));
    let (status, event_id) = get_products(app, TAUTOLOGY).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(prices(&plain).expect("the table"), original_prices());

    let db = GuardedConnection::open(&path, fixture.agent.clone()).expect("a connection");
    let payload = stacked_drop("products");
    let (result, drop_line) =
        RequestContext::sync_scope(request_with_q(&payload), || batch_lookup(&db, &payload));
    let error = result.expect_err("the stacked DROP TABLE is refused");
    let blocked =
        antibody::integrations::rusqlite::blocked(&error).expect("the error carries Blocked");
    assert!(
        std::error::Error::source(&error)
            .and_then(|source| source.downcast_ref::<antibody::Blocked>())
            .is_some(),
        "Blocked is the error's source"
    );
    assert_eq!(prices(&plain).expect("the table"), original_prices());

    let events = fixture.injections();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_event(
        &events[0],
        "blocked",
        Dialect::Sqlite,
        TAUTOLOGY,
        line.load(Ordering::Relaxed),
    );
    assert_eq!(event_id.as_deref(), events[0]["id"].as_str());
    assert_event(&events[1], "blocked", Dialect::Sqlite, &payload, drop_line);
    assert_eq!(events[1]["id"], blocked.event.to_string());
}

/// Monitor mode: the same injections are reported, and run: the `UPDATE` clears every
/// price, then the batch drops the table.
#[tokio::test]
async fn rusqlite_monitor_reports_and_runs_injections() {
    let (_dir, path, plain) = rusqlite_products();
    let fixture = Fixture::new(Mode::Monitor);
    let db = GuardedConnection::open(&path, fixture.agent.clone()).expect("a connection");
    let line = Arc::new(AtomicU32::new(0));
    let app = clearing_app(&fixture.agent, db, Arc::clone(&line));
    let (status, event_id) = get_products(app, TAUTOLOGY).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(event_id, None);
    let cleared: Vec<(String, i64)> = original_prices()
        .into_iter()
        .map(|(name, _)| (name, 0))
        .collect();
    assert_eq!(prices(&plain).expect("the table"), cleared);

    let db = GuardedConnection::open(&path, fixture.agent.clone()).expect("a connection");
    let payload = stacked_drop("products");
    let (result, drop_line) =
        RequestContext::sync_scope(request_with_q(&payload), || batch_lookup(&db, &payload));
    result.expect("monitor mode lets the batch run");
    assert!(prices(&plain).is_err(), "the table was dropped");

    let events = fixture.injections();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_event(
        &events[0],
        "reported",
        Dialect::Sqlite,
        TAUTOLOGY,
        line.load(Ordering::Relaxed),
    );
    assert_event(&events[1], "reported", Dialect::Sqlite, &payload, drop_line);
}

/// Every mode: a benign name finds its row (in a request context) and clears only its own
/// price (through the axum app), and nothing is reported.
#[tokio::test]
async fn rusqlite_benign_input_finds_its_rows_in_every_mode() {
    for mode in [Mode::Off, Mode::Monitor, Mode::Protect] {
        let (_dir, path, plain) = rusqlite_products();
        let fixture = Fixture::new(mode);
        let db = GuardedConnection::open(&path, fixture.agent.clone()).expect("a connection");
        let sql = format!("SELECT price FROM products WHERE name = '{BENIGN}'");
        let price: i64 = RequestContext::sync_scope(request_with_q(BENIGN), || {
            db.query_row(&sql, [], |row| row.get(0))
        })
        .expect("the benign query runs");
        assert_eq!(price, 2, "{mode:?}");

        let app = clearing_app(&fixture.agent, db, Arc::new(AtomicU32::new(0)));
        let (status, _) = get_products(app, BENIGN).await;
        assert_eq!(status, StatusCode::OK, "{mode:?}");
        let mut expected = original_prices();
        expected[1].1 = 0;
        assert_eq!(prices(&plain).expect("the table"), expected, "{mode:?}");
        assert_eq!(fixture.injections(), Vec::<Value>::new(), "{mode:?}");
    }
}

/// Protect mode: each statement-taking method, on the connection and on a transaction, is
/// checked before SQLite sees the statement, and names its caller's line.
#[tokio::test]
async fn rusqlite_every_method_is_checked_at_its_callers_line() {
    let (_dir, path, plain) = rusqlite_products();
    let fixture = Fixture::new(Mode::Protect);
    let mut db = GuardedConnection::open(&path, fixture.agent.clone()).expect("a connection");
    let update = format!("UPDATE products SET price = 0 WHERE name = '{TAUTOLOGY}'");
    let select = format!("SELECT price FROM products WHERE name = '{TAUTOLOGY}'");
    let price = |row: &rusqlite::Row<'_>| row.get::<_, i64>(0);

    let lines = RequestContext::sync_scope(request_with_q(TAUTOLOGY), || {
        let refused = |result: rusqlite::Result<()>| {
            let error = result.expect_err("refused");
            assert!(antibody::integrations::rusqlite::blocked(&error).is_some());
        };
        let mut lines = Vec::new();
        refused(db.execute(&update, []).map(drop));
        lines.push(line!() - 1);
        refused(db.execute_batch(&update));
        lines.push(line!() - 1);
        refused(db.query_row(&select, [], price).map(drop));
        lines.push(line!() - 1);
        refused(db.query_row_and_then(&select, [], price).map(drop));
        lines.push(line!() - 1);
        refused(db.prepare(&select).map(drop));
        lines.push(line!() - 1);
        refused(db.prepare_cached(&select).map(drop));
        lines.push(line!() - 1);
        let transaction = db.transaction().expect("a transaction");
        refused(transaction.execute(&update, []).map(drop));
        lines.push(line!() - 1);
        transaction.rollback().expect("rolled back");
        lines
    });

    assert_eq!(prices(&plain).expect("the table"), original_prices());
    let events = fixture.injections();
    let reported: Vec<u64> = events
        .iter()
        .map(|event| event["call_site"]["line"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(
        reported,
        lines.into_iter().map(u64::from).collect::<Vec<_>>(),
        "{events:#?}"
    );
    assert!(events.iter().all(|event| event["action"] == "blocked"));
}
