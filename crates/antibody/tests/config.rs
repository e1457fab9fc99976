//! Configuration: defaults, then builder calls, then the TOML file named by
//! `ANTIBODY_CONFIG`, then `ANTIBODY_*` environment variables, each overriding the one before
//! key by key. Every unusable value stops the agent from starting, with an error that names
//! the setting, where it came from and what it accepts.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use antibody::config::{LearningPeriod, Origin};
use antibody::{
    Agent, Builder, Config, ConfigError, Dialect, Mode, RequestContext, RequestInput, SinkKind,
    Stats,
};
use antibody_detect::Source;
use ipnet::IpNet;
use tempfile::NamedTempFile;

/// An environment holding exactly `pairs`.
fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    move |key| map.get(key).cloned()
}

/// A TOML file holding `text`.
fn toml_file(text: &str) -> NamedTempFile {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("a temporary file");
    file.write_all(text.as_bytes()).expect("writes the file");
    file
}

fn path_of(file: &NamedTempFile) -> String {
    file.path().to_str().expect("a UTF-8 path").to_owned()
}

fn net(text: &str) -> IpNet {
    text.parse().expect("a network")
}

fn resolved(builder: Builder, pairs: &[(&str, &str)]) -> Config {
    builder
        .build_with_env(env(pairs))
        .expect("the configuration is valid")
        .config()
        .clone()
}

fn resolved_with_file(builder: Builder, text: &str, pairs: &[(&str, &str)]) -> Config {
    let file = toml_file(text);
    let path = path_of(&file);
    let mut pairs = pairs.to_vec();
    pairs.push(("ANTIBODY_CONFIG", &path));
    resolved(builder, &pairs)
}

fn refused(builder: Builder, pairs: &[(&str, &str)]) -> ConfigError {
    builder
        .build_with_env(env(pairs))
        .expect_err("the configuration is refused")
}

fn refused_file(text: &str) -> (ConfigError, PathBuf) {
    let file = toml_file(text);
    let path = path_of(&file);
    (
        refused(Agent::builder(), &[("ANTIBODY_CONFIG", &path)]),
        file.path().to_owned(),
    )
}

#[test]
fn defaults_monitor_every_sink_without_strictness_with_a_64_kib_body_cap_and_100_learning_calls() {
    let config = resolved(Agent::builder(), &[]);
    assert_eq!(config, Config::default());
    assert_eq!(config.mode, Mode::Monitor);
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Monitor);
    assert!(!config.strict);
    assert_eq!(config.body_cap, 64 * 1024);
    assert_eq!(
        config.learning,
        LearningPeriod {
            calls: Some(100),
            duration: None
        }
    );
    assert_eq!(config.state_dir, None);
    assert_eq!(config.events_file, None);
    assert!(config.trusted_proxies.is_empty());
    assert!(!config.trusts_proxy("127.0.0.1".parse().expect("an address")));
}

#[test]
fn the_builder_sets_every_setting() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let config = resolved(
        Agent::builder()
            .mode(Mode::Protect)
            .sink_mode(SinkKind::Sql, Mode::Monitor)
            .strict(true)
            .state_dir(dir.path().join("state"))
            .events_file(dir.path().join("events.jsonl"))
            .learning_calls(Some(7))
            .learning_duration(Some(Duration::from_secs(30)))
            .trusted_proxy(net("10.0.0.0/8"))
            .trusted_proxy(net("192.0.2.1/32"))
            .body_cap(1024),
        &[],
    );
    assert_eq!(config.mode, Mode::Protect);
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Monitor);
    assert!(config.strict);
    assert_eq!(config.state_dir, Some(dir.path().join("state")));
    assert_eq!(config.events_file, Some(dir.path().join("events.jsonl")));
    assert_eq!(
        config.learning,
        LearningPeriod {
            calls: Some(7),
            duration: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(
        config.trusted_proxies,
        [net("10.0.0.0/8"), net("192.0.2.1/32")]
    );
    assert!(config.trusts_proxy("10.1.2.3".parse().expect("an address")));
    assert!(!config.trusts_proxy("192.0.2.2".parse().expect("an address")));
    assert_eq!(config.body_cap, 1024);

    // `None` switches a learning bound off; with neither bound a site learns forever.
    let config = resolved(
        Agent::builder()
            .learning_calls(None)
            .learning_duration(None),
        &[],
    );
    assert_eq!(
        config.learning,
        LearningPeriod {
            calls: None,
            duration: None
        }
    );
}

#[test]
fn the_file_sets_every_setting() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let state = dir.path().join("state");
    let events = dir.path().join("events.jsonl");
    let text = format!(
        r#"
mode = "protect"
strict = true
state_dir = "{}"
events_file = "{}"
body_cap = 2048
trusted_proxies = ["10.0.0.1", "192.168.0.0/16", "fd00::/8"]

[learning]
calls = 9
seconds = 60

[modes]
sql = "off"
"#,
        state.display(),
        events.display()
    );
    let config = resolved_with_file(Agent::builder(), &text, &[]);
    assert_eq!(config.mode, Mode::Protect);
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Off);
    assert!(config.strict);
    assert_eq!(config.state_dir, Some(state));
    assert_eq!(config.events_file, Some(events));
    assert_eq!(config.body_cap, 2048);
    assert_eq!(
        config.trusted_proxies,
        [net("10.0.0.1/32"), net("192.168.0.0/16"), net("fd00::/8")]
    );
    assert_eq!(
        config.learning,
        LearningPeriod {
            calls: Some(9),
            duration: Some(Duration::from_secs(60))
        }
    );

    // Zero switches a learning bound off, here over the builder's bound.
    let config = resolved_with_file(
        Agent::builder().learning_calls(Some(5)),
        "[learning]\ncalls = 0\n",
        &[],
    );
    assert_eq!(config.learning.calls, None);
}

