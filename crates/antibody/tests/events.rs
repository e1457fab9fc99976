//! Events: one JSON line per finding, in a documented schema, with every secret of the
//! request masked; delivered by a background worker that never makes a request wait, drops
//! and counts what it cannot keep up with, writes each event within a bounded delay, and
//! delivers everything queued at shutdown.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Read;
use std::net::IpAddr;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use antibody::{Agent, Blocked, Dialect, EventKind, Mode, RequestContext, RequestInput};
use antibody_detect::Source;
use serde_json::Value;

fn input(source: Source, name: &str, value: &str) -> RequestInput {
    RequestInput {
        source,
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// Runs `sql` through the agent's SQL sink, at the line that calls this, in a request to
/// `/p` carrying `inputs`.
#[track_caller]
fn check(agent: &Agent, inputs: Vec<RequestInput>, sql: &str) -> Result<(), Blocked> {
    let site = Agent::caller_site(Location::caller());
    let context = Arc::new(RequestContext::new("GET", "/p", Some("/p"), None, inputs));
    RequestContext::sync_scope(context, || agent.check_sql(Dialect::Sqlite, sql, &site))
}

/// An agent writing its events to a file in a fresh folder.
fn agent_with_events(mode: Mode) -> (Agent, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let events = dir.path().join("events.jsonl");
    let agent = Agent::builder()
        .mode(mode)
        .events_file(&events)
        .build_with_env(|_| None)
        .expect("the agent starts");
    (agent, events, dir)
}

/// The events in `path`, each line parsed.
fn read_events(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("the events file is readable");
    parse_lines(&text)
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
        .collect()
}

fn is_hex16(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|text| text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()))
}

const TAUTOLOGY: &str = "' OR '1'='1";
const TAUTOLOGY_SQL: &str = "SELECT * FROM products WHERE category = '' OR '1'='1'";

#[test]
fn an_sql_injection_event_has_every_documented_field_with_its_type() {
    let (agent, events, _dir) = agent_with_events(Mode::Protect);
    let client: IpAddr = "203.0.113.7".parse().expect("an address");
    let context = Arc::new(RequestContext::new(
        "POST",
        "/products",
        Some("/products"),
        Some(client),
        vec![input(Source::Query, "category", TAUTOLOGY)],
    ));
    let before = SystemTime::now();
    let line = line!() + 1;
    let site = Agent::caller_site(Location::caller());
    let blocked = RequestContext::sync_scope(context, || {
        agent.check_sql(Dialect::Sqlite, TAUTOLOGY_SQL, &site)
    })
    .expect_err("protect mode blocks the injection");
    let after = SystemTime::now();
    assert!(agent.flush());
    assert_eq!(blocked.kind, EventKind::SqlInjection);

    let events = read_events(&events);
    assert_eq!(events.len(), 1, "{events:?}");
    let event = events[0].as_object().expect("an object");
    let mut fields: Vec<&str> = event.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "action",
            "call_site",
            "dropped",
            "error",
            "fix",
            "id",
            "input",
            "kind",
            "mode",
            "request",
            "sink",
            "structure",
            "time"
        ]
    );

    // The identifier is 16 hex digits, and the one the sink returned.
    assert!(is_hex16(&event["id"]), "{}", event["id"]);
    assert_eq!(event["id"], blocked.event.to_string());
    assert_eq!(blocked.event.to_string().len(), 16);

    // The time is RFC 3339, in UTC, and the time of the check (to the millisecond).
    let time = event["time"].as_str().expect("a string");
    assert!(time.ends_with('Z'), "{time}");
    let time = humantime::parse_rfc3339(time).expect("RFC 3339");
    assert!(time + Duration::from_millis(1) >= before && time <= after);

    assert_eq!(event["kind"], "sql_injection");
    assert_eq!(event["action"], "blocked");
    assert_eq!(event["mode"], "protect");
    assert_eq!(
        event["request"],
        serde_json::json!({
            "method": "POST",
            "path": "/products",
            "route": "/products",
            "client_ip": "203.0.113.7",
        })
    );

    let call_site = &event["call_site"];
    let file = call_site["file"].as_str().expect("a file");
    assert!(file.ends_with("tests/events.rs"), "{file}");
    assert_eq!(call_site["line"], line);
    assert!(call_site["function"].is_null() || call_site["function"].is_string());
    assert_eq!(
        call_site["chain"],
        serde_json::json!([format!("{file}:{line}")])
    );

    assert_eq!(
        event["input"],
        serde_json::json!({"source": "query", "name": "category", "value": TAUTOLOGY})
    );
    let sink = &event["sink"];
    assert_eq!(sink["kind"], "sql");
    assert_eq!(sink["dialect"], "sqlite");
    assert_eq!(sink["statement"], TAUTOLOGY_SQL);
    assert!(is_hex16(&sink["fingerprint"]), "{}", sink["fingerprint"]);
    assert!(
        sink["operation"].is_null(),
        "only file sinks say what they do"
    );
    assert_eq!(sink.as_object().map(serde_json::Map::len), Some(5));

    assert_eq!(event["structure"], "tautology");
    let fix = event["fix"].as_str().expect("a fix");
    assert!(
        fix.contains("`category`") && fix.contains("parameter"),
        "{fix}"
    );
    assert!(event["dropped"].is_null());
    assert!(event["error"].is_null());
}

