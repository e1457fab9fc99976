//! Configuration: defaults, builder calls, an optional TOML file and environment variables,
//! merged in that order so that an operator can always override the code without a rebuild.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

/// What the agent does when it finds an attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Checks nothing.
    Off,
    /// Checks and reports; the application's action proceeds.
    Monitor,
    /// Checks, reports and stops the attack.
    Protect,
}

impl Mode {
    const NAMES: &'static str = "off, monitor, protect";

    /// The name used in configuration and events.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Monitor => "monitor",
            Mode::Protect => "protect",
        }
    }
}

impl FromStr for Mode {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(Mode::Off),
            "monitor" => Ok(Mode::Monitor),
            "protect" => Ok(Mode::Protect),
            _ => Err(Mode::NAMES),
        }
    }
}

impl serde::Serialize for Mode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl serde::Serialize for SinkKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of dangerous places the agent watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum SinkKind {
    /// SQL statements.
    Sql,
    /// File system paths opened, written, listed or removed.
    File,
    /// Programs started, with a shell or without.
    Command,
    /// Redirects the application answers with (their `Location`).
    Redirect,
    /// Scripts the application evaluates.
    Script,
    /// Requests the application sends to other servers.
    Outbound,
}

impl SinkKind {
    /// Every sink kind.
    pub const ALL: [SinkKind; 6] = [
        SinkKind::Sql,
        SinkKind::File,
        SinkKind::Command,
        SinkKind::Redirect,
        SinkKind::Script,
        SinkKind::Outbound,
    ];

    /// The name used in configuration (`ANTIBODY_SQL_MODE`, `[modes] sql = ...`) and events.
    pub fn as_str(self) -> &'static str {
        match self {
            SinkKind::Sql => "sql",
            SinkKind::File => "file",
            SinkKind::Command => "command",
            SinkKind::Redirect => "redirect",
            SinkKind::Script => "script",
            SinkKind::Outbound => "outbound",
        }
    }
}

/// How long a call site learns before it enforces what it learned. A site enforces once
/// every bound that is set has been reached; with neither set, it never stops learning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LearningPeriod {
    /// Calls seen at the site.
    pub calls: Option<u64>,
    /// Time since the site was first seen.
    pub duration: Option<Duration>,
}

impl Default for LearningPeriod {
    fn default() -> Self {
        LearningPeriod {
            calls: Some(100),
            duration: None,
        }
    }
}

/// The resolved configuration of an agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The mode of every sink kind without a mode of its own.
    pub mode: Mode,
    /// Modes for single sink kinds.
    pub sink_modes: BTreeMap<SinkKind, Mode>,
    /// In protect mode, also block anomalies that no request input explains.
    pub strict: bool,
    /// Where the learned model is kept; nothing is persisted without one.
    pub state_dir: Option<PathBuf>,
    /// Where every event is appended as one JSON line.
    pub events_file: Option<PathBuf>,
    /// How long each call site learns.
    pub learning: LearningPeriod,
    /// Proxies whose `X-Forwarded-For` and `Forwarded` headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The application's own hosts (`shop.example`), set in code: redirects may lead there.
    /// Never taken from a request's `Host` header.
    pub own_hosts: Vec<String>,
    /// Hosts redirects and outbound requests may go to besides the application's own
    /// (`partner.example`, `*.cdn.example`).
    pub allowed_hosts: Vec<String>,
    /// The most bytes of a form, JSON or multipart body read for inputs before the handler
    /// runs; the rest is inspected as the handler reads it (up to 16 MiB), and the handler
    /// always gets every byte.
    pub body_cap: usize,
    /// Makes every check panic inside the agent, to prove the application is unharmed.
    #[doc(hidden)]
    pub panic_in_checks: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::Monitor,
            sink_modes: BTreeMap::new(),
            strict: false,
            state_dir: None,
            events_file: None,
            learning: LearningPeriod::default(),
            trusted_proxies: Vec::new(),
            own_hosts: Vec::new(),
            allowed_hosts: Vec::new(),
            body_cap: 64 * 1024,
            panic_in_checks: false,
        }
    }
}

