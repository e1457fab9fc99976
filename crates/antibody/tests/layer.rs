//! The request-context layer, specified through a small axum shop that pastes request input
//! into SQL the way a vulnerable application does.
//!
//! Each test drives the shop in process (`tower::ServiceExt::oneshot`) or over real HTTP on a
//! loopback port (streamed answers, chunked uploads, client addresses), and reads the verdict
//! from the answer, the agent's counters and its events file. The attack is a tautology,
//! `' OR '1'='1`; its benign twin is `garden tools`.
#![cfg(feature = "axum")]

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::Location;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use antibody::{Agent, Blocked, Builder, Dialect, EVENT_HEADER, Mode, WithContextExt};
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, Request};
use axum::routing::{get, post};
use bytes::Bytes;
use http_body::{Body as _, Frame};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

const ATTACK: &str = "' OR '1'='1";
const BENIGN: &str = "garden tools";

/// How long a test waits for an answer before it calls the server stuck.
const PATIENCE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// The agent and its events

/// An agent that writes its events to a file of its own.
struct Harness {
    agent: Agent,
    events: PathBuf,
    _dir: tempfile::TempDir,
}

impl Harness {
    fn new(mode: Mode) -> Self {
        Harness::with(mode, |builder| builder)
    }

    fn with(mode: Mode, configure: impl FnOnce(Builder) -> Builder) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let events = dir.path().join("events.jsonl");
        let builder = Agent::builder().mode(mode).events_file(&events);
        // An empty environment: the process's ANTIBODY_* variables must not steer a test.
        let agent = configure(builder)
            .build_with_env(|_| None)
            .expect("a valid configuration");
        Harness {
            agent,
            events,
            _dir: dir,
        }
    }

    /// Every event written so far, in order.
    fn events(&self) -> Vec<Value> {
        assert!(self.agent.flush(), "events were not delivered in time");
        std::fs::read_to_string(&self.events)
            .expect("the events file")
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON event per line"))
            .collect()
    }

    fn events_of(&self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|event| event["kind"] == kind)
            .collect()
    }

    /// The only event so far, which must be an SQL injection.
    fn the_injection(&self) -> Value {
        let events = self.events();
        assert_eq!(events.len(), 1, "expected one event, got {events:#?}");
        let event = events.into_iter().next().expect("one event");
        assert_eq!(event["kind"], "sql_injection", "{event:#}");
        event
    }
}

/// Asserts that `event` blames input `name` from `source` carrying `value`.
fn assert_input(event: &Value, source: &str, name: &str, value: &str) {
    assert_eq!(event["input"]["source"], source, "{event:#}");
    assert_eq!(event["input"]["name"], name, "{event:#}");
    assert_eq!(event["input"]["value"], value, "{event:#}");
}

// ---------------------------------------------------------------------------------------
// The vulnerable shop

/// The shop's product search: the term is pasted into the statement, and the statement is
/// handed to the SQL sink as an integration would before running it.
#[track_caller]
fn search(agent: &Agent, term: &str) -> Result<(), Blocked> {
    let sql = format!("SELECT id, name FROM products WHERE name = '{term}'");
    agent.check_sql(
        Dialect::Sqlite,
        &sql,
        &Agent::caller_site(Location::caller()),
    )
}

/// What the sink said, as the shop shows it.
fn outcome(result: Result<(), Blocked>) -> &'static str {
    if result.is_ok() { "ran" } else { "refused" }
}

type Params = Query<HashMap<String, String>>;

fn term(params: &HashMap<String, String>) -> String {
    params.get("q").cloned().unwrap_or_default()
}

// Every handler swallows the sink's error and answers 200: a 403 can only come from the layer.

async fn in_handler(State(agent): State<Agent>, Query(params): Params) -> String {
    format!("results: {}", outcome(search(&agent, &term(&params))))
}

async fn in_spawned_task(State(agent): State<Agent>, Query(params): Params) -> String {
    let term = term(&params);
    let result = antibody::spawn(async move { search(&agent, &term) })
        .await
        .expect("the task finished");
    format!("results: {}", outcome(result))
}

async fn in_blocking_task(State(agent): State<Agent>, Query(params): Params) -> String {
    let term = term(&params);
    let result = antibody::spawn_blocking(move || search(&agent, &term))
        .await
        .expect("the task finished");
    format!("results: {}", outcome(result))
}

async fn in_carried_future(State(agent): State<Agent>, Query(params): Params) -> String {
    let term = term(&params);
    let result = tokio::spawn(async move { search(&agent, &term) }.with_current_context())
        .await
        .expect("the task finished");
    format!("results: {}", outcome(result))
}

/// A bare `tokio::spawn`: the context stays behind; the query runs twice from one line.
async fn in_detached_task(State(agent): State<Agent>, Query(params): Params) -> String {
    let term = term(&params);
    let results = tokio::spawn(async move {
        let mut results = Vec::new();
        for _ in 0..2 {
            results.push(outcome(search(&agent, &term)));
        }
        results
    })
    .await
    .expect("the task finished");
    format!("results: {}", results.join(", "))
}

async fn in_streamed_answer(State(agent): State<Agent>, Query(params): Params) -> Body {
    Body::new(SearchPages {
        agent,
        term: term(&params),
        left: 3,
        pause: Box::pin(tokio::time::sleep(PAGE_PAUSE)),
    })
}

async fn by_path(State(agent): State<Agent>, UrlPath(id): UrlPath<String>) -> String {
    let sql = format!("SELECT name FROM products WHERE id = {id}");
    let result = agent.check_sql(
        Dialect::Sqlite,
        &sql,
        &Agent::caller_site(Location::caller()),
    );
    format!("item: {}", outcome(result))
}

/// Searches for the body's field `q` (a form) or the leaf at `?pointer=` (JSON), and answers
/// with the body exactly as it arrived.
async fn echo_search(
    State(agent): State<Agent>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Bytes {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let term = if content_type.starts_with("application/x-www-form-urlencoded") {
        form_urlencoded::parse(&body)
            .find(|(name, _)| name == "q")
            .map(|(_, value)| value.into_owned())
    } else if content_type.starts_with("application/json") {
        let pointer = params.get("pointer").cloned().unwrap_or_default();
        serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|document| document.pointer(&pointer)?.as_str().map(str::to_owned))
    } else {
        None
    };
    if let Some(term) = term {
        let _ = search(&agent, &term);
    }
    body
}

