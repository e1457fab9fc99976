//! A whole request through the agent's layer, in process and side by side with the agent
//! off: an axum router whose handler reads one product from an in-memory SQLite database
//! through the rusqlite wrapper, pasting the `id` parameter into the statement, with the
//! headers a browser sends.
//!
//! - `off`: the layer passes the request through untouched;
//! - `protect`: the layer builds the request context, and the statement is checked against
//!   the request's eleven inputs (the id occurs in it, as data).
//!
//! The difference is what the agent adds to a request that reaches one SQL statement.
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use antibody::integrations::rusqlite::Connection;
use antibody::{Agent, Mode};
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::Request;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

#[derive(serde::Deserialize)]
struct Product {
    id: String,
}

type Db = Arc<Mutex<Connection>>;

async fn product(State(db): State<Db>, Query(query): Query<Product>) -> String {
    let sql = format!("SELECT name, price FROM products WHERE id = {}", query.id);
    let db = db.lock().expect("the database");
    db.query_row(&sql, [], |row| row.get::<_, String>(0))
        .unwrap_or_else(|error| error.to_string())
}

fn app(mode: Mode) -> Router {
    let agent = Agent::builder()
        .mode(mode)
        .learning_calls(Some(1))
        .build_with_env(|_| None)
        .expect("an agent");
    let db = Connection::open_in_memory(agent.clone()).expect("a database");
    db.unguarded()
        .execute_batch(
            "CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price INTEGER);
             INSERT INTO products VALUES (42, 'garden tools', 1299);",
        )
        .expect("the products table");
    Router::new()
        .route("/product", get(product))
        .with_state(Arc::new(Mutex::new(db)))
        .layer(agent.layer())
}

fn request() -> Request<Body> {
    let headers = [
        ("host", "shop.example"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        ),
        (
            "accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        ),
        ("accept-language", "en-GB,en;q=0.5"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("referer", "https://shop.example/products?category=garden"),
        ("cookie", "session=4f1c2a9e77d0b3c5; theme=dark"),
        ("connection", "keep-alive"),
        ("upgrade-insecure-requests", "1"),
    ];
    let mut builder = Request::get("/product?id=42");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::empty()).expect("a request")
}

fn requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("request");
    for (name, mode) in [("off", Mode::Off), ("protect", Mode::Protect)] {
        let app = app(mode);
        // The site learns the statement's shape before it enforces.
        for _ in 0..3 {
            let response = runtime.block_on(app.clone().oneshot(request()));
            assert!(response.expect("a response").status().is_success());
        }
        group.bench_function(name, |b| {
            b.iter(|| black_box(runtime.block_on(app.clone().oneshot(request()))));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = requests
}
criterion_main!(benches);
