//! End-to-end tests of vulnshop: the real binary on a loopback port, driven over HTTP.
//!
//! Each test starts its own shop with a fresh data folder, events file and trace, and kills it
//! when done, so tests are independent and run in parallel. In protect mode an attack must be
//! answered 403 and reported with its input and the line that runs the statement; in off mode
//! the same attack must take effect, judged from `VULNSHOP_TRACE` with sqlparser (never with
//! the agent's own detectors) and, where the page shows it, from the answer; benign input must
//! always pass.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlparser::ast::{
    BinaryOperator, Expr, OrderByKind, Query, Select, SetExpr, SetOperator, Statement,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use tempfile::TempDir;

/// How long a test waits for the shop to start, answer, report or stop; generous because the
/// machine may be busy with other work.
const PATIENCE: Duration = Duration::from_secs(30);

/// The seeded catalogue's product ids ordered by name (byte order, as SQLite compares).
const BY_NAME: [i64; 12] = [3, 4, 9, 10, 8, 6, 2, 12, 5, 1, 7, 11];
/// The seeded catalogue's product ids ordered by price.
const BY_PRICE: [i64; 12] = [11, 4, 5, 7, 3, 12, 1, 6, 2, 8, 9, 10];
/// The seeded catalogue's product ids in id order.
const BY_ID: [i64; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
/// How many reviews the seed holds.
const SEEDED_REVIEWS: usize = 5;

/// A tautology that stays balanced inside a single-quoted literal.
const TAUTOLOGY: &str = "x' OR '1'='1";
/// A boolean oracle on the admin's password, hidden in a sort order: the rows come back by
/// price when the password starts with `s`, by name otherwise.
const ORDER_ORACLE: &str = "(CASE WHEN (SELECT password FROM users WHERE username = 'admin') \
                            LIKE 's%' THEN price ELSE name END)";

// ---------------------------------------------------------------------------------------------
// The shop process

/// One running vulnshop, killed on drop.
struct Shop {
    child: Child,
    addr: SocketAddr,
    first_line: String,
    dir: TempDir,
    /// Held open so that the shop's later writes to stdout do not fail.
    _stdout: BufReader<ChildStdout>,
}

/// vulnshop with a clean environment (the test's own `ANTIBODY_*` and `VULNSHOP_*` variables do
/// not leak in), its events file and trace in `dir`, then `env`; started by `wrapper` (a
/// program and its arguments) when one is given.
fn vulnshop(dir: &Path, env: &[(&str, &str)], wrapper: &[String]) -> Command {
    let mut command = match wrapper.split_first() {
        Some((program, arguments)) => {
            let mut command = Command::new(program);
            command.args(arguments).arg(env!("CARGO_BIN_EXE_vulnshop"));
            command
        }
        None => Command::new(env!("CARGO_BIN_EXE_vulnshop")),
    };
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if text.starts_with("ANTIBODY_") || text.starts_with("VULNSHOP_") {
            command.env_remove(&name);
        }
    }
    command
        .env("ANTIBODY_EVENTS_FILE", dir.join("events.jsonl"))
        .env("VULNSHOP_TRACE", dir.join("trace.jsonl"))
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

fn read_or_empty(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Waits for `child` to exit; kills it and fails when it takes longer than [`PATIENCE`].
fn wait_for_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("the child's status") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vulnshop did not exit within {PATIENCE:?}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

impl Shop {
    /// Starts vulnshop on `127.0.0.1:0` with a fresh data folder and waits for its first line.
    fn start(env: &[(&str, &str)]) -> Shop {
        Shop::start_under(env, |_| Vec::new())
    }

    /// Starts vulnshop as [`Shop::start`] does, through the wrapper `wrapper` gives for the
    /// shop's folder.
    fn start_under(env: &[(&str, &str)], wrapper: impl FnOnce(&Path) -> Vec<String>) -> Shop {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let stderr = fs::File::create(dir.path().join("stderr.log")).expect("a log file");
        let wrapper = wrapper(dir.path());
        let mut child = vulnshop(dir.path(), env, &wrapper)
            .args(["--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("vulnshop starts");
        let stdout = child.stdout.take().expect("a piped stdout");
        // A thread reads the first line, so that a shop that never prints one fails the test
        // instead of hanging it.
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let read = reader.read_line(&mut line);
            let _ = sender.send((read.map(|_| line), reader));
        });
        let (first_line, reader) = match receiver.recv_timeout(PATIENCE) {
            Ok((Ok(line), reader)) if !line.is_empty() => (line, reader),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "vulnshop printed no first line; its stderr:\n{}",
                    read_or_empty(&dir.path().join("stderr.log"))
                );
            }
        };
        let addr = first_line
            .trim_end()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the first line is not `listening on ADDR`: {first_line:?}");
        };
        Shop {
            child,
            addr,
            first_line,
            dir,
            _stdout: reader,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sends SIGTERM (through `kill`) and waits for the shop to exit.
    fn stop(&mut self) -> ExitStatus {
        let killed = Command::new("sh")
            .args(["-c", "kill -TERM \"$1\"", "sh"])
            .arg(self.child.id().to_string())
            .status()
            .expect("sh runs kill");
        assert!(killed.success(), "kill -TERM failed: {killed}");
        wait_for_exit(&mut self.child)
    }

    /// One HTTP/1.1 exchange on a fresh connection.
    fn request(&self, method: &str, target: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut stream = TcpStream::connect(self.addr).expect("connects to vulnshop");
        stream
            .set_read_timeout(Some(PATIENCE))
            .expect("a read timeout");
        let mut head = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body.as_bytes()))
            .expect("the request is sent");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("an answer");
        Answer::parse(&raw)
    }

    fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.get_with(path, query, &[])
    }

    fn get_with(&self, path: &str, query: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
        let target = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", form(query))
        };
        self.request("GET", &target, headers, "")
    }

    fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let content_type = [("Content-Type", "application/x-www-form-urlencoded")];
        self.request("POST", path, &content_type, &form(fields))
    }

    /// The complete JSON lines of a file in the test's folder (a line still being written is
    /// left for the next look).
    fn json_lines(&self, name: &str) -> Vec<Value> {
        read_or_empty(&self.path(name))
            .split_inclusive('\n')
            .filter(|line| line.ends_with('\n') && !line.trim().is_empty())
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("{name}: {line:?} is not JSON: {error}"))
            })
            .collect()
    }

    fn events(&self) -> Vec<Value> {
        self.json_lines("events.jsonl")
    }

    /// The first event `wanted` accepts, waiting for delivery (the agent flushes within 100 ms).
    fn wait_for_event(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(event) = self.events().into_iter().find(|event| wanted(event)) {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "no event {what} within {PATIENCE:?}; events: {:#?}",
                self.events()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The statements vulnshop ran for `endpoint` that contain `fragment`, as traced.
    fn traced(&self, endpoint: &str, fragment: &str) -> Vec<Value> {
        self.json_lines("trace.jsonl")
            .into_iter()
            .filter(|line| {
                line["sink"] == "sql"
                    && line["endpoint"] == endpoint
                    && line["sql"]
                        .as_str()
                        .is_some_and(|sql| sql.contains(fragment))
            })
            .collect()
    }

    /// The paths vulnshop opened for `endpoint`, as traced.
    fn files_opened(&self, endpoint: &str) -> Vec<String> {
        self.json_lines("trace.jsonl")
            .into_iter()
            .filter(|line| line["sink"] == "file" && line["endpoint"] == endpoint)
            .map(|line| line["path"].as_str().expect("a traced path").to_owned())
            .collect()
    }

    /// The argument vectors vulnshop started for `endpoint`, as traced.
    fn commands_started(&self, endpoint: &str) -> Vec<Value> {
        self.json_lines("trace.jsonl")
            .into_iter()
            .filter(|line| line["sink"] == "command" && line["endpoint"] == endpoint)
            .map(|line| line["argv"].clone())
            .collect()
    }

    /// The `Location`s vulnshop redirected to from `endpoint`, as traced.
    fn redirects_sent(&self, endpoint: &str) -> Vec<String> {
        self.json_lines("trace.jsonl")
            .into_iter()
            .filter(|line| line["sink"] == "redirect" && line["endpoint"] == endpoint)
            .map(|line| line["location"].as_str().expect("a location").to_owned())
            .collect()
    }

    /// The statement `endpoint` ran with `fragment` in it: traced exactly once, successfully.
    fn ran(&self, endpoint: &str, fragment: &str) -> String {
        let lines = self.traced(endpoint, fragment);
        assert_eq!(
            lines.len(),
            1,
            "{endpoint} should have run one statement holding {fragment:?}; trace: {lines:#?}"
        );
        assert_eq!(lines[0]["ok"], true, "the statement failed: {}", lines[0]);
        lines[0]["sql"].as_str().expect("traced SQL").to_owned()
    }

    /// How many reviews product `product_id` has, read through the safe listing.
    fn review_count(&self, product_id: &str) -> usize {
        let page = self.get("/safe/reviews", &[("product_id", product_id)]);
        assert_passes(&page, 200);
        page.body.matches("<li ").count()
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// `text` percent-encoded for a query string or a form body.
fn encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// An HTTP answer; header names in lower case.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn parse(raw: &[u8]) -> Answer {
        let split = raw
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
        let head = String::from_utf8_lossy(&raw[..split]);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let mut body = raw[split + 4..].to_vec();
        let chunked = headers
            .iter()
            .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
        if chunked {
            body = dechunk(&body);
        }
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(found, _)| found == name)
            .map(|(_, value)| value.as_str())
    }

    /// The session cookie the answer sets, as `session=VALUE`.
    fn session(&self) -> Option<String> {
        self.headers
            .iter()
            .filter(|(name, _)| name == "set-cookie")
            .filter_map(|(_, value)| value.split(';').next())
            .find(|pair| pair.starts_with("session="))
            .map(str::to_owned)
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|window| window == b"\r\n")
            .expect("a chunk size line");
        let line = String::from_utf8_lossy(&data[..end]);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).expect("a hexadecimal chunk size");
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
}