/// The search form or JSON document an application deserialises into its own type: fields
/// it does not know are skipped unread.
#[derive(serde::Deserialize)]
struct SearchFields {
    q: String,
}

/// Searches for the JSON body's `q`, deserialised as an application does.
async fn typed_json_search(
    State(agent): State<Agent>,
    axum::Json(fields): axum::Json<SearchFields>,
) -> String {
    format!("search: {}", outcome(search(&agent, &fields.q)))
}

/// Searches for the form body's `q`, deserialised as an application does.
async fn typed_form_search(
    State(agent): State<Agent>,
    axum::Form(fields): axum::Form<SearchFields>,
) -> String {
    format!("search: {}", outcome(search(&agent, &fields.q)))
}

/// Answers with the body's size hint as the handler sees it, and how much it then read.
async fn size_hint(request: Request<Body>) -> String {
    let hint = request.body().size_hint();
    let (lower, upper) = (hint.lower(), hint.upper());
    let read = request
        .into_body()
        .collect()
        .await
        .expect("the body")
        .to_bytes()
        .len();
    format!("lower {lower}, upper {upper:?}, read {read}")
}

/// Answers as soon as the first piece of the body is in, without waiting for the rest.
async fn first_piece(request: Request<Body>) -> String {
    let mut body = request.into_body();
    let frame = body
        .frame()
        .await
        .expect("a first frame")
        .expect("no error");
    let data = frame.into_data().unwrap_or_default();
    format!("first piece: {}", String::from_utf8_lossy(&data))
}

/// Searches for a term the application digs out of the request by hand, from where
/// `?from=` says: each place must be one the agent reads inputs from.
async fn dug_out_search(
    State(agent): State<Agent>,
    Query(params): Params,
    headers: HeaderMap,
    body: Bytes,
) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .unwrap_or_default()
    };
    let term = match params.get("from").map(String::as_str) {
        Some("bearer") => header("authorization")
            .trim_start_matches("Bearer ")
            .to_owned(),
        Some("basic") => {
            use base64::Engine as _;
            let encoded = header("authorization");
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim_start_matches("Basic "))
                .expect("Base64 credentials");
            let decoded = String::from_utf8(decoded).expect("UTF-8 credentials");
            decoded.split_once(':').expect("user:password").1.to_owned()
        }
        Some("cookie") => {
            let cookies = header("cookie");
            let value = cookies
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(name, _)| *name == "q")
                .map(|(_, value)| value)
                .unwrap_or_default();
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        }
        Some("header") => header("x-q"),
        // The client as the first hop a proxy chain names.
        Some("first-hop") => header("x-forwarded-for")
            .split(',')
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        // A filter named by the parameter itself (`?price=1` filters on `price`).
        Some("parameter-name") => params
            .keys()
            .find(|name| *name != "from")
            .cloned()
            .unwrap_or_default(),
        // Whatever the content type says: the document's `q`, or the text whole.
        Some("body") => match serde_json::from_slice::<Value>(&body) {
            Ok(document) => document["q"].as_str().unwrap_or_default().to_owned(),
            Err(_) => String::from_utf8_lossy(&body).into_owned(),
        },
        // The shop's own content coding, which no layer can read: the bytes reversed.
        Some("reversed") => {
            assert_eq!(header("content-encoding"), "x-reversed");
            String::from_utf8(body.iter().rev().copied().collect()).expect("UTF-8")
        }
        _ => String::new(),
    };
    format!("search: {}", outcome(search(&agent, &term)))
}

/// Searches for what follows `/by-hand/` in the path, decoded by the handler itself.
async fn by_hand_path_search(State(agent): State<Agent>, uri: axum::http::Uri) -> String {
    let rest = uri.path().trim_start_matches("/by-hand/");
    let term = percent_encoding::percent_decode_str(rest).decode_utf8_lossy();
    format!("search: {}", outcome(search(&agent, &term)))
}

/// Searches for the multipart field `q`, read as axum streams it.
async fn upload_search(
    State(agent): State<Agent>,
    mut multipart: axum::extract::Multipart,
) -> String {
    let mut term = String::new();
    while let Some(field) = multipart.next_field().await.expect("a well-formed upload") {
        if field.name() == Some("q") {
            term = field.text().await.expect("a text field");
        }
    }
    format!("search: {}", outcome(search(&agent, &term)))
}

fn shop(agent: &Agent) -> Router {
    Router::new()
        .route("/handler", get(in_handler))
        .route("/spawned", get(in_spawned_task))
        .route("/blocking", get(in_blocking_task))
        .route("/carried", get(in_carried_future))
        .route("/detached", get(in_detached_task))
        .route("/stream", get(in_streamed_answer))
        .route("/items/{id}", get(by_path))
        .route("/echo", post(echo_search))
        .route("/typed/json", post(typed_json_search))
        .route("/typed/form", post(typed_form_search))
        .route("/size", post(size_hint))
        .route("/first", post(first_piece))
        .route("/dug-out", post(dug_out_search))
        .route("/upload", post(upload_search))
        .fallback(by_hand_path_search)
        .with_state(agent.clone())
        .layer(agent.layer())
}

const PAGE_PAUSE: Duration = Duration::from_millis(5);

/// An answer streamed in pages; each page runs its query when hyper asks for it, after a
/// pause, so long after the handler returned.
struct SearchPages {
    agent: Agent,
    term: String,
    left: usize,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for SearchPages {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        if this.left == 0 {
            return Poll::Ready(None);
        }
        if this.pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.pause
            .as_mut()
            .reset(tokio::time::Instant::now() + PAGE_PAUSE);
        this.left -= 1;
        let page = format!("page: {}\n", outcome(search(&this.agent, &this.term)));
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(page)))))
    }
}

// ---------------------------------------------------------------------------------------
// Talking to the shop

