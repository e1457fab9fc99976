//! What lexing, fingerprinting and checking a statement cost, for three realistic sizes of
//! query, with sqlparser's tokenizer on the same statements as a yardstick for lexing.
//!
//! `cargo bench -p antibody-detect --bench sql`; the figures and the machine they were
//! measured on are in `docs/benchmarks.md`.
#![allow(missing_docs)] // criterion_group! and criterion_main! generate undocumented items.

use std::hint::black_box;
use std::time::Duration;

use antibody_detect::sql::{Dialect, Fingerprint, SqlDetector, Verdict, lex};
use antibody_detect::{Input, Source};
use criterion::{Criterion, criterion_group, criterion_main};
use sqlparser::dialect::{
    Dialect as ParserDialect, MySqlDialect, PostgreSqlDialect, SQLiteDialect,
};
use sqlparser::tokenizer::Tokenizer;

/// The request value every query carries as data: the category the shop filters by.
const CATEGORY: &str = "garden-tools";

/// The category pasted unescaped by a careless application, closing the literal.
const INJECTION: &str = "' OR '1'='1";

/// A short lookup by id.
fn query_50b() -> String {
    "SELECT id, name, price FROM products WHERE id = 42".to_owned()
}

/// A listing page: a join, a filter on a string literal, an order and a limit.
fn query_200b(category: &str) -> String {
    format!(
        "SELECT p.id, p.name, p.price, p.stock, c.name AS category FROM products p \
         JOIN categories c ON c.id = p.category_id WHERE c.slug = '{category}' \
         AND p.price < 100 ORDER BY p.price DESC LIMIT 20 OFFSET 40"
    )
}

/// A report as an ORM writes it: two CTEs, a wide select list, several joins and
/// conditions, a `LIKE` and an `IN` list.
fn query_2kb(category: &str) -> String {
    format!(
        "WITH recent_orders AS (SELECT o.customer_id, o.product_id, COUNT(*) AS order_count, \
         SUM(o.total_cents) AS spent_cents, MAX(o.created_at) AS last_order_at FROM orders o \
         WHERE o.created_at >= '2024-01-01' AND o.status IN ('paid', 'shipped', 'delivered') \
         GROUP BY o.customer_id, o.product_id), ratings AS (SELECT r.product_id, \
         AVG(r.stars) AS avg_stars, COUNT(*) AS review_count FROM reviews r \
         WHERE r.hidden = 0 AND r.language = 'en' GROUP BY r.product_id) \
         SELECT p.id, p.sku, p.name, p.slug, p.summary, p.description, p.price_cents, \
         p.sale_price_cents, p.currency, p.stock, p.weight_grams, p.width_mm, p.height_mm, \
         p.depth_mm, p.colour, p.material, p.warranty_months, p.created_at, p.updated_at, \
         c.id AS category_id, c.name AS category_name, c.slug AS category_slug, \
         c.parent_id AS category_parent_id, b.id AS brand_id, b.name AS brand_name, \
         b.country AS brand_country, s.id AS supplier_id, s.name AS supplier_name, \
         s.lead_time_days, ra.avg_stars, ra.review_count, ro.order_count, ro.spent_cents, \
         ro.last_order_at, i.url AS image_url, i.alt_text AS image_alt, \
         COALESCE(d.percent, 0) AS discount_percent, \
         CASE WHEN p.stock > 10 THEN 'in_stock' WHEN p.stock > 0 THEN 'low_stock' \
         ELSE 'out_of_stock' END AS availability \
         FROM products p JOIN categories c ON c.id = p.category_id \
         LEFT JOIN brands b ON b.id = p.brand_id LEFT JOIN suppliers s ON s.id = p.supplier_id \
         LEFT JOIN ratings ra ON ra.product_id = p.id \
         LEFT JOIN recent_orders ro ON ro.product_id = p.id AND ro.customer_id = 1842 \
         LEFT JOIN product_images i ON i.product_id = p.id AND i.position = 0 \
         LEFT JOIN discounts d ON d.product_id = p.id AND d.starts_at <= CURRENT_TIMESTAMP \
         AND (d.ends_at IS NULL OR d.ends_at > CURRENT_TIMESTAMP) \
         WHERE c.slug = '{category}' AND p.price_cents BETWEEN 500 AND 25000 \
         AND p.stock >= 0 AND p.deleted_at IS NULL AND p.published = 1 \
         AND (p.name LIKE '%cordless%' OR p.summary LIKE '%cordless%') \
         AND p.brand_id IN (3, 7, 12, 19, 23, 31, 44, 58, 61, 72, 85, 90, 104, 117, 126) \
         AND (ra.avg_stars IS NULL OR ra.avg_stars >= 3.5) \
         ORDER BY ra.avg_stars DESC, p.price_cents ASC, p.id ASC LIMIT 24 OFFSET 48"
    )
}

/// One size of query and the input whose value it carries as data.
struct Case {
    size: &'static str,
    sql: String,
    /// The input that occurs in `sql`, as `(name, value)`.
    occurring: (&'static str, &'static str),
}