/// The product ids of a product table, in page order.
fn product_ids(body: &str) -> Vec<i64> {
    body.split("<tr><td>")
        .skip(1)
        .map(|row| {
            row.split('<')
                .next()
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("a product row without an id: {row:?}"))
        })
        .collect()
}

/// The answer has `status` and is not the agent's doing.
fn assert_passes(answer: &Answer, status: u16) {
    assert_ne!(answer.status, 403, "blocked: {answer:?}");
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.header("x-antibody-event"), None, "{answer:?}");
}

// ---------------------------------------------------------------------------------------------
// Events

/// A vulnerable statement's place: its source file, its handler, and what the line calls.
struct Site {
    file: &'static str,
    function: &'static str,
    runs: &'static str,
}

const PRODUCTS: Site = Site {
    file: "catalog.rs",
    function: "products",
    runs: "fetch_all",
};
const PRODUCT: Site = Site {
    file: "catalog.rs",
    function: "product",
    runs: "fetch_all",
};
const SORTED: Site = Site {
    file: "catalog.rs",
    function: "sorted",
    runs: "prepare",
};
const LOGIN: Site = Site {
    file: "users.rs",
    function: "login",
    runs: "prepare",
};
const DOCUMENT: Site = Site {
    file: "documents.rs",
    function: "document",
    runs: "read_to_string",
};
const LOOKUP: Site = Site {
    file: "tools.rs",
    function: "lookup",
    runs: "output",
};
const CALC: Site = Site {
    file: "calculator.rs",
    function: "calculate",
    runs: "eval_with_scope_checked",
};
const AUTHOR_STATS: Site = Site {
    file: "catalog.rs",
    function: "author_stats",
    runs: "fetch_all",
};

/// The answer is the agent's 403, and its event says `kind`, blocked, at `site`.
fn assert_blocked(shop: &Shop, answer: &Answer, kind: &str, site: &Site) -> Value {
    assert_eq!(answer.status, 403, "not blocked: {answer:?}");
    let id = answer
        .header("x-antibody-event")
        .unwrap_or_else(|| panic!("a 403 without x-antibody-event: {answer:?}"));
    assert!(
        answer.body.contains(id),
        "the page does not give {id}: {}",
        answer.body
    );
    let event = shop.wait_for_event(id, |event| event["id"] == id);
    assert_eq!(event["kind"], kind, "{event:#}");
    assert_eq!(event["action"], "blocked", "{event:#}");
    assert_eq!(event["mode"], "protect", "{event:#}");
    assert_call_site(&event, site);
    event
}

/// The event names the input; a password's value never appears in it.
fn assert_input(event: &Value, source: &str, name: &str, value: &str) {
    let input = &event["input"];
    assert_eq!(input["source"], source, "{event:#}");
    assert_eq!(input["name"], name, "{event:#}");
    if name == "password" {
        assert!(
            !event.to_string().contains(value),
            "the password leaked: {event:#}"
        );
    } else {
        assert_eq!(input["value"], value, "{event:#}");
    }
}

/// The event's call site is the line of `site`'s handler that runs the statement, read from
/// the source itself so that edits moving lines do not break the test.
fn assert_call_site(event: &Value, site: &Site) {
    let call_site = &event["call_site"];
    let file = call_site["file"]
        .as_str()
        .unwrap_or_else(|| panic!("no call site file: {event:#}"));
    let line = call_site["line"]
        .as_u64()
        .and_then(|line| usize::try_from(line).ok())
        .unwrap_or_else(|| panic!("no call site line: {event:#}"));
    let expected = Path::new("examples/vulnshop/src").join(site.file);
    assert!(
        Path::new(file).ends_with(&expected),
        "call site {file} is not {}",
        expected.display()
    );
    assert_eq!(call_site["chain"][0], format!("{file}:{line}"), "{event:#}");
    let path = source_path(file);
    let source = fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    let statement =
        statement_at(&source, line).unwrap_or_else(|| panic!("{file} has no line {line}"));
    assert!(
        statement.contains(site.runs),
        "{file}:{line} is not in the statement that runs the SQL ({}): {statement:?}",
        site.runs
    );
    assert_eq!(
        enclosing_function(&source, line),
        site.function,
        "{file}:{line} is not in the handler"
    );
}