#[test]
fn the_environment_sets_every_setting() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let state = dir.path().join("state");
    let events = dir.path().join("events.jsonl");
    let config = resolved(
        Agent::builder(),
        &[
            ("ANTIBODY_MODE", "protect"),
            ("ANTIBODY_SQL_MODE", "monitor"),
            ("ANTIBODY_STRICT", "true"),
            ("ANTIBODY_STATE_DIR", state.to_str().expect("UTF-8")),
            ("ANTIBODY_EVENTS_FILE", events.to_str().expect("UTF-8")),
            ("ANTIBODY_LEARNING_CALLS", "5"),
            ("ANTIBODY_LEARNING_SECONDS", "10"),
            ("ANTIBODY_TRUSTED_PROXIES", "10.0.0.1, fd00::/8"),
            ("ANTIBODY_BODY_CAP", "4096"),
        ],
    );
    assert_eq!(config.mode, Mode::Protect);
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Monitor);
    assert!(config.strict);
    assert_eq!(config.state_dir, Some(state));
    assert_eq!(config.events_file, Some(events));
    assert_eq!(
        config.learning,
        LearningPeriod {
            calls: Some(5),
            duration: Some(Duration::from_secs(10))
        }
    );
    assert_eq!(
        config.trusted_proxies,
        [net("10.0.0.1/32"), net("fd00::/8")]
    );
    assert_eq!(config.body_cap, 4096);

    // Modes and booleans are read without regard to case or surrounding blanks.
    let config = resolved(
        Agent::builder(),
        &[("ANTIBODY_MODE", " Off "), ("ANTIBODY_STRICT", "TRUE")],
    );
    assert_eq!(config.mode, Mode::Off);
    assert!(config.strict);

    // An empty variable is an unset one.
    let config = resolved(
        Agent::builder().mode(Mode::Protect),
        &[("ANTIBODY_MODE", ""), ("ANTIBODY_CONFIG", "")],
    );
    assert_eq!(config.mode, Mode::Protect);
}

#[test]
fn booleans_are_spelled_the_usual_ways() {
    for (text, expected) in [
        ("true", true),
        ("1", true),
        ("yes", true),
        ("on", true),
        ("false", false),
        ("0", false),
        ("no", false),
        ("off", false),
    ] {
        let config = resolved(
            Agent::builder().strict(!expected),
            &[("ANTIBODY_STRICT", text)],
        );
        assert_eq!(config.strict, expected, "ANTIBODY_STRICT={text}");
    }
}

