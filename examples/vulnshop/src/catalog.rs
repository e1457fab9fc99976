//! The catalogue: products, sorting and reviews, each vulnerable route beside its safe twin.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::response::{Html, Redirect};
use axum::routing::get;
use serde::Deserialize;
use sqlx::Row;

use crate::pages::{self, Product};
use crate::shop::{Failure, Ran, Shop};

pub(crate) fn routes() -> Router<Arc<Shop>> {
    Router::new()
        .route("/products", get(products))
        .route("/safe/products", get(safe_products))
        .route("/product", get(product))
        .route("/safe/product", get(safe_product))
        .route("/products/sorted", get(sorted))
        .route("/safe/products/sorted", get(safe_sorted))
        .route("/reviews", get(reviews).post(post_review))
        .route("/safe/reviews", get(safe_reviews).post(safe_post_review))
        .route("/reviews/author-stats", get(author_stats))
        .route("/safe/reviews/author-stats", get(safe_author_stats))
}

#[derive(Deserialize)]
struct Category {
    #[serde(default)]
    category: String,
}

#[derive(Deserialize)]
struct Id {
    #[serde(default)]
    id: String,
}

#[derive(Deserialize)]
struct Order {
    #[serde(default)]
    order: String,
}

#[derive(Deserialize)]
struct ProductId {
    #[serde(default)]
    product_id: String,
}

#[derive(Deserialize)]
struct ReviewId {
    #[serde(default)]
    review_id: String,
}

#[derive(Deserialize)]
struct NewReview {
    product_id: String,
    author: String,
    body: String,
}

type Page = Result<Html<String>, Failure>;

fn product_page(title: &str, rows: &[sqlx::sqlite::SqliteRow]) -> Html<String> {
    let products: Vec<Product> = rows.iter().map(Product::from_row).collect();
    Html(pages::layout(title, &pages::products(&products)))
}

/// Vulnerable: the category is pasted inside single quotes.
async fn products(State(shop): State<Arc<Shop>>, Query(query): Query<Category>) -> Page {
    let sql = format!(
        "SELECT id, name, category, price FROM products WHERE category = '{}'",
        query.category
    );
    let result = sqlx::query(&sql).fetch_all(shop.pool()).await;
    let rows = shop.settle("/products", &sql, result)?;
    Ok(product_page("Products", &rows))
}

async fn safe_products(State(shop): State<Arc<Shop>>, Query(query): Query<Category>) -> Page {
    let sql = "SELECT id, name, category, price FROM products WHERE category = ?";
    let result = sqlx::query(sql)
        .bind(&query.category)
        .fetch_all(shop.pool())
        .await;
    let rows = shop.settle("/safe/products", sql, result)?;
    Ok(product_page("Products", &rows))
}

/// Vulnerable: the id is pasted as a number.
async fn product(State(shop): State<Arc<Shop>>, Query(query): Query<Id>) -> Page {
    let sql = format!(
        "SELECT id, name, category, price FROM products WHERE id = {}",
        query.id
    );
    let result = sqlx::query(&sql).fetch_all(shop.pool()).await;
    let rows = shop.settle("/product", &sql, result)?;
    if rows.is_empty() {
        return Err(Failure::NotFound);
    }
    Ok(product_page("Product", &rows))
}

async fn safe_product(State(shop): State<Arc<Shop>>, Query(query): Query<Id>) -> Page {
    let id: f64 = query
        .id
        .trim()
        .parse()
        .map_err(|_| Failure::BadRequest(format!("`{}` is not a number", query.id)))?;
    let sql = "SELECT id, name, category, price FROM products WHERE id = ?";
    let result = sqlx::query(sql).bind(id).fetch_all(shop.pool()).await;
    let rows = shop.settle("/safe/product", sql, result)?;
    if rows.is_empty() {
        return Err(Failure::NotFound);
    }
    Ok(product_page("Product", &rows))
}

fn read_products(statement: &mut rusqlite::Statement<'_>) -> rusqlite::Result<Vec<Product>> {
    statement
        .query_map([], |row| {
            Ok(Product {
                id: row.get(0)?,
                name: row.get(1)?,
                category: row.get(2)?,
                price: row.get(3)?,
            })
        })?
        .collect()
}

/// Vulnerable: the sort order is pasted after `ORDER BY`.
async fn sorted(State(shop): State<Arc<Shop>>, Query(query): Query<Order>) -> Page {
    let order = if query.order.is_empty() {
        "id".to_owned()
    } else {
        query.order
    };
    let sql = format!("SELECT id, name, category, price FROM products ORDER BY {order}");
    let products = shop
        .with_rusqlite("/products/sorted", sql, |connection, sql| {
            let mut statement = connection.prepare(sql)?;
            let products = read_products(&mut statement)?;
            Ok(Ran::of(&statement, products))
        })
        .await?;
    Ok(Html(pages::layout("Products", &pages::products(&products))))
}

/// The sort order, read against a list of columns and directions.
fn allowed_order(order: &str) -> Result<String, Failure> {
    const COLUMNS: [&str; 4] = ["id", "name", "category", "price"];
    let mut terms = Vec::new();
    for term in order
        .split(',')
        .map(str::trim)
        .filter(|term| !term.is_empty())
    {
        let mut words = term.split_whitespace();
        let column = words.next().unwrap_or_default().to_ascii_lowercase();
        let direction = words.next().map(str::to_ascii_uppercase);
        let known = COLUMNS.contains(&column.as_str());
        let direction_ok = matches!(direction.as_deref(), None | Some("ASC" | "DESC"));
        if !known || !direction_ok || words.next().is_some() {
            return Err(Failure::BadRequest(format!("cannot sort by `{term}`")));
        }
        terms.push(format!(
            "{column} {}",
            direction.unwrap_or_else(|| "ASC".to_owned())
        ));
    }
    Ok(if terms.is_empty() {
        "id ASC".to_owned()
    } else {
        terms.join(", ")
    })
}