/// The Rust statement line `line` (1-based) belongs to: from the line after the previous one
/// that ends a statement or opens or closes a block, through the next line ending with `;`.
/// A call chained over several lines is reported at its `.await`, not at the call.
fn statement_at(source: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = source.lines().collect();
    let index = line.checked_sub(1).filter(|index| *index < lines.len())?;
    let boundary = |text: &str| text.trim_end().ends_with([';', '{', '}']);
    let mut start = index;
    while start > 0 && !boundary(lines[start - 1]) {
        start -= 1;
    }
    let mut end = index;
    while end + 1 < lines.len() && !lines[end].trim_end().ends_with(';') {
        end += 1;
    }
    Some(lines[start..=end].join("\n"))
}

/// A reported file as a path on this machine: absolute, or relative to the workspace root.
fn source_path(file: &str) -> PathBuf {
    let path = Path::new(file);
    if path.is_absolute() {
        return path.to_owned();
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace root");
    workspace.join(path)
}

/// The name of the function whose definition last precedes line `line` (1-based).
fn enclosing_function(source: &str, line: usize) -> &str {
    source
        .lines()
        .take(line)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(|text| {
            let text = text.trim_start();
            let text = text.strip_prefix("pub(crate) ").unwrap_or(text);
            let text = text.strip_prefix("async ").unwrap_or(text);
            let name = text.strip_prefix("fn ")?;
            name.split(['(', '<']).next()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Statement structure, judged by sqlparser

fn parse(sql: &str) -> Vec<Statement> {
    Parser::parse_sql(&SQLiteDialect {}, sql)
        .unwrap_or_else(|error| panic!("sqlparser cannot parse {sql:?}: {error}"))
}

fn only(sql: &str) -> Statement {
    let mut statements = parse(sql);
    assert_eq!(statements.len(), 1, "not one statement: {sql:?}");
    statements.remove(0)
}

fn query(statement: &Statement) -> &Query {
    match statement {
        Statement::Query(query) => query,
        other => panic!("not a query: {other}"),
    }
}

fn select(statement: &Statement) -> &Select {
    query(statement)
        .body
        .as_select()
        .unwrap_or_else(|| panic!("not a plain SELECT: {statement}"))
}

fn selection(statement: &Statement) -> &Expr {
    select(statement)
        .selection
        .as_ref()
        .unwrap_or_else(|| panic!("no WHERE clause: {statement}"))
}

/// `expr` without enclosing parentheses.
fn bare(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => bare(inner),
        other => other,
    }
}

/// The operands of a chain of `OR`s (one for an expression that is no `OR`).
fn or_branches(expr: &Expr) -> Vec<&Expr> {
    match bare(expr) {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::Or,
            right,
        } => {
            let mut branches = or_branches(left);
            branches.extend(or_branches(right));
            branches
        }
        other => vec![other],
    }
}

/// A comparison of two equal constants.
fn is_tautology(expr: &Expr) -> bool {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = bare(expr)
    else {
        return false;
    };
    match (bare(left), bare(right)) {
        (Expr::Value(left), Expr::Value(right)) => left.value == right.value,
        _ => false,
    }
}

/// The WHERE clause is a disjunction with a branch that is always true.
fn has_tautology(sql: &str) -> bool {
    let statement = only(sql);
    let branches = or_branches(selection(&statement));
    branches.len() > 1 && branches.into_iter().any(is_tautology)
}

/// The statement is a UNION whose second part reads the users table.
fn has_union_with_users(sql: &str) -> bool {
    let statement = only(sql);
    let SetExpr::SetOperation {
        op: SetOperator::Union,
        right,
        ..
    } = &*query(&statement).body
    else {
        return false;
    };
    right.as_select().is_some_and(|select| {
        select
            .from
            .iter()
            .any(|table| table.relation.to_string() == "users")
    })
}

/// The text holds a SELECT followed by a DELETE.
fn has_stacked_delete(sql: &str) -> bool {
    let statements = parse(sql);
    statements.len() == 2
        && matches!(statements[0], Statement::Query(_))
        && matches!(statements[1], Statement::Delete(_))
}

/// The ORDER BY is one CASE whose condition compares a subquery.
fn orders_by_subquery(sql: &str) -> bool {
    let statement = only(sql);
    let Some(order_by) = &query(&statement).order_by else {
        return false;
    };
    let OrderByKind::Expressions(terms) = &order_by.kind else {
        return false;
    };
    let [term] = terms.as_slice() else {
        return false;
    };
    let Expr::Case { conditions, .. } = bare(&term.expr) else {
        return false;
    };
    conditions.iter().any(|when| {
        matches!(bare(&when.condition), Expr::Like { expr, .. } if matches!(bare(expr), Expr::Subquery(_)))
    })
}

/// The WHERE clause compares the username alone: the password check is gone.
fn checks_username_only(sql: &str) -> bool {
    let statement = only(sql);
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Eq,
        right,
    } = bare(selection(&statement))
    else {
        return false;
    };
    matches!(bare(left), Expr::Identifier(name) if name.value == "username")
        && matches!(bare(right), Expr::Value(_))
}

// ---------------------------------------------------------------------------------------------
// Protect mode blocks each SQL injection, naming the input and the line

#[test]
fn protect_blocks_injection_in_category() {
    let shop = Shop::start(&[]);
    for (payload, structure) in [
        (TAUTOLOGY, Some("tautology")),
        (
            "books' UNION SELECT id, username, password, 1 FROM users--",
            None,
        ),
        ("x'; DELETE FROM reviews; --", Some("statement")),
        ("O'Brien", None),
    ] {
        let answer = shop.get("/products", &[("category", payload)]);
        let event = assert_blocked(&shop, &answer, "sql_injection", &PRODUCTS);
        assert_input(&event, "query", "category", payload);
        if let Some(structure) = structure {
            assert_eq!(event["structure"], structure, "{event:#}");
        }
        assert_eq!(shop.traced("/products", payload), Vec::<Value>::new());
    }
    assert_eq!(shop.review_count("1"), 2, "the stacked DELETE ran");
}

#[test]
fn protect_blocks_traversal_in_document_name() {
    let shop = Shop::start(&[]);
    for (payload, structure) in [
        ("../shop.db", "climb out of the folder"),
        ("faq/../../shop.db", "climb out of the folder"),
        ("/etc/passwd", "absolute path"),
        ("welcome.txt\0.pdf", "NUL byte"),
    ] {
        let answer = shop.get("/docs", &[("file", payload)]);
        let event = assert_blocked(&shop, &answer, "path_traversal", &DOCUMENT);
        assert_input(&event, "query", "file", payload);
        assert_eq!(event["structure"], structure, "{event:#}");
    }
    assert_eq!(shop.files_opened("/docs"), Vec::<String>::new());
    // The benign twins, on the vulnerable endpoint and on the safe one.
    for (name, text) in [
        ("welcome.txt", "Welcome to vulnshop"),
        ("faq/returns.txt", "Returns are accepted"),
        ("faq/../welcome.txt", "Welcome to vulnshop"),
    ] {
        for endpoint in ["/docs", "/safe/docs"] {
            let answer = shop.get(endpoint, &[("file", name)]);
            assert_passes(&answer, 200);
            assert!(answer.body.contains(text), "{endpoint} {name}: {answer:?}");
        }
    }
    assert_eq!(shop.files_opened("/docs").len(), 3);
}

#[test]
fn off_mode_reads_outside_the_documents_folder() {
    let shop = Shop::start(&[("ANTIBODY_MODE", "off")]);
    let answer = shop.get("/docs", &[("file", "/etc/passwd")]);
    assert_passes(&answer, 200);
    assert!(answer.body.contains("root:"), "{answer:?}");
    assert_eq!(shop.files_opened("/docs"), ["/etc/passwd"]);
    // The safe twin refuses whatever the agent's mode.
    assert_eq!(
        shop.get("/safe/docs", &[("file", "/etc/passwd")]).status,
        404
    );
    assert_eq!(
        shop.get("/safe/docs", &[("file", "../shop.db")]).status,
        404
    );
}

#[test]
fn protect_blocks_command_injection_in_host_lookup() {
    let shop = Shop::start(&[]);
    let canary = shop.path("canary");
    let canary = canary.to_str().expect("UTF-8");
    for (payload, structure) in [
        (format!("localhost; touch {canary}"), "command separator"),
        (format!("localhost | touch {canary}"), "pipe"),
        (format!("$(touch {canary})"), "substitution"),
        (format!("localhost\ntouch {canary}"), "command separator"),
    ] {
        let answer = shop.get("/tools/lookup", &[("host", &payload)]);
        let event = assert_blocked(&shop, &answer, "command_injection", &LOOKUP);
        assert_input(&event, "query", "host", &payload);
        assert_eq!(event["structure"], structure, "{event:#}");
    }
    assert!(!shop.path("canary").exists(), "an injected command ran");
    assert_eq!(shop.commands_started("/tools/lookup"), Vec::<Value>::new());
    for host in ["localhost", "shop-01.internal"] {
        for endpoint in ["/tools/lookup", "/safe/tools/lookup"] {
            assert_passes(&shop.get(endpoint, &[("host", host)]), 200);
        }
    }
    assert!(
        shop.get("/tools/lookup", &[("host", "localhost")])
            .body
            .contains("127.0.0.1")
    );
}

#[test]
fn off_mode_runs_the_injected_command() {
    let shop = Shop::start(&[("ANTIBODY_MODE", "off")]);
    let canary = shop.path("canary");
    let payload = format!("localhost; touch {}", canary.to_str().expect("UTF-8"));
    assert_passes(&shop.get("/tools/lookup", &[("host", &payload)]), 200);
    assert!(canary.exists(), "the injected command did not run");
    // The safe twin passes the same text as one strange host name.
    let other = shop.path("other-canary");
    let payload = format!("localhost; touch {}", other.to_str().expect("UTF-8"));
    assert_passes(&shop.get("/safe/tools/lookup", &[("host", &payload)]), 200);
    assert!(!other.exists());
}

#[test]
fn protect_blocks_open_redirects() {
    let shop = Shop::start(&[]);
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
    ] {
        let answer = shop.get("/go", &[("next", next)]);
        assert_eq!(answer.status, 403, "{next}: {answer:?}");
        let id = answer.header("x-antibody-event").expect("an event id");
        let event = shop.wait_for_event(id, |event| event["id"] == id);
        assert_eq!(event["kind"], "open_redirect", "{event:#}");
        assert_input(&event, "query", "next", next);
    }
    assert_eq!(shop.redirects_sent("/go"), Vec::<String>::new());
    for next in [
        "/account",
        "/products?category=books",
        "/login?next=https://evil.example/",
    ] {
        for endpoint in ["/go", "/safe/go"] {
            let answer = shop.get(endpoint, &[("next", next)]);
            assert_passes(&answer, 302);
            assert_eq!(answer.header("location"), Some(next), "{endpoint}");
        }
    }
    assert_eq!(shop.redirects_sent("/go").len(), 3);
}

