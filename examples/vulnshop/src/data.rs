//! The shop's data folder: a freshly seeded SQLite database and the `docs/` files.

use std::fs;
use std::path::Path;

/// The database file inside the data folder.
pub(crate) const DATABASE: &str = "shop.db";

const SCHEMA: &str = "
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS reviews;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS products;
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price REAL NOT NULL);
CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, password TEXT NOT NULL);
CREATE TABLE reviews (id INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, author TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE sessions (token TEXT PRIMARY KEY, user_id INTEGER NOT NULL);
";

const PRODUCTS: &[(&str, &str, f64)] = &[
    ("The Pragmatic Gardener", "books", 24.5),
    ("SQL for Shopkeepers", "books", 31.0),
    ("A Field Guide to Beetles", "books", 18.75),
    ("Alice's Adventures in Wonderland", "books", 9.99),
    ("Stainless Trowel", "garden tools", 12.0),
    ("Pruning Shears", "garden tools", 27.5),
    ("Watering Can, 10 l", "garden tools", 15.25),
    ("Garden Hose, 25 m", "garden tools", 39.9),
    ("Cast Iron Skillet", "kitchen", 45.0),
    ("Chef's Knife", "kitchen", 59.0),
    ("Wooden Spoon Set", "kitchen", 8.5),
    ("Salad Spinner", "kitchen", 21.0),
];

/// Seeded users; passwords are stored in plain text because this shop is deliberately bad.
pub(crate) const USERS: &[(&str, &str)] = &[
    ("alice", "wonderland"),
    ("bob", "builder42"),
    ("admin", "s3cret-admin"),
];

const REVIEWS: &[(i64, &str, &str)] = &[
    (1, "alice", "Practical and kind to beginners."),
    (1, "bob", "My tomatoes have never been happier."),
    (5, "bob", "Solid, and the handle does not bend."),
    (9, "alice", "Heavy, but it will outlive me."),
    (10, "admin", "Sharp out of the box."),
];

const DOCS: &[(&str, &str)] = &[
    (
        "welcome.txt",
        "Welcome to vulnshop. Browse our books, garden tools and kitchen goods.\n",
    ),
    (
        "faq/returns.txt",
        "Returns are accepted within 30 days with the receipt.\n",
    ),
    ("faq/shipping.txt", "We ship within two working days.\n"),
];

/// The folder of the documents `/docs` serves, inside the data folder.
pub(crate) const DOCS_FOLDER: &str = "docs";

/// Creates the data folder's contents afresh: the database with its seed, and `docs/`.
pub(crate) fn seed(data_dir: &Path) -> Result<(), String> {
    fs::create_dir_all(data_dir.join(DOCS_FOLDER).join("faq"))
        .map_err(|e| format!("{}: {e}", data_dir.display()))?;
    for (name, text) in DOCS {
        let path = data_dir.join(DOCS_FOLDER).join(name);
        fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let path = data_dir.join(DATABASE);
    let connection =
        rusqlite::Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let seeded = (|| {
        connection.execute_batch(SCHEMA)?;
        for (name, category, price) in PRODUCTS {
            connection.execute(
                "INSERT INTO products (name, category, price) VALUES (?1, ?2, ?3)",
                (name, category, price),
            )?;
        }
        for (username, password) in USERS {
            connection.execute(
                "INSERT INTO users (username, password) VALUES (?1, ?2)",
                (username, password),
            )?;
        }
        for (product_id, author, body) in REVIEWS {
            connection.execute(
                "INSERT INTO reviews (product_id, author, body) VALUES (?1, ?2, ?3)",
                (product_id, author, body),
            )?;
        }
        Ok::<(), rusqlite::Error>(())
    })();
    seeded.map_err(|e| format!("seeding {}: {e}", path.display()))
}
