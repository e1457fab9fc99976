//! Learning per line of code: each call site learns the SQL structures it runs for a
//! learning period, then enforces them. A structure the site never ran is an anomaly when no
//! input explains it, and an attack when an input supplies it; attacks are never learned.
//! The model survives restarts, holds no value from any statement, and is bounded.

use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use antibody::event::CallSiteReport;
use antibody::{
    Agent, Blocked, CallSite, Dialect, EventKind, Mode, RequestContext, RequestInput, SiteKey,
};
use antibody_detect::Source;
use serde_json::Value;

/// A query parameter.
fn query(name: &str, value: &str) -> RequestInput {
    RequestInput {
        source: Source::Query,
        name: name.to_owned(),
        value: value.to_owned(),
    }
}

/// A call site built by hand: `strict` names the line, `loose` the code around it.
fn site(strict: u64, loose: u64) -> CallSite {
    let line = u32::try_from(strict % 10_000).expect("fits");
    CallSite::with_keys(
        SiteKey(strict),
        SiteKey(loose),
        CallSiteReport {
            file: "src/shop.rs".into(),
            line,
            function: None,
            chain: vec![format!("src/shop.rs:{line}")],
        },
    )
}

/// Runs `sql` through the SQL sink at `site`, in a request carrying `inputs`.
fn check_at(
    agent: &Agent,
    site: &CallSite,
    inputs: Vec<RequestInput>,
    sql: &str,
) -> Result<(), Blocked> {
    let context = Arc::new(RequestContext::new("GET", "/p", Some("/p"), None, inputs));
    RequestContext::sync_scope(context, || agent.check_sql(Dialect::Sqlite, sql, site))
}

/// Runs `sql` through the SQL sink at the line that calls this.
#[track_caller]
fn check(agent: &Agent, inputs: Vec<RequestInput>, sql: &str) -> Result<(), Blocked> {
    check_at(agent, &Agent::caller_site(Location::caller()), inputs, sql)
}

/// An agent writing its events to a file in a folder of its own.
struct Test {
    agent: Agent,
    events: PathBuf,
    _dir: tempfile::TempDir,
}

impl Test {
    fn new(builder: antibody::Builder) -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let events = dir.path().join("events.jsonl");
        let agent = builder
            .events_file(&events)
            .build_with_env(|_| None)
            .expect("the agent starts");
        Test {
            agent,
            events,
            _dir: dir,
        }
    }

    /// Each site learns for three calls, then enforces.
    fn learning_three_calls(mode: Mode, strict: bool) -> Self {
        Test::new(
            Agent::builder()
                .mode(mode)
                .strict(strict)
                .learning_calls(Some(3)),
        )
    }

    /// Every event so far, as (kind, action).
    fn events(&self) -> Vec<(String, String)> {
        assert!(self.agent.flush());
        read_events(&self.events)
            .iter()
            .map(|event| {
                (
                    event["kind"].as_str().expect("a kind").to_owned(),
                    event["action"].as_str().expect("an action").to_owned(),
                )
            })
            .collect()
    }

    fn last_event(&self) -> Value {
        assert!(self.agent.flush());
        read_events(&self.events).pop().expect("an event")
    }
}

fn read_events(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("readable")
        .lines()
        .map(|line| serde_json::from_str(line).expect("JSON"))
        .collect()
}

fn pair(kind: &str, action: &str) -> (String, String) {
    (kind.to_owned(), action.to_owned())
}

const BY_ID: &str = "SELECT * FROM products WHERE id = 7";
const NAME_BY_ID: &str = "SELECT name FROM products WHERE id = 8";
/// A structure the site never ran, with no request input behind it: a stored injection.
const STORED_TAUTOLOGY: &str = "SELECT * FROM products WHERE id = 7 OR 1 = 1";

