//! Rhai, checked: [`CheckedEval`] adds `eval_checked` and `eval_with_scope_checked` to
//! `rhai::Engine`. Before the script runs, the agent checks it against the current request:
//! input that adds code to it (a name such as a variable of the scope, a call, a statement,
//! a string it closes) is code injection, while input that stays a literal, or adds only
//! arithmetic on literals, is data. In protect mode the evaluation then fails with an error
//! that [`blocked`] recognises, and the layer answers 403.
//!
//! The agent is the one serving the current request; outside a request scripts run
//! unchecked.

use std::panic::Location;

use rhai::{Dynamic, Engine, EvalAltResult, Position, Scope};

use crate::agent::Agent;
use crate::context::RequestContext;
use crate::decision::Blocked;

/// Checked evaluation for `rhai::Engine`.
pub trait CheckedEval {
    /// [`Engine::eval`], checked first.
    #[track_caller]
    fn eval_checked<T: std::any::Any + Clone + Send + Sync>(
        &self,
        script: &str,
    ) -> Result<T, Box<EvalAltResult>>;

    /// [`Engine::eval_with_scope`], checked first.
    #[track_caller]
    fn eval_with_scope_checked<T: std::any::Any + Clone + Send + Sync>(
        &self,
        scope: &mut Scope<'_>,
        script: &str,
    ) -> Result<T, Box<EvalAltResult>>;
}

impl CheckedEval for Engine {
    #[track_caller]
    fn eval_checked<T: std::any::Any + Clone + Send + Sync>(
        &self,
        script: &str,
    ) -> Result<T, Box<EvalAltResult>> {
        checked(script)?;
        self.eval(script)
    }

    #[track_caller]
    fn eval_with_scope_checked<T: std::any::Any + Clone + Send + Sync>(
        &self,
        scope: &mut Scope<'_>,
        script: &str,
    ) -> Result<T, Box<EvalAltResult>> {
        checked(script)?;
        self.eval_with_scope(scope, script)
    }
}

/// Checks `script` at the caller's caller, with the current request's agent.
#[track_caller]
fn checked(script: &str) -> Result<(), Box<EvalAltResult>> {
    let Some(context) = RequestContext::current() else {
        return Ok(());
    };
    let Some(agent) = context.agent() else {
        return Ok(());
    };
    let site = Agent::caller_site(Location::caller());
    agent.check_script(script, &site).map_err(|blocked| {
        Box::new(EvalAltResult::ErrorRuntime(
            Dynamic::from(blocked),
            Position::NONE,
        ))
    })
}

/// The [`Blocked`] inside an error a checked evaluation returned, if the agent refused the
/// script.
pub fn blocked(error: &EvalAltResult) -> Option<Blocked> {
    match error {
        EvalAltResult::ErrorRuntime(value, _) => value.clone().try_cast::<Blocked>(),
        _ => None,
    }
}