fn cases() -> [Case; 3] {
    [
        Case {
            size: "50B",
            sql: query_50b(),
            occurring: ("id", "42"),
        },
        Case {
            size: "200B",
            sql: query_200b(CATEGORY),
            occurring: ("category", CATEGORY),
        },
        Case {
            size: "2KB",
            sql: query_2kb(CATEGORY),
            occurring: ("category", CATEGORY),
        },
    ]
}

/// Request inputs that occur in none of the queries: tracking and paging parameters, a
/// search term, and a few longer values such as a user agent.
const OTHER_INPUTS: [(&str, &str); 19] = [
    ("page", "3"),
    ("q", "cordless drill set"),
    ("lang", "en-GB"),
    ("session", "f3a9c1e07b2d4a68"),
    ("utm_source", "newsletter"),
    ("utm_campaign", "spring-sale-2025"),
    ("currency", "EUR"),
    ("min_rating", "4.5"),
    ("view", "grid"),
    ("ref", "homepage-banner"),
    (
        "user_agent",
        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    ),
    ("accept_language", "en-GB,en;q=0.9,de;q=0.7"),
    ("csrf_token", "9b1c2f7e4d0a48c6b3e5a1f2d7c9e0b4"),
    ("sort", "popular"),
    ("in_stock", "true"),
    ("colour", "green"),
    ("max_price", "149.99"),
    ("email", "jane.doe@example.org"),
    ("return_to", "/account/orders?page=2"),
];

/// `count` inputs, the last of which is `last`: the only one that may occur, placed last
/// so that the check has looked for every other input before it finds it.
fn inputs(count: usize, last: (&'static str, &'static str)) -> Vec<Input<'static>> {
    OTHER_INPUTS[..count - 1]
        .iter()
        .chain([&last])
        .map(|&(name, value)| Input::new(Source::Query, name, value))
        .collect()
}

/// A value of the occurring input's kind that the query does not carry.
fn absent_value(name: &str) -> &'static str {
    if name == "id" { "9051" } else { "kitchen" }
}

fn sqlparser_dialect(dialect: Dialect) -> Box<dyn ParserDialect> {
    match dialect {
        Dialect::Sqlite => Box::new(SQLiteDialect {}),
        Dialect::Postgres => Box::new(PostgreSqlDialect {}),
        Dialect::MySql => Box::new(MySqlDialect {}),
    }
}

fn lexing(c: &mut Criterion) {
    let cases = cases();
    let mut ours = c.benchmark_group("lex");
    for case in &cases {
        for dialect in Dialect::ALL {
            ours.bench_function(format!("{}/{dialect}", case.size), |b| {
                b.iter(|| lex(black_box(&case.sql), black_box(dialect)).count());
            });
        }
    }
    ours.finish();

    let mut theirs = c.benchmark_group("sqlparser");
    for case in &cases {
        for dialect in Dialect::ALL {
            let parser_dialect = sqlparser_dialect(dialect);
            let tokens = Tokenizer::new(parser_dialect.as_ref(), &case.sql).tokenize();
            assert!(
                tokens.is_ok(),
                "sqlparser cannot tokenize the {} query",
                case.size
            );
            theirs.bench_function(format!("{}/{dialect}", case.size), |b| {
                b.iter(|| Tokenizer::new(parser_dialect.as_ref(), black_box(&case.sql)).tokenize());
            });
        }
    }
    theirs.finish();
}

fn fingerprinting(c: &mut Criterion) {
    let mut group = c.benchmark_group("fingerprint");
    for case in &cases() {
        group.bench_function(case.size, |b| {
            b.iter(|| Fingerprint::of(black_box(&case.sql), Dialect::Sqlite));
        });
    }
    group.finish();
}

fn checking(c: &mut Criterion) {
    let detector = SqlDetector::new(Dialect::Sqlite);
    let mut group = c.benchmark_group("check");
    for case in &cases() {
        let (name, _) = case.occurring;
        for count in [1, 5, 20] {
            let occurs = inputs(count, case.occurring);
            let absent = inputs(count, (name, absent_value(name)));
            // Each benchmark measures the path its name says, or it measures nothing useful.
            let occurring = occurs
                .iter()
                .filter(|input| input.value.len() > 1 && case.sql.contains(input.value))
                .count();
            assert_eq!(occurring, 1, "{} with {count} inputs", case.size);
            assert_eq!(detector.check(&case.sql, &occurs), Verdict::Data);
            assert_eq!(detector.check(&case.sql, &absent), Verdict::NoInput);

            let id = format!("{}/{count}_inputs", case.size);
            group.bench_function(format!("{id}/occurs"), |b| {
                b.iter(|| detector.check(black_box(&case.sql), black_box(&occurs)));
            });
            group.bench_function(format!("{id}/absent"), |b| {
                b.iter(|| detector.check(black_box(&case.sql), black_box(&absent)));
            });
        }
    }

    let attacked = query_200b(INJECTION);
    let hostile = inputs(5, ("category", INJECTION));
    assert!(detector.check(&attacked, &hostile).is_injection());
    group.bench_function("200B/5_inputs/injection", |b| {
        b.iter(|| detector.check(black_box(&attacked), black_box(&hostile)));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the figures are meant to be taken on a small shared machine in minutes.
    config = Criterion::default()
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50);
    targets = lexing, fingerprinting, checking
}
criterion_main!(benches);