#[test]
fn off_mode_redirects_anywhere_and_the_safe_twin_stays_home() {
    let shop = Shop::start(&[("ANTIBODY_MODE", "off")]);
    let answer = shop.get("/go", &[("next", "//evil.example/")]);
    assert_passes(&answer, 302);
    assert_eq!(shop.redirects_sent("/go"), ["//evil.example/"]);
    let safe = shop.get("/safe/go", &[("next", "//evil.example/")]);
    assert_eq!(safe.header("location"), Some("/"));
}

#[test]
fn protect_blocks_code_injection_in_the_calculator() {
    const SECRET: &str = "vulnshop-calc-secret-7f3a";
    let shop = Shop::start(&[]);
    for (qty, structure) in [("secret", "name"), ("0; return secret", "code syntax")] {
        let answer = shop.get("/calc", &[("qty", qty)]);
        let event = assert_blocked(&shop, &answer, "code_injection", &CALC);
        assert_input(&event, "query", "qty", qty);
        assert_eq!(event["structure"], structure, "{event:#}");
        assert!(!answer.body.contains(SECRET));
    }
    for (qty, total) in [("3", "36"), ("2 + 1", "36")] {
        for endpoint in ["/calc", "/safe/calc"] {
            let answer = shop.get(endpoint, &[("qty", qty)]);
            assert_passes(&answer, 200);
            assert!(
                answer.body.contains(&format!("Total: {total}")),
                "{endpoint}: {answer:?}"
            );
        }
    }
    // Off mode reads the secret; the safe twin never can.
    let off = Shop::start(&[("ANTIBODY_MODE", "off")]);
    assert!(
        off.get("/calc", &[("qty", "0; return secret")])
            .body
            .contains(SECRET)
    );
    assert_eq!(
        off.get("/safe/calc", &[("qty", "0; return secret")]).status,
        400
    );
}

/// An "internal" service on loopback that answers every request with a secret.
fn internal_service() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0_u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\nConnection: close\r\n\r\ninternal secret",
            );
        }
    });
    address
}

#[test]
fn protect_blocks_requests_to_internal_addresses() {
    let service = internal_service();
    let port = service.port();
    let shop = Shop::start(&[("ANTIBODY_ALLOWED_HOSTS", "localhost")]);
    for url in [
        format!("http://127.0.0.1:{port}/secret"),
        format!("http://2130706433:{port}/secret"),
        format!("http://[::ffff:127.0.0.1]:{port}/secret"),
    ] {
        let answer = shop.get("/fetch", &[("url", &url)]);
        assert_eq!(answer.status, 403, "{url}: {answer:?}");
        let id = answer.header("x-antibody-event").expect("an event id");
        let event = shop.wait_for_event(id, |event| event["id"] == id);
        assert_eq!(event["kind"], "server_side_request_forgery", "{event:#}");
        assert!(!answer.body.contains("internal secret"));
    }
    // The benign twin: an allowed host, on both endpoints.
    let url = format!("http://localhost:{port}/secret");
    for endpoint in ["/fetch", "/safe/fetch"] {
        let answer = shop.get(endpoint, &[("url", &url)]);
        assert_passes(&answer, 200);
        assert!(
            answer.body.contains("internal secret"),
            "{endpoint}: {answer:?}"
        );
    }
    // Off, the flaw is real; the safe twin refuses hosts off its list whatever the mode.
    let off = Shop::start(&[("ANTIBODY_MODE", "off")]);
    let url = format!("http://127.0.0.1:{port}/secret");
    assert!(
        off.get("/fetch", &[("url", &url)])
            .body
            .contains("internal secret")
    );
    assert_eq!(off.get("/safe/fetch", &[("url", &url)]).status, 400);
}

