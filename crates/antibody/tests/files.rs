//! The file sink, specified through a small axum app that serves documents from a folder the
//! way a vulnerable application does: `docs/` joined with the `file` parameter, read with
//! `antibody::fs` (sync and tokio). Each attack is sent next to its benign twin, in protect
//! mode, over the layer; the verdict is read from the answer and the events file.
#![cfg(feature = "axum")]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use antibody::Mode;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde_json::Value;
use support::{Recorded, encoded};

/// A documents folder with a few files, a secret outside it, and a link inside it that
/// leads out; the agent's folder is the site's root.
struct Site {
    recorded: Recorded,
}

impl Site {
    fn new(mode: Mode, learning_calls: Option<u64>) -> Self {
        Site::with(mode, |builder| builder.learning_calls(learning_calls))
    }

    fn with(mode: Mode, configure: impl FnOnce(antibody::Builder) -> antibody::Builder) -> Self {
        let recorded = Recorded::with(mode, configure);
        let root = recorded.dir.path();
        let docs = root.join("docs");
        std::fs::create_dir_all(docs.join("faq")).expect("folders");
        std::fs::write(docs.join("welcome.txt"), "welcome").expect("a file");
        std::fs::write(docs.join("v1..2.txt"), "version notes").expect("a file");
        std::fs::write(docs.join("faq/returns.txt"), "returns").expect("a file");
        std::fs::write(root.join("secret.txt"), "the secret").expect("a file");
        std::fs::write(docs.join(".env"), "TOKEN=abc").expect("a file");
        #[cfg(unix)]
        std::os::unix::fs::symlink(root, docs.join("up")).expect("a link");
        Site { recorded }
    }

    fn root(&self) -> &Path {
        self.recorded.dir.path()
    }

    /// Asks `route` for the document `file` (sent percent-encoded as given).
    async fn get(&self, route: &str, file: &str) -> (u16, String) {
        let app = Router::new()
            .route("/docs", get(read_document))
            .route("/async/docs", get(read_document_async))
            .with_state(Arc::new(self.root().join("docs")))
            .layer(self.recorded.agent.layer());
        let answer = support::get(app, &format!("{route}?file={file}"), &[]).await;
        (answer.status, answer.body)
    }

    fn events(&self) -> Vec<Value> {
        self.recorded.events()
    }
}

type Params = Query<HashMap<String, String>>;

/// The flaw: the name is joined to the folder as given.
async fn read_document(State(docs): State<Arc<PathBuf>>, Query(params): Params) -> String {
    let name = params.get("file").cloned().unwrap_or_default();
    match antibody::fs::read_to_string(docs.join(name)) {
        Ok(text) => text,
        Err(error) => format!("error: {error}"),
    }
}

/// The same flaw, read with `tokio::fs`, the name decoded once more as some handlers do.
async fn read_document_async(State(docs): State<Arc<PathBuf>>, Query(params): Params) -> String {
    let name = params.get("file").cloned().unwrap_or_default();
    let name = percent_encoding::percent_decode_str(&name).decode_utf8_lossy();
    match antibody::fs::tokio::read_to_string(docs.join(name.as_ref())).await {
        Ok(text) => text,
        Err(error) => format!("error: {error}"),
    }
}

#[tokio::test]
async fn names_inside_the_folder_are_served_whatever_they_look_like() {
    let site = Site::new(Mode::Protect, None);
    for (file, text) in [
        ("welcome.txt", "welcome"),
        ("faq/returns.txt", "returns"),
        ("faq/../welcome.txt", "welcome"),
        ("v1..2.txt", "version notes"),
        ("./faq/./returns.txt", "returns"),
    ] {
        assert_eq!(
            site.get("/docs", &encoded(file)).await,
            (200, text.to_owned()),
            "{file}"
        );
    }
    assert_eq!(site.events(), Vec::<Value>::new());
}

#[tokio::test]
async fn names_that_leave_the_folder_are_traversal_and_answered_403() {
    let site = Site::new(Mode::Protect, None);
    let secret = site.root().join("secret.txt");
    let secret = secret.to_str().expect("UTF-8");
    let cases = [
        ("../secret.txt", "climb out of the folder"),
        ("faq/../../secret.txt", "climb out of the folder"),
        (secret, "absolute path"),
        ("welcome.txt\0.pdf", "NUL byte"),
        (".env", "sensitive file"),
        #[cfg(unix)]
        ("up/secret.txt", "symbolic link out of the folder"),
    ];
    for (file, added) in cases {
        let (status, body) = site.get("/docs", &encoded(file)).await;
        assert_eq!(status, 403, "{file}: {body}");
        let events = site.events();
        let event = events.last().expect("an event");
        assert_eq!(event["kind"], "path_traversal", "{event:#}");
        assert_eq!(event["action"], "blocked");
        assert_eq!(event["structure"], added, "{file}");
        assert_eq!(event["input"]["name"], "file");
        assert_eq!(event["sink"]["kind"], "file");
        assert_eq!(event["sink"]["operation"], "read");
        let line = event["call_site"]["file"].as_str().expect("a file");
        assert!(line.ends_with("tests/files.rs"), "{event:#}");
    }
    assert!(!site.events().is_empty());
}

#[tokio::test]
async fn a_name_decoded_again_by_the_handler_is_caught_decoded() {
    let site = Site::new(Mode::Protect, None);
    // `..%2f..` arrives as `..%2f..` once the query is decoded; the handler decodes again.
    let (status, _) = site.get("/async/docs", "..%252fsecret.txt").await;
    assert_eq!(status, 403);
    let (status, body) = site.get("/async/docs", "faq%252freturns.txt").await;
    assert_eq!((status, body.as_str()), (200, "returns"));
}

#[tokio::test]
async fn monitor_mode_reports_and_lets_the_read_happen() {
    let site = Site::new(Mode::Monitor, None);
    let (status, body) = site.get("/docs", "..%2Fsecret.txt").await;
    assert_eq!((status, body.as_str()), (200, "the secret"));
    let events = site.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "path_traversal");
    assert_eq!(events[0]["action"], "reported");
}

#[tokio::test]
async fn a_line_reports_a_folder_it_never_read_from_once_it_has_learned() {
    let site = Site::new(Mode::Protect, Some(2));
    for file in ["welcome.txt", "v1..2.txt"] {
        assert_eq!(site.get("/docs", file).await.0, 200);
    }
    // A subfolder is new to this line, though it stays inside the folder: reported, not
    // blocked, since no input takes the path out.
    let (status, body) = site.get("/docs", "faq%2Freturns.txt").await;
    assert_eq!((status, body.as_str()), (200, "returns"));
    let events = site.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["kind"], "file_anomaly");
    assert_eq!(events[0]["action"], "reported");
}

#[tokio::test]
async fn a_failure_inside_the_agent_lets_the_read_happen_and_is_reported() {
    let site = Site::with(
        Mode::Protect,
        antibody::Builder::panic_in_checks_for_testing,
    );
    let (status, body) = site.get("/docs", "..%2Fsecret.txt").await;
    assert_eq!((status, body.as_str()), (200, "the secret"));
    let events = site.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], "agent_error");
    assert!(
        events[0]["error"]
            .as_str()
            .is_some_and(|error| error.contains("file check")),
        "{:#}",
        events[0]
    );
}

#[test]
fn outside_a_request_the_functions_are_plain_std_fs() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join("a.txt");
    antibody::fs::write(&path, "a").expect("written");
    assert_eq!(antibody::fs::read_to_string(&path).expect("read"), "a");
    antibody::fs::remove_file(Path::new(&path)).expect("removed");
}
