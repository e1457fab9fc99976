//! The documents: `/docs` reads a file from `docs/` by the name it is given, beside its safe
//! twin.

use std::path::{Component, Path};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use serde::Deserialize;

use crate::pages;
use crate::shop::{Failure, Shop};

pub(crate) fn routes() -> Router<Arc<Shop>> {
    Router::new()
        .route("/docs", get(document))
        .route("/safe/docs", get(safe_document))
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    file: String,
}

/// Vulnerable: the name is joined to `docs/` as given, so `..` climbs out and an absolute
/// name replaces the folder.
async fn document(
    State(shop): State<Arc<Shop>>,
    Query(query): Query<File>,
) -> Result<Html<String>, Failure> {
    let path = shop.docs().join(&query.file);
    let text = antibody::fs::read_to_string(&path);
    read(&shop, "/docs", &path, text)
}

/// Safe: a relative name, and the file it resolves to (links followed) must lie in `docs/`.
async fn safe_document(
    State(shop): State<Arc<Shop>>,
    Query(query): Query<File>,
) -> Result<Html<String>, Failure> {
    let name = Path::new(&query.file);
    let relative = !query.file.is_empty()
        && !query.file.contains('\0')
        && name.components().all(|component| {
            matches!(
                component,
                Component::Normal(_) | Component::CurDir | Component::ParentDir
            )
        });
    if !relative {
        return Err(Failure::NotFound);
    }
    let docs = shop.docs().canonicalize().map_err(|_| Failure::NotFound)?;
    let path = docs
        .join(name)
        .canonicalize()
        .map_err(|_| Failure::NotFound)?;
    if !path.starts_with(&docs) {
        return Err(Failure::NotFound);
    }
    let text = antibody::fs::read_to_string(&path);
    read(&shop, "/safe/docs", &path, text)
}

/// Records the read in the trace, unless the agent refused it, and shows the document.
fn read(
    shop: &Shop,
    endpoint: &str,
    path: &Path,
    text: std::io::Result<String>,
) -> Result<Html<String>, Failure> {
    if let Err(error) = &text {
        if antibody::fs::blocked(error).is_some() {
            return Err(Failure::Blocked);
        }
    }
    shop.trace().file(
        endpoint,
        path,
        text.as_ref().map(|_| ()).map_err(ToString::to_string),
    );
    match text {
        Ok(text) => Ok(Html(pages::layout(
            "Document",
            &format!("<pre>{}</pre>", pages::escape(&text)),
        ))),
        Err(error) => Err(Failure::BadRequest(format!(
            "cannot read {}: {error}",
            path.display()
        ))),
    }
}
