//! The one place that turns a finding and a mode into an action.

use std::fmt;

use crate::config::Mode;
use crate::event::{Action, EventId, EventKind};

/// What a sink check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Finding {
    /// Request input changed what the sink does.
    Attack,
    /// The call site did something it never learned, and no request input explains it.
    Anomaly,
}

/// The action for `finding` under `mode`, or `None` when the agent is off. Attacks are
/// blocked in protect mode; anomalies only in strict protect mode, since without an input
/// behind them they may be a new feature as well as a stored injection.
pub(crate) fn decide(mode: Mode, strict: bool, finding: Finding) -> Option<Action> {
    match (mode, finding) {
        (Mode::Off, _) => None,
        (Mode::Protect, Finding::Attack) => Some(Action::Blocked),
        (Mode::Protect, Finding::Anomaly) if strict => Some(Action::Blocked),
        (Mode::Monitor | Mode::Protect, _) => Some(Action::Reported),
    }
}

/// The error a sink returns instead of running an action the agent refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// The event that reports it.
    pub event: EventId,
    /// What was found.
    pub kind: EventKind,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "blocked by Antibody: {} (event {})",
            self.kind.as_str(),
            self.event
        )
    }
}

impl std::error::Error for Blocked {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacks_are_blocked_only_in_protect_mode() {
        assert_eq!(decide(Mode::Off, false, Finding::Attack), None);
        assert_eq!(
            decide(Mode::Monitor, true, Finding::Attack),
            Some(Action::Reported)
        );
        assert_eq!(
            decide(Mode::Protect, false, Finding::Attack),
            Some(Action::Blocked)
        );
    }

    #[test]
    fn anomalies_are_blocked_only_in_strict_protect_mode() {
        assert_eq!(
            decide(Mode::Monitor, true, Finding::Anomaly),
            Some(Action::Reported)
        );
        assert_eq!(
            decide(Mode::Protect, false, Finding::Anomaly),
            Some(Action::Reported)
        );
        assert_eq!(
            decide(Mode::Protect, true, Finding::Anomaly),
            Some(Action::Blocked)
        );
    }
}