impl Config {
    /// The mode that applies to `sink`.
    pub fn mode_for(&self, sink: SinkKind) -> Mode {
        self.sink_modes.get(&sink).copied().unwrap_or(self.mode)
    }

    /// Whether `ip` is a trusted proxy.
    pub fn trusts_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// Where a setting came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// An environment variable.
    Environment,
    /// The TOML file at this path.
    File(PathBuf),
    /// A call on the builder.
    Builder,
}

/// A setting that could not be used: which one, where it came from, and what is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the setting came from.
    pub origin: Origin,
    /// The setting's name there (`ANTIBODY_MODE`, `learning.calls`, ...).
    pub key: String,
    /// What was wrong, and what would be accepted.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Environment => write!(
                f,
                "antibody: environment variable {}: {}",
                self.key, self.message
            ),
            // A problem with the file as a whole rather than with one of its settings.
            Origin::File(path) if self.key == CONFIG_FILE_VARIABLE => write!(
                f,
                "antibody: configuration file {} (named by {CONFIG_FILE_VARIABLE}): {}",
                path.display(),
                self.message
            ),
            Origin::File(path) => write!(
                f,
                "antibody: setting `{}` in {}: {}",
                self.key,
                path.display(),
                self.message
            ),
            Origin::Builder => write!(f, "antibody: setting {}: {}", self.key, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// One source's settings; unset fields fall through to the source below.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) mode: Option<Mode>,
    pub(crate) sink_modes: BTreeMap<SinkKind, Mode>,
    pub(crate) strict: Option<bool>,
    pub(crate) state_dir: Option<PathBuf>,
    pub(crate) events_file: Option<PathBuf>,
    /// Zero switches the bound off.
    pub(crate) learning_calls: Option<u64>,
    /// Zero switches the bound off.
    pub(crate) learning_duration: Option<Duration>,
    pub(crate) trusted_proxies: Option<Vec<IpNet>>,
    pub(crate) own_hosts: Option<Vec<String>>,
    pub(crate) allowed_hosts: Option<Vec<String>>,
    pub(crate) body_cap: Option<usize>,
    pub(crate) panic_in_checks: bool,
}

impl Settings {
    /// These settings over `lower`: each field set here wins. A global mode set here also
    /// wins over the sink modes set below, so that `ANTIBODY_MODE=off` turns everything
    /// off whatever the code or the file chose for single sinks.
    fn over(self, lower: Settings) -> Settings {
        let mut sink_modes = if self.mode.is_some() {
            BTreeMap::new()
        } else {
            lower.sink_modes
        };
        sink_modes.extend(self.sink_modes);
        Settings {
            mode: self.mode.or(lower.mode),
            sink_modes,
            strict: self.strict.or(lower.strict),
            state_dir: self.state_dir.or(lower.state_dir),
            events_file: self.events_file.or(lower.events_file),
            learning_calls: self.learning_calls.or(lower.learning_calls),
            learning_duration: self.learning_duration.or(lower.learning_duration),
            trusted_proxies: self.trusted_proxies.or(lower.trusted_proxies),
            own_hosts: self.own_hosts.or(lower.own_hosts),
            allowed_hosts: self.allowed_hosts.or(lower.allowed_hosts),
            body_cap: self.body_cap.or(lower.body_cap),
            panic_in_checks: self.panic_in_checks || lower.panic_in_checks,
        }
    }

