//! Learning per line of code: the structures each call site runs, and when a site stops
//! learning and starts enforcing.
//!
//! The model holds fingerprints only, never a value from a statement, and is bounded: at
//! most [`MAX_SITES`] sites, and at most [`MAX_STRUCTURES`] structures per site (a site that
//! exceeds it builds its statements too freely to enforce, and stops enforcing). It is
//! persisted as JSON in the state folder, written atomically (a temporary file renamed over
//! the old one) by a background thread, and at shutdown.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::callsite::CallSite;
use crate::config::LearningPeriod;

/// The most call sites the model keeps.
pub(crate) const MAX_SITES: usize = 10_000;
/// The most structures one call site may learn.
pub(crate) const MAX_STRUCTURES: usize = 64;
/// How often a changed model is written.
const PERSIST_INTERVAL: Duration = Duration::from_millis(500);
/// The file name in the state folder.
const MODEL_FILE: &str = "sql-model.json";
const MODEL_VERSION: u32 = 1;

/// What the model says about one structure at one site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Observation {
    /// The site is still learning, and had not learned this structure before.
    Learning,
    /// The site is still learning, and had already learned this structure.
    Seen,
    /// The site enforces, and has seen this structure.
    Known,
    /// The site enforces, and has never seen this structure: an anomaly.
    New,
    /// The site does not enforce: it has more structures than the model keeps, or the
    /// model is full.
    Unenforced,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct SiteModel {
    /// Milliseconds since the epoch when the site was first seen: whole seconds would end
    /// a learning period up to a second early.
    first_seen_ms: u64,
    calls: u64,
    /// Fingerprints (stored as 16 hex digits).
    #[serde(with = "hex_set")]
    structures: BTreeSet<u64>,
    /// Set once the site exceeded [`MAX_STRUCTURES`].
    overflowed: bool,
    /// The loose key, to find the site again after its lines moved.
    #[serde(with = "hex")]
    loose: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredModel {
    version: u32,
    /// Sites by strict key (stored as 16 hex digits).
    #[serde(with = "hex_map")]
    sites: HashMap<u64, SiteModel>,
    /// Loaded sites a new strict key may take over, by loose key: those not seen yet in this
    /// process, and alone with their loose key. A site seen in this process is live and
    /// keeps its model; when several loaded sites share a loose key (two queries in one
    /// file), which of them moved is unknown, so none is taken over.
    #[serde(skip)]
    movable: HashMap<u64, u64>,
}

/// Keys and fingerprints are written as fixed-width hex: JSON numbers lose 64-bit precision
/// in many readers.
mod hex {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[allow(clippy::trivially_copy_pass_by_ref)] // The signature serde's `with` expects.
    pub(super) fn serialize<S: Serializer>(value: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{value:016x}"))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        parse(&String::deserialize(deserializer)?).map_err(D::Error::custom)
    }

    pub(super) fn parse(text: &str) -> Result<u64, String> {
        u64::from_str_radix(text, 16).map_err(|_| format!("`{text}` is not a 64-bit hex key"))
    }
}

mod hex_set {
    use std::collections::BTreeSet;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(
        values: &BTreeSet<u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(values.iter().map(|value| format!("{value:016x}")))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeSet<u64>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| super::hex::parse(text).map_err(D::Error::custom))
            .collect()
    }
}

mod hex_map {
    use std::collections::HashMap;

    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use super::SiteModel;

    pub(super) fn serialize<S: Serializer>(
        sites: &HashMap<u64, SiteModel>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let sorted: std::collections::BTreeMap<_, _> = sites.iter().collect();
        serializer.collect_map(
            sorted
                .into_iter()
                .map(|(key, site)| (format!("{key:016x}"), site)),
        )
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<HashMap<u64, SiteModel>, D::Error> {
        HashMap::<String, SiteModel>::deserialize(deserializer)?
            .into_iter()
            .map(|(key, site)| Ok((super::hex::parse(&key).map_err(D::Error::custom)?, site)))
            .collect()
    }
}

/// The learned model of one agent.
#[derive(Debug)]
pub(crate) struct Learning {
    period: LearningPeriod,
    shared: Arc<Shared>,
    persister: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug, Default)]
struct Shared {
    model: Mutex<StoredModel>,
    dirty: AtomicBool,
    stop: Mutex<bool>,
    wake: Condvar,
    path: Option<PathBuf>,
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

impl Learning {
    /// A model learning for `period`, loaded from and persisted to `state_dir` when given.
    pub(crate) fn start(period: LearningPeriod, state_dir: Option<&Path>) -> io::Result<Self> {
        let path = match state_dir {
            Some(dir) => {
                fs::create_dir_all(dir).map_err(|error| {
                    io::Error::new(
                        error.kind(),
                        format!("cannot create the state folder {}: {error}", dir.display()),
                    )
                })?;
                Some(dir.join(MODEL_FILE))
            }
            None => None,
        };
        let model = match &path {
            Some(path) => load(path)?,
            None => StoredModel::default(),
        };
        let shared = Arc::new(Shared {
            model: Mutex::new(model),
            path,
            ..Shared::default()
        });
        let persister = if shared.path.is_some() {
            let shared = Arc::clone(&shared);
            Some(
                std::thread::Builder::new()
                    .name("antibody-learning".into())
                    .spawn(move || persist_loop(&shared))?,
            )
        } else {
            None
        };
        Ok(Learning {
            period,
            shared,
            persister: Mutex::new(persister),
        })
    }

