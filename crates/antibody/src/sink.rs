//! What every sink check shares: failing open, reporting the request and the input behind
//! a finding with its secrets masked, and turning a finding into an action.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use antibody_detect::{Fingerprint, Input};

use crate::agent::Agent;
use crate::callsite::CallSite;
use crate::config::{Mode, SinkKind};
use crate::context::RequestContext;
use crate::decision::{Blocked, Finding, decide};
use crate::event::{Action, Event, EventKind, InputReport, REDACTED, is_secret, mask_secrets};
use crate::learning::Observation;

impl Agent {
    /// The mode `sink` runs in and the current request's context, counted as one check;
    /// `None` when the sink is off.
    pub(crate) fn start_check(
        &self,
        sink: SinkKind,
    ) -> Option<(Mode, Option<Arc<RequestContext>>)> {
        let mode = self.config().mode_for(sink);
        if mode == Mode::Off {
            return None;
        }
        self.count_check();
        let context = RequestContext::current();
        if context.is_none() {
            self.count_unattributed();
        }
        Some((mode, context))
    }

    /// Counts one check.
    pub(crate) fn count_check(&self) {
        self.inner.counters.checks.fetch_add(1, Ordering::Relaxed);
    }

    /// One check of `sink` at a site the integration knows: nothing when the sink is off;
    /// otherwise `judge`, given the current request's context and the mode, failing open.
    pub(crate) fn check_at(
        &self,
        sink: SinkKind,
        site: &CallSite,
        judge: impl FnOnce(Option<&RequestContext>, Mode) -> Result<(), Blocked>,
    ) -> Result<(), Blocked> {
        let Some((mode, context)) = self.start_check(sink) else {
            return Ok(());
        };
        self.fail_open(
            sink,
            || Some(site.clone()),
            || {
                assert!(
                    !self.config().panic_in_checks,
                    "fault injected into the {} check",
                    sink.as_str()
                );
                if context.is_none() {
                    self.report_unattributed(sink, site);
                }
                judge(context.as_deref(), mode)
            },
        )
    }

    /// Runs `check`; a panic inside it is reported as an agent error at the site `site`
    /// names (if any), and the action is allowed: the agent never breaks the application.
    pub(crate) fn fail_open(
        &self,
        sink: SinkKind,
        site: impl FnOnce() -> Option<CallSite>,
        check: impl FnOnce() -> Result<(), Blocked>,
    ) -> Result<(), Blocked> {
        catch_unwind(AssertUnwindSafe(check)).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_owned());
            self.note_error(
                sink,
                site().as_ref(),
                format!("panic in the {} check: {message}", sink.as_str()),
            );
            Ok(())
        })
    }

    /// Reports `event` for `finding` under `mode`, and blocks the action when the decision
    /// says so: the one ending of every sink check that found something.
    pub(crate) fn conclude(
        &self,
        context: Option<&RequestContext>,
        mode: Mode,
        finding: Finding,
        mut event: Event,
    ) -> Result<(), Blocked> {
        let Some(action) = decide(mode, self.config().strict, finding) else {
            return Ok(());
        };
        event.action = action;
        if finding == Finding::Attack {
            if let Some(context) = context {
                context.mark_attack();
            }
        }
        let blocked = Blocked {
            event: event.id,
            kind: event.kind,
        };
        self.emit(event);
        if action == Action::Blocked {
            if let Some(context) = context {
                context.block(blocked.event);
            }
            return Err(blocked);
        }
        Ok(())
    }
}

impl Agent {
    /// What one call of a sink amounts to: an attack when an input changed what the sink
    /// does (`injection`: the input and what it added); otherwise what the site's model says
    /// of its `shape`, learned when nothing from the request shaped it. Answers the finding,
    /// the input behind it and what to report as the structure (`new_shape` names a shape
    /// the site never saw); `None` when there is nothing to report.
    pub(crate) fn learn_and_classify<'i>(
        &self,
        site: &CallSite,
        shape: Fingerprint,
        injection: Option<(&'i Input<'i>, &'static str)>,
        context: Option<&RequestContext>,
        new_shape: &str,
    ) -> Option<(Finding, Option<&'i Input<'i>>, String)> {
        let uninspected = context.is_some_and(RequestContext::inputs_overflowed);
        let learnable = injection.is_none()
            && !uninspected
            && !context.is_some_and(RequestContext::attack_reported);
        let observation = self.inner.learning.observe(site, shape.as_u64(), learnable);
        Some(match (injection, observation) {
            (Some((input, added)), _) => (Finding::Attack, Some(input), added.to_owned()),
            (None, Observation::New) if uninspected => (
                Finding::Attack,
                None,
                format!("{new_shape} in a request with inputs the agent did not inspect"),
            ),
            (None, Observation::New) => (Finding::Anomaly, None, new_shape.to_owned()),
            _ => return None,
        })
    }
}

/// A new event of `kind` at `site`, its action still to be decided.
pub(crate) fn event_at(kind: EventKind, mode: Mode, site: &CallSite) -> Event {
    let mut event = Event::new(kind, Action::Reported, mode);
    event.call_site = Some(site.report());
    event
}

/// Fills in the request and the input behind `event`, and answers the request's secret
/// values, which the caller masks in whatever else it reports.
pub(crate) fn describe_request<'c>(
    event: &mut Event,
    context: Option<&'c RequestContext>,
    input: Option<&Input<'_>>,
) -> Vec<&'c str> {
    let secrets: Vec<&str> = context
        .map(|c| c.secret_values().collect())
        .unwrap_or_default();
    event.request = context.map(|context| {
        let mut report = context.report();
        report.path = mask_secrets(&report.path, secrets.iter().copied());
        report
    });
    event.input = input.map(|input| {
        let location = input.location;
        InputReport {
            source: location.source.as_str(),
            name: location.name.to_owned(),
            value: if is_secret(location.source, location.name) {
                REDACTED.to_owned()
            } else {
                mask_secrets(input.value, secrets.iter().copied())
            },
        }
    });
    secrets
}