#[test]
fn protect_blocks_injection_in_product_id() {
    // A short learning period, so that a lone column name is judged against what was learned.
    let shop = Shop::start(&[("ANTIBODY_LEARNING_CALLS", "3")]);
    for id in ["1", "2", "3"] {
        assert_passes(&shop.get("/product", &[("id", id)]), 200);
    }
    for (payload, structure) in [
        ("1 OR 1=1", Some("tautology")),
        ("0 UNION SELECT id, username, password, 0 FROM users", None),
        ("1; DELETE FROM reviews", Some("statement")),
        ("id", None),
    ] {
        let answer = shop.get("/product", &[("id", payload)]);
        let event = assert_blocked(&shop, &answer, "sql_injection", &PRODUCT);
        assert_input(&event, "query", "id", payload);
        if let Some(structure) = structure {
            assert_eq!(event["structure"], structure, "{event:#}");
        }
        assert_eq!(
            shop.traced("/product", &format!("id = {payload}")),
            Vec::<Value>::new()
        );
    }
    assert_eq!(shop.review_count("1"), 2, "the stacked DELETE ran");
}

#[test]
fn protect_blocks_injection_in_sort_order() {
    let shop = Shop::start(&[]);
    for payload in [
        ORDER_ORACLE,
        "name; DELETE FROM reviews",
        "price LIMIT 1",
        "(SELECT password FROM users WHERE username = 'admin')",
    ] {
        let answer = shop.get("/products/sorted", &[("order", payload)]);
        let event = assert_blocked(&shop, &answer, "sql_injection", &SORTED);
        assert_input(&event, "query", "order", payload);
        assert_eq!(
            shop.traced("/products/sorted", payload),
            Vec::<Value>::new()
        );
    }
}

#[test]
fn protect_blocks_injection_in_login() {
    let shop = Shop::start(&[]);
    for (field, username, password, structure) in [
        ("username", "admin'-- ", "anything", Some("comment")),
        ("username", "' OR 1=1 --", "anything", None),
        ("password", "alice", TAUTOLOGY, Some("tautology")),
        ("password", "admin", "' OR ''='", None),
    ] {
        let answer = shop.post_form("/login", &[("username", username), ("password", password)]);
        let event = assert_blocked(&shop, &answer, "sql_injection", &LOGIN);
        let payload = if field == "username" {
            username
        } else {
            password
        };
        assert_input(&event, "form", field, payload);
        if let Some(structure) = structure {
            assert_eq!(event["structure"], structure, "{event:#}");
        }
        assert_eq!(answer.session(), None, "a blocked login opened a session");
        assert_eq!(shop.traced("/login", payload), Vec::<Value>::new());
    }
}

// ---------------------------------------------------------------------------------------------
// Off mode: the same attacks take effect

const OFF: [(&str, &str); 1] = [("ANTIBODY_MODE", "off")];

#[test]
fn off_category_attacks_take_effect() {
    let mut shop = Shop::start(&OFF);
    let books = shop.get("/products", &[("category", "books")]);
    assert_passes(&books, 200);
    assert!(
        !has_tautology(&shop.ran("/products", "'books'")),
        "the control"
    );

    let all = shop.get("/products", &[("category", TAUTOLOGY)]);
    assert_passes(&all, 200);
    assert!(has_tautology(&shop.ran("/products", TAUTOLOGY)));
    assert_eq!(
        product_ids(&all.body),
        BY_ID,
        "the tautology lists every product"
    );

    let union = "books' UNION SELECT id, username, password, 1 FROM users--";
    let leaked = shop.get("/products", &[("category", union)]);
    assert_passes(&leaked, 200);
    assert!(has_union_with_users(&shop.ran("/products", union)));
    assert!(leaked.body.contains("s3cret-admin"), "{}", leaked.body);

    assert_eq!(shop.review_count("1"), 2);
    let stacked = "x'; DELETE FROM reviews; --";
    assert_passes(&shop.get("/products", &[("category", stacked)]), 200);
    assert!(has_stacked_delete(&shop.ran("/products", stacked)));
    assert_eq!(shop.review_count("1"), 0, "the stacked DELETE did not run");
    // Off means off: nothing is reported.
    assert_no_events_after_stop(&mut shop);
}

#[test]
fn off_product_id_attacks_take_effect() {
    let shop = Shop::start(&OFF);
    assert_passes(&shop.get("/product", &[("id", "3")]), 200);
    assert!(
        !has_tautology(&shop.ran("/product", "id = 3")),
        "the control"
    );

    let all = shop.get("/product", &[("id", "1 OR 1=1")]);
    assert_passes(&all, 200);
    assert!(has_tautology(&shop.ran("/product", "1 OR 1=1")));
    assert_eq!(product_ids(&all.body), BY_ID);

    let union = "0 UNION SELECT id, username, password, 0 FROM users";
    let leaked = shop.get("/product", &[("id", union)]);
    assert_passes(&leaked, 200);
    assert!(has_union_with_users(&shop.ran("/product", union)));
    assert!(leaked.body.contains("s3cret-admin"), "{}", leaked.body);

    let stacked = "1; DELETE FROM reviews";
    assert_passes(&shop.get("/product", &[("id", stacked)]), 200);
    assert!(has_stacked_delete(&shop.ran("/product", stacked)));
    assert_eq!(shop.review_count("1"), 0, "the stacked DELETE did not run");
}

#[test]
fn off_sort_order_attack_takes_effect() {
    let shop = Shop::start(&OFF);
    assert_passes(&shop.get("/products/sorted", &[("order", "name")]), 200);
    assert!(
        !orders_by_subquery(&shop.ran("/products/sorted", "BY name")),
        "the control"
    );

    // The oracle answers "true" (the admin's password starts with `s`): rows come by price.
    let yes = shop.get("/products/sorted", &[("order", ORDER_ORACLE)]);
    assert_passes(&yes, 200);
    assert!(orders_by_subquery(
        &shop.ran("/products/sorted", ORDER_ORACLE)
    ));
    assert_eq!(product_ids(&yes.body), BY_PRICE);

    // And "false" for another letter: rows come by name.
    let other = ORDER_ORACLE.replace("'s%'", "'x%'");
    let no = shop.get("/products/sorted", &[("order", &other)]);
    assert_passes(&no, 200);
    assert!(orders_by_subquery(&shop.ran("/products/sorted", &other)));
    assert_eq!(product_ids(&no.body), BY_NAME);
}

#[test]
fn off_login_attacks_take_effect() {
    let shop = Shop::start(&OFF);
    let wrong = shop.post_form("/login", &[("username", "admin"), ("password", "guess")]);
    assert_passes(&wrong, 401);
    assert!(
        !checks_username_only(&shop.ran("/login", "'guess'")),
        "the control"
    );

    let comment = shop.post_form(
        "/login",
        &[("username", "admin'-- "), ("password", "guess")],
    );
    assert_passes(&comment, 200);
    assert!(checks_username_only(&shop.ran("/login", "'admin'-- '")));
    assert_account(&shop, &comment, "admin");

    let tautology = shop.post_form("/login", &[("username", "nobody"), ("password", TAUTOLOGY)]);
    assert_passes(&tautology, 200);
    assert!(has_tautology(&shop.ran("/login", TAUTOLOGY)));
    // Every user matches; the first is alice.
    assert_account(&shop, &tautology, "alice");
}