/// An answer, from either transport.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `?q=<term>`, encoded.
fn query(term: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("q", term)
        .finish()
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

/// Sends `request` through the shop in process.
async fn oneshot(app: &Router, request: Request<Body>) -> Reply {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("a router never fails");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the whole answer")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn get_request(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).expect("a valid request")
}

fn post_request(uri: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri)
        .header(CONTENT_TYPE, content_type)
        .body(body.into())
        .expect("a valid request")
}

/// Serves `app` on a loopback port, with the peer address known to the layer.
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .expect("the server runs");
    });
    address
}

/// One HTTP/1.1 exchange over a fresh connection, written by hand so the tests control
/// exactly when each piece of a request is sent.
struct Client {
    stream: TcpStream,
    received: Vec<u8>,
}

impl Client {
    async fn connect(address: SocketAddr) -> Self {
        Client {
            stream: TcpStream::connect(address).await.expect("the server"),
            received: Vec::new(),
        }
    }

    /// Sends the request line and headers (`Host` and `Connection: close` added).
    async fn head(&mut self, method: &str, target: &str, headers: &[(&str, &str)]) {
        let mut head = format!("{method} {target} HTTP/1.1\r\nhost: shop\r\nconnection: close\r\n");
        for (name, value) in headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        self.send(head.as_bytes()).await;
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("sent");
        self.stream.flush().await.expect("flushed");
    }

    /// Sends one piece of a chunked body.
    async fn chunk(&mut self, bytes: &[u8]) {
        let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
        framed.extend_from_slice(bytes);
        framed.extend_from_slice(b"\r\n");
        self.send(&framed).await;
    }

    async fn last_chunk(&mut self) {
        self.send(b"0\r\n\r\n").await;
    }

    /// Reads more bytes; false at the end of the connection.
    async fn fill(&mut self) -> bool {
        self.received.reserve(16 * 1024);
        let read = self
            .stream
            .read_buf(&mut self.received)
            .await
            .expect("read");
        read > 0
    }

    /// Reads until `needle`, returning what came before it and consuming both.
    async fn read_through(&mut self, needle: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = find(&self.received, needle) {
                let before = self.received[..at].to_vec();
                self.received.drain(..at + needle.len());
                return before;
            }
            assert!(self.fill().await, "the connection closed early");
        }
    }

    async fn read_exactly(&mut self, length: usize) -> Vec<u8> {
        while self.received.len() < length {
            assert!(self.fill().await, "the connection closed early");
        }
        self.received.drain(..length).collect()
    }

    /// The answer, bounded by [`PATIENCE`].
    async fn reply(&mut self) -> Reply {
        tokio::time::timeout(PATIENCE, self.read_reply())
            .await
            .expect("no answer in time: the server is stuck")
    }

    async fn read_reply(&mut self) -> Reply {
        let head = String::from_utf8(self.read_through(b"\r\n\r\n").await).expect("a text head");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect();
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if reply.header("transfer-encoding") == Some("chunked") {
            loop {
                let size_line = self.read_through(b"\r\n").await;
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&size_line)
                        .split(';')
                        .next()
                        .unwrap_or_default(),
                    16,
                )
                .expect("a chunk size");
                if size == 0 {
                    self.read_through(b"\r\n").await;
                    break;
                }
                let data = self.read_exactly(size + 2).await;
                reply.body.extend_from_slice(&data[..size]);
            }
        } else if let Some(length) = reply.header("content-length") {
            let length = length.parse().expect("a length");
            reply.body = self.read_exactly(length).await;
        } else {
            while self.fill().await {}
            reply.body = std::mem::take(&mut self.received);
        }
        reply
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

async fn http_get(address: SocketAddr, target: &str, headers: &[(&str, &str)]) -> Reply {
    let mut client = Client::connect(address).await;
    client.head("GET", target, headers).await;
    client.reply().await
}

// ---------------------------------------------------------------------------------------
// 1. The context reaches every place a handler's work runs

/// The benign twin runs and reports nothing; the attack is detected with its input named,
/// and answered 403 although the handler swallowed the error.
async fn assert_attack_attributed(path: &str) {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);

    let benign = oneshot(&app, get_request(&format!("{path}?{}", query(BENIGN)), &[])).await;
    assert_eq!(
        (benign.status, benign.text().as_str()),
        (200, "results: ran")
    );
    assert!(harness.events().is_empty(), "{:#?}", harness.events());

    let attack = oneshot(&app, get_request(&format!("{path}?{}", query(ATTACK)), &[])).await;
    assert_eq!(attack.status, 403, "{path}: {}", attack.text());
    let event = harness.the_injection();
    assert_input(&event, "query", "q", ATTACK);
    assert_eq!(event["action"], "blocked");
    assert_eq!(event["request"]["path"], path);
    assert_eq!(event["request"]["route"], path);
    assert_eq!(attack.header(EVENT_HEADER), event["id"].as_str());
    assert_eq!(harness.agent.stats().unattributed, 0);
}

#[tokio::test]
async fn context_reaches_a_query_in_the_handler() {
    assert_attack_attributed("/handler").await;
}

#[tokio::test]
async fn context_reaches_a_task_started_with_antibody_spawn() {
    assert_attack_attributed("/spawned").await;
}

#[tokio::test]
async fn context_reaches_a_closure_run_with_antibody_spawn_blocking() {
    assert_attack_attributed("/blocking").await;
}

#[tokio::test]
async fn context_reaches_a_future_carried_with_with_current_context() {
    assert_attack_attributed("/carried").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_reaches_a_task_on_another_worker_thread() {
    assert_attack_attributed("/spawned").await;
    assert_attack_attributed("/carried").await;
}

#[tokio::test]
async fn context_reaches_queries_run_while_hyper_streams_the_answer() {
    let harness = Harness::new(Mode::Protect);
    let address = serve(shop(&harness.agent)).await;

    let benign = http_get(address, &format!("/stream?{}", query(BENIGN)), &[]).await;
    assert_eq!(benign.text(), "page: ran\n".repeat(3));
    assert!(harness.events().is_empty(), "{:#?}", harness.events());

    // The head is long gone when the pages are queried, so the answer cannot become a 403;
    // what protect mode still owes is that every page's statement is refused and reported.
    let attack = http_get(address, &format!("/stream?{}", query(ATTACK)), &[]).await;
    assert_eq!(attack.text(), "page: refused\n".repeat(3));
    let events = harness.events();
    assert_eq!(events.len(), 3, "{events:#?}");
    for event in &events {
        assert_eq!(event["kind"], "sql_injection");
        assert_eq!(event["action"], "blocked");
        assert_input(event, "query", "q", ATTACK);
        assert_eq!(event["request"]["path"], "/stream");
    }
    assert_eq!(harness.agent.stats().unattributed, 0);
}

#[tokio::test]
async fn path_parameters_are_inputs_named_by_the_route() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);

    let benign = oneshot(&app, get_request("/items/42", &[])).await;
    assert_eq!((benign.status, benign.text().as_str()), (200, "item: ran"));

    let attack = oneshot(&app, get_request("/items/1%20OR%201=1", &[])).await;
    assert_eq!(attack.status, 403);
    let event = harness.the_injection();
    assert_input(&event, "path", "id", "1 OR 1=1");
    assert_eq!(event["request"]["route"], "/items/{id}");
    assert_eq!(event["request"]["path"], "/items/1%20OR%201=1");
}