    fn resolve(self) -> Config {
        let defaults = Config::default();
        Config {
            mode: self.mode.unwrap_or(defaults.mode),
            sink_modes: self.sink_modes,
            strict: self.strict.unwrap_or(defaults.strict),
            state_dir: self.state_dir,
            events_file: self.events_file,
            learning: LearningPeriod {
                calls: self
                    .learning_calls
                    .map_or(defaults.learning.calls, |calls| {
                        (calls > 0).then_some(calls)
                    }),
                duration: self
                    .learning_duration
                    .map_or(defaults.learning.duration, |duration| {
                        (!duration.is_zero()).then_some(duration)
                    }),
            },
            trusted_proxies: self.trusted_proxies.unwrap_or_default(),
            own_hosts: self.own_hosts.unwrap_or_default(),
            allowed_hosts: self.allowed_hosts.unwrap_or_default(),
            body_cap: self.body_cap.unwrap_or(defaults.body_cap),
            panic_in_checks: self.panic_in_checks,
        }
    }
}

/// The environment variable naming the TOML file.
pub const CONFIG_FILE_VARIABLE: &str = "ANTIBODY_CONFIG";

/// Resolves the configuration from the builder's settings, the TOML file named by
/// `ANTIBODY_CONFIG` and the environment, read through `env`.
pub(crate) fn resolve(
    builder: Settings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let file = match env(CONFIG_FILE_VARIABLE) {
        Some(path) if !path.trim().is_empty() => read_file(Path::new(path.trim()))?,
        _ => Settings::default(),
    };
    let environment = from_environment(env)?;
    Ok(environment.over(file.over(builder)).resolve())
}

impl Origin {
    fn error(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            origin: self.clone(),
            key: key.to_owned(),
            message: message.into(),
        }
    }
}

fn parse_mode(source: &Origin, key: &str, value: &str) -> Result<Mode, ConfigError> {
    value.parse().map_err(|allowed| {
        source.error(
            key,
            format!("`{value}` is not a mode; expected one of {allowed}"),
        )
    })
}

fn parse_bool(source: &Origin, key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(source.error(
            key,
            format!("`{value}` is not a boolean; expected true or false"),
        )),
    }
}

/// A count, where `0` switches the bound off.
fn parse_count(source: &Origin, key: &str, value: &str) -> Result<u64, ConfigError> {
    value.trim().parse().map_err(|_| {
        source.error(
            key,
            format!("`{value}` is not a whole number of calls (0 to switch off)"),
        )
    })
}

/// Seconds, where `0` switches the bound off.
fn parse_seconds(source: &Origin, key: &str, value: &str) -> Result<Duration, ConfigError> {
    let seconds: u64 = value.trim().parse().map_err(|_| {
        source.error(
            key,
            format!("`{value}` is not a whole number of seconds (0 to switch off)"),
        )
    })?;
    Ok(Duration::from_secs(seconds))
}

fn parse_bytes(source: &Origin, key: &str, value: &str) -> Result<usize, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| source.error(key, format!("`{value}` is not a whole number of bytes")))
}

fn parse_proxies<'v>(
    source: &Origin,
    key: &str,
    values: impl IntoIterator<Item = &'v str>,
) -> Result<Vec<IpNet>, ConfigError> {
    values
        .into_iter()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| {
            value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    source.error(
                        key,
                        format!("`{value}` is not an IP address or network (such as 10.0.0.1 or 10.0.0.0/8)"),
                    )
                })
        })
        .collect()
}

fn parse_hosts<'v>(
    source: &Origin,
    key: &str,
    values: impl IntoIterator<Item = &'v str>,
) -> Result<Vec<String>, ConfigError> {
    values
        .into_iter()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| {
            let name = value.strip_prefix("*.").unwrap_or(value);
            let valid = name.bytes().all(|byte| {
                byte.is_ascii_alphanumeric()
                    || matches!(byte, b'-' | b'.' | b'_' | b':' | b'[' | b']')
            });
            if valid && !name.is_empty() {
                Ok(value.to_ascii_lowercase())
            } else {
                Err(source.error(
                    key,
                    format!("`{value}` is not a host name (such as shop.example or *.cdn.example)"),
                ))
            }
        })
        .collect()
}

fn parse_path(source: &Origin, key: &str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.trim().is_empty() {
        return Err(source.error(key, "an empty path; unset the setting instead"));
    }
    Ok(PathBuf::from(value))
}