#[test]
fn a_site_learns_silently_then_reports_a_structure_it_never_ran() {
    let test = Test::learning_three_calls(Mode::Monitor, false);
    let agent = &test.agent;
    let run = |sql: &str| check(agent, vec![], sql);

    // Learning: three calls, three structures, nothing reported.
    run(BY_ID).expect("learning");
    run(NAME_BY_ID).expect("learning");
    run("SELECT price FROM products WHERE id = 12").expect("learning");
    assert_eq!(test.events(), []);

    // From the fourth call on, a new structure no input explains is an anomaly; monitor
    // mode lets it run.
    run(STORED_TAUTOLOGY).expect("monitor mode");
    assert_eq!(test.events(), [pair("sql_anomaly", "reported")]);
    let event = test.last_event();
    assert_eq!(event["structure"], "new structure");
    assert_eq!(event["input"], Value::Null);
    assert_eq!(event["sink"]["statement"], STORED_TAUTOLOGY);
    assert_eq!(agent.stats().reported, 1);

    // The learned structures pass, whatever their values.
    run("SELECT * FROM products WHERE id = 123456").expect("known");
    run("SELECT name FROM products WHERE id = 9").expect("known");
    run("SELECT price FROM products WHERE id = 1").expect("known");
    assert_eq!(agent.stats().reported, 1);

    // It was not learned: it is reported again.
    run(STORED_TAUTOLOGY).expect("monitor mode");
    assert_eq!(agent.stats().reported, 2);
}

#[test]
fn a_statement_the_line_already_runs_is_harmless_whoever_asks_for_it() {
    // The line runs this featured-products query on its own, with no input in it.
    const FEATURED: &str = "SELECT * FROM products WHERE category = 'tea' OR featured = 1";
    let test = Test::learning_three_calls(Mode::Protect, false);
    let agent = &test.agent;
    let run = |inputs: Vec<RequestInput>, sql: &str| check(agent, inputs, sql);
    for _ in 0..4 {
        run(vec![], FEATURED).expect("the line's own statement");
    }

    // An input that spells out the tail of that statement changes nothing it runs.
    let repeated = query("category", "tea' OR featured = 1");
    run(vec![repeated.clone()], FEATURED).expect("the same statement, the same effect");
    assert_eq!(test.events(), []);

    // Its twin that changes the statement is an injection.
    let widened = "SELECT * FROM products WHERE category = 'tea' OR featured = 1 OR 'a' = 'a'";
    let attack = query("category", "tea' OR featured = 1 OR 'a' = 'a");
    run(vec![attack], widened).expect_err("an input that adds structure is blocked");
    assert_eq!(test.events(), [pair("sql_injection", "blocked")]);
}

#[test]
fn an_input_that_only_coincides_with_a_structure_the_line_runs_is_harmless() {
    // A bound statement: nothing is pasted into it, whatever the search says.
    const BOUND: &str = "SELECT id, name FROM products WHERE name = ? AND hidden = 0";
    let test = Test::learning_three_calls(Mode::Protect, false);
    let agent = &test.agent;
    let line = site(7001, 7001);
    let run = |term: &str| check_at(agent, &line, vec![query("q", term)], BOUND);
    // Once a request that does not spell out the statement's text has run it, a search
    // for that text changes nothing the line runs, while learning and after.
    run("garden tools").expect("learning");
    for term in ["id, name", "= ? AND", "products WHERE", "id, name", "0"] {
        run(term).expect("the line's own structure");
    }
    assert_eq!(test.events(), []);

    // Its twin that does change the structure is an injection.
    let widened = "SELECT id, name FROM products WHERE name = '' OR '1'='1' AND hidden = 0";
    check_at(agent, &line, vec![query("q", "' OR '1'='1")], widened)
        .expect_err("an input that adds structure is blocked");
    assert_eq!(test.events(), [pair("sql_injection", "blocked")]);

    // A line that has not yet run the statement for a request without it has only the
    // input to go by.
    let fresh = site(7002, 7002);
    check_at(agent, &fresh, vec![query("q", "id, name")], BOUND)
        .expect_err("nothing shows the match is a coincidence yet");
}

#[test]
fn a_field_named_like_a_column_does_not_keep_the_line_from_learning() {
    // `{"name": "tea"}` filters on the column it names; the key is an input too.
    let test = Test::learning_three_calls(Mode::Protect, false);
    let agent = &test.agent;
    let line = site(7003, 7003);
    let by_name = |value: &str| {
        let inputs = vec![
            RequestInput {
                source: Source::Json,
                name: format!("name{}", antibody_detect::KEY_SUFFIX),
                value: "name".to_owned(),
            },
            RequestInput {
                source: Source::Json,
                name: "name".to_owned(),
                value: value.to_owned(),
            },
        ];
        let sql = format!("SELECT id FROM products WHERE name = '{value}'");
        check_at(agent, &line, inputs, &sql)
    };
    for value in ["tea", "cups", "pots"] {
        by_name(value).expect("learning");
    }
    by_name("mugs").expect("the structure the line learned");
    assert_eq!(test.events(), []);
    by_name("' OR '1'='1").expect_err("the value that breaks out is still blocked");
}