/// The login answer set a session cookie that `/account` knows as `user`.
fn assert_account(shop: &Shop, login: &Answer, user: &str) {
    assert_account_page(shop, "/account", login, user);
}

/// The login answer set a session cookie that the account page at `path` knows as `user`.
fn assert_account_page(shop: &Shop, path: &str, login: &Answer, user: &str) {
    let session = login
        .session()
        .unwrap_or_else(|| panic!("no session cookie: {login:?}"));
    let account = shop.get_with(path, &[], &[("Cookie", &session)]);
    assert_passes(&account, 200);
    assert!(
        account
            .body
            .contains(&format!("Logged in as <b>{user}</b>")),
        "{}",
        account.body
    );
}

/// In monitor mode the attack goes ahead and is reported.
#[test]
fn monitor_reports_and_lets_through() {
    let shop = Shop::start(&[("ANTIBODY_MODE", "monitor")]);
    let all = shop.get("/products", &[("category", TAUTOLOGY)]);
    assert_passes(&all, 200);
    assert_eq!(product_ids(&all.body), BY_ID);
    let event = shop.wait_for_event("sql_injection", |event| event["kind"] == "sql_injection");
    assert_eq!(event["action"], "reported", "{event:#}");
    assert_eq!(event["mode"], "monitor", "{event:#}");
    assert_input(&event, "query", "category", TAUTOLOGY);
    assert_call_site(&event, &PRODUCTS);
}

// ---------------------------------------------------------------------------------------------
// Benign input passes

#[test]
fn safe_twins_pass_hostile_looking_input() {
    let mut shop = Shop::start(&[]);
    let products = |category: &str, ids: &[i64]| {
        let page = shop.get("/safe/products", &[("category", category)]);
        assert_passes(&page, 200);
        assert_eq!(product_ids(&page.body), ids, "category {category:?}");
    };
    products("books", &[1, 2, 3, 4]);
    products("garden tools", &[5, 6, 7, 8]);
    for hostile in [
        "O'Brien",
        "' OR '1'='1",
        TAUTOLOGY,
        "x'; DELETE FROM reviews; --",
    ] {
        products(hostile, &[]);
    }

    let product =
        |id: &str, status: u16| assert_passes(&shop.get("/safe/product", &[("id", id)]), status);
    product("1", 200);
    for missing in ["42", "-1", "1.5"] {
        product(missing, 404);
    }
    for hostile in [
        "1 OR 1=1",
        "0 UNION SELECT id, username, password, 0 FROM users",
        "id",
    ] {
        product(hostile, 400);
    }

    let sorted = |order: &str| shop.get("/safe/products/sorted", &[("order", order)]);
    for (order, ids) in [
        ("name", BY_NAME),
        ("name ASC, price DESC", BY_NAME),
        ("price", BY_PRICE),
    ] {
        let page = sorted(order);
        assert_passes(&page, 200);
        assert_eq!(product_ids(&page.body), ids, "order {order:?}");
    }
    for hostile in [ORDER_ORACLE, "name; DELETE FROM reviews", "price LIMIT 1"] {
        assert_passes(&sorted(hostile), 400);
    }

    let login = |username: &str, password: &str| {
        shop.post_form(
            "/safe/login",
            &[("username", username), ("password", password)],
        )
    };
    let alice = login("alice", "wonderland");
    assert_passes(&alice, 200);
    assert_account_page(&shop, "/safe/account", &alice, "alice");
    for (username, password) in [
        ("admin'-- ", "x"),
        ("alice", "' OR '1'='1"),
        ("O'Brien", "x"),
    ] {
        let refused = login(username, password);
        assert_passes(&refused, 401);
        assert_eq!(refused.session(), None);
    }

    safe_reviews_keep_hostile_authors(&shop);
    assert_no_events_after_stop(&mut shop);
}

fn safe_reviews_keep_hostile_authors(shop: &Shop) {
    for author in ["O'Brien", "' OR '1'='1"] {
        let posted = shop.post_form(
            "/safe/reviews",
            &[
                ("product_id", "3"),
                ("author", author),
                ("body", "It's fine."),
            ],
        );
        assert_passes(&posted, 303);
        let id = review_id(&posted);
        let stats = shop.get("/safe/reviews/author-stats", &[("review_id", &id)]);
        assert_passes(&stats, 200);
        let escaped = author.replace('\'', "&#39;");
        assert!(
            stats
                .body
                .contains(&format!("<b>{escaped}</b> wrote 1 review(s)")),
            "{}",
            stats.body
        );
    }
    let listing = shop.get("/safe/reviews", &[("product_id", "3")]);
    assert_passes(&listing, 200);
    assert!(listing.body.contains("O&#39;Brien"), "{}", listing.body);
}

/// The id of the review a `POST /reviews` stored, from its redirect.
fn review_id(posted: &Answer) -> String {
    let found = posted
        .header("location")
        .and_then(|location| location.rsplit_once("#review-"));
    let Some((_, id)) = found else {
        panic!("no review id in {posted:?}");
    };
    id.to_owned()
}

/// Stops the shop (which flushes the events file) and checks nothing was reported.
fn assert_no_events_after_stop(shop: &mut Shop) {
    let status = shop.stop();
    assert!(status.success(), "vulnshop exited with {status}");
    assert_eq!(
        shop.events(),
        Vec::<Value>::new(),
        "benign traffic was reported"
    );
}

/// Benign input on the vulnerable endpoints, where it stays inside a literal.
fn benign_on_vulnerable_endpoints(shop: &Shop) {
    for (category, ids) in [
        ("books", [1, 2, 3, 4]),
        ("garden tools", [5, 6, 7, 8]),
        ("kitchen", [9, 10, 11, 12]),
    ] {
        let page = shop.get("/products", &[("category", category)]);
        assert_passes(&page, 200);
        assert_eq!(product_ids(&page.body), ids, "category {category:?}");
    }

    let first = shop.get("/product", &[("id", "1")]);
    assert_passes(&first, 200);
    assert!(
        first.body.contains("The Pragmatic Gardener"),
        "{}",
        first.body
    );
    for missing in ["42", "-1", "1.5"] {
        assert_passes(&shop.get("/product", &[("id", missing)]), 404);
    }

    for (order, ids) in [
        ("name", BY_NAME),
        ("price DESC", reversed(BY_PRICE)),
        ("name ASC, price DESC", BY_NAME),
        ("price", BY_PRICE),
        ("id", BY_ID),
        ("", BY_ID),
    ] {
        let page = shop.get("/products/sorted", &[("order", order)]);
        assert_passes(&page, 200);
        assert_eq!(product_ids(&page.body), ids, "order {order:?}");
    }

    let alice = shop.post_form(
        "/login",
        &[("username", "alice"), ("password", "wonderland")],
    );
    assert_passes(&alice, 200);
    assert_account(shop, &alice, "alice");
    let wrong = shop.post_form("/login", &[("username", "bob"), ("password", "wrong")]);
    assert_passes(&wrong, 401);
    assert_eq!(wrong.session(), None);
    assert_passes(&shop.get("/account", &[]), 401);

    let reviews = shop.get("/reviews", &[("product_id", "1")]);
    assert_passes(&reviews, 200);
    assert!(
        reviews.body.contains("Practical and kind"),
        "{}",
        reviews.body
    );
    for (review, author, count) in [("1", "alice", 2), ("2", "bob", 2), ("5", "admin", 1)] {
        let stats = shop.get("/reviews/author-stats", &[("review_id", review)]);
        assert_passes(&stats, 200);
        let expected = format!("<b>{author}</b> wrote {count} review(s)");
        assert!(stats.body.contains(&expected), "{}", stats.body);
    }
}

