//! `VULNSHOP_TRACE`: one JSON line for every sink action the shop actually performed, written
//! by the shop itself (not the agent), so evaluations can judge an attack's effect with tools
//! independent of the agent.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

/// Where sink actions are recorded, if anywhere.
#[derive(Clone, Default)]
pub(crate) struct Trace {
    file: Option<Arc<Mutex<File>>>,
}

impl Trace {
    /// The trace named by `VULNSHOP_TRACE`, or none.
    pub(crate) fn from_env() -> Result<Self, String> {
        let Some(path) = std::env::var_os("VULNSHOP_TRACE").filter(|path| !path.is_empty()) else {
            return Ok(Trace::default());
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| format!("VULNSHOP_TRACE {}: {e}", path.to_string_lossy()))?;
        Ok(Trace {
            file: Some(Arc::new(Mutex::new(file))),
        })
    }

    /// Records that `endpoint` ran `sql` on the database; `outcome` is `ok` or the error.
    pub(crate) fn sql(&self, endpoint: &str, sql: &str, outcome: Result<(), String>) {
        let outcome = outcome.map(|()| json!({}));
        self.action("sql", endpoint, json!({ "sql": sql }), outcome);
    }

    /// Records that `endpoint` opened `path` to read it; `outcome` is `ok` or the error.
    pub(crate) fn file(&self, endpoint: &str, path: &std::path::Path, outcome: Result<(), String>) {
        let outcome = outcome.map(|()| json!({}));
        self.action(
            "file",
            endpoint,
            json!({ "path": path.to_string_lossy() }),
            outcome,
        );
    }

    /// Records that `endpoint` started `argv`; `outcome` is its exit code or why it did
    /// not start.
    pub(crate) fn command(
        &self,
        endpoint: &str,
        argv: &[&str],
        outcome: Result<Option<i32>, String>,
    ) {
        let outcome = outcome.map(|code| json!({ "exit": code }));
        self.action("command", endpoint, json!({ "argv": argv }), outcome);
    }

    /// Records that `endpoint` evaluated `script`; `outcome` is its value or the error.
    pub(crate) fn script(&self, endpoint: &str, script: &str, outcome: Result<String, String>) {
        let outcome = outcome.map(|value| json!({ "value": value }));
        self.action("script", endpoint, json!({ "script": script }), outcome);
    }

    /// Records that `endpoint` fetched `url`; `outcome` is `ok` or the error.
    pub(crate) fn fetch(&self, endpoint: &str, url: &str, outcome: Result<(), String>) {
        let outcome = outcome.map(|()| json!({}));
        self.action("fetch", endpoint, json!({ "url": url }), outcome);
    }

    /// Records one action of `sink` at `endpoint`: `what` says what it was given, `outcome`
    /// what came of it (fields to add) or the error.
    fn action(
        &self,
        sink: &str,
        endpoint: &str,
        what: serde_json::Value,
        outcome: Result<serde_json::Value, String>,
    ) {
        let mut line = json!({"sink": sink, "endpoint": endpoint});
        let (ok, error, result) = match outcome {
            Ok(result) => (true, None, result),
            Err(error) => (false, Some(error), json!({})),
        };
        for fields in [what, result] {
            if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields)
            {
                line.extend(fields);
            }
        }
        line["ok"] = json!(ok);
        line["error"] = json!(error);
        self.record(&line);
    }

    /// Records that `endpoint` redirected to `location`.
    pub(crate) fn redirect(&self, endpoint: &str, location: &str) {
        self.record(&json!({"sink": "redirect", "endpoint": endpoint, "location": location}));
    }

    fn record(&self, line: &serde_json::Value) {
        if let Some(file) = &self.file {
            if let Ok(mut file) = file.lock() {
                // Each line is written whole with one call, so concurrent requests never interleave.
                let _ = file.write_all(format!("{line}\n").as_bytes());
            }
        }
    }
}
