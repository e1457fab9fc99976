//! The command sink: what [`crate::process`] calls before a program is started.

use std::borrow::Cow;
use std::path::Path;

use antibody_detect::Fingerprint;
use antibody_detect::command::{
    CommandVerdict, arguments_fingerprint, check_arguments, check_script, script_fingerprint,
};

use crate::agent::Agent;
use crate::callsite::CallSite;
use crate::config::{Mode, SinkKind};
use crate::context::RequestContext;
use crate::decision::{Blocked, Finding};
use crate::event::{EventKind, SinkReport, mask_secrets};
use crate::sink::{describe_request, event_at};

/// Shells whose `-c` argument is a script.
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"];

/// The script a shell is asked to run, if the command runs one: `sh -c SCRIPT`,
/// `bash -lc SCRIPT`, `sh -c -- SCRIPT`, and through a program that starts another
/// (`timeout 5 sh -c SCRIPT`, `env A=1 bash -c SCRIPT`, `busybox sh -c SCRIPT`).
fn shell_script<'a>(program: &'a str, arguments: &'a [Cow<'a, str>]) -> Option<&'a str> {
    let words = std::iter::once(program).chain(arguments.iter().map(AsRef::as_ref));
    for (position, word) in words.enumerate() {
        let name = Path::new(word).file_name().and_then(|name| name.to_str());
        if !name.is_some_and(|name| SHELLS.contains(&name)) {
            continue;
        }
        // The shell's own options come first; `-c` (alone or among others) announces the
        // script, after an optional `--`.
        let rest = &arguments[position..];
        let options = rest
            .iter()
            .take_while(|argument| argument.starts_with('-') && argument.as_ref() != "--");
        let flag = options
            .clone()
            .position(|option| !option.starts_with("--") && option.contains('c'))?;
        let mut script = rest.get(flag + 1)?;
        if script == "--" {
            script = rest.get(flag + 2)?;
        }
        return Some(script);
    }
    None
}

impl Agent {
    /// Checks the command `program arguments...`, about to be started at `site`, against the
    /// current request. `Err(Blocked)` means it must not start. Never panics: a failure
    /// inside the agent is reported and the command allowed.
    pub fn check_command(
        &self,
        program: &str,
        arguments: &[Cow<'_, str>],
        site: &CallSite,
    ) -> Result<(), Blocked> {
        self.check_at(SinkKind::Command, site, |context, mode| {
            self.judge_command(program, arguments, site, context, mode)
        })
    }

    fn judge_command(
        &self,
        program: &str,
        arguments: &[Cow<'_, str>],
        site: &CallSite,
        context: Option<&RequestContext>,
        mode: Mode,
    ) -> Result<(), Blocked> {
        let inputs = context.map(RequestContext::inputs).unwrap_or_default();
        let script = shell_script(program, arguments);
        let (verdict, shape): (CommandVerdict<'_>, Fingerprint) = match script {
            Some(script) => (check_script(script, &inputs), script_fingerprint(script)),
            None => (
                check_arguments(program, arguments, &inputs),
                arguments_fingerprint(program, arguments),
            ),
        };
        let injection = match &verdict {
            CommandVerdict::Injection(evidence) => Some((evidence.input, evidence.added.as_str())),
            CommandVerdict::NoInput | CommandVerdict::Data => None,
        };
        let Some((finding, input, structure)) =
            self.learn_and_classify(site, shape, injection, context, "new command shape")
        else {
            return Ok(());
        };
        let kind = match finding {
            Finding::Attack => EventKind::CommandInjection,
            Finding::Anomaly => EventKind::CommandAnomaly,
        };
        let mut event = event_at(kind, mode, site);
        let secrets = describe_request(&mut event, context, input);
        let mut line = String::from(program);
        for argument in arguments {
            line.push(' ');
            line.push_str(argument);
        }
        event.sink = Some(SinkReport {
            kind: SinkKind::Command,
            dialect: None,
            operation: Some(if script.is_some() { "shell" } else { "exec" }),
            statement: mask_secrets(&line, secrets.iter().copied()),
            fingerprint: Some(shape.to_string()),
        });
        event.structure = Some(structure);
        event.fix = Some(match input {
            Some(input) => format!(
                "pass {} `{}` as one argument of an argument vector, without a shell, after \
                 `--`, and check it against what the command expects",
                input.location.source.as_str(),
                input.location.name
            ),
            None => "check where this command comes from: this line never started a command \
                     of this shape before (a stored value?)"
                .to_owned(),
        });
        self.conclude(context, mode, finding, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shell_s_script_is_the_argument_after_its_c_flag() {
        let args = |list: &[&'static str]| -> Vec<Cow<'static, str>> {
            list.iter().map(|a| Cow::Borrowed(*a)).collect()
        };
        assert_eq!(shell_script("sh", &args(&["-c", "id"])), Some("id"));
        assert_eq!(shell_script("/bin/bash", &args(&["-lc", "id"])), Some("id"));
        assert_eq!(shell_script("sh", &args(&["-c", "--", "id"])), Some("id"));
        assert_eq!(
            shell_script("busybox", &args(&["sh", "-c", "id"])),
            Some("id")
        );
        assert_eq!(
            shell_script("timeout", &args(&["5", "sh", "-c", "id"])),
            Some("id")
        );
        assert_eq!(
            shell_script("env", &args(&["A=1", "/bin/dash", "-e", "-c", "id"])),
            Some("id")
        );
        assert_eq!(shell_script("getent", &args(&["-c", "id"])), None);
        assert_eq!(shell_script("sh", &args(&["script.sh"])), None);
        assert_eq!(shell_script("bash", &args(&["--norc", "x"])), None);
    }
}