fn reversed(mut ids: [i64; 12]) -> [i64; 12] {
    ids.reverse();
    ids
}

#[test]
fn benign_input_passes_vulnerable_endpoints() {
    let mut shop = Shop::start(&[]);
    benign_on_vulnerable_endpoints(&shop);
    assert_no_events_after_stop(&mut shop);
}

/// After learning, in strict mode, the same benign traffic still passes: each variation has
/// the structure the first call taught.
#[test]
fn benign_input_passes_vulnerable_endpoints_after_learning_in_strict_mode() {
    let mut shop = Shop::start(&[
        ("ANTIBODY_LEARNING_CALLS", "1"),
        ("ANTIBODY_STRICT", "true"),
    ]);
    benign_on_vulnerable_endpoints(&shop);
    benign_on_vulnerable_endpoints(&shop);
    assert_no_events_after_stop(&mut shop);
}

// ---------------------------------------------------------------------------------------------
// Second-order injection

/// Stores a review whose author is a tautology (bound, so storing it is harmless) and calls
/// the author statistics for benign reviews more often than the learning period; returns the
/// stored review's id.
fn plant_and_learn(shop: &Shop) -> String {
    let posted = shop.post_form(
        "/reviews",
        &[
            ("product_id", "2"),
            ("author", TAUTOLOGY),
            ("body", "Nice."),
        ],
    );
    assert_passes(&posted, 303);
    for review in ["1", "2", "3", "4", "5", "1"] {
        assert_passes(
            &shop.get("/reviews/author-stats", &[("review_id", review)]),
            200,
        );
    }
    review_id(&posted)
}

const LEARN_THREE: (&str, &str) = ("ANTIBODY_LEARNING_CALLS", "3");

#[test]
fn second_order_is_reported_in_protect_mode() {
    let shop = Shop::start(&[LEARN_THREE]);
    let planted = plant_and_learn(&shop);
    let stats = shop.get("/reviews/author-stats", &[("review_id", &planted)]);
    assert_passes(&stats, 200);
    let event = shop.wait_for_event("sql_anomaly", |event| event["kind"] == "sql_anomaly");
    assert_eq!(event["action"], "reported", "{event:#}");
    assert_eq!(
        event["input"],
        Value::Null,
        "no request input explains it: {event:#}"
    );
    let statement = event["sink"]["statement"].as_str().unwrap_or_default();
    assert!(statement.contains(TAUTOLOGY), "{event:#}");
    assert_call_site(&event, &AUTHOR_STATS);
}

#[test]
fn second_order_is_blocked_in_strict_mode() {
    let shop = Shop::start(&[LEARN_THREE, ("ANTIBODY_STRICT", "true")]);
    let planted = plant_and_learn(&shop);
    let stats = shop.get("/reviews/author-stats", &[("review_id", &planted)]);
    let event = assert_blocked(&shop, &stats, "sql_anomaly", &AUTHOR_STATS);
    assert_eq!(event["input"], Value::Null, "{event:#}");
    assert_eq!(
        shop.traced("/reviews/author-stats", TAUTOLOGY),
        Vec::<Value>::new()
    );
    // Learned structures still pass after the block.
    assert_passes(
        &shop.get("/reviews/author-stats", &[("review_id", "2")]),
        200,
    );
}

#[test]
fn second_order_reaches_the_database_in_off_mode() {
    let shop = Shop::start(&[("ANTIBODY_MODE", "off"), LEARN_THREE]);
    let planted = plant_and_learn(&shop);
    assert!(
        !has_tautology(&shop.ran("/reviews/author-stats", "'admin'")),
        "the control"
    );
    let stats = shop.get("/reviews/author-stats", &[("review_id", &planted)]);
    assert_passes(&stats, 200);
    assert!(has_tautology(&shop.ran("/reviews/author-stats", TAUTOLOGY)));
    // The tautology counts every review, the planted one included.
    let expected = format!("wrote {} review(s)", SEEDED_REVIEWS + 1);
    assert!(stats.body.contains(&expected), "{}", stats.body);
}

// ---------------------------------------------------------------------------------------------
// The command-line interface

#[test]
fn prints_its_address_and_answers_healthz() {
    let shop = Shop::start(&[]);
    assert!(
        shop.first_line.starts_with("listening on 127.0.0.1:"),
        "{:?}",
        shop.first_line
    );
    assert_ne!(shop.addr.port(), 0, "the real port, not 0");
    let health = shop.get("/healthz", &[]);
    assert_passes(&health, 200);
}

#[test]
fn data_dir_holds_the_database_docs_and_state_after_sigterm() {
    let mut shop = Shop::start(&[]);
    let data = shop.path("data");
    assert!(data.join("shop.db").is_file());
    let welcome = fs::read_to_string(data.join("docs/welcome.txt")).expect("docs/welcome.txt");
    assert!(welcome.starts_with("Welcome to vulnshop"), "{welcome:?}");
    assert_passes(&shop.get("/products", &[("category", "garden tools")]), 200);
    assert_passes(&shop.get("/products/sorted", &[("order", "price")]), 200);

    let status = shop.stop();
    assert!(status.success(), "vulnshop exited with {status} on SIGTERM");
    let model = fs::read_to_string(data.join("state/sql-model.json")).expect("the model file");
    let model: Value = serde_json::from_str(&model).expect("the model is JSON");
    assert!(model.is_object(), "{model:#}");
    assert!(
        !model.to_string().contains("garden tools"),
        "the model holds a value: {model:#}"
    );
}

/// Runs vulnshop to its exit; returns the status and standard error.
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let stderr = fs::File::create(dir.path().join("stderr.log")).expect("a log file");
    let mut child = vulnshop(dir.path(), env, &[])
        .args(args)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("vulnshop starts");
    let status = wait_for_exit(&mut child);
    (status, read_or_empty(&dir.path().join("stderr.log")))
}

#[test]
fn a_bad_mode_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let data = dir.path().join("data");
    let data = data.to_str().expect("a UTF-8 path");
    let args = ["--addr", "127.0.0.1:0", "--data-dir", data];
    let (status, stderr) = run_to_exit(&args, &[("ANTIBODY_MODE", "fast")]);
    assert!(!status.success(), "exited with {status}");
    assert!(stderr.contains("ANTIBODY_MODE"), "{stderr}");
}