#[tokio::test]
async fn a_json_body_the_agents_parser_refuses_is_still_read_for_inputs() {
    // serde_json skips a field the application does not know without checking its text, so
    // a lone surrogate, a raw byte that is not UTF-8, or a number out of range there does not
    // stop the application; the agent reads such a document leniently.
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    let reply = oneshot(
        &app,
        post_request(
            "/typed/json",
            "application/json",
            r#"{"q": "garden tools", "z": "\ud800"}"#,
        ),
    )
    .await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "search: ran"));

    for padding in [&br#""\ud800""#[..], &b"\"\xff\""[..], &b"1e400"[..]] {
        let mut body = br#"{"q": "' OR '1'='1", "z": "#.to_vec();
        body.extend_from_slice(padding);
        body.extend_from_slice(b"}");
        let reply = oneshot(&app, post_request("/typed/json", "application/json", body)).await;
        assert_eq!(reply.status, 403, "{}", String::from_utf8_lossy(padding));
    }
    let events = harness.events_of("sql_injection");
    assert_eq!(events.len(), 3);
    assert_input(&events[0], "json", "(json text)", ATTACK);
}

#[tokio::test]
async fn a_form_is_read_whatever_follows_its_content_type_s_name() {
    // axum takes a form from any content type that begins with the form's name.
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    for content_type in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencodedX",
        "application/x-www-form-urlencoded,text/plain",
    ] {
        let benign = oneshot(
            &app,
            post_request("/typed/form", content_type, form(&[("q", BENIGN)])),
        )
        .await;
        assert_eq!(
            (benign.status, benign.text().as_str()),
            (200, "search: ran")
        );
        let attack = oneshot(
            &app,
            post_request("/typed/form", content_type, form(&[("q", ATTACK)])),
        )
        .await;
        assert_eq!(attack.status, 403, "{content_type}");
    }
}

#[tokio::test]
async fn inputs_padded_past_the_limit_cannot_hide_a_new_structure() {
    let harness = Harness::with(Mode::Protect, |builder| builder.learning_calls(Some(1)));
    let app = shop(&harness.agent);
    let search = |fields: String| {
        oneshot(
            &app,
            post_request("/typed/form", "application/x-www-form-urlencoded", fields),
        )
    };
    assert_eq!(search(form(&[("q", BENIGN)])).await.status, 200);

    // So many fields come first that `q` is past the limit.
    let padding = "a=1&".repeat(antibody::MAX_INPUTS + 1);
    let known = search(format!("{padding}{}", form(&[("q", "tea")]))).await;
    assert_eq!(
        (known.status, known.text().as_str()),
        (200, "search: ran"),
        "a structure the line runs passes"
    );
    let attack = search(format!("{padding}{}", form(&[("q", ATTACK)]))).await;
    assert_eq!(attack.status, 403, "a new structure is taken for an attack");
    let event = harness.the_injection();
    assert!(
        event["structure"]
            .as_str()
            .is_some_and(|structure| structure.contains("more than 65536 inputs")),
        "{event:#}"
    );
}

// ---------------------------------------------------------------------------------------
// 2. Queries without a context

#[tokio::test]
async fn a_query_in_a_bare_tokio_task_is_unattributed_and_reported_once_per_site() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);

    // Without the request's inputs the attack cannot be told from data: the statement is
    // judged, allowed, and the lost context reported instead.
    let first = oneshot(
        &app,
        get_request(&format!("/detached?{}", query(ATTACK)), &[]),
    )
    .await;
    assert_eq!(
        (first.status, first.text().as_str()),
        (200, "results: ran, ran")
    );
    let stats = harness.agent.stats();
    assert_eq!((stats.checks, stats.unattributed, stats.blocked), (2, 2, 0));
    let reported = harness.events_of("unattributed_sink");
    assert_eq!(reported.len(), 1, "{:#?}", harness.events());
    let detached_site = reported[0]["call_site"].clone();
    assert!(
        detached_site["file"]
            .as_str()
            .is_some_and(|file| file.ends_with("layer.rs")),
        "{detached_site:#}"
    );
    assert_eq!(reported[0]["request"], Value::Null);

    let second = oneshot(
        &app,
        get_request(&format!("/detached?{}", query(ATTACK)), &[]),
    )
    .await;
    assert_eq!(second.status, 200);
    assert_eq!(harness.agent.stats().unattributed, 4);
    assert_eq!(harness.events_of("unattributed_sink").len(), 1);

    // Outside any request: one more site, called twice, reported once more.
    for _ in 0..2 {
        assert!(search(&harness.agent, ATTACK).is_ok());
    }
    assert_eq!(harness.agent.stats().unattributed, 6);
    let reported = harness.events_of("unattributed_sink");
    assert_eq!(reported.len(), 2, "{reported:#?}");
    assert_ne!(reported[1]["call_site"]["line"], detached_site["line"]);
    assert!(harness.events_of("sql_injection").is_empty());
}

// ---------------------------------------------------------------------------------------
// 3. Decisions