#[test]
fn a_new_structure_in_a_request_with_uninspected_inputs_is_an_attack() {
    let test = Test::learning_three_calls(Mode::Protect, false);
    let agent = &test.agent;
    let run = |inputs: Vec<RequestInput>, sql: &str| check(agent, inputs, sql);
    for _ in 0..3 {
        run(vec![], BY_ID).expect("learning");
    }
    // One input more than the agent inspects: the last one could have supplied anything.
    let padded: Vec<RequestInput> = (0..=antibody::MAX_INPUTS)
        .map(|i| query(&format!("p{i}"), "x"))
        .collect();
    run(padded.clone(), BY_ID).expect("a structure the line runs passes");
    let blocked = run(padded, STORED_TAUTOLOGY).expect_err("a new structure is blocked");
    assert_eq!(blocked.kind, EventKind::SqlInjection);
    // Without the padding the same statement is only an anomaly, reported.
    run(vec![], STORED_TAUTOLOGY).expect("an anomaly is reported, not blocked");
    assert_eq!(
        test.events(),
        [
            pair("sql_injection", "blocked"),
            pair("sql_anomaly", "reported")
        ]
    );
}

#[test]
fn only_strict_protect_mode_blocks_an_anomaly() {
    for (mode, strict, blocks) in [
        (Mode::Monitor, false, false),
        (Mode::Monitor, true, false),
        (Mode::Protect, false, false),
        (Mode::Protect, true, true),
    ] {
        let test = Test::learning_three_calls(mode, strict);
        let agent = &test.agent;
        let run = |sql: &str| check(agent, vec![], sql);
        for _ in 0..3 {
            run(BY_ID).expect("learning");
        }
        run(BY_ID).expect("known");
        let verdict = run(STORED_TAUTOLOGY);
        let action = if blocks { "blocked" } else { "reported" };
        assert_eq!(
            test.events(),
            [pair("sql_anomaly", action)],
            "{mode} strict={strict}"
        );
        if blocks {
            let blocked = verdict.expect_err("strict protect mode blocks the anomaly");
            assert_eq!(blocked.kind, EventKind::SqlAnomaly);
            assert_eq!(test.last_event()["id"], blocked.event.to_string());
        } else {
            verdict.expect("the anomaly is only reported");
        }
    }
}

#[test]
fn an_input_that_supplies_a_new_structure_as_a_lone_name_is_an_attack() {
    for (mode, blocks) in [(Mode::Monitor, false), (Mode::Protect, true)] {
        let test = Test::learning_three_calls(mode, false);
        let agent = &test.agent;
        let lookup = |id: &str| {
            check(
                agent,
                vec![query("id", id)],
                &format!("SELECT * FROM products WHERE id = {id}"),
            )
        };
        for id in ["17", "23", "42"] {
            lookup(id).expect("learning");
        }
        // The benign twin: another number.
        lookup("99").expect("a number where a number stood");
        assert_eq!(test.events(), []);

        // `?id=id` turns the filter into `id = id`, true for every row.
        let verdict = lookup("id");
        let action = if blocks { "blocked" } else { "reported" };
        assert_eq!(test.events(), [pair("sql_injection", action)], "{mode}");
        let event = test.last_event();
        assert_eq!(
            event["structure"],
            "new structure: a request input supplies identifier"
        );
        assert_eq!(event["input"]["name"], "id");
        assert_eq!(event["input"]["value"], "id");
        if blocks {
            assert_eq!(
                verdict.expect_err("protect mode blocks it").kind,
                EventKind::SqlInjection
            );
        } else {
            verdict.expect("monitor mode lets it run");
        }
    }
}

