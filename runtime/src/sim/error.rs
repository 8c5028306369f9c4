//! Why a simulation run did not produce its output.

use std::sync::Arc;

use super::trace::{Divergence, TraceEvent};
use crate::system::Instant;

/// Why [`Simulation::run`](super::Simulation::run) or
/// [`Simulation::check_determinism`](super::Simulation::check_determinism) failed.
///
/// ```
/// use snowglobe_runtime::sim::{SimError, Simulation};
///
/// // Waiting on something nothing will ever send: the run stops instead of hanging.
/// let mut sim = Simulation::with_seed(5);
/// let (_tx, rx) = tokio::sync::oneshot::channel::<()>();
/// let result = sim.run(|_system| async move { rx.await });
/// assert!(matches!(result, Err(SimError::Stalled { .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The run's future waits, but no task is ready and no timer is set: nothing inside the
    /// simulation can ever wake it (a deadlock, or a wait on a real thread or real I/O).
    #[error(
        "the simulation stalled at {at} with {tasks} tasks waiting and no timer set (seed {seed})"
    )]
    Stalled {
        /// The virtual time it stopped at.
        at: Instant,
        /// Spawned tasks still waiting.
        tasks: usize,
        /// The simulation's seed.
        seed: u64,
    },
    /// An invariant did not hold after a step of the run.
    #[error(
        "invariant `{check}` broken at {at} (seed {seed}); repeat it: {command}\n\
         the last {} trace events:\n{}",
        recent.len(),
        recent.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
    )]
    Invariant {
        /// The invariant's name.
        check: Arc<str>,
        /// The virtual time of the step after which it did not hold.
        at: Instant,
        /// The simulation's seed.
        seed: u64,
        /// The last trace events up to that step, oldest first.
        recent: Vec<TraceEvent>,
        /// The command that repeats the run (see [`repeat_command`](super::repeat_command)).
        command: Arc<str>,
    },
    /// A check given to [`Simulation::eventually`](super::Simulation::eventually) did not
    /// come true in the time it had after the scenario ended.
    #[error(
        "`{check}` did not come true by {at} (seed {seed}); repeat it: {command}\n\
         the last {} trace events:\n{}",
        recent.len(),
        recent.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n")
    )]
    Liveness {
        /// The check's name.
        check: Arc<str>,
        /// The virtual time its wait ended.
        at: Instant,
        /// The simulation's seed.
        seed: u64,
        /// The last trace events, oldest first.
        recent: Vec<TraceEvent>,
        /// The command that repeats the run.
        command: Arc<str>,
    },
    /// A simulation is already running on this thread; runs do not nest.
    #[error("a simulation is already running on this thread")]
    Nested,
    /// Two runs with the same seed recorded different traces: something outside the runtime
    /// seam (a real clock, a real thread, a global, the OS's randomness) changed the run.
    #[error("two runs with seed {seed} diverged at {divergence}")]
    Diverged {
        /// The seed both runs used.
        seed: u64,
        /// The first differing event.
        divergence: Box<Divergence>,
    },
}
