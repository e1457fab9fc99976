//! The redirect sink: the layer checks the `Location` of every redirect the application
//! answers with, so no application change is needed.

use antibody_detect::redirect::{RedirectVerdict, check};

use crate::agent::Agent;
use crate::config::{Mode, SinkKind};
use crate::context::RequestContext;
use crate::decision::{Blocked, Finding};
use crate::event::{Action, Event, EventKind, SinkReport, mask_secrets};
use crate::sink::describe_request;

impl Agent {
    /// Checks `location`, where a response to the request of `context` sends the browser.
    /// `Err(Blocked)` means the redirect must not be sent. Never panics: a failure inside
    /// the agent is reported and the redirect sent.
    pub(crate) fn check_redirect(
        &self,
        location: &str,
        context: &RequestContext,
    ) -> Result<(), Blocked> {
        let mode = self.config().mode_for(SinkKind::Redirect);
        if mode == Mode::Off {
            return Ok(());
        }
        self.count_check();
        self.fail_open(
            SinkKind::Redirect,
            || None,
            || self.judge_redirect(location, context, mode),
        )
    }

    fn judge_redirect(
        &self,
        location: &str,
        context: &RequestContext,
        mode: Mode,
    ) -> Result<(), Blocked> {
        assert!(
            !self.config().panic_in_checks,
            "fault injected into the redirect check"
        );
        let inputs = context.inputs();
        let config = self.config();
        let allowed: Vec<&str> = config
            .own_hosts
            .iter()
            .chain(&config.allowed_hosts)
            .map(String::as_str)
            .collect();
        let RedirectVerdict::OpenRedirect(evidence) = check(location, &inputs, &allowed) else {
            return Ok(());
        };
        let mut event = Event::new(EventKind::OpenRedirect, Action::Reported, mode);
        let secrets = describe_request(&mut event, Some(context), Some(evidence.input));
        event.sink = Some(SinkReport {
            kind: SinkKind::Redirect,
            dialect: None,
            operation: Some("redirect"),
            statement: mask_secrets(location, secrets.iter().copied()),
            fingerprint: None,
        });
        event.structure = Some(match &evidence.host {
            Some(host) => format!("{}: {host}", evidence.added.as_str()),
            None => evidence.added.as_str().to_owned(),
        });
        event.fix = Some(format!(
            "redirect only to a path of this site or an allowed host: check {} `{}` against \
             them (ANTIBODY_ALLOWED_HOSTS lists the hosts allowed here)",
            evidence.input.location.source.as_str(),
            evidence.input.location.name
        ));
        self.conclude(Some(context), mode, Finding::Attack, event)
    }
}