#[test]
fn in_monitor_mode_the_event_says_reported_and_the_statement_runs() {
    let (agent, events, _dir) = agent_with_events(Mode::Monitor);
    check(
        &agent,
        vec![input(Source::Query, "category", TAUTOLOGY)],
        TAUTOLOGY_SQL,
    )
    .expect("monitor mode lets the statement run");
    assert!(agent.flush());
    let events = read_events(&events);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "sql_injection");
    assert_eq!(events[0]["action"], "reported");
    assert_eq!(events[0]["mode"], "monitor");
    assert_eq!(events[0]["request"]["client_ip"], Value::Null);
    assert_eq!(agent.stats().reported, 1);
    assert_eq!(agent.stats().blocked, 0);
}

#[test]
fn secrets_never_reach_the_events_file() {
    let (agent, events, _dir) = agent_with_events(Mode::Monitor);

    // Each secret input is itself the attack: it is reported, under its name, masked.
    let attacks = [
        (
            Source::Form,
            "password",
            "hunter2-pw' OR '1'='1",
            "SELECT * FROM users WHERE name = 'bob' AND password = 'hunter2-pw' OR '1'='1'",
        ),
        (
            Source::Query,
            "token",
            "tok-9f8e7d' OR 'a'='a",
            "SELECT * FROM resets WHERE token = 'tok-9f8e7d' OR 'a'='a'",
        ),
        (
            Source::Query,
            "access_token",
            "at-1c2b3a' OR 'b'='b",
            "SELECT * FROM grants WHERE access_token = 'at-1c2b3a' OR 'b'='b'",
        ),
        (
            Source::Header,
            "authorization",
            "Bearer eyJhbGci.payload' OR 'c'='c",
            "SELECT * FROM keys WHERE bearer = 'Bearer eyJhbGci.payload' OR 'c'='c'",
        ),
        (
            Source::Cookie,
            "sid",
            "c00kie-77aa' OR 'd'='d",
            "SELECT * FROM sessions WHERE id = 'c00kie-77aa' OR 'd'='d'",
        ),
    ];
    for (source, name, value, sql) in attacks {
        check(&agent, vec![input(source, name, value)], sql).expect("monitor mode");
    }

    // Secrets beside the attack, pasted as is, escaped, or holding one another: masked in
    // the statement, while the attacking `author` (not a secret, though it starts like
    // `auth`) is kept.
    let inputs = vec![
        input(Source::Form, "password", "s3cr3t-pass"),
        input(Source::Form, "passphrase", "it's-a-phrase"),
        input(Source::Header, "x-api-key", "s3cr3t-pass-and-more"),
        input(Source::Query, "author", "x' OR '1'='1"),
    ];
    let sql = "SELECT * FROM posts WHERE author = 'x' OR '1'='1' \
               AND pw = 's3cr3t-pass' AND phrase = 'it''s-a-phrase' \
               AND api_key = 's3cr3t-pass-and-more'";
    check(&agent, inputs, sql).expect("monitor mode");
    assert!(agent.flush());

    let text = std::fs::read_to_string(&events).expect("readable");
    for secret in [
        "hunter2",
        "tok-9f8e7d",
        "at-1c2b3a",
        "eyJhbGci",
        "c00kie",
        "s3cr3t",
        "a-phrase",
        "and-more",
    ] {
        assert!(!text.contains(secret), "`{secret}` leaked:\n{text}");
    }
    let events = parse_lines(&text);
    assert_eq!(events.len(), 6, "one event per attack:\n{text}");
    for (event, (source, name, _, _)) in events.iter().zip(attacks) {
        assert_eq!(event["kind"], "sql_injection");
        assert_eq!(event["input"]["source"], source.as_str());
        assert_eq!(event["input"]["name"], name);
        assert_eq!(event["input"]["value"], "[redacted]");
        let statement = event["sink"]["statement"].as_str().expect("a statement");
        assert!(statement.contains("[redacted]"), "{statement}");
    }
    let author = &events[5];
    assert_eq!(author["input"]["name"], "author");
    assert_eq!(author["input"]["value"], "x' OR '1'='1");
    assert_eq!(
        author["sink"]["statement"],
        "SELECT * FROM posts WHERE author = 'x' OR '1'='1' \
         AND pw = '[redacted]' AND phrase = '[redacted]' AND api_key = '[redacted]'"
    );
}