async fn safe_sorted(State(shop): State<Arc<Shop>>, Query(query): Query<Order>) -> Page {
    let sql = format!(
        "SELECT id, name, category, price FROM products ORDER BY {}",
        allowed_order(&query.order)?
    );
    let products = shop
        .with_rusqlite("/safe/products/sorted", sql, |connection, sql| {
            let mut statement = connection.prepare(sql)?;
            let products = read_products(&mut statement)?;
            Ok(Ran::of(&statement, products))
        })
        .await?;
    Ok(Html(pages::layout("Products", &pages::products(&products))))
}

fn review_id(text: &str) -> Result<i64, Failure> {
    text.trim()
        .parse()
        .map_err(|_| Failure::BadRequest(format!("`{text}` is not a number")))
}

async fn load_reviews(
    shop: &Shop,
    endpoint: &str,
    product_id: &str,
) -> Result<Vec<(i64, String, String)>, Failure> {
    let product_id = review_id(product_id)?;
    let sql = "SELECT id, author, body FROM reviews WHERE product_id = ? ORDER BY id";
    let result = sqlx::query(sql)
        .bind(product_id)
        .fetch_all(shop.pool())
        .await;
    let rows = shop.settle(endpoint, sql, result)?;
    Ok(rows
        .iter()
        .map(|row| {
            (
                row.try_get(0).unwrap_or_default(),
                row.try_get(1).unwrap_or_default(),
                row.try_get(2).unwrap_or_default(),
            )
        })
        .collect())
}

/// Vulnerable (stored XSS): review bodies are rendered unescaped. The statements are bound.
async fn reviews(State(shop): State<Arc<Shop>>, Query(query): Query<ProductId>) -> Page {
    let reviews = load_reviews(&shop, "/reviews", &query.product_id).await?;
    let items = pages::review_items(&reviews, str::to_owned);
    Ok(Html(pages::layout(
        "Reviews",
        &format!("<ul>\n{items}</ul>"),
    )))
}

async fn safe_reviews(State(shop): State<Arc<Shop>>, Query(query): Query<ProductId>) -> Page {
    let reviews = load_reviews(&shop, "/safe/reviews", &query.product_id).await?;
    let items = pages::review_items(&reviews, pages::escape);
    Ok(Html(pages::layout(
        "Reviews",
        &format!("<ul>\n{items}</ul>"),
    )))
}

async fn store_review(
    shop: &Shop,
    endpoint: &str,
    review: &NewReview,
) -> Result<Redirect, Failure> {
    let product_id = review_id(&review.product_id)?;
    let sql = "INSERT INTO reviews (product_id, author, body) VALUES (?, ?, ?)";
    let result = sqlx::query(sql)
        .bind(product_id)
        .bind(&review.author)
        .bind(&review.body)
        .execute(shop.pool())
        .await;
    let done = shop.settle(endpoint, sql, result)?;
    let listing = if endpoint.starts_with("/safe") {
        "/safe/reviews"
    } else {
        "/reviews"
    };
    Ok(Redirect::to(&format!(
        "{listing}?product_id={product_id}#review-{}",
        done.last_insert_rowid()
    )))
}

async fn post_review(
    State(shop): State<Arc<Shop>>,
    Form(review): Form<NewReview>,
) -> Result<Redirect, Failure> {
    store_review(&shop, "/reviews", &review).await
}

async fn safe_post_review(
    State(shop): State<Arc<Shop>>,
    Form(review): Form<NewReview>,
) -> Result<Redirect, Failure> {
    store_review(&shop, "/safe/reviews", &review).await
}

async fn review_author(
    shop: &Shop,
    endpoint: &str,
    review_id_text: &str,
) -> Result<String, Failure> {
    let id = review_id(review_id_text)?;
    let sql = "SELECT author FROM reviews WHERE id = ?";
    let result = sqlx::query(sql).bind(id).fetch_optional(shop.pool()).await;
    let row = shop
        .settle(endpoint, sql, result)?
        .ok_or(Failure::NotFound)?;
    Ok(row.try_get(0).unwrap_or_default())
}

fn stats_page(author: &str, count: i64) -> Html<String> {
    Html(pages::layout(
        "Author statistics",
        &format!(
            "<p><b>{}</b> wrote {count} review(s).</p>",
            pages::escape(author)
        ),
    ))
}

/// Vulnerable (second order): the stored author is pasted into a second statement.
async fn author_stats(State(shop): State<Arc<Shop>>, Query(query): Query<ReviewId>) -> Page {
    let author = review_author(&shop, "/reviews/author-stats", &query.review_id).await?;
    let sql = format!("SELECT COUNT(*) FROM reviews WHERE author = '{author}'");
    let result = sqlx::query(&sql).fetch_all(shop.pool()).await;
    let rows = shop.settle("/reviews/author-stats", &sql, result)?;
    let count = rows
        .first()
        .and_then(|row| row.try_get(0).ok())
        .unwrap_or_default();
    Ok(stats_page(&author, count))
}

async fn safe_author_stats(State(shop): State<Arc<Shop>>, Query(query): Query<ReviewId>) -> Page {
    let author = review_author(&shop, "/safe/reviews/author-stats", &query.review_id).await?;
    let sql = "SELECT COUNT(*) FROM reviews WHERE author = ?";
    let result = sqlx::query(sql).bind(&author).fetch_one(shop.pool()).await;
    let row = shop.settle("/safe/reviews/author-stats", sql, result)?;
    Ok(stats_page(&author, row.try_get(0).unwrap_or_default()))
}