#[test]
fn a_lone_name_an_input_supplied_while_the_site_learned_is_never_learned() {
    let test = Test::learning_three_calls(Mode::Protect, false);
    let agent = &test.agent;
    let lookup = |id: &str| {
        check(
            agent,
            vec![query("id", id)],
            &format!("SELECT * FROM products WHERE id = {id}"),
        )
    };
    // An attacker present while the site learns tries to teach it `id = id`.
    lookup("id").expect("learning");
    for id in ["17", "23"] {
        lookup(id).expect("learning");
    }
    lookup("42").expect("a number where a number stood");
    let blocked = lookup("id").expect_err("`id = id` was never learned");
    assert_eq!(blocked.kind, EventKind::SqlInjection);
}

#[test]
fn an_injection_seen_while_learning_is_reported_and_never_learned() {
    let test = Test::learning_three_calls(Mode::Monitor, false);
    let agent = &test.agent;
    let run = |inputs: Vec<RequestInput>, sql: &str| check(agent, inputs, sql);
    let by_name = |name: &str| {
        run(
            vec![query("name", name)],
            &format!("SELECT * FROM users WHERE name = '{name}'"),
        )
    };
    by_name("alice").expect("learning");
    by_name("' OR 'a'='a").expect("monitor mode");
    by_name("bob").expect("learning");
    // Reported even though the site is still learning.
    assert_eq!(test.events(), [pair("sql_injection", "reported")]);

    // After learning, the benign shape passes.
    by_name("carol").expect("known");
    assert_eq!(test.events().len(), 1);
    // The injection's shape is still unknown: without an input behind it, an anomaly...
    run(vec![], "SELECT * FROM users WHERE name = '' OR 'b'='b'").expect("monitor mode");
    // ...and with one, an injection.
    by_name("' OR 'c'='c").expect("monitor mode");
    assert_eq!(
        test.events()[1..],
        [
            pair("sql_anomaly", "reported"),
            pair("sql_injection", "reported")
        ]
    );
}

#[test]
fn nothing_a_request_runs_after_an_attack_was_reported_is_learned() {
    let test = Test::learning_three_calls(Mode::Monitor, false);
    let agent = &test.agent;
    let (login, report) = (site(1, 1), site(2, 2));
    let context = Arc::new(RequestContext::new(
        "POST",
        "/login",
        None,
        None,
        vec![query("user", "' OR 'a'='a")],
    ));
    RequestContext::sync_scope(context, || {
        agent
            .check_sql(
                Dialect::Sqlite,
                "SELECT * FROM users WHERE name = '' OR 'a'='a'",
                &login,
            )
            .expect("monitor mode");
        // The attacker's follow-up at another site, while that site is still learning.
        agent
            .check_sql(Dialect::Sqlite, "SELECT password FROM users", &report)
            .expect("monitor mode");
    });
    for _ in 0..3 {
        check_at(agent, &report, vec![], "SELECT name FROM users").expect("learning");
    }
    check_at(agent, &report, vec![], "SELECT password FROM users").expect("monitor mode");
    assert_eq!(
        test.events(),
        [
            pair("sql_injection", "reported"),
            pair("sql_anomaly", "reported")
        ]
    );
}

#[test]
fn each_line_learns_on_its_own_even_in_one_file() {
    let test = Test::learning_three_calls(Mode::Monitor, false);
    let agent = &test.agent;
    // Two lines of this file, called in turn: each learns only what it runs.
    let first = |sql: &str| check(agent, vec![], sql);
    let second = |sql: &str| check(agent, vec![], sql);
    for _ in 0..3 {
        first(BY_ID).expect("learning");
        second(NAME_BY_ID).expect("learning");
    }
    for _ in 0..2 {
        first(BY_ID).expect("known");
        second(NAME_BY_ID).expect("known");
    }
    assert_eq!(test.events(), []);
    // Each runs the other's structure: new to it.
    first(NAME_BY_ID).expect("monitor mode");
    second(BY_ID).expect("monitor mode");
    assert_eq!(
        test.events(),
        [
            pair("sql_anomaly", "reported"),
            pair("sql_anomaly", "reported")
        ]
    );
}

