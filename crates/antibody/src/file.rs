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
        self.check_at(SinkKind::File, site, |context, mode| {
            self.judge_path(access, path, site, context, mode)
        })
    }

    fn judge_path(
        &self,
        access: FileAccess,
        path: &Path,
        site: &CallSite,
        context: Option<&RequestContext>,
        mode: Mode,
    ) -> Result<(), Blocked> {
        let text = path.to_string_lossy();
        let inputs = context.map(RequestContext::inputs).unwrap_or_default();
        let mut verdict = check(&text, &inputs);
        if let PathVerdict::Data {
            folder_end,
            input,
            span,
        } = &verdict
        {
            if leaves_through_a_link(&text, *folder_end) {
                verdict = PathVerdict::Traversal(PathEvidence {
                    input,
                    span: span.clone(),
                    added: PathAdded::Symlink,
                });
            }
        }
        let shape = fingerprint(&text);
        let injection = match &verdict {
            PathVerdict::Traversal(evidence) => Some((evidence.input, evidence.added.as_str())),
            PathVerdict::NoInput | PathVerdict::Data { .. } => None,
        };
        let Some((finding, input, structure)) =
            self.learn_and_classify(site, shape, injection, context, "new folder or extension")
        else {
            return Ok(());
        };
        let kind = match finding {
            Finding::Attack => EventKind::PathTraversal,
            Finding::Anomaly => EventKind::FileAnomaly,
        };
        let mut event = event_at(kind, mode, site);
        let secrets = describe_request(&mut event, context, input);
        event.sink = Some(SinkReport {
            kind: SinkKind::File,
            dialect: None,
            operation: Some(access.as_str()),
            statement: mask_secrets(&text, secrets.iter().copied()),
            fingerprint: Some(shape.to_string()),
        });
        event.structure = Some(structure);
        event.fix = Some(match input {
            Some(input) => format!(
                "look {} `{}` up in a list of the files this code serves, or keep it to one \
                 plain name and check that the resolved path stays in its folder",
                input.location.source.as_str(),
                input.location.name
            ),
            None => "check where this path comes from: this line never opened that folder or \
                     kind of file before (a stored value?)"
                .to_owned(),
        });
        self.conclude(context, mode, finding, event)
    }
}

/// Whether `text`, resolved through its symbolic links (as far as it exists), lies outside
/// the folder `text[..folder_end]` (resolved too).
fn leaves_through_a_link(text: &str, folder_end: usize) -> bool {
    let folder = match &text[..folder_end] {
        "" => Path::new("."),
        folder => Path::new(folder),
    };
    let (Ok(folder), Some(resolved)) = (folder.canonicalize(), resolve_existing(Path::new(text)))
    else {
        return false;
    };
    !resolved.starts_with(&folder)
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
