//! Invariants: conditions a simulation checks after every step.

use std::fmt;
use std::sync::Arc;

/// A named condition that must hold after every step of a simulation (every task poll: a
/// message handled, a timer fired, a reply received).
#[derive(Clone)]
pub(crate) struct Invariant {
    pub(crate) name: Arc<str>,
    pub(crate) holds: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl fmt::Debug for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Invariant").field(&self.name).finish()
    }
}

/// A named condition that must come true, at the latest `within` after the scenario's own
/// future has finished (once the faults it scheduled are over): a liveness check.
#[derive(Clone)]
pub(crate) struct Eventually {
    pub(crate) name: Arc<str>,
    pub(crate) within: std::time::Duration,
    pub(crate) holds: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl fmt::Debug for Eventually {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Eventually")
            .field("name", &self.name)
            .field("within", &self.within)
            .finish_non_exhaustive()
    }
}

/// The first invariant of `invariants` that does not hold, if any.
pub(crate) fn first_broken(invariants: &[Invariant]) -> Option<&Invariant> {
    invariants.iter().find(|invariant| !(invariant.holds)())
}