#[test]
fn a_site_that_runs_more_than_64_structures_stops_enforcing() {
    let learn = |structures: usize| {
        let test = Test::new(
            Agent::builder()
                .mode(Mode::Protect)
                .strict(true)
                .learning_calls(Some(70)),
        );
        let here = site(3, 3);
        for call in 0..70 {
            let column = call % structures;
            check_at(
                &test.agent,
                &here,
                vec![],
                &format!("SELECT c{column} FROM wide"),
            )
            .expect("learning");
        }
        let verdict = check_at(&test.agent, &here, vec![], "SELECT * FROM wide");
        (test, here, verdict)
    };

    // 64 structures are enforced: the 65th is a (strictly blocked) anomaly.
    let (test, _, verdict) = learn(64);
    assert_eq!(verdict.expect_err("enforced").kind, EventKind::SqlAnomaly);
    assert_eq!(test.events(), [pair("sql_anomaly", "blocked")]);

    // 65 are more than the site may learn: it no longer enforces anything...
    let (test, here, verdict) = learn(65);
    verdict.expect("not enforced");
    check_at(&test.agent, &here, vec![], "SELECT c0, c1 FROM wide").expect("not enforced");
    assert_eq!(test.events(), []);
    // ...and an input that adds structure is still an injection.
    let blocked = check_at(
        &test.agent,
        &here,
        vec![query("column", "c1 FROM wide; DROP TABLE wide --")],
        "SELECT c1 FROM wide; DROP TABLE wide -- FROM wide",
    )
    .expect_err("correlation does not depend on learning");
    assert_eq!(blocked.kind, EventKind::SqlInjection);
}

#[test]
fn a_site_without_learning_bounds_learns_forever() {
    let test = Test::new(
        Agent::builder()
            .learning_calls(None)
            .learning_duration(None),
    );
    let here = site(4, 4);
    for call in 0..200 {
        check_at(
            &test.agent,
            &here,
            vec![],
            &format!("SELECT c{} FROM t", call % 10),
        )
        .expect("learning");
    }
    check_at(&test.agent, &here, vec![], STORED_TAUTOLOGY).expect("learning");
    assert_eq!(test.events(), []);
}

#[test]
fn a_site_learns_for_the_configured_time() {
    // Time alone, and time with a bound on calls that is reached first.
    let by_time = Test::new(
        Agent::builder()
            .learning_calls(None)
            .learning_duration(Some(Duration::from_secs(1))),
    );
    let both = Test::new(
        Agent::builder()
            .learning_calls(Some(2))
            .learning_duration(Some(Duration::from_secs(1))),
    );
    let here = site(5, 5);
    for test in [&by_time, &both] {
        for _ in 0..5 {
            check_at(&test.agent, &here, vec![], BY_ID).expect("learning");
        }
        // Still within the second: a new structure is learned, not reported.
        check_at(&test.agent, &here, vec![], NAME_BY_ID).expect("learning");
        assert_eq!(test.events(), []);
    }
    std::thread::sleep(Duration::from_millis(1100));
    for test in [&by_time, &both] {
        check_at(&test.agent, &here, vec![], BY_ID).expect("known");
        check_at(&test.agent, &here, vec![], NAME_BY_ID).expect("known");
        check_at(&test.agent, &here, vec![], STORED_TAUTOLOGY).expect("monitor mode");
        assert_eq!(test.events(), [pair("sql_anomaly", "reported")]);
    }
}

/// The one file in `dir`: the persisted model.
fn model_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the state folder exists")
        .map(|entry| entry.expect("an entry").path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files.into_iter().next().expect("one file")
}

fn persisted(state: &Path) -> Agent {
    Agent::builder()
        .mode(Mode::Protect)
        .strict(true)
        .state_dir(state)
        .learning_calls(Some(3))
        .build_with_env(|_| None)
        .expect("the agent starts")
}

const SECRET_LITERAL: &str = "zebra-literal-value";
const SECRET_NUMBER: &str = "9876543210";

/// Learns one structure at each of `sites` in an agent on `state`, then shuts it down.
fn learn_and_shut_down(state: &Path, sites: &[CallSite]) {
    let agent = persisted(state);
    let sql =
        format!("SELECT * FROM users WHERE name = '{SECRET_LITERAL}' AND n = {SECRET_NUMBER}");
    for here in sites {
        for _ in 0..3 {
            check_at(&agent, here, vec![query("name", SECRET_LITERAL)], &sql).expect("learning");
        }
    }
    agent.shutdown();
}