fn from_environment(env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let source = Origin::Environment;
    let get = |key: &str| env(key).filter(|value| !value.is_empty());
    let mut settings = Settings::default();
    if let Some(value) = get("ANTIBODY_MODE") {
        settings.mode = Some(parse_mode(&source, "ANTIBODY_MODE", &value)?);
    }
    for sink in SinkKind::ALL {
        let key = format!("ANTIBODY_{}_MODE", sink.as_str().to_ascii_uppercase());
        if let Some(value) = get(&key) {
            settings
                .sink_modes
                .insert(sink, parse_mode(&source, &key, &value)?);
        }
    }
    if let Some(value) = get("ANTIBODY_STRICT") {
        settings.strict = Some(parse_bool(&source, "ANTIBODY_STRICT", &value)?);
    }
    if let Some(value) = get("ANTIBODY_STATE_DIR") {
        settings.state_dir = Some(parse_path(&source, "ANTIBODY_STATE_DIR", &value)?);
    }
    if let Some(value) = get("ANTIBODY_EVENTS_FILE") {
        settings.events_file = Some(parse_path(&source, "ANTIBODY_EVENTS_FILE", &value)?);
    }
    if let Some(value) = get("ANTIBODY_LEARNING_CALLS") {
        settings.learning_calls = Some(parse_count(&source, "ANTIBODY_LEARNING_CALLS", &value)?);
    }
    if let Some(value) = get("ANTIBODY_LEARNING_SECONDS") {
        settings.learning_duration =
            Some(parse_seconds(&source, "ANTIBODY_LEARNING_SECONDS", &value)?);
    }
    if let Some(value) = get("ANTIBODY_TRUSTED_PROXIES") {
        settings.trusted_proxies = Some(parse_proxies(
            &source,
            "ANTIBODY_TRUSTED_PROXIES",
            value.split(','),
        )?);
    }
    if let Some(value) = get("ANTIBODY_ALLOWED_HOSTS") {
        settings.allowed_hosts = Some(parse_hosts(
            &source,
            "ANTIBODY_ALLOWED_HOSTS",
            value.split(','),
        )?);
    }
    if let Some(value) = get("ANTIBODY_BODY_CAP") {
        settings.body_cap = Some(parse_bytes(&source, "ANTIBODY_BODY_CAP", &value)?);
    }
    Ok(settings)
}

fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Origin::Environment.error(
            CONFIG_FILE_VARIABLE,
            format!(
                "cannot read the configuration file {}: {error}",
                path.display()
            ),
        )
    })?;
    let source = Origin::File(path.to_owned());
    let table: toml::Table = text.parse().map_err(|error: toml::de::Error| {
        let at = error.span().map_or_else(String::new, |span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
            format!(" at line {line}, column {column}")
        });
        source.error(
            CONFIG_FILE_VARIABLE,
            format!("not valid TOML{at}: {}", error.message().trim()),
        )
    })?;
    from_table(&source, &table)
}

/// The type of a TOML value, with its article: `a string`, `an integer`.
fn a_type(value: &toml::Value) -> String {
    let name = value.type_str();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

/// What each file setting must be, for type errors.
fn expected_type(key: &str) -> &'static str {
    match key {
        "mode" => "a string: off, monitor or protect",
        "strict" => "a boolean: true or false",
        "state_dir" | "events_file" => "a path as a string",
        "body_cap" => "a whole number of bytes",
        "trusted_proxies" => {
            "a list of IP addresses or networks as strings, such as [\"10.0.0.0/8\"]"
        }
        "allowed_hosts" => "a list of host names as strings, such as [\"shop.example\"]",
        "learning" => "a table with `calls` and `seconds`",
        _ => "a table of sink kinds and modes, such as `sql = \"protect\"`",
    }
}

