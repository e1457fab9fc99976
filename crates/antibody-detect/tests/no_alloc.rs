//! Lexing never allocates, and neither does a check in which no input occurs: the common
//! case of every sink call must not touch the allocator.
//!
//! A counting global allocator needs `unsafe impl GlobalAlloc`; it lives in this test
//! binary only, and the library itself forbids unsafe code.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use antibody_detect::sql::{Dialect, SqlDetector, Verdict, lex};
use antibody_detect::{Input, Source};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counter is a
// thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's contract for `realloc` is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

const STATEMENTS: &[&str] = &[
    "SELECT id, name, price FROM products WHERE id = 42",
    "SELECT * FROM products WHERE category = 'garden tools' ORDER BY price DESC LIMIT 10",
    "INSERT INTO reviews (product_id, author, body) VALUES (?, ?, ?), ($1, :a, @b)",
    "SELECT /* hint */ `a`, \"b\", [c] FROM t -- trailing\nWHERE x IN (1, 2.5, 0x2A, X'00') OR y LIKE E'%\\'%'",
    "SELECT $tag$ dollar $tag$, /*!50000 UNION */ 1 # comment",
    "'unterminated",
];

#[test]
fn lexing_does_not_allocate() {
    for dialect in Dialect::ALL {
        for sql in STATEMENTS {
            let mut tokens = 0;
            let count = allocations(|| tokens = lex(sql, dialect).count());
            assert!(tokens > 0);
            assert_eq!(count, 0, "{dialect}: lexing {sql:?} allocated");
        }
    }
}

#[test]
fn a_check_in_which_no_input_occurs_does_not_allocate() {
    let inputs = [
        Input::new(Source::Query, "category", "kitchen"),
        Input::new(Source::Query, "page", "3"),
        Input::new(Source::Form, "comment", "it's fine, really"),
        Input::new(
            Source::Header,
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64)",
        ),
        Input::new(Source::Cookie, "session", "9f8e7d6c5b4a"),
    ];
    for dialect in Dialect::ALL {
        let detector = SqlDetector::new(dialect);
        for sql in STATEMENTS {
            let mut verdict = Verdict::Data;
            let count = allocations(|| verdict = detector.check(sql, &inputs));
            assert_eq!(verdict, Verdict::NoInput, "{dialect}: {sql:?}");
            assert_eq!(count, 0, "{dialect}: checking {sql:?} allocated");
        }
    }
}

#[test]
fn the_counter_sees_the_allocations_of_a_check_that_must_lex() {
    let inputs = [Input::new(Source::Query, "category", "kitchen")];
    let sql = "SELECT * FROM products WHERE category = 'kitchen'";
    let count = allocations(|| {
        SqlDetector::new(Dialect::Sqlite).check(sql, &inputs);
    });
    assert!(
        count > 0,
        "a check that lexes into a token vector must show up"
    );
}