#[tokio::test]
async fn protect_mode_answers_403_in_html_whatever_the_handler_returned() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);

    let reply = oneshot(
        &app,
        get_request(&format!("/handler?{}", query(ATTACK)), &[]),
    )
    .await;
    let event = harness.the_injection();
    let id = event["id"].as_str().expect("an event id");
    assert_eq!(reply.status, 403);
    assert_eq!(reply.header(EVENT_HEADER), Some(id));
    assert!(
        reply
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/html")),
        "{reply:?}"
    );
    assert!(reply.text().contains(id), "{}", reply.text());
    assert!(
        !reply.text().contains("results"),
        "the handler's answer leaked"
    );
    let stats = harness.agent.stats();
    assert_eq!((stats.checks, stats.blocked, stats.reported), (1, 1, 0));
}

#[tokio::test]
async fn protect_mode_answers_403_in_json_when_the_client_asks_for_json() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    let target = format!("/handler?{}", query(ATTACK));

    let reply = oneshot(
        &app,
        get_request(&target, &[(ACCEPT.as_str(), "application/json")]),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&reply.body).expect("a JSON answer");
    let id = reply.header(EVENT_HEADER).expect("the event header");
    assert_eq!(body["event"], id);
    assert_eq!(harness.the_injection()["id"], id);

    // A browser lists JSON among much else, and is answered in HTML.
    let browser = "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8";
    let reply = oneshot(&app, get_request(&target, &[(ACCEPT.as_str(), browser)])).await;
    assert_eq!(reply.status, 403);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/html"))
    );
}

#[tokio::test]
async fn monitor_mode_lets_the_handlers_answer_stand_and_reports() {
    let harness = Harness::new(Mode::Monitor);
    let app = shop(&harness.agent);

    let reply = oneshot(
        &app,
        get_request(&format!("/handler?{}", query(ATTACK)), &[]),
    )
    .await;
    assert_eq!((reply.status, reply.text().as_str()), (200, "results: ran"));
    assert_eq!(reply.header(EVENT_HEADER), None);
    let event = harness.the_injection();
    assert_eq!(event["action"], "reported");
    assert_eq!(event["mode"], "monitor");
    assert_input(&event, "query", "q", ATTACK);
    let stats = harness.agent.stats();
    assert_eq!((stats.checks, stats.blocked, stats.reported), (1, 0, 1));
}

#[tokio::test]
async fn off_mode_checks_nothing() {
    let harness = Harness::new(Mode::Off);
    let app = shop(&harness.agent);

    for path in ["/handler", "/spawned", "/detached"] {
        let reply = oneshot(&app, get_request(&format!("{path}?{}", query(ATTACK)), &[])).await;
        assert_eq!(reply.status, 200, "{path}");
    }
    assert!(search(&harness.agent, ATTACK).is_ok());
    assert_eq!(harness.agent.stats(), antibody::Stats::default());
    assert!(harness.events().is_empty(), "{:#?}", harness.events());
}

// ---------------------------------------------------------------------------------------
// 4. Request bodies

#[tokio::test]
async fn urlencoded_form_fields_are_inputs_and_the_body_arrives_whole() {
    let harness = Harness::new(Mode::Monitor);
    let app = shop(&harness.agent);
    let body = form(&[("page", "2"), ("q", ATTACK), ("sort", "name")]);

    let reply = oneshot(
        &app,
        post_request(
            "/echo",
            "application/x-www-form-urlencoded; charset=utf-8",
            body.clone(),
        ),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), body);
    assert_input(&harness.the_injection(), "form", "q", ATTACK);
}

#[tokio::test]
async fn json_leaves_at_any_depth_are_inputs_named_by_their_path() {
    let harness = Harness::new(Mode::Monitor);
    let app = shop(&harness.agent);
    let body = json!({"a": {"b": [0, "x", {"c": ATTACK}]}, "page": 2}).to_string();

    let reply = oneshot(
        &app,
        post_request("/echo?pointer=/a/b/2/c", "application/json", body.clone()),
    )
    .await;
    assert_eq!(reply.text(), body);
    assert_input(&harness.the_injection(), "json", "a.b[2].c", ATTACK);
}

#[tokio::test]
async fn protect_mode_blocks_an_injection_from_a_json_body() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);

    let benign = json!({"filter": {"name": BENIGN}}).to_string();
    let reply = oneshot(
        &app,
        post_request(
            "/echo?pointer=/filter/name",
            "application/json",
            benign.clone(),
        ),
    )
    .await;
    assert_eq!((reply.status, reply.text()), (200, benign));

    let attack = json!({"filter": {"name": ATTACK}}).to_string();
    let reply = oneshot(
        &app,
        post_request("/echo?pointer=/filter/name", "application/json", attack),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_input(&harness.the_injection(), "json", "filter.name", ATTACK);
}

#[tokio::test]
async fn a_body_larger_than_the_cap_reaches_the_handler_whole() {
    let harness = Harness::with(Mode::Monitor, |builder| builder.body_cap(1024));
    let app = shop(&harness.agent);
    let padding = "x".repeat(100_000);
    let body = form(&[("q", ATTACK), ("padding", &padding)]);

    let reply = oneshot(
        &app,
        post_request("/echo", "application/x-www-form-urlencoded", body.clone()),
    )
    .await;
    assert_eq!(reply.body.len(), body.len());
    assert_eq!(reply.text(), body);
    // The field inside the captured part is still an input.
    assert_input(&harness.the_injection(), "form", "q", ATTACK);
}

