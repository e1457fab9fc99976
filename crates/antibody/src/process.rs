//! Starting programs, checked: [`Command`] mirrors `std::process::Command` (and
//! [`tokio::Command`] mirrors `tokio::process::Command`) and checks the command against the
//! current request before it starts.
//!
//! For a shell (`sh -c SCRIPT` and its kin) the script is read with a shell lexer: request
//! input that adds a separator, a pipe, a redirection, a substitution, a glob, a newline or a
//! second word is command injection. For any other program, input that supplies the program
//! or an option (`-o...`, `--output=...`) is argument injection. In protect mode
//! `spawn`, `output` and `status` then fail with an error of kind
//! [`PermissionDenied`](io::ErrorKind::PermissionDenied) wrapping [`Blocked`], and the layer
//! answers 403. Each line of code also learns the shapes of the commands it starts.
//!
//! The agent is the one serving the current request (see [`crate::RequestContext`]);
//! outside a request the commands start unchecked.

use std::borrow::Cow;
use std::ffi::OsStr;
use std::io;
use std::panic::Location;
use std::path::Path;
use std::process::{Child, ExitStatus, Output, Stdio};

use crate::agent::Agent;
use crate::context::RequestContext;
use crate::decision::Blocked;

/// Checks `command` at the caller's caller, with the current request's agent.
#[track_caller]
fn checked(command: &std::process::Command) -> io::Result<()> {
    let Some(context) = RequestContext::current() else {
        return Ok(());
    };
    let Some(agent) = context.agent() else {
        return Ok(());
    };
    let site = Agent::caller_site(Location::caller());
    let program = command.get_program().to_string_lossy();
    let arguments: Vec<Cow<'_, str>> = command.get_args().map(OsStr::to_string_lossy).collect();
    agent
        .check_command(&program, &arguments, &site)
        .map_err(|blocked| io::Error::new(io::ErrorKind::PermissionDenied, blocked))
}

/// The [`Blocked`] inside an error a command returned, if the agent refused to start it.
pub fn blocked(error: &io::Error) -> Option<&Blocked> {
    error.get_ref()?.downcast_ref::<Blocked>()
}

/// The settings both commands share, passed through to the command they wrap; `$std` names
/// that command's type for the documentation.
macro_rules! settings {
    ($std:literal) => {
        #[doc = concat!("[`", $std, "::arg`].")]
        pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
            self.inner.arg(arg);
            self
        }

        #[doc = concat!("[`", $std, "::args`].")]
        pub fn args<I, S>(&mut self, args: I) -> &mut Self
        where
            I: IntoIterator<Item = S>,
            S: AsRef<OsStr>,
        {
            self.inner.args(args);
            self
        }

        #[doc = concat!("[`", $std, "::env`].")]
        pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
            self.inner.env(key, value);
            self
        }

        #[doc = concat!("[`", $std, "::env_remove`].")]
        pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
            self.inner.env_remove(key);
            self
        }

        #[doc = concat!("[`", $std, "::env_clear`].")]
        pub fn env_clear(&mut self) -> &mut Self {
            self.inner.env_clear();
            self
        }

        #[doc = concat!("[`", $std, "::current_dir`].")]
        pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
            self.inner.current_dir(dir);
            self
        }

        #[doc = concat!("[`", $std, "::stdin`].")]
        pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
            self.inner.stdin(cfg);
            self
        }

        #[doc = concat!("[`", $std, "::stdout`].")]
        pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
            self.inner.stdout(cfg);
            self
        }

        #[doc = concat!("[`", $std, "::stderr`].")]
        pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
            self.inner.stderr(cfg);
            self
        }
    };
}

/// [`std::process::Command`], checked when it starts.
#[derive(Debug)]
pub struct Command {
    inner: std::process::Command,
}

impl Command {
    /// [`std::process::Command::new`].
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Command {
            inner: std::process::Command::new(program),
        }
    }

    settings!("std::process::Command");

    /// [`std::process::Command::spawn`], checked.
    #[track_caller]
    pub fn spawn(&mut self) -> io::Result<Child> {
        checked(&self.inner)?;
        self.inner.spawn()
    }

    /// [`std::process::Command::output`], checked.
    #[track_caller]
    pub fn output(&mut self) -> io::Result<Output> {
        checked(&self.inner)?;
        self.inner.output()
    }

    /// [`std::process::Command::status`], checked.
    #[track_caller]
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        checked(&self.inner)?;
        self.inner.status()
    }

    /// The command as `std` builds it, for settings this wrapper does not mirror.
    pub fn as_std_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }
}

/// `tokio::process::Command`, checked when it starts.
pub mod tokio {
    use std::ffi::OsStr;
    use std::io;
    use std::path::Path;
    use std::process::{ExitStatus, Output, Stdio};

    use super::checked;

    /// [`tokio::process::Command`], checked when it starts. The check runs when `output` or
    /// `status` is called, in the request that calls it.
    #[derive(Debug)]
    pub struct Command {
        inner: ::tokio::process::Command,
    }

    impl Command {
        /// [`tokio::process::Command::new`].
        pub fn new(program: impl AsRef<OsStr>) -> Self {
            Command {
                inner: ::tokio::process::Command::new(program),
            }
        }

        settings!("tokio::process::Command");

        /// [`tokio::process::Command::kill_on_drop`].
        pub fn kill_on_drop(&mut self, kill: bool) -> &mut Self {
            self.inner.kill_on_drop(kill);
            self
        }

        /// [`tokio::process::Command::spawn`], checked.
        #[track_caller]
        pub fn spawn(&mut self) -> io::Result<::tokio::process::Child> {
            checked(self.inner.as_std())?;
            self.inner.spawn()
        }

        /// [`tokio::process::Command::output`], checked.
        #[track_caller]
        pub fn output(&mut self) -> impl Future<Output = io::Result<Output>> + '_ {
            let check = checked(self.inner.as_std());
            async move {
                check?;
                self.inner.output().await
            }
        }

        /// [`tokio::process::Command::status`], checked.
        #[track_caller]
        pub fn status(&mut self) -> impl Future<Output = io::Result<ExitStatus>> + '_ {
            let check = checked(self.inner.as_std());
            async move {
                check?;
                self.inner.status().await
            }
        }
    }
}
