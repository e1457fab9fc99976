//! Structure fingerprints: one per query shape, whatever values it carries.

use antibody_detect::sql::{Dialect, Fingerprint};

fn same(dialect: Dialect, a: &str, b: &str) {
    assert_eq!(
        Fingerprint::of(a, dialect),
        Fingerprint::of(b, dialect),
        "{dialect}: {a:?} and {b:?} should share a shape"
    );
}

fn differ(dialect: Dialect, a: &str, b: &str) {
    assert_ne!(
        Fingerprint::of(a, dialect),
        Fingerprint::of(b, dialect),
        "{dialect}: {a:?} and {b:?} should differ"
    );
}

#[test]
fn values_do_not_change_the_shape() {
    for dialect in Dialect::ALL {
        same(
            dialect,
            "SELECT * FROM products WHERE category = 'books' AND price < 10",
            "SELECT * FROM products WHERE category = 'garden tools' AND price < 99.5",
        );
        same(
            dialect,
            "SELECT * FROM t WHERE id = 1",
            "SELECT * FROM t WHERE id = -1",
        );
        same(
            dialect,
            "SELECT * FROM t WHERE id = 1",
            "SELECT * FROM t WHERE id = 0x2A",
        );
        same(
            dialect,
            "SELECT * FROM t WHERE a = 'x'",
            "select  *\nfrom T where A='y'",
        );
    }
    // Placeholders are values: `?` in SQLite and MySQL, `$1` in PostgreSQL (where `?` is an
    // operator).
    same(
        Dialect::Sqlite,
        "SELECT * FROM t WHERE id = 1",
        "SELECT * FROM t WHERE id = ?",
    );
    same(
        Dialect::MySql,
        "SELECT * FROM t WHERE id = 1",
        "SELECT * FROM t WHERE id = ?",
    );
    same(
        Dialect::Postgres,
        "SELECT * FROM t WHERE id = 1",
        "SELECT * FROM t WHERE id = $1",
    );
    same(Dialect::Postgres, "SELECT $1", "SELECT $$dollar$$");
    same(Dialect::MySql, "SELECT 'a'", "SELECT \"b\"");
}

#[test]
fn value_lists_collapse_whatever_their_length() {
    for dialect in Dialect::ALL {
        same(
            dialect,
            "SELECT * FROM t WHERE id IN (1, 2, 3)",
            "SELECT * FROM t WHERE id IN (42)",
        );
        same(
            dialect,
            "SELECT * FROM t WHERE id IN (-1, 'a')",
            "SELECT * FROM t WHERE id IN (+7, 'b', 3)",
        );
        same(
            dialect,
            "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')",
            "INSERT INTO t (a, b) VALUES (9, 'q')",
        );
        differ(
            dialect,
            "INSERT INTO t (a, b) VALUES (1, 2)",
            "INSERT INTO t (a, c) VALUES (1, 2)",
        );
        differ(
            dialect,
            "SELECT * FROM t WHERE id IN (1, 2)",
            "SELECT * FROM t WHERE id IN (SELECT id FROM u)",
        );
    }
}

#[test]
fn sort_lists_of_plain_columns_collapse() {
    for dialect in Dialect::ALL {
        same(
            dialect,
            "SELECT * FROM t ORDER BY name",
            "SELECT * FROM t ORDER BY price DESC, id ASC",
        );
        same(
            dialect,
            "SELECT * FROM t ORDER BY name LIMIT 5",
            "SELECT * FROM t ORDER BY p.id LIMIT 10",
        );
        differ(
            dialect,
            "SELECT * FROM t ORDER BY name",
            "SELECT * FROM t ORDER BY name LIMIT 1",
        );
        differ(
            dialect,
            "SELECT * FROM t ORDER BY name",
            "SELECT * FROM t ORDER BY (SELECT 1)",
        );
    }
}

#[test]
fn structure_changes_the_shape() {
    for dialect in Dialect::ALL {
        let base = "SELECT * FROM products WHERE category = 'books'";
        differ(
            dialect,
            base,
            "SELECT * FROM products WHERE category = '' OR '1'='1'",
        );
        differ(
            dialect,
            base,
            "SELECT * FROM products WHERE category = 'x' -- '",
        );
        differ(
            dialect,
            base,
            "SELECT * FROM products WHERE category = 'x'; DROP TABLE t",
        );
        differ(
            dialect,
            base,
            "SELECT * FROM products WHERE category = 'O'Brien'",
        );
        differ(
            dialect,
            base,
            "SELECT * FROM products WHERE category = category",
        );
        differ(
            dialect,
            base,
            "SELECT * FROM users WHERE category = 'books'",
        );
        differ(
            dialect,
            "SELECT * FROM t WHERE id = 1",
            "SELECT * FROM t WHERE id = 2-1",
        );
        differ(
            dialect,
            "SELECT * FROM t WHERE id = 1",
            "SELECT * FROM t WHERE id = id",
        );
        // Names compare without case, quoted names exactly.
        same(dialect, "SELECT Name FROM T", "SELECT name FROM t");
    }
    differ(
        Dialect::Postgres,
        "SELECT \"Name\" FROM t",
        "SELECT \"name\" FROM t",
    );
    differ(
        Dialect::MySql,
        "SELECT * FROM t WHERE id = 1",
        "SELECT * FROM t WHERE id = 1 /*!UNION*/",
    );
}

#[test]
fn the_hash_is_stable_across_processes_and_releases() {
    // Learned models persist fingerprints: changing the normalisation or the hash is a
    // breaking change to stored state, so it must be deliberate.
    let fingerprint = Fingerprint::of("SELECT * FROM products WHERE id = 7", Dialect::Sqlite);
    assert_eq!(
        fingerprint.to_string(),
        format!("{:016x}", fingerprint.as_u64())
    );
    assert_eq!(Fingerprint::from_u64(fingerprint.as_u64()), fingerprint);
    assert_eq!(fingerprint.as_u64(), 0xa610_814e_a937_d9e4, "{fingerprint}");
}