#[tokio::test]
async fn a_json_body_that_arrived_whole_is_read_even_beyond_the_cap() {
    let harness = Harness::with(Mode::Protect, |builder| builder.body_cap(1024));
    let app = shop(&harness.agent);
    // In process the body is one frame: once it is read, the document is complete, and the
    // field after the padding is an input like any other.
    let body = json!({"padding": "x".repeat(4000), "a": ATTACK}).to_string();

    let reply = oneshot(
        &app,
        post_request("/echo?pointer=/a", "application/json", body),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_input(&harness.the_injection(), "json", "a", ATTACK);
}

#[tokio::test]
async fn a_body_larger_than_the_cap_keeps_an_honest_size_hint() {
    let harness = Harness::with(Mode::Monitor, |builder| builder.body_cap(16));
    let app = shop(&harness.agent);
    let body = form(&[("q", BENIGN), ("padding", &"x".repeat(4000))]);
    let length = body.len();

    // In process, the body knows its exact size.
    let reply = oneshot(
        &app,
        post_request("/size", "application/x-www-form-urlencoded", body.clone()),
    )
    .await;
    assert_eq!(
        (reply.status, reply.text()),
        (
            200,
            format!("lower {length}, upper Some({length}), read {length}")
        )
    );

    // Over HTTP, hyper knows it from Content-Length, and the first bytes arrive alone.
    let address = serve(shop(&harness.agent)).await;
    let mut client = Client::connect(address).await;
    let length_header = length.to_string();
    client
        .head(
            "POST",
            "/size",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("content-length", &length_header),
            ],
        )
        .await;
    client.send(&body.as_bytes()[..100]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    client.send(&body.as_bytes()[100..]).await;
    let reply = client.reply().await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let text = reply.text();
    assert!(text.ends_with(&format!("read {length}")), "{text}");
    assert!(
        text.contains(&format!("upper Some({length})")),
        "the upper bound must cover the whole body: {text}"
    );
}

#[tokio::test]
async fn a_chunked_json_upload_is_captured_and_arrives_whole() {
    let harness = Harness::new(Mode::Monitor);
    let address = serve(shop(&harness.agent)).await;
    let body = json!({"a": {"b": [0, "x", {"c": ATTACK}]}}).to_string();

    let mut client = Client::connect(address).await;
    client
        .head(
            "POST",
            "/echo?pointer=/a/b/2/c",
            &[
                ("content-type", "application/json"),
                ("transfer-encoding", "chunked"),
            ],
        )
        .await;
    // Pieces cut mid-token, with pauses, so the server sees several frames.
    for piece in body.as_bytes().chunks(7) {
        client.chunk(piece).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    client.last_chunk().await;
    let reply = client.reply().await;
    assert_eq!((reply.status, reply.text()), (200, body));
    assert_input(&harness.the_injection(), "json", "a.b[2].c", ATTACK);
}

#[tokio::test]
async fn a_chunked_form_upload_beyond_the_cap_arrives_whole() {
    let harness = Harness::with(Mode::Monitor, |builder| builder.body_cap(64));
    let address = serve(shop(&harness.agent)).await;
    let body = form(&[("q", ATTACK), ("notes", &"n".repeat(3000))]);

    let mut client = Client::connect(address).await;
    client
        .head(
            "POST",
            "/echo",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("transfer-encoding", "chunked"),
            ],
        )
        .await;
    for piece in body.as_bytes().chunks(500) {
        client.chunk(piece).await;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    client.last_chunk().await;
    let reply = client.reply().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), body);
    assert_input(&harness.the_injection(), "form", "q", ATTACK);
}

#[tokio::test]
async fn other_bodies_are_passed_untouched() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    // Not text at all: every byte value, and bytes that are not UTF-8.
    let mut body: Vec<u8> = (0..=255).collect();
    body.extend_from_slice(b"q=' OR '1'='1\xff\xfe");

    for content_type in ["application/octet-stream", "text/plain", "image/png"] {
        let reply = oneshot(&app, post_request("/echo", content_type, body.clone())).await;
        assert_eq!(reply.status, 200, "{content_type}");
        assert_eq!(reply.body, body, "{content_type}");
    }
    assert_eq!(harness.agent.stats().checks, 0);
}

#[tokio::test]
async fn other_bodies_stream_to_the_handler_without_being_held_back() {
    let harness = Harness::new(Mode::Protect);
    let address = serve(shop(&harness.agent)).await;

    // The rest of the body is sent only after the answer: a layer that waited for the whole
    // body would never let the handler answer.
    let mut client = Client::connect(address).await;
    client
        .head(
            "POST",
            "/first",
            &[
                ("content-type", "application/octet-stream"),
                ("transfer-encoding", "chunked"),
            ],
        )
        .await;
    client.chunk(b"hello").await;
    let reply = client.reply().await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "first piece: hello")
    );
}

#[tokio::test]
async fn a_form_upload_beyond_the_cap_streams_its_rest_to_the_handler() {
    let harness = Harness::with(Mode::Protect, |builder| builder.body_cap(4));
    let address = serve(shop(&harness.agent)).await;

    let mut client = Client::connect(address).await;
    client
        .head(
            "POST",
            "/first",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("transfer-encoding", "chunked"),
            ],
        )
        .await;
    client.chunk(b"q=garden").await;
    let reply = client.reply().await;
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (200, "first piece: q=garden")
    );
}

/// A multipart body whose fields are `fields`, and its content type.
fn multipart(fields: &[(&str, &str)]) -> (String, String) {
    let boundary = "antibody-test-boundary";
    let mut body = String::new();
    for (name, value) in fields {
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .expect("writing to a string");
    }
    write!(body, "--{boundary}--\r\n").expect("writing to a string");
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn multipart_fields_are_inputs() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    let upload = |term: &str| {
        let (content_type, body) = multipart(&[("note", "for the shed"), ("q", term)]);
        oneshot(&app, post_request("/upload", &content_type, body))
    };
    let benign = upload(BENIGN).await;
    assert_eq!(
        (benign.status, benign.text().as_str()),
        (200, "search: ran")
    );
    assert_eq!(upload(ATTACK).await.status, 403);
    assert_input(&harness.the_injection(), "form", "q", ATTACK);
}

#[tokio::test]
async fn multipart_fields_are_read_as_multer_reads_them() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    let part = |headers: &str, content: &[u8]| {
        let mut body =
            format!("--real\r\nContent-Disposition: form-data; name=\"q\"\r\n{headers}\r\n")
                .into_bytes();
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n--real--\r\n");
        body
    };
    let utf16: Vec<u8> = ATTACK.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut with_bom = b"\xef\xbb\xbf".to_vec();
    with_bom.extend_from_slice(ATTACK.as_bytes());
    let cases = [
        // A decoy boundary inside a quoted parameter.
        (
            r#"multipart/form-data; x="; boundary=fake"; boundary=real"#,
            part("", ATTACK.as_bytes()),
        ),
        // `Field::text` decodes the part's charset and drops a byte-order mark.
        (
            "multipart/form-data; boundary=real",
            part("Content-Type: text/plain; charset=utf-16le\r\n", &utf16),
        ),
        ("multipart/form-data; boundary=real", part("", &with_bom)),
    ];
    for (content_type, body) in cases {
        let reply = oneshot(&app, post_request("/upload", content_type, body)).await;
        assert_eq!(reply.status, 403, "{content_type}: {}", reply.text());
    }
}

