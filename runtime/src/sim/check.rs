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

/// The first invariant of `invariants` that does not hold, if any.
pub(crate) fn first_broken(invariants: &[Invariant]) -> Option<&Invariant> {
    invariants.iter().find(|invariant| !(invariant.holds)())
}