#[test]
fn the_learned_model_survives_a_restart_and_is_enforced_at_once() {
    let state = tempfile::tempdir().expect("a temporary folder");
    let here = site(6, 6);
    learn_and_shut_down(state.path(), std::slice::from_ref(&here));

    // The model holds structures, never a value.
    let model = std::fs::read_to_string(model_file(state.path())).expect("readable");
    serde_json::from_str::<Value>(&model).expect("JSON");
    assert!(!model.contains("zebra"), "{model}");
    assert!(!model.contains(SECRET_NUMBER), "{model}");

    let agent = persisted(state.path());
    check_at(
        &agent,
        &here,
        vec![],
        "SELECT * FROM users WHERE name = 'other' AND n = 1",
    )
    .expect("learned before the restart");
    let blocked = check_at(
        &agent,
        &here,
        vec![],
        "SELECT * FROM users WHERE name = '' OR 1 = 1",
    )
    .expect_err("enforced from the first call after the restart");
    assert_eq!(blocked.kind, EventKind::SqlAnomaly);
    // A site the model never saw still learns first.
    check_at(&agent, &site(7, 7), vec![], STORED_TAUTOLOGY).expect("learning");
}

#[test]
fn a_site_whose_line_moved_keeps_its_model_unless_that_is_ambiguous() {
    let state = tempfile::tempdir().expect("a temporary folder");
    let tautology = "SELECT * FROM users WHERE name = '' OR 1 = 1";
    // One site in its code (loose key 100), two sites sharing the loose key 200.
    learn_and_shut_down(
        state.path(),
        &[site(101, 100), site(201, 200), site(202, 200)],
    );

    let agent = persisted(state.path());
    // The lone site moved to another line: it enforces what it learned.
    check_at(&agent, &site(102, 100), vec![], tautology)
        .expect_err("the moved site enforces its model");
    // One of the twins moved: which one is unknown, so the new line learns afresh...
    check_at(&agent, &site(203, 200), vec![], tautology).expect("learning afresh");
    // ...and both twins keep their models.
    check_at(&agent, &site(201, 200), vec![], tautology).expect_err("enforced");
    check_at(&agent, &site(202, 200), vec![], tautology).expect_err("enforced");
}

#[test]
fn a_new_line_never_takes_the_model_of_a_line_running_in_this_process() {
    let state = tempfile::tempdir().expect("a temporary folder");
    let tautology = "SELECT * FROM users WHERE name = '' OR 1 = 1";
    learn_and_shut_down(state.path(), &[site(301, 300)]);

    let agent = persisted(state.path());
    check_at(&agent, &site(301, 300), vec![], tautology).expect_err("enforced");
    // A new line in the same code learns on its own...
    check_at(&agent, &site(302, 300), vec![], tautology).expect("learning");
    // ...and the running line keeps enforcing.
    check_at(&agent, &site(301, 300), vec![], tautology).expect_err("still enforced");
}

#[test]
fn a_damaged_or_foreign_model_is_a_clear_startup_error() {
    let state = tempfile::tempdir().expect("a temporary folder");
    learn_and_shut_down(state.path(), &[site(8, 8)]);
    let file = model_file(state.path());

    std::fs::write(&file, "{\"version\": 1, \"sites\": {\"not-hex\": ").expect("writes");
    let error = Agent::builder()
        .state_dir(state.path())
        .build_with_env(|_| None)
        .expect_err("a damaged model stops the agent");
    assert_eq!(error.key, "state_dir");
    let text = error.to_string();
    let expected = format!(
        "antibody: setting state_dir: the learned model {} is damaged (",
        file.display()
    );
    assert!(text.starts_with(&expected), "{text}");
    assert!(
        text.ends_with("; move it away to learn again from scratch"),
        "{text}"
    );

    std::fs::write(&file, "{\"version\": 99, \"sites\": {}}").expect("writes");
    let error = Agent::builder()
        .state_dir(state.path())
        .build_with_env(|_| None)
        .expect_err("a model of another version stops the agent");
    assert_eq!(
        error.to_string(),
        format!(
            "antibody: setting state_dir: the learned model {} has format version 99, and this \
             agent reads version 1; move it away to learn again from scratch",
            file.display()
        )
    );
}