#[tokio::test]
async fn json_is_read_under_every_type_axum_reads_it_under() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    for content_type in [
        "application/json+xml",
        "application/vnd.shop+json; v=2",
        // A form's name first: axum's `Form` would take it, and so does its `Json`.
        "application/x-www-form-urlencoded+json",
    ] {
        let search = |term: &str| {
            let body = json!({ "q": term }).to_string();
            oneshot(&app, post_request("/typed/json", content_type, body))
        };
        let benign = search(BENIGN).await;
        assert_eq!(
            (benign.status, benign.text().as_str()),
            (200, "search: ran")
        );
        assert_eq!(search(ATTACK).await.status, 403, "{content_type}");
    }
    assert_input(&harness.events_of("sql_injection")[0], "json", "q", ATTACK);
}

#[tokio::test]
async fn a_body_of_any_type_is_an_input_whole_and_as_the_json_it_holds() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    let cases = [
        (
            "text/plain",
            json!({ "q": ATTACK }).to_string(),
            "json",
            "q",
        ),
        ("text/plain", ATTACK.to_owned(), "body", "(body)"),
        (
            "application/octet-stream",
            ATTACK.to_owned(),
            "body",
            "(body)",
        ),
        // Labelled as a format the handler ignores: `String` takes any body.
        ("application/json", ATTACK.to_owned(), "body", "(body)"),
        // Read as the form it is labelled, `' OR '1'='1` is the field `' OR '1'`: the
        // field's name is the first input that breaks out.
        (
            "application/x-www-form-urlencoded",
            ATTACK.to_owned(),
            "form",
            "' OR '1' (key)",
        ),
        (
            "multipart/form-data; boundary=zz",
            ATTACK.to_owned(),
            "body",
            "(body)",
        ),
        (
            "application/x-www-form-urlencoded",
            json!({ "q": ATTACK }).to_string(),
            "json",
            "q",
        ),
    ];
    for (content_type, body, source, name) in cases {
        let benign = oneshot(
            &app,
            post_request(
                "/dug-out?from=body",
                content_type,
                body.replace(ATTACK, BENIGN),
            ),
        )
        .await;
        assert_eq!(
            (benign.status, benign.text().as_str()),
            (200, "search: ran")
        );
        let attack = oneshot(&app, post_request("/dug-out?from=body", content_type, body)).await;
        assert_eq!(attack.status, 403, "{content_type}");
        let events = harness.events_of("sql_injection");
        let event = events.last().expect("an event");
        assert_eq!(
            (&event["input"]["source"], &event["input"]["name"]),
            (&json!(source), &json!(name)),
            "{event:#}"
        );
    }
    // No content type at all.
    let request = Request::post("/dug-out?from=body")
        .body(Body::from(ATTACK))
        .expect("a valid request");
    assert_eq!(oneshot(&app, request).await.status, 403);
}

#[tokio::test]
async fn a_compressed_body_cannot_hide_a_new_structure() {
    // The layer cannot read a body in a coding the application decodes itself: a structure
    // the line knows passes, a new one is taken for an attack.
    let harness = Harness::with(Mode::Protect, |builder| builder.learning_calls(Some(1)));
    let app = shop(&harness.agent);
    let send = |term: &str| {
        let reversed: String = term.chars().rev().collect();
        let request = Request::post("/dug-out?from=reversed")
            .header("content-encoding", "x-reversed")
            .body(Body::from(reversed))
            .expect("a valid request");
        oneshot(&app, request)
    };
    // The line learns its statement from a request it can read; one it cannot read teaches
    // nothing.
    let plain = oneshot(
        &app,
        post_request("/dug-out?from=body", "text/plain", BENIGN),
    )
    .await;
    assert_eq!(plain.status, 200);
    let known = send("tea").await;
    assert_eq!((known.status, known.text().as_str()), (200, "search: ran"));
    assert_eq!(send(ATTACK).await.status, 403);
    let event = harness.the_injection();
    assert!(
        event["structure"]
            .as_str()
            .is_some_and(|structure| structure.contains("compressed body")),
        "{event:#}"
    );
}

// ---------------------------------------------------------------------------------------
// 5. Inputs an application reads from headers by hand

/// Sends the term to `/dug-out?from=<from>` in the header `name`, as `encode` writes it:
/// the benign twin runs, the attack is answered 403 and blamed on the header's input `input`.
async fn assert_header_input_read(
    from: &str,
    name: &str,
    encode: fn(&str) -> String,
    input: (&str, &str),
) {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    let send = |term: &str| {
        let request = Request::post(format!("/dug-out?from={from}"))
            .header(name, encode(term))
            .body(Body::empty())
            .expect("a valid request");
        oneshot(&app, request)
    };
    let benign = send(BENIGN).await;
    assert_eq!(
        (benign.status, benign.text().as_str()),
        (200, "search: ran"),
        "{from}"
    );
    assert_eq!(send(ATTACK).await.status, 403, "{from}");
    let event = harness.the_injection();
    assert_eq!(event["input"]["source"], input.0, "{event:#}");
    assert_eq!(event["input"]["name"], input.1, "{event:#}");
}

#[tokio::test]
async fn a_bearer_token_is_an_input() {
    assert_header_input_read(
        "bearer",
        "authorization",
        |term| format!("Bearer {term}"),
        ("header", "authorization (credentials)"),
    )
    .await;
}

#[tokio::test]
async fn a_basic_password_is_an_input_once_decoded() {
    use base64::Engine as _;
    assert_header_input_read(
        "basic",
        "authorization",
        |term| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("ann:{term}"));
            format!("Basic {encoded}")
        },
        ("header", "authorization (password)"),
    )
    .await;
}

#[tokio::test]
async fn a_percent_encoded_cookie_is_an_input_once_decoded() {
    assert_header_input_read(
        "cookie",
        "cookie",
        |term| {
            let encoded =
                percent_encoding::utf8_percent_encode(term, percent_encoding::NON_ALPHANUMERIC);
            format!("theme=dark; q={encoded}")
        },
        ("cookie", "q"),
    )
    .await;
}

