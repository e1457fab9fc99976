//! The SQL sink: what every SQL integration calls before a statement reaches the database.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use antibody_detect::sql::{Dialect, Evidence, Fingerprint, SqlDetector, Verdict};

use crate::agent::Agent;
use crate::callsite::CallSite;
use crate::config::{Mode, SinkKind};
use crate::context::RequestContext;
use crate::decision::{Blocked, Finding, decide};
use crate::event::{Event, EventKind, InputReport, REDACTED, SinkReport, is_secret, mask_secrets};
use crate::learning::Observation;

/// The longest statement checked in full. A longer one is checked on its first part, and
/// the shortfall is reported: the check's cost stays bounded whatever the application runs.
pub const CHECK_BUDGET_BYTES: usize = 1 << 20;

/// The most (site, statement) pairs remembered as benign.
const BENIGN_CACHE: usize = 65_536;

/// Statements already judged benign at an enforcing site, with no request input in them:
/// the same text at the same site is the same verdict, so it skips lexing.
#[derive(Debug, Default)]
pub(crate) struct BenignCache {
    seen: Mutex<HashSet<(u64, u64)>>,
    hasher: foldhash::fast::RandomState,
}

impl BenignCache {
    fn key(&self, site: &CallSite, statement: &str) -> (u64, u64) {
        (site.strict.0, self.hasher.hash_one(statement))
    }

    fn contains(&self, key: (u64, u64)) -> bool {
        self.seen.lock().is_ok_and(|seen| seen.contains(&key))
    }

    fn insert(&self, key: (u64, u64)) {
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= BENIGN_CACHE {
                seen.clear();
            }
            seen.insert(key);
        }
    }
}

impl Agent {
    /// Checks `statement`, about to run in `dialect` at `site`, against the current request.
    /// `Err(Blocked)` means it must not run. Never panics: a failure inside the agent is
    /// reported and the statement allowed.
    pub fn check_sql(
        &self,
        dialect: Dialect,
        statement: &str,
        site: &CallSite,
    ) -> Result<(), Blocked> {
        let mode = self.config().mode_for(SinkKind::Sql);
        if mode == Mode::Off {
            return Ok(());
        }
        self.inner.counters.checks.fetch_add(1, Ordering::Relaxed);
        let context = RequestContext::current();
        if context.is_none() {
            self.note_unattributed(SinkKind::Sql, site);
        }
        let judged = catch_unwind(AssertUnwindSafe(|| {
            self.judge_sql(dialect, statement, site, context.as_deref(), mode)
        }));
        judged.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            self.note_error(
                SinkKind::Sql,
                Some(site),
                format!("panic in the SQL check: {message}"),
            );
            Ok(())
        })
    }

    fn judge_sql(
        &self,
        dialect: Dialect,
        statement: &str,
        site: &CallSite,
        context: Option<&RequestContext>,
        mode: Mode,
    ) -> Result<(), Blocked> {
        assert!(
            !self.config().panic_in_checks,
            "fault injected into the SQL check"
        );
        let checked = within_budget(statement);
        if checked.len() < statement.len() {
            self.note_error(
                SinkKind::Sql,
                Some(site),
                format!(
                    "a statement of {} bytes exceeds the check budget; checked its first {} bytes",
                    statement.len(),
                    checked.len()
                ),
            );
        }
        let inputs = context.map(RequestContext::inputs).unwrap_or_default();
        let detector = SqlDetector::new(dialect);
        // Deciding whether an input occurs never lexes; `analyze` below lexes once.
        let cache_key = (!detector.any_input_occurs(checked, &inputs))
            .then(|| self.inner.benign.key(site, checked));
        if cache_key.is_some_and(|key| self.inner.benign.contains(key)) {
            return Ok(());
        }
        let analysis = detector.analyze(checked, &inputs);
        // Only structures no request input shaped are learned: an injection never, and a lone
        // name an input supplied neither, or an attacker present while the site learns could
        // teach it `id = id`.
        let learnable = matches!(analysis.verdict, Verdict::NoInput | Verdict::Data)
            && !context.is_some_and(RequestContext::attack_reported);
        let observation =
            self.inner
                .learning
                .observe(site, analysis.fingerprint.as_u64(), learnable);
        let (finding, evidence, structure) = match (&analysis.verdict, observation) {
            (Verdict::Injection(evidence), _) => {
                (Finding::Attack, Some(evidence), evidence.added.to_string())
            }
            (Verdict::Ambiguous(evidence), Observation::New) => (
                Finding::Attack,
                Some(evidence),
                format!("new structure: a request input supplies {}", evidence.added),
            ),
            (_, Observation::New) => (Finding::Anomaly, None, "new structure".to_owned()),
            _ => {
                if let (Some(key), Observation::Known) = (cache_key, observation) {
                    self.inner.benign.insert(key);
                }
                return Ok(());
            }
        };
        let Some(action) = decide(mode, self.config().strict, finding) else {
            return Ok(());
        };
        let kind = match finding {
            Finding::Attack => EventKind::SqlInjection,
            Finding::Anomaly => EventKind::SqlAnomaly,
        };
        let mut event = Event::new(kind, action, mode);
        event.call_site = Some(site.report());
        describe_sql(
            &mut event,
            dialect,
            statement,
            analysis.fingerprint,
            context,
            evidence,
        );
        event.structure = Some(structure);
        if finding == Finding::Attack {
            if let Some(context) = context {
                context.mark_attack();
            }
        }
        let blocked = Blocked {
            event: event.id,
            kind,
        };
        self.emit(event);
        if action == crate::event::Action::Blocked {
            if let Some(context) = context {
                context.block(blocked.event);
            }
            return Err(blocked);
        }
        Ok(())
    }
}

/// Fills in what an SQL event says about the request, the statement, the input and the
/// fix, with every secret of the request masked.
fn describe_sql(
    event: &mut Event,
    dialect: Dialect,
    statement: &str,
    fingerprint: Fingerprint,
    context: Option<&RequestContext>,
    evidence: Option<&Evidence<'_>>,
) {
    let secrets: Vec<&str> = context
        .map(|c| c.secret_values().collect())
        .unwrap_or_default();
    event.request = context.map(|context| {
        let mut report = context.report();
        report.path = mask_secrets(&report.path, secrets.iter().copied());
        report
    });
    event.sink = Some(SinkReport {
        kind: SinkKind::Sql,
        dialect: Some(dialect.as_str()),
        statement: mask_secrets(statement, secrets.iter().copied()),
        fingerprint: Some(fingerprint.to_string()),
    });
    event.input = evidence.map(|evidence| {
        let location = evidence.input.location;
        InputReport {
            source: location.source.as_str(),
            name: location.name.to_owned(),
            value: if is_secret(location.source, location.name) {
                REDACTED.to_owned()
            } else {
                mask_secrets(evidence.input.value, secrets.iter().copied())
            },
        }
    });
    event.fix = Some(match evidence {
        Some(evidence) => format!(
            "bind {} `{}` as a parameter instead of pasting it into the statement",
            evidence.input.location.source.as_str(),
            evidence.input.location.name
        ),
        None => "bind every value as a parameter: this site built a statement from data it never \
                 used before (a stored value?)"
            .to_owned(),
    });
}

/// `statement` cut to [`CHECK_BUDGET_BYTES`], at a character boundary.
fn within_budget(statement: &str) -> &str {
    if statement.len() <= CHECK_BUDGET_BYTES {
        return statement;
    }
    let mut end = CHECK_BUDGET_BYTES;
    while !statement.is_char_boundary(end) {
        end -= 1;
    }
    &statement[..end]
}
