//! The whole SQL sink path: context lookup, call site, check and decision, as an
//! integration pays for it on every statement.
//!
//! - `cached`: the statement has no request input in it and the site already judged the same
//!   text harmless, so the check ends at the site memo without lexing.
//! - `uncached`: a request input occurs in the statement (as data), so every call lexes,
//!   fingerprints and consults the learned model.
//! - `through_library`: `cached`, for an integration a library calls (sqlx): the site is
//!   remembered for the statement's shape in the request's route, so nothing is walked.
//! - `stack_site`: the stack walk such an integration pays when a shape is new to a route,
//!   on an already-symbolised stack.
#![allow(missing_docs)]

use std::hint::black_box;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use antibody::{Agent, CallSite, Dialect, Mode, RequestContext, RequestInput};
use antibody_detect::Source;
use criterion::{Criterion, criterion_group, criterion_main};

#[track_caller]
fn site() -> CallSite {
    Agent::caller_site(Location::caller())
}

fn context() -> Arc<RequestContext> {
    let input = |source, name: &str, value: &str| RequestInput {
        source,
        name: name.to_owned(),
        value: value.to_owned(),
    };
    Arc::new(RequestContext::new(
        "GET",
        "/products",
        Some("/products"),
        None,
        vec![
            input(Source::Query, "category", "garden tools"),
            input(Source::Query, "page", "2"),
            input(
                Source::Header,
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0)",
            ),
            input(Source::Header, "accept", "text/html,application/xhtml+xml"),
            input(Source::Header, "accept-language", "en-GB,en;q=0.5"),
            input(Source::Cookie, "session", "4f1c2a9e77d0b3c5"),
        ],
    ))
}

fn sink(c: &mut Criterion) {
    let agent = Agent::builder()
        .mode(Mode::Protect)
        .learning_calls(Some(1))
        .build_with_env(|_| None)
        .expect("agent");
    let benign = "SELECT id, name, price FROM products WHERE category = 'kitchen' ORDER BY price LIMIT 20 OFFSET 0";
    let with_input = "SELECT id, name, price FROM products WHERE category = 'garden tools' ORDER BY price LIMIT 20 OFFSET 20";
    let mut group = c.benchmark_group("sink");
    RequestContext::sync_scope(context(), || {
        // Learn both shapes, and let the cache see the benign statement at an enforcing site.
        for _ in 0..3 {
            let site = site();
            agent
                .check_sql(Dialect::Sqlite, benign, &site)
                .expect("benign");
            agent
                .check_sql(Dialect::Sqlite, with_input, &site)
                .expect("benign");
        }
        group.bench_function("cached", |b| {
            b.iter(|| {
                let site = site();
                black_box(agent.check_sql(Dialect::Sqlite, black_box(benign), &site))
            });
        });
        group.bench_function("uncached", |b| {
            b.iter(|| {
                let site = site();
                black_box(agent.check_sql(Dialect::Sqlite, black_box(with_input), &site))
            });
        });
        for _ in 0..3 {
            agent
                .check_sql_called_through_library(Dialect::Sqlite, benign)
                .expect("benign");
        }
        group.bench_function("through_library", |b| {
            b.iter(|| {
                black_box(
                    agent.check_sql_called_through_library(Dialect::Sqlite, black_box(benign)),
                )
            });
        });
        group.bench_function("stack_site", |b| b.iter(|| black_box(agent.stack_site())));
    });
    group.finish();
    assert_eq!(agent.stats().blocked, 0);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = sink
}
criterion_main!(benches);