    /// Records one call at `site` running `structure`, learning it when the site is still
    /// learning and `learnable` (attacks never are), and says what the model thinks of it.
    pub(crate) fn observe(&self, site: &CallSite, structure: u64, learnable: bool) -> Observation {
        let Ok(mut model) = self.shared.model.lock() else {
            return Observation::Unenforced;
        };
        let (strict, loose) = (site.strict.0, site.loose.0);
        if let Some(known) = model.sites.get(&strict) {
            let live = known.loose;
            if model.movable.get(&live) == Some(&strict) {
                model.movable.remove(&live);
            }
        } else {
            // A site whose lines moved keeps what it learned under its loose key.
            let moved = model
                .movable
                .remove(&loose)
                .and_then(|key| model.sites.remove(&key));
            let known = match moved {
                Some(known) => {
                    self.shared.dirty.store(true, Ordering::Relaxed);
                    known
                }
                None if model.sites.len() >= MAX_SITES => return Observation::Unenforced,
                None => SiteModel {
                    first_seen_ms: now_millis(),
                    loose,
                    ..SiteModel::default()
                },
            };
            model.sites.insert(strict, known);
        }
        let Some(known) = model.sites.get_mut(&strict) else {
            return Observation::Unenforced;
        };
        known.calls = known.calls.saturating_add(1);
        if known.overflowed {
            return Observation::Unenforced;
        }
        let seen = known.structures.contains(&structure);
        if !self.learned(known) {
            if learnable && !seen {
                if known.structures.len() >= MAX_STRUCTURES {
                    known.overflowed = true;
                    known.structures.clear();
                } else {
                    known.structures.insert(structure);
                }
            }
            // The call count decides when learning ends, so it must survive a restart.
            self.shared.dirty.store(true, Ordering::Relaxed);
            return if seen {
                Observation::Seen
            } else {
                Observation::Learning
            };
        }
        if seen {
            Observation::Known
        } else {
            Observation::New
        }
    }

    /// Whether `site` has reached every bound of the learning period that is set.
    fn learned(&self, site: &SiteModel) -> bool {
        let calls_done = self.period.calls.is_none_or(|calls| site.calls > calls);
        let time_done = self.period.duration.is_none_or(|duration| {
            u128::from(now_millis().saturating_sub(site.first_seen_ms)) >= duration.as_millis()
        });
        (self.period.calls.is_some() || self.period.duration.is_some()) && calls_done && time_done
    }

    /// Writes the model now, if it changed.
    pub(crate) fn persist(&self) -> io::Result<()> {
        persist_if_dirty(&self.shared)
    }

    /// Stops the background writer after a last write.
    pub(crate) fn shutdown(&self) {
        if let Ok(mut stop) = self.shared.stop.lock() {
            *stop = true;
        }
        self.shared.wake.notify_all();
        let persister = self
            .persister
            .lock()
            .map(|mut p| p.take())
            .unwrap_or_default();
        if let Some(persister) = persister {
            let _ = persister.join();
        }
        let _ = self.persist();
    }
}

impl Drop for Learning {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn load(path: &Path) -> io::Result<StoredModel> {
    let invalid = |problem: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the learned model {} {problem}; move it away to learn again from scratch",
                path.display()
            ),
        )
    };
    let mut model = match fs::read(path) {
        Ok(bytes) => {
            // The version is read on its own first, so that a model written by another
            // version is reported as such rather than as damaged.
            #[derive(Deserialize)]
            struct Version {
                version: u32,
            }
            let version = serde_json::from_slice::<Version>(&bytes)
                .map_err(|error| invalid(format!("is damaged ({error})")))?
                .version;
            if version != MODEL_VERSION {
                return Err(invalid(format!(
                    "has format version {version}, and this agent reads version {MODEL_VERSION}"
                )));
            }
            serde_json::from_slice::<StoredModel>(&bytes)
                .map_err(|error| invalid(format!("is damaged ({error})")))?
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => StoredModel {
            version: MODEL_VERSION,
            ..StoredModel::default()
        },
        Err(error) => {
            return Err(io::Error::new(
                error.kind(),
                format!("cannot read the learned model {}: {error}", path.display()),
            ));
        }
    };
    let mut by_loose: HashMap<u64, Vec<u64>> = HashMap::new();
    for (strict, site) in &mut model.sites {
        // A file edited by hand must not lift the bound.
        if site.structures.len() > MAX_STRUCTURES {
            site.overflowed = true;
            site.structures.clear();
        }
        by_loose.entry(site.loose).or_default().push(*strict);
    }
    model.movable = by_loose
        .into_iter()
        .filter_map(|(loose, stricts)| match stricts[..] {
            [strict] => Some((loose, strict)),
            _ => None,
        })
        .collect();
    Ok(model)
}

fn persist_loop(shared: &Shared) {
    loop {
        let Ok(stop) = shared.stop.lock() else {
            return;
        };
        let Ok((stop, _)) = shared.wake.wait_timeout(stop, PERSIST_INTERVAL) else {
            return;
        };
        if *stop {
            return;
        }
        drop(stop);
        if let Err(error) = persist_if_dirty(shared) {
            tracing::error!(target: "antibody", %error, "cannot write the learned model");
        }
    }
}

fn persist_if_dirty(shared: &Shared) -> io::Result<()> {
    let Some(path) = &shared.path else {
        return Ok(());
    };
    if !shared.dirty.swap(false, Ordering::Relaxed) {
        return Ok(());
    }
    let json = {
        let mut model = shared
            .model
            .lock()
            .map_err(|_| io::Error::other("learned model lock poisoned"))?;
        model.version = MODEL_VERSION;
        serde_json::to_vec(&*model).map_err(io::Error::other)?
    };
    let temporary = path.with_extension("json.tmp");
    let written = fs::write(&temporary, json).and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        // Try again at the next write.
        shared.dirty.store(true, Ordering::Relaxed);
    }
    written
}
