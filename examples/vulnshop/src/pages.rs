//! HTML pages, kept plain: a layout, escaping, and the product table.

use std::fmt::Write as _;

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// `text` escaped for HTML text and quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A whole page around `body`, which must already be HTML.
pub(crate) fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{} · vulnshop</title></head>\n\
         <body><h1>{}</h1>\n{body}\n</body></html>\n",
        escape(title),
        escape(title)
    )
}

/// A product as the catalogue lists it.
pub(crate) struct Product {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) category: String,
    pub(crate) price: f64,
}

impl Product {
    /// Reads a row of `SELECT id, name, category, price`.
    pub(crate) fn from_row(row: &SqliteRow) -> Self {
        Product {
            id: row.try_get(0).unwrap_or_default(),
            name: row.try_get(1).unwrap_or_default(),
            category: row.try_get(2).unwrap_or_default(),
            price: row.try_get(3).unwrap_or_default(),
        }
    }
}

/// The product table.
pub(crate) fn products(products: &[Product]) -> String {
    let mut html =
        String::from("<table>\n<tr><th>id</th><th>name</th><th>category</th><th>price</th></tr>\n");
    for product in products {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            product.id,
            escape(&product.name),
            escape(&product.category),
            product.price
        );
    }
    let _ = write!(html, "</table>\n<p>{} product(s)</p>", products.len());
    html
}

/// The review list items; `body` renders each body (escaped on the safe page, raw on the
/// vulnerable one).
pub(crate) fn review_items(
    reviews: &[(i64, String, String)],
    body: impl Fn(&str) -> String,
) -> String {
    let mut html = String::new();
    for (id, author, text) in reviews {
        let _ = writeln!(
            html,
            "<li id=\"review-{id}\"><b>{}</b>: {}</li>",
            escape(author),
            body(text)
        );
    }
    html
}