#[tokio::test]
async fn each_element_of_a_list_header_is_an_input() {
    assert_header_input_read(
        "first-hop",
        "x-forwarded-for",
        |term| format!("{term}, 203.0.113.5"),
        ("header", "x-forwarded-for"),
    )
    .await;
}

#[tokio::test]
async fn a_query_parameter_s_name_is_an_input() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    let send = |name: &str| {
        let request = Request::post(format!(
            "/dug-out?from=parameter-name&{}",
            form(&[(name, "1")])
        ))
        .body(Body::empty())
        .expect("a valid request");
        oneshot(&app, request)
    };
    let benign = send("price").await;
    assert_eq!(
        (benign.status, benign.text().as_str()),
        (200, "search: ran")
    );
    assert_eq!(send(ATTACK).await.status, 403);
    let event = harness.the_injection();
    assert_eq!(
        event["input"]["name"],
        format!("{ATTACK} (key)"),
        "{event:#}"
    );
}

#[tokio::test]
async fn a_path_a_handler_decodes_itself_is_an_input() {
    let harness = Harness::new(Mode::Protect);
    let app = shop(&harness.agent);
    let benign = oneshot(&app, get_request("/by-hand/garden%20tools", &[])).await;
    assert_eq!(
        (benign.status, benign.text().as_str()),
        (200, "search: ran")
    );
    let attack = oneshot(&app, get_request("/by-hand/%27%20OR%20%271%27%3D%271", &[])).await;
    assert_eq!(attack.status, 403);
    assert_input(&harness.the_injection(), "path", "(path segment)", ATTACK);
}

#[tokio::test]
async fn a_header_value_beyond_ascii_is_an_input() {
    // Not visible ASCII, so `HeaderValue::to_str` refuses it; applications read the bytes.
    assert_header_input_read(
        "header",
        "x-q",
        |term| format!("Zo\u{eb} {term}"),
        ("header", "x-q"),
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// 6. The client's address

/// The client address the event of an attack sent with `headers` reports.
async fn reported_client_ip(harness: &Harness, headers: &[(&str, &str)]) -> Value {
    let address = serve(shop(&harness.agent)).await;
    let before = harness.events_of("sql_injection").len();
    let reply = http_get(address, &format!("/handler?{}", query(ATTACK)), headers).await;
    assert_eq!(reply.status, 200);
    let events = harness.events_of("sql_injection");
    assert_eq!(events.len(), before + 1, "{events:#?}");
    events[before]["request"]["client_ip"].clone()
}

fn proxies(nets: &[&str]) -> impl FnOnce(Builder) -> Builder {
    let nets: Vec<ipnet::IpNet> = nets
        .iter()
        .map(|net| net.parse().expect("a network"))
        .collect();
    move |builder| nets.into_iter().fold(builder, Builder::trusted_proxy)
}

#[tokio::test]
async fn the_client_is_the_peer_without_trusted_proxies() {
    let harness = Harness::new(Mode::Monitor);
    assert_eq!(reported_client_ip(&harness, &[]).await, "127.0.0.1");
    // A client cannot name itself someone else.
    let spoofed = [
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9"),
    ];
    assert_eq!(reported_client_ip(&harness, &spoofed).await, "127.0.0.1");
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
    let harness = Harness::with(Mode::Monitor, proxies(&["10.0.0.0/8"]));
    let spoofed = [("x-forwarded-for", "203.0.113.9, 10.0.0.1")];
    assert_eq!(reported_client_ip(&harness, &spoofed).await, "127.0.0.1");
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client() {
    let harness = Harness::with(Mode::Monitor, proxies(&["127.0.0.1/32", "10.0.0.0/8"]));
    // The proxy appends the address it saw; what the client wrote before it is not believed,
    // and inner proxies are skipped.
    let chain = [("x-forwarded-for", "198.51.100.66, 203.0.113.9, 10.1.2.3")];
    assert_eq!(reported_client_ip(&harness, &chain).await, "203.0.113.9");
    let standard = [("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")];
    assert_eq!(reported_client_ip(&harness, &standard).await, "2001:db8::1");
    // No forwarding header: the proxy itself is all that is known.
    assert_eq!(reported_client_ip(&harness, &[]).await, "127.0.0.1");
}

#[tokio::test]
async fn the_client_is_unknown_without_connection_info() {
    let harness = Harness::new(Mode::Monitor);
    let app = shop(&harness.agent);
    oneshot(
        &app,
        get_request(&format!("/handler?{}", query(ATTACK)), &[]),
    )
    .await;
    assert_eq!(harness.the_injection()["request"]["client_ip"], Value::Null);
}

/// A body of `pieces` sent one piece at a time, as a slow client streams an upload.
fn streamed(pieces: Vec<String>) -> Body {
    let frames = pieces
        .into_iter()
        .map(|piece| Ok::<_, std::io::Error>(Bytes::from(piece)));
    Body::from_stream(futures_util::stream::iter(frames))
}

#[tokio::test]
async fn padding_a_body_past_the_cap_hides_no_input() {
    for (content_type, pointer, pieces) in [
        (
            "application/x-www-form-urlencoded",
            "",
            vec![
                format!("padding={}", "x".repeat(40_000)),
                format!("&q={}", form(&[("", ATTACK)]).trim_start_matches('=')),
            ],
        ),
        (
            "application/json",
            "/a",
            vec![
                format!("{{\"padding\":\"{}\"", "x".repeat(40_000)),
                json!({"a": ATTACK}).to_string().replacen('{', ",", 1),
            ],
        ),
    ] {
        let harness = Harness::with(Mode::Protect, |builder| builder.body_cap(1024));
        let app = shop(&harness.agent);
        let request = post_request(
            &format!("/echo?pointer={pointer}"),
            content_type,
            streamed(pieces),
        );
        let reply = oneshot(&app, request).await;
        assert_eq!(
            reply.status, 403,
            "{content_type}: an attack past the cap was not blocked"
        );
        let event = harness.the_injection();
        assert_eq!(event["action"], "blocked", "{event:#}");
    }
}