#[test]
fn the_environment_overrides_the_file_which_overrides_the_builder_key_by_key() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let at = |name: &str| dir.path().join(name);
    let builder = Agent::builder()
        .mode(Mode::Protect)
        .strict(true)
        .body_cap(1000)
        .learning_duration(Some(Duration::from_secs(5)))
        .events_file(at("builder-events"))
        .state_dir(at("builder-state"))
        .trusted_proxy(net("10.0.0.0/8"));
    let file = format!(
        r#"
mode = "off"
strict = false
events_file = "{}"
trusted_proxies = ["172.16.0.0/12"]
[learning]
seconds = 6
"#,
        at("file-events").display()
    );
    let config = resolved_with_file(
        builder,
        &file,
        &[
            ("ANTIBODY_MODE", "monitor"),
            ("ANTIBODY_LEARNING_SECONDS", "7"),
            (
                "ANTIBODY_STATE_DIR",
                at("env-state").to_str().expect("UTF-8"),
            ),
        ],
    );
    // Set everywhere: the environment wins.
    assert_eq!(config.mode, Mode::Monitor);
    assert_eq!(config.learning.duration, Some(Duration::from_secs(7)));
    // Set by the builder and the environment: the environment wins.
    assert_eq!(config.state_dir, Some(at("env-state")));
    // Set by the builder and the file: the file wins, and a list is replaced, not merged.
    assert!(!config.strict);
    assert_eq!(config.events_file, Some(at("file-events")));
    assert_eq!(config.trusted_proxies, [net("172.16.0.0/12")]);
    // Set by the builder alone: the builder's value stands.
    assert_eq!(config.body_cap, 1000);
    // Set nowhere: the default.
    assert_eq!(config.learning.calls, Some(100));
}

#[test]
fn a_sink_mode_overrides_the_global_mode_of_its_own_source_and_below() {
    // Within one source, the sink's mode wins over the global one.
    let config = resolved(
        Agent::builder()
            .mode(Mode::Protect)
            .sink_mode(SinkKind::Sql, Mode::Monitor),
        &[],
    );
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Monitor);
    let config = resolved_with_file(
        Agent::builder(),
        "mode = \"protect\"\n[modes]\nsql = \"off\"\n",
        &[],
    );
    assert_eq!(config.mode, Mode::Protect);
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Off);
    let config = resolved(
        Agent::builder(),
        &[("ANTIBODY_MODE", "off"), ("ANTIBODY_SQL_MODE", "protect")],
    );
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Protect);

    // A sink's mode from a higher source wins over a lower source's global mode.
    let config = resolved_with_file(
        Agent::builder(),
        "mode = \"protect\"\n",
        &[("ANTIBODY_SQL_MODE", "monitor")],
    );
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Monitor);
    let config = resolved_with_file(
        Agent::builder().mode(Mode::Off),
        "[modes]\nsql = \"protect\"\n",
        &[],
    );
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Protect);

    // The operator's global switch wins over the sink modes the code or the file chose.
    let config = resolved(
        Agent::builder().sink_mode(SinkKind::Sql, Mode::Protect),
        &[("ANTIBODY_MODE", "off")],
    );
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Off);
    let config = resolved_with_file(
        Agent::builder(),
        "[modes]\nsql = \"protect\"\n",
        &[("ANTIBODY_MODE", "monitor")],
    );
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Monitor);
}

/// Runs the classic tautology through `agent`'s SQL sink, in a request that supplies it.
fn run_an_injection(agent: &Agent) {
    let inputs = vec![RequestInput {
        source: Source::Query,
        name: "category".into(),
        value: "' OR '1'='1".into(),
    }];
    let context = Arc::new(RequestContext::new("GET", "/p", None, None, inputs));
    let sql = "SELECT * FROM products WHERE category = '' OR '1'='1'";
    let site = Agent::caller_site(std::panic::Location::caller());
    let _ = RequestContext::sync_scope(context, || agent.check_sql(Dialect::Sqlite, sql, &site));
}

#[test]
fn the_sql_mode_decides_what_the_sql_sink_does() {
    let off = Agent::builder()
        .mode(Mode::Protect)
        .build_with_env(env(&[("ANTIBODY_SQL_MODE", "off")]))
        .expect("valid");
    run_an_injection(&off);
    assert_eq!(
        off.stats(),
        Stats::default(),
        "an sql sink that is off checks nothing"
    );

    let monitor = Agent::builder()
        .mode(Mode::Protect)
        .sink_mode(SinkKind::Sql, Mode::Monitor)
        .build_with_env(env(&[]))
        .expect("valid");
    run_an_injection(&monitor);
    assert_eq!((monitor.stats().reported, monitor.stats().blocked), (1, 0));

    let protect = Agent::builder()
        .build_with_env(env(&[("ANTIBODY_SQL_MODE", "protect")]))
        .expect("valid");
    run_an_injection(&protect);
    assert_eq!((protect.stats().reported, protect.stats().blocked), (0, 1));
}

/// Asserts that `error` came from `origin` and `key`, and that its sentence is `expected`.
#[track_caller]
fn assert_error(error: &ConfigError, origin: &Origin, key: &str, expected: &str) {
    assert_eq!(&error.origin, origin, "{error}");
    assert_eq!(error.key, key, "{error}");
    assert_eq!(error.to_string(), expected);
}

