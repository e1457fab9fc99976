//! What checking a file path, a shell script and a redirect target costs, for typical
//! inputs: the benign value that stays data, and the attack.
//!
//! `cargo bench -p antibody-detect --bench sinks`; the figures and the machine they were
//! measured on are in `docs/benchmarks.md`.
#![allow(missing_docs)] // criterion_group! and criterion_main! generate undocumented items.

use std::hint::black_box;

use antibody_detect::{Input, Source, command, path, redirect};
use criterion::{Criterion, criterion_group, criterion_main};

/// A request's typical inputs besides the one under test: a few headers and a cookie.
fn with_headers(name: &'static str, value: &'static str) -> Vec<Input<'static>> {
    vec![
        Input::new(
            Source::Header,
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0)",
        ),
        Input::new(Source::Header, "accept-language", "en-GB,en;q=0.9"),
        Input::new(
            Source::Cookie,
            "session",
            "d41d8cd98f00b204e9800998ecf8427e",
        ),
        Input::new(Source::Query, name, value),
    ]
}

fn path_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("path");
    for (label, value) in [
        ("benign", "faq/returns.txt"),
        ("attack", "../../etc/passwd"),
    ] {
        let inputs = with_headers("file", value);
        let target = format!("/srv/shop/data/docs/{value}");
        group.bench_function(label, |b| {
            b.iter(|| path::check(black_box(&target), black_box(&inputs)));
        });
    }
    group.bench_function("fingerprint", |b| {
        b.iter(|| path::fingerprint(black_box("/srv/shop/data/docs/faq/returns.txt")));
    });
    group.finish();
}

fn shell_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("shell");
    for (label, value) in [("benign", "shop-01.internal"), ("attack", "localhost; id")] {
        let inputs = with_headers("host", value);
        let script = format!("getent hosts {value}");
        group.bench_function(label, |b| {
            b.iter(|| command::check_script(black_box(&script), black_box(&inputs)));
        });
    }
    group.bench_function("fingerprint", |b| {
        b.iter(|| command::script_fingerprint(black_box("getent hosts shop-01.internal")));
    });
    group.finish();
}

fn redirect_check(c: &mut Criterion) {
    let mut group = c.benchmark_group("redirect");
    let allowed = ["shop.example", "*.cdn.example"];
    for (label, value) in [
        ("benign", "/products?category=books"),
        ("attack", "//evil.example/%2f.."),
    ] {
        let inputs = with_headers("next", value);
        group.bench_function(label, |b| {
            b.iter(|| redirect::check(black_box(value), black_box(&inputs), &allowed));
        });
    }
    group.finish();
}

criterion_group!(benches, path_check, shell_check, redirect_check);
criterion_main!(benches);
