//! The outbound-request sink: what the HTTP client integrations
//! ([`crate::integrations::reqwest`]) call before a request leaves, and again for each
//! address a host chosen by a request input resolves to.

use std::net::IpAddr;

use antibody_detect::address::{Reserved, literal_address, reserved};
use antibody_detect::redirect::target;

use crate::agent::Agent;
use crate::callsite::CallSite;
use crate::config::{Mode, SinkKind};
use crate::context::RequestContext;
use crate::decision::{Blocked, Finding};
use crate::event::{EventKind, SinkReport, mask_secrets};
use crate::sink::{describe_request, event_at};

impl Agent {
    /// Checks `url`, about to be fetched at `site`, against the current request: a host a
    /// request input chose must not be, or resolve to, an internal address. A host chosen by
    /// input is remembered in the request, so that the addresses it resolves to, and every
    /// redirect that follows, are checked too. `Err(Blocked)` means the request must not
    /// leave. Never panics.
    pub fn check_outbound(&self, url: &str, site: &CallSite) -> Result<(), Blocked> {
        self.check_at(SinkKind::Outbound, site, |context, mode| {
            let Some(context) = context else {
                return Ok(());
            };
            let inputs = context.inputs();
            let destination = target(url);
            let Some(host) = destination.host.as_deref() else {
                return Ok(());
            };
            // The client may have rewritten the URL it was given (`2130706433` is
            // `127.0.0.1` to it): an input also chose the host when it names the same one.
            let chosen = context.outbound_host_chosen(host)
                || inputs.iter().any(|input| {
                    antibody_detect::redirect::covers(url, input.value, destination.decisive)
                        || names_host(input.value, host)
                });
            if !chosen || self.host_allowed(host) {
                return Ok(());
            }
            context.choose_outbound_host(host, site);
            match literal_address(host).and_then(|ip| reserved(ip).map(|why| (ip, why))) {
                Some((ip, why)) => self.refuse_outbound(url, ip, why, site, context, mode),
                None => Ok(()),
            }
        })
    }

    /// Checks an address the host `host` resolved to, in the request of `context`, when a
    /// request input chose that host: an internal address is refused (DNS that answers with
    /// one, at once or later, cannot lead the request inside).
    pub(crate) fn check_resolved(
        &self,
        context: &RequestContext,
        host: &str,
        ip: IpAddr,
    ) -> Result<(), Blocked> {
        let mode = self.config().mode_for(SinkKind::Outbound);
        let (Some(site), Some(why)) = (context.outbound_site(host), reserved(ip)) else {
            return Ok(());
        };
        if mode == Mode::Off {
            return Ok(());
        }
        self.count_check();
        let url = format!("http://{host}/");
        self.fail_open(
            SinkKind::Outbound,
            || Some(site.clone()),
            || self.refuse_outbound(&url, ip, why, &site, context, mode),
        )
    }

    fn host_allowed(&self, host: &str) -> bool {
        let allowed: Vec<&str> = self
            .config()
            .allowed_hosts
            .iter()
            .map(String::as_str)
            .collect();
        antibody_detect::redirect::is_allowed(host, &allowed)
    }

    fn refuse_outbound(
        &self,
        url: &str,
        ip: IpAddr,
        why: Reserved,
        site: &CallSite,
        context: &RequestContext,
        mode: Mode,
    ) -> Result<(), Blocked> {
        let inputs = context.inputs();
        let host = target(url).host.unwrap_or_default();
        let input = inputs
            .iter()
            .filter(|input| input.value.chars().nth(1).is_some())
            .find(|input| url.contains(input.value) || names_host(input.value, &host));
        let mut event = event_at(EventKind::ServerSideRequestForgery, mode, site);
        let secrets = describe_request(&mut event, Some(context), input);
        event.sink = Some(SinkReport {
            kind: SinkKind::Outbound,
            dialect: None,
            operation: Some("fetch"),
            statement: mask_secrets(url, secrets.iter().copied()),
            fingerprint: None,
        });
        event.structure = Some(format!("{}: {ip}", why.as_str()));
        event.fix = Some(
            "fetch only hosts this application knows: look the requested host up in a list \
             (ANTIBODY_ALLOWED_HOSTS lists the ones allowed here)"
                .to_owned(),
        );
        self.conclude(Some(context), mode, Finding::Attack, event)
    }
}

/// Whether `value`, read as a URL, leads to `host` (the same name, or the same address in
/// another notation).
fn names_host(value: &str, host: &str) -> bool {
    let Some(named) = target(value.trim()).host else {
        return false;
    };
    named == host || literal_address(&named).is_some_and(|ip| literal_address(host) == Some(ip))
}