#[test]
fn a_bad_environment_value_names_the_variable_and_what_it_accepts() {
    let cases = [
        (
            "ANTIBODY_MODE",
            "loud",
            "`loud` is not a mode; expected one of off, monitor, protect",
        ),
        (
            "ANTIBODY_SQL_MODE",
            "block",
            "`block` is not a mode; expected one of off, monitor, protect",
        ),
        (
            "ANTIBODY_STRICT",
            "maybe",
            "`maybe` is not a boolean; expected true or false",
        ),
        (
            "ANTIBODY_LEARNING_CALLS",
            "ten",
            "`ten` is not a whole number of calls (0 to switch off)",
        ),
        (
            "ANTIBODY_LEARNING_CALLS",
            "-1",
            "`-1` is not a whole number of calls (0 to switch off)",
        ),
        (
            "ANTIBODY_LEARNING_SECONDS",
            "1m",
            "`1m` is not a whole number of seconds (0 to switch off)",
        ),
        (
            "ANTIBODY_BODY_CAP",
            "64k",
            "`64k` is not a whole number of bytes",
        ),
        (
            "ANTIBODY_TRUSTED_PROXIES",
            "10.0.0.1, proxy.internal",
            "`proxy.internal` is not an IP address or network (such as 10.0.0.1 or 10.0.0.0/8)",
        ),
        (
            "ANTIBODY_STATE_DIR",
            "  ",
            "an empty path; unset the setting instead",
        ),
        (
            "ANTIBODY_EVENTS_FILE",
            " ",
            "an empty path; unset the setting instead",
        ),
    ];
    for (key, value, message) in cases {
        let error = refused(Agent::builder(), &[(key, value)]);
        assert_error(
            &error,
            &Origin::Environment,
            key,
            &format!("antibody: environment variable {key}: {message}"),
        );
        assert_eq!(error.message, message);
    }
}

/// Bad file settings: the file, the setting named, and what the error says.
const BAD_FILE_VALUES: &[(&str, &str, &str)] = &[
    (
        "mode = \"loud\"",
        "mode",
        "`loud` is not a mode; expected one of off, monitor, protect",
    ),
    (
        "mode = 2",
        "mode",
        "expected a string: off, monitor or protect, found an integer",
    ),
    (
        "strict = \"yes\"",
        "strict",
        "expected a boolean: true or false, found a string",
    ),
    (
        "body_cap = \"64k\"",
        "body_cap",
        "expected a whole number of bytes, found a string",
    ),
    (
        "body_cap = -1",
        "body_cap",
        "`-1` is not a whole number of bytes",
    ),
    (
        "state_dir = 1",
        "state_dir",
        "expected a path as a string, found an integer",
    ),
    (
        "events_file = \"\"",
        "events_file",
        "an empty path; unset the setting instead",
    ),
    (
        "trusted_proxies = \"10.0.0.1\"",
        "trusted_proxies",
        "expected a list of IP addresses or networks as strings, such as [\"10.0.0.0/8\"], \
         found a string",
    ),
    (
        "trusted_proxies = [10]",
        "trusted_proxies",
        "expected a list of IP addresses or networks as strings, such as [\"10.0.0.0/8\"], \
         found a list holding an integer",
    ),
    (
        "trusted_proxies = [\"nope\"]",
        "trusted_proxies",
        "`nope` is not an IP address or network (such as 10.0.0.1 or 10.0.0.0/8)",
    ),
    (
        "learning = 100",
        "learning",
        "expected a table with `calls` and `seconds`, found an integer",
    ),
    (
        "[learning]\ncalls = \"ten\"",
        "learning.calls",
        "expected a whole number of calls (0 to switch off), found a string",
    ),
    (
        "[learning]\ncalls = -3",
        "learning.calls",
        "`-3` is not a whole number of calls (0 to switch off)",
    ),
    (
        "[learning]\nseconds = 1.5",
        "learning.seconds",
        "expected a whole number of seconds (0 to switch off), found a float",
    ),
    (
        "[learning]\nminutes = 5",
        "learning.minutes",
        "unknown setting; expected calls or seconds",
    ),
    (
        "modes = \"protect\"",
        "modes",
        "expected a table of sink kinds and modes, such as `sql = \"protect\"`, found a string",
    ),
    (
        "[modes]\nhttp = \"protect\"",
        "modes.http",
        "unknown sink kind; expected one of sql, file, command, redirect, script, outbound",
    ),
    (
        "[modes]\nsql = \"block\"",
        "modes.sql",
        "`block` is not a mode; expected one of off, monitor, protect",
    ),
    (
        "[modes]\nsql = true",
        "modes.sql",
        "expected a string: off, monitor or protect, found a boolean",
    ),
    (
        "mdoe = \"protect\"",
        "mdoe",
        "unknown setting; expected mode, modes, strict, state_dir, events_file, learning, \
         trusted_proxies, allowed_hosts or body_cap",
    ),
];