fn from_table(source: &Origin, table: &toml::Table) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    for (key, value) in table {
        match (key.as_str(), value) {
            ("mode", toml::Value::String(text)) => {
                settings.mode = Some(parse_mode(source, key, text)?);
            }
            ("strict", toml::Value::Boolean(flag)) => settings.strict = Some(*flag),
            ("state_dir", toml::Value::String(text)) => {
                settings.state_dir = Some(parse_path(source, key, text)?);
            }
            ("events_file", toml::Value::String(text)) => {
                settings.events_file = Some(parse_path(source, key, text)?);
            }
            ("body_cap", toml::Value::Integer(bytes)) => {
                settings.body_cap = Some(parse_bytes(source, key, &bytes.to_string())?);
            }
            ("trusted_proxies", toml::Value::Array(items)) => {
                let texts = strings(source, key, items)?;
                settings.trusted_proxies = Some(parse_proxies(source, key, texts)?);
            }
            ("allowed_hosts", toml::Value::Array(items)) => {
                let texts = strings(source, key, items)?;
                settings.allowed_hosts = Some(parse_hosts(source, key, texts)?);
            }
            ("learning", toml::Value::Table(learning)) => {
                learning_from_table(source, learning, &mut settings)?;
            }
            ("modes", toml::Value::Table(modes)) => {
                modes_from_table(source, modes, &mut settings)?;
            }
            (
                "mode" | "strict" | "state_dir" | "events_file" | "body_cap" | "trusted_proxies"
                | "allowed_hosts" | "learning" | "modes",
                _,
            ) => {
                return Err(source.error(
                    key,
                    format!("expected {}, found {}", expected_type(key), a_type(value)),
                ));
            }
            _ => {
                return Err(source.error(
                    key,
                    "unknown setting; expected mode, modes, strict, state_dir, events_file, learning, trusted_proxies, allowed_hosts or body_cap",
                ));
            }
        }
    }
    Ok(settings)
}

/// The strings of a TOML list, or an error naming the first item that is not one.
fn strings<'t>(
    source: &Origin,
    key: &str,
    items: &'t [toml::Value],
) -> Result<Vec<&'t str>, ConfigError> {
    items
        .iter()
        .map(|item| {
            item.as_str().ok_or_else(|| {
                source.error(
                    key,
                    format!(
                        "expected {}, found a list holding {}",
                        expected_type(key),
                        a_type(item)
                    ),
                )
            })
        })
        .collect()
}

/// The `[learning]` table.
fn learning_from_table(
    source: &Origin,
    learning: &toml::Table,
    settings: &mut Settings,
) -> Result<(), ConfigError> {
    for (inner, value) in learning {
        let name = format!("learning.{inner}");
        if !matches!(inner.as_str(), "calls" | "seconds") {
            return Err(source.error(&name, "unknown setting; expected calls or seconds"));
        }
        let number = value
            .as_integer()
            .ok_or_else(|| {
                source.error(
                    &name,
                    format!(
                        "expected a whole number of {inner} (0 to switch off), found {}",
                        a_type(value)
                    ),
                )
            })?
            .to_string();
        if inner == "calls" {
            settings.learning_calls = Some(parse_count(source, &name, &number)?);
        } else {
            settings.learning_duration = Some(parse_seconds(source, &name, &number)?);
        }
    }
    Ok(())
}

/// The `[modes]` table: a mode per sink kind.
fn modes_from_table(
    source: &Origin,
    modes: &toml::Table,
    settings: &mut Settings,
) -> Result<(), ConfigError> {
    for (inner, value) in modes {
        let name = format!("modes.{inner}");
        let sink = SinkKind::ALL
            .into_iter()
            .find(|sink| sink.as_str() == inner)
            .ok_or_else(|| {
                source.error(
                    &name,
                    format!("unknown sink kind; expected one of {}", sink_names()),
                )
            })?;
        let text = value.as_str().ok_or_else(|| {
            source.error(
                &name,
                format!(
                    "expected a string: off, monitor or protect, found {}",
                    a_type(value)
                ),
            )
        })?;
        settings
            .sink_modes
            .insert(sink, parse_mode(source, &name, text)?);
    }
    Ok(())
}

fn sink_names() -> String {
    SinkKind::ALL.map(SinkKind::as_str).join(", ")
}