#[test]
fn events_reach_the_file_within_a_bounded_delay_without_a_flush() {
    let (agent, events, _dir) = agent_with_events(Mode::Monitor);
    check(
        &agent,
        vec![input(Source::Query, "category", TAUTOLOGY)],
        TAUTOLOGY_SQL,
    )
    .expect("monitor mode");
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let text = std::fs::read_to_string(&events).expect("readable");
        if text.contains("\"sql_injection\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no event in the file two seconds after it happened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_delivers_every_queued_event_and_later_events_are_dropped() {
    let (agent, events, _dir) = agent_with_events(Mode::Monitor);
    let attack = || vec![input(Source::Query, "category", TAUTOLOGY)];
    for _ in 0..1000 {
        check(&agent, attack(), TAUTOLOGY_SQL).expect("monitor mode");
    }
    agent.shutdown();

    let written = read_events(&events);
    assert_eq!(written.len(), 1000);
    let ids: HashSet<&str> = written
        .iter()
        .map(|event| event["id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids.len(), 1000, "identifiers are unique");

    // After shutdown the call still returns at once; its event is counted as dropped.
    check(&agent, attack(), TAUTOLOGY_SQL).expect("monitor mode");
    assert_eq!(agent.stats().events_dropped, 1);
    assert_eq!(read_events(&events).len(), 1000);
}

#[test]
fn dropping_the_last_handle_delivers_queued_events() {
    let (agent, events, _dir) = agent_with_events(Mode::Monitor);
    let clone = agent.clone();
    for _ in 0..100 {
        check(
            &clone,
            vec![input(Source::Query, "category", TAUTOLOGY)],
            TAUTOLOGY_SQL,
        )
        .expect("monitor mode");
    }
    drop(clone);
    drop(agent);
    assert_eq!(read_events(&events).len(), 100);
}

/// An agent whose events file is a pipe that nobody drains: the agent's worker blocks once
/// the pipe's buffer is full. The pipe stays open, for reading and writing, as long as the
/// returned handle lives, so the agent can open it without a reader. `None` (with a printed
/// reason) where pipes cannot be made outside CI.
#[cfg(unix)]
fn agent_on_a_stuck_pipe(dir: &Path) -> Option<(PathBuf, std::fs::File, Agent)> {
    let fifo = dir.join("events.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|status| status.success()) {
        assert!(
            std::env::var_os("CI").is_none(),
            "mkfifo is needed for this test"
        );
        eprintln!("skipped: mkfifo is not available");
        return None;
    }
    let holder = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("opens the pipe");
    let agent = Agent::builder()
        .mode(Mode::Monitor)
        .events_file(&fifo)
        .build_with_env(|_| None)
        .expect("the agent starts");
    Some((fifo, holder, agent))
}

/// A full queue drops and counts events instead of making the application wait: with the
/// events file a pipe nobody reads, the worker is stuck after the pipe's buffer fills, and a
/// flood from several threads still returns, with every event either written or counted.
#[cfg(unix)]
#[test]
fn a_full_queue_drops_and_counts_events_and_never_blocks_the_caller() {
    const THREADS: usize = 4;
    const CALLS: usize = 25_000;

    let dir = tempfile::tempdir().expect("a temporary folder");
    let Some((fifo, holder, agent)) = agent_on_a_stuck_pipe(dir.path()) else {
        return;
    };

    let (done, finished) = std::sync::mpsc::channel();
    for _ in 0..THREADS {
        let agent = agent.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            for _ in 0..CALLS {
                check(
                    &agent,
                    vec![input(Source::Query, "category", TAUTOLOGY)],
                    TAUTOLOGY_SQL,
                )
                .expect("monitor mode");
            }
            done.send(()).expect("the test waits");
        });
    }
    for _ in 0..THREADS {
        // Generous: a blocked caller would never finish.
        finished
            .recv_timeout(Duration::from_secs(120))
            .expect("every call returned although the events file accepts nothing");
    }
    let sent = u64::try_from(THREADS * CALLS).expect("fits");
    assert_eq!(agent.stats().reported, sent);
    assert!(agent.stats().events_dropped > 0, "{:?}", agent.stats());
    // A flush gives up instead of waiting on the stuck file.
    assert!(!agent.flush(), "nothing can be flushed into a full pipe");

    // Now drain the pipe, and let the shutdown deliver what is queued.
    let mut reader = OpenOptions::new()
        .read(true)
        .open(&fifo)
        .expect("opens the pipe");
    drop(holder);
    let drained = std::thread::spawn(move || {
        let mut text = String::new();
        reader.read_to_string(&mut text).expect("reads the pipe");
        text
    });
    agent.shutdown();
    let text = drained
        .join()
        .expect("the reader ends when the agent closes");

    let events = parse_lines(&text);
    let written = events
        .iter()
        .filter(|event| event["kind"] == "sql_injection")
        .count();
    let reports: Vec<u64> = events
        .iter()
        .filter(|event| event["kind"] == "events_dropped")
        .map(|event| event["dropped"].as_u64().expect("a count"))
        .collect();
    assert!(!reports.is_empty(), "an events_dropped event says how many");
    assert!(reports.iter().all(|&count| count > 0));
    assert!(written > 0, "what the pipe held was delivered");
    let dropped: u64 = reports.iter().sum::<u64>() + agent.stats().events_dropped;
    assert_eq!(
        u64::try_from(written).expect("fits") + dropped,
        sent,
        "{written} written and {dropped} dropped"
    );
    assert_eq!(
        events.len(),
        written + reports.len(),
        "no other events: {text}"
    );
}

/// A file that never accepts writes must not keep the process from exiting: shutdown gives
/// up on what it cannot deliver after a bounded wait.
#[cfg(unix)]
#[test]
fn shutdown_gives_up_on_an_events_file_that_never_accepts_writes() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let Some((_, holder, agent)) = agent_on_a_stuck_pipe(dir.path()) else {
        return;
    };
    // Far more than the pipe's buffer holds, and than the queue holds.
    for _ in 0..10_000 {
        check(
            &agent,
            vec![input(Source::Query, "category", TAUTOLOGY)],
            TAUTOLOGY_SQL,
        )
        .expect("monitor mode");
    }
    let (done, finished) = std::sync::mpsc::channel();
    let stopping = agent.clone();
    std::thread::spawn(move || {
        stopping.shutdown();
        let _ = done.send(());
    });
    // Generous: a shutdown that waits on the pipe would never return.
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("shutdown returned although the events file accepts nothing");
    drop(holder);
}