#[test]
fn a_bad_file_value_names_the_setting_the_file_and_what_it_accepts() {
    for &(text, key, message) in BAD_FILE_VALUES {
        let (error, path) = refused_file(text);
        assert_error(
            &error,
            &Origin::File(path.clone()),
            key,
            &format!("antibody: setting `{key}` in {}: {message}", path.display()),
        );
    }
}

#[test]
fn an_unreadable_or_invalid_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let missing = dir.path().join("missing.toml");
    let error = refused(
        Agent::builder(),
        &[("ANTIBODY_CONFIG", missing.to_str().expect("UTF-8"))],
    );
    assert_eq!(error.origin, Origin::Environment);
    assert_eq!(error.key, "ANTIBODY_CONFIG");
    let expected = format!(
        "antibody: environment variable ANTIBODY_CONFIG: cannot read the configuration file {}: ",
        missing.display()
    );
    assert!(
        error.to_string().starts_with(&expected),
        "{error}\ndoes not start with\n{expected}"
    );

    // A folder is not a file either.
    let error = refused_path(dir.path().to_str().expect("UTF-8"));
    assert_eq!(error.key, "ANTIBODY_CONFIG");
    assert!(
        error
            .to_string()
            .contains("cannot read the configuration file")
    );

    let (error, path) = refused_file("mode = \"protect\"\nstrict = \n");
    assert_eq!(error.origin, Origin::File(path.clone()));
    assert_eq!(error.key, "ANTIBODY_CONFIG");
    let expected = format!(
        "antibody: configuration file {} (named by ANTIBODY_CONFIG): not valid TOML at line 2, \
         column 10: ",
        path.display()
    );
    let text = error.to_string();
    assert!(
        text.starts_with(&expected),
        "{text}\ndoes not start with\n{expected}"
    );
    assert!(!text.contains('\n'), "one line: {text}");
}

fn refused_path(path: &str) -> ConfigError {
    refused(Agent::builder(), &[("ANTIBODY_CONFIG", path)])
}

#[test]
fn an_unusable_events_file_or_state_dir_stops_the_agent_from_starting() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let events = dir.path().join("no-such-folder").join("events.jsonl");
    let error = refused(Agent::builder().events_file(&events), &[]);
    assert_eq!(error.key, "events_file");
    assert!(
        error.to_string().starts_with(&format!(
            "antibody: setting events_file: cannot open the events file {}: ",
            events.display()
        )),
        "{error}"
    );

    // A state folder that is a file.
    let file = toml_file("");
    let error = refused(Agent::builder().state_dir(file.path()), &[]);
    assert_eq!(error.key, "state_dir");
    assert!(
        error.to_string().starts_with(&format!(
            "antibody: setting state_dir: cannot create the state folder {}: ",
            file.path().display()
        )),
        "{error}"
    );
}

#[test]
fn the_readme_s_example_file_is_a_valid_configuration() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let example = readme
        .split("```toml\n")
        .find(|block| block.starts_with("mode = "))
        .and_then(|block| block.split("```").next())
        .expect("the README's example configuration file");
    // Its paths are a server's; the test writes to a folder of its own.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let text: String = example
        .lines()
        .map(|line| match line.split_once(" = ") {
            Some((key @ ("state_dir" | "events_file"), _)) => {
                let path = dir.path().join(key);
                format!("{key} = {:?}\n", path.to_str().expect("UTF-8"))
            }
            _ => format!("{line}\n"),
        })
        .collect();
    let config = resolved_with_file(Agent::builder(), &text, &[]);
    assert_eq!(config.mode, Mode::Protect);
    assert_eq!(config.mode_for(SinkKind::Sql), Mode::Monitor);
    assert_eq!(config.trusted_proxies, [net("10.0.0.0/8")]);
    assert_eq!(config.allowed_hosts, ["shop.example", "*.cdn.example"]);
    assert_eq!(config.learning.calls, Some(100));
    assert_eq!(config.learning.duration, None);
    assert_eq!(config.body_cap, 65_536);
}
