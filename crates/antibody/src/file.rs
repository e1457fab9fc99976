//! The file sink: what [`crate::fs`] calls before a path is opened, written, listed or
//! removed.

use std::path::{Component, Path, PathBuf};

use antibody_detect::path::{PathAdded, PathEvidence, PathVerdict, check, fingerprint};

use crate::agent::Agent;
use crate::callsite::CallSite;
use crate::config::{Mode, SinkKind};
use crate::context::RequestContext;
use crate::decision::{Blocked, Finding};
use crate::event::{EventKind, SinkReport, mask_secrets};
use crate::learning::Observation;
use crate::sink::{describe_request, event_at};

/// What the application is about to do with a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileAccess {
    /// Read a file.
    Read,
    /// Create, write or append to a file.
    Write,
    /// Remove a file or folder.
    Remove,
    /// Rename or move a file or folder (from, then to).
    Rename,
    /// Create a folder.
    CreateFolder,
    /// List a folder.
    List,
    /// Look at a file's metadata or canonical path.
    Inspect,
}

impl FileAccess {
    /// The name used in events (`read`, `write`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FileAccess::Read => "read",
            FileAccess::Write => "write",
            FileAccess::Remove => "remove",
            FileAccess::Rename => "rename",
            FileAccess::CreateFolder => "create folder",
            FileAccess::List => "list",
            FileAccess::Inspect => "inspect",
        }
    }
}

impl Agent {
    /// Checks `path`, about to be accessed as `access` at `site`, against the current
    /// request. `Err(Blocked)` means the access must not happen. Never panics: a failure
    /// inside the agent is reported and the access allowed.
    pub fn check_path(
        &self,
        access: FileAccess,
        path: &Path,
        site: &CallSite,
    ) -> Result<(), Blocked> {
        let Some((mode, context)) = self.start_check(SinkKind::File) else {
            return Ok(());
        };
        self.fail_open(
            SinkKind::File,
            || site.clone(),
            || self.judge_path(access, path, site, context.as_deref(), mode),
        )
    }

    fn judge_path(
        &self,
        access: FileAccess,
        path: &Path,
        site: &CallSite,
        context: Option<&RequestContext>,
        mode: Mode,
    ) -> Result<(), Blocked> {
        assert!(
            !self.config().panic_in_checks,
            "fault injected into the file check"
        );
        let text = path.to_string_lossy();
        let inputs = context.map(RequestContext::inputs).unwrap_or_default();
        let uninspected = context.is_some_and(RequestContext::inputs_overflowed);
        if context.is_none() {
            self.report_unattributed(SinkKind::File, site);
        }
        let mut verdict = check(&text, &inputs);
        if let PathVerdict::Data { folder_end } = verdict {
            if let Some(evidence) = escaping_link(&text, folder_end, &inputs) {
                verdict = PathVerdict::Traversal(evidence);
            }
        }
        let shape = fingerprint(&text);
        let learnable = !verdict.is_traversal()
            && !uninspected
            && !context.is_some_and(RequestContext::attack_reported);
        let observation = self.inner.learning.observe(site, shape.as_u64(), learnable);
        let (finding, kind, evidence, structure) = match (&verdict, observation) {
            (PathVerdict::Traversal(evidence), _) => (
                Finding::Attack,
                EventKind::PathTraversal,
                Some(evidence),
                evidence.added.as_str().to_owned(),
            ),
            (_, Observation::New) if uninspected => (
                Finding::Attack,
                EventKind::PathTraversal,
                None,
                "new folder or extension in a request with inputs the agent did not inspect"
                    .to_owned(),
            ),
            (_, Observation::New) => (
                Finding::Anomaly,
                EventKind::FileAnomaly,
                None,
                "new folder or extension".to_owned(),
            ),
            _ => return Ok(()),
        };
        let mut event = event_at(kind, mode, site);
        let secrets = describe_request(&mut event, context, evidence.map(|e| e.input));
        event.sink = Some(SinkReport {
            kind: SinkKind::File,
            dialect: None,
            operation: Some(access.as_str()),
            statement: mask_secrets(&text, secrets.iter().copied()),
            fingerprint: Some(shape.to_string()),
        });
        event.structure = Some(structure);
        event.fix = Some(match evidence {
            Some(evidence) => format!(
                "look {} `{}` up in a list of the files this code serves, or keep it to one \
                 plain name and check that the resolved path stays in its folder",
                evidence.input.location.source.as_str(),
                evidence.input.location.name
            ),
            None => "check where this path comes from: this line never opened that folder or \
                     kind of file before (a stored value?)"
                .to_owned(),
        });
        self.conclude(context, mode, finding, event)
    }
}

/// When the input that lies in `text` from the folder `text[..folder_end]` on reaches,
/// through a symbolic link, a place outside that folder: the evidence. Paths that do not
/// exist (yet) are resolved as far as they do.
fn escaping_link<'a>(
    text: &str,
    folder_end: usize,
    inputs: &'a [antibody_detect::Input<'a>],
) -> Option<PathEvidence<'a>> {
    let folder = match &text[..folder_end] {
        "" => Path::new("."),
        folder => Path::new(folder),
    };
    let folder = folder.canonicalize().ok()?;
    let resolved = resolve_existing(Path::new(text))?;
    if resolved.starts_with(&folder) {
        return None;
    }
    let input = inputs
        .iter()
        .find(|input| input.value.chars().nth(1).is_some() && text.contains(input.value))?;
    let start = text.find(input.value)?;
    Some(PathEvidence {
        input,
        span: start..start + input.value.len(),
        added: PathAdded::Symlink,
    })
}

/// `path` with every symbolic link resolved: the canonical form of its longest existing
/// ancestor, and the rest appended without `.` and `..` resolved by the file system.
fn resolve_existing(path: &Path) -> Option<PathBuf> {
    let mut ancestor = path;
    let mut rest = Vec::new();
    let mut resolved = loop {
        if let Ok(resolved) = ancestor.canonicalize() {
            break resolved;
        }
        rest.push(ancestor.components().next_back()?);
        ancestor = ancestor.parent()?;
        if ancestor.as_os_str().is_empty() {
            ancestor = Path::new(".");
        }
    };
    for component in rest.iter().rev() {
        match component {
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(name) => resolved.push(name),
            _ => {}
        }
    }
    Some(resolved)
}