#[test]
fn a_secret_path_parameter_is_masked_in_the_reported_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("events.jsonl");
    let agent = antibody::Agent::builder()
        .mode(antibody::Mode::Monitor)
        .events_file(&events)
        .build_with_env(|_| None)
        .expect("agent");
    let inputs = vec![
        antibody::RequestInput {
            source: antibody::Source::Path,
            name: "token".into(),
            value: "tok-abc123".into(),
        },
        antibody::RequestInput {
            source: antibody::Source::Query,
            name: "q".into(),
            value: "x' OR '1'='1".into(),
        },
    ];
    let context = std::sync::Arc::new(antibody::RequestContext::new(
        "GET",
        "/reset/tok-abc123",
        Some("/reset/{token}"),
        None,
        inputs,
    ));
    let sql = "SELECT * FROM resets WHERE q = 'x' OR '1'='1'";
    let site = antibody::Agent::caller_site(std::panic::Location::caller());
    antibody::RequestContext::sync_scope(context, || {
        let _ = agent.check_sql(antibody::Dialect::Sqlite, sql, &site);
    });
    assert!(agent.flush());
    let written = std::fs::read_to_string(&events).expect("events");
    assert!(written.contains("sql_injection"), "{written}");
    assert!(
        !written.contains("tok-abc123"),
        "the path parameter leaked: {written}"
    );
}