#[test]
fn bad_arguments_exit_2_with_usage() {
    for args in [
        &["--bogus"][..],
        &["--addr"],
        &["--addr", "not-an-address"],
        &["--addr", "127.0.0.1:0", "--data-dir"],
    ] {
        let (status, stderr) = run_to_exit(args, &[]);
        assert_eq!(status.code(), Some(2), "{args:?}: {status}; {stderr}");
        assert!(stderr.contains("usage: vulnshop"), "{args:?}: {stderr}");
    }
}

// ---------------------------------------------------------------------------------------------
// The public corpora, judged by their effect with the agent off

/// The lines of every file in the corpora's `folder` (`traversal`, `redirect`), distinct and
/// in order; `None`, with the reason printed, when the corpora are absent outside CI.
fn corpus(folder: &str) -> Option<Vec<String>> {
    let root = std::env::var_os("ANTIBODY_CORPORA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"),
        PathBuf::from,
    );
    let dir = root.join(folder);
    if !dir.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the corpora are missing at {}; set ANTIBODY_CORPORA",
            root.display()
        );
        eprintln!(
            "skipping: no corpora at {} (set ANTIBODY_CORPORA)",
            root.display()
        );
        return None;
    }
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("the corpus folder")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    files.sort();
    let mut seen = std::collections::HashSet::new();
    let mut lines = Vec::new();
    for file in files {
        let text = String::from_utf8_lossy(&fs::read(&file).expect("a corpus file")).into_owned();
        for line in text.lines() {
            if !line.is_empty() && seen.insert(line.to_owned()) {
                lines.push(line.to_owned());
            }
        }
    }
    Some(lines)
}

/// Every `effective` payload, sent as `param` to `endpoint` of a shop in protect mode, is
/// answered 403; a table line says how many of `sent` there were.
fn assert_all_blocked(kind: &str, sent: usize, effective: &[&String], endpoint: &str, param: &str) {
    assert!(
        !effective.is_empty(),
        "no {kind} payload had an effect: the harness is broken"
    );
    let protect = Shop::start(&[]);
    let missed: Vec<&&String> = effective
        .iter()
        .filter(|payload| protect.get(endpoint, &[(param, payload)]).status != 403)
        .collect();
    eprintln!(
        "{kind}: {sent} payloads sent, {} effective, {} missed",
        effective.len(),
        missed.len()
    );
    assert_eq!(missed, Vec::<&&String>::new());
}

#[test]
fn every_traversal_payload_that_reads_outside_docs_is_blocked() {
    let Some(payloads) = corpus("traversal") else {
        return;
    };
    // Device and process files can block or never end when read: they are left out.
    let payloads: Vec<&String> = payloads
        .iter()
        .filter(|payload| {
            !["dev/", "proc/", "sys/"]
                .iter()
                .any(|part| payload.contains(part))
        })
        .collect();
    let off = Shop::start(&[("ANTIBODY_MODE", "off")]);
    let docs = off
        .path("data/docs")
        .canonicalize()
        .expect("the docs folder");
    for payload in &payloads {
        off.get("/docs", &[("file", payload)]);
    }
    // Requests go one at a time, and each opens one path: the trace follows them in order.
    let opened: Vec<Value> = off
        .json_lines("trace.jsonl")
        .into_iter()
        .filter(|line| line["sink"] == "file" && line["endpoint"] == "/docs")
        .collect();
    assert_eq!(opened.len(), payloads.len(), "one traced read per payload");
    let effective: Vec<&String> = payloads
        .iter()
        .zip(&opened)
        .filter(|(_, line)| {
            line["ok"] == true
                && line["path"].as_str().is_some_and(|path| {
                    Path::new(path)
                        .canonicalize()
                        .is_ok_and(|path| !path.starts_with(&docs))
                })
        })
        .map(|(payload, _)| *payload)
        .collect();
    assert_all_blocked("traversal", payloads.len(), &effective, "/docs", "file");
}

#[test]
fn every_redirect_payload_that_leaves_the_site_is_blocked() {
    let Some(payloads) = corpus("redirect") else {
        return;
    };
    let off = Shop::start(&[("ANTIBODY_MODE", "off")]);
    let base = url::Url::parse(&format!("http://{}/go", off.addr)).expect("the shop's URL");
    // A browser's reading (the WHATWG URL standard), independent of the agent's.
    let leaves = |location: &str| {
        base.join(location).is_ok_and(|target| {
            target.host_str() != base.host_str() || !matches!(target.scheme(), "http" | "https")
        })
    };
    let mut effective: Vec<&String> = Vec::new();
    for payload in &payloads {
        let answer = off.get("/go", &[("next", payload)]);
        if answer.status == 302 && answer.header("location").is_some_and(leaves) {
            effective.push(payload);
        }
    }
    assert_all_blocked("redirect", payloads.len(), &effective, "/go", "next");
}

/// The programs started since `from` bytes of strace's log, by file name, that succeeded.
fn programs_started(log: &Path, from: usize) -> (Vec<String>, usize) {
    let text = fs::read(log).unwrap_or_default();
    let new = String::from_utf8_lossy(&text[from.min(text.len())..]).into_owned();
    let programs = new
        .lines()
        .filter(|line| line.contains("execve(\"") && line.trim_end().ends_with("= 0"))
        .filter_map(|line| {
            let path = line.split("execve(\"").nth(1)?.split('"').next()?;
            Some(path.rsplit('/').next().unwrap_or(path).to_owned())
        })
        .collect();
    (programs, text.len())
}

#[test]
fn every_command_injection_payload_that_starts_a_program_is_blocked() {
    let Some(payloads) = corpus("cmdi") else {
        return;
    };
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "strace is missing: scripts/install-tools installs it"
        );
        eprintln!("skipping: strace is not installed");
        return;
    }
    // Payloads that wait or reach the network would make the sweep slow or leave processes
    // behind; their syntax is the others'.
    let slow = [
        "sleep", "ping", "timeout", "nc ", "netcat", "telnet", "wget", "curl", "/dev/tcp",
    ];
    let payloads: Vec<&String> = payloads
        .iter()
        .filter(|payload| !slow.iter().any(|word| payload.contains(word)))
        .collect();
    // With the agent off, strace sees every program the shop starts: the shell and
    // `getent` are the lookup's own; anything else is the payload's effect.
    let off = Shop::start_under(&[("ANTIBODY_MODE", "off")], |dir| {
        let log = dir.join("exec.log").to_string_lossy().into_owned();
        ["strace", "-f", "-qq", "-e", "trace=execve", "-o", &log]
            .map(str::to_owned)
            .to_vec()
    });
    let log = off.path("exec.log");
    let (_, mut read) = programs_started(&log, 0);
    let mut effective: Vec<&String> = Vec::new();
    for payload in &payloads {
        off.get("/tools/lookup", &[("host", payload)]);
        // A program the payload started in the background may still be starting.
        thread::sleep(Duration::from_millis(20));
        let (programs, end) = programs_started(&log, read);
        read = end;
        if programs
            .iter()
            .any(|program| !matches!(program.as_str(), "sh" | "dash" | "getent"))
        {
            effective.push(payload);
        }
    }
    assert_all_blocked("cmdi", payloads.len(), &effective, "/tools/lookup", "host");
}
