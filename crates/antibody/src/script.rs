//! The script sink: what the script integrations ([`crate::integrations::rhai`]) call before
//! a script is evaluated.

use antibody_detect::script::{ScriptVerdict, check, fingerprint};

use crate::agent::Agent;
use crate::callsite::CallSite;
use crate::config::{Mode, SinkKind};
use crate::context::RequestContext;
use crate::decision::{Blocked, Finding};
use crate::event::{EventKind, SinkReport, mask_secrets};
use crate::sink::{describe_request, event_at};

impl Agent {
    /// Checks `script`, about to be evaluated at `site`, against the current request.
    /// `Err(Blocked)` means it must not run. Never panics: a failure inside the agent is
    /// reported and the script allowed.
    pub fn check_script(&self, script: &str, site: &CallSite) -> Result<(), Blocked> {
        self.check_at(SinkKind::Script, site, |context, mode| {
            self.judge_script(script, site, context, mode)
        })
    }

    fn judge_script(
        &self,
        script: &str,
        site: &CallSite,
        context: Option<&RequestContext>,
        mode: Mode,
    ) -> Result<(), Blocked> {
        let inputs = context.map(RequestContext::inputs).unwrap_or_default();
        let verdict = check(script, &inputs);
        let shape = fingerprint(script);
        let injection = match &verdict {
            ScriptVerdict::Injection(evidence) => Some((evidence.input, evidence.added.as_str())),
            ScriptVerdict::NoInput | ScriptVerdict::Data => None,
        };
        let Some((finding, input, structure)) =
            self.learn_and_classify(site, shape, injection, context, "new script shape")
        else {
            return Ok(());
        };
        let kind = match finding {
            Finding::Attack => EventKind::CodeInjection,
            Finding::Anomaly => EventKind::ScriptAnomaly,
        };
        let mut event = event_at(kind, mode, site);
        let secrets = describe_request(&mut event, context, input);
        event.sink = Some(SinkReport {
            kind: SinkKind::Script,
            dialect: None,
            operation: Some("eval"),
            statement: mask_secrets(script, secrets.iter().copied()),
            fingerprint: Some(shape.to_string()),
        });
        event.structure = Some(structure);
        event.fix = Some(match input {
            Some(input) => format!(
                "pass {} `{}` into the script as a variable in its scope, parsed to the type \
                 it should be, instead of pasting it into the script's text",
                input.location.source.as_str(),
                input.location.name
            ),
            None => "check where this script comes from: this line never evaluated a script of \
                     this shape before (a stored value?)"
                .to_owned(),
        });
        self.conclude(context, mode, finding, event)
    }
}
