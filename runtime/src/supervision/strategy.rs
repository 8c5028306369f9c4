//! How a supervisor restarts its children, and how often it may.

use std::collections::VecDeque;
use std::time::Duration;

use crate::system::Instant;

/// Which children restart when one of them fails.
///
/// The strategy acts on the *supervised* children, those spawned from a [`ChildSpec`]
/// (`spawn_supervised`); children spawned plainly are never restarted and are left alone when
/// a sibling fails. Under [`OneForAll`](Strategy::OneForAll) and
/// [`RestForOne`](Strategy::RestForOne) a failure restarts a group:
///
/// 1. the failed child's instance retires first (its children stop, `on_stop` runs);
/// 2. the others in the group retire one after the other, the last spawned first, each once
///    its current handler has returned; a [`Temporary`](crate::Restart::Temporary) one stops
///    for good with [`StopReason::Shutdown`](crate::StopReason::Shutdown), as in Erlang/OTP;
/// 3. after the failed child's backoff, they start again in spawn order, each once the one
///    before has returned from `on_start`.
///
/// Every mailbox stays open throughout: what is sent to a member meanwhile waits for its new
/// instance, as during any restart. A child that fails while a group restarts makes another
/// round. The restart counts once against the intensity, for the failed child.
///
/// ```
/// use snowglobe_runtime::{Strategy, Supervisor};
///
/// let s = Supervisor::new(Strategy::RestForOne);
/// assert_eq!(s.strategy(), Strategy::RestForOne);
/// ```
///
/// [`ChildSpec`]: crate::ChildSpec
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// Only the failed child restarts; its siblings never notice.
    OneForOne,
    /// Every supervised child restarts: for children that depend on each other all ways.
    OneForAll,
    /// The failed child and the supervised children spawned after it restart; the ones
    /// spawned before it go on: for children that depend on those spawned before them.
    RestForOne,
}

/// How an actor supervises its children: the [`Strategy`], and the restart intensity, at
/// most `intensity` restarts within `period`.
///
/// One restart more than the intensity allows, and the supervisor gives up: it fails itself,
/// so that its own supervisor decides (escalation). At the top of the tree the system logs the
/// failure and leaves the actor stopped; the other trees keep running.
///
/// The default follows Erlang/OTP: one-for-one, at most one restart in five seconds.
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::{Strategy, Supervisor};
///
/// let lenient = Supervisor::new(Strategy::OneForOne).intensity(10, Duration::from_secs(60));
/// assert_eq!(lenient.max_restarts(), 10);
/// assert_eq!(Supervisor::DEFAULT.period(), Duration::from_secs(5));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Supervisor {
    strategy: Strategy,
    intensity: u32,
    period: Duration,
}

impl Supervisor {
    /// One-for-one, at most one restart within five seconds.
    pub const DEFAULT: Supervisor = Supervisor {
        strategy: Strategy::OneForOne,
        intensity: 1,
        period: Duration::from_secs(5),
    };

    /// A supervisor with this strategy and the default intensity.
    #[must_use]
    pub const fn new(strategy: Strategy) -> Supervisor {
        Supervisor {
            strategy,
            ..Supervisor::DEFAULT
        }
    }

    /// At most `max_restarts` restarts within `period`.
    #[must_use]
    pub const fn intensity(mut self, max_restarts: u32, period: Duration) -> Supervisor {
        self.intensity = max_restarts;
        self.period = period;
        self
    }

    /// The strategy.
    #[must_use]
    pub const fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The restarts allowed within [`period`](Supervisor::period).
    #[must_use]
    pub const fn max_restarts(&self) -> u32 {
        self.intensity
    }

    /// The window the intensity counts restarts in.
    #[must_use]
    pub const fn period(&self) -> Duration {
        self.period
    }
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor::DEFAULT
    }
}

/// The restarts a supervisor granted recently, to enforce its intensity.
#[derive(Debug, Default)]
pub(crate) struct RestartLog {
    times: VecDeque<Instant>,
}

impl RestartLog {
    /// Records a restart at `now` if the intensity allows it; `false` means give up.
    pub(crate) fn permit(&mut self, now: Instant, supervisor: &Supervisor) -> bool {
        while let Some(&oldest) = self.times.front() {
            if now.saturating_duration_since(oldest) >= supervisor.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        if self.times.len() >= supervisor.intensity as usize {
            return false;
        }
        self.times.push_back(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intensity_counts_restarts_in_a_sliding_window() {
        let sup = Supervisor::new(Strategy::OneForOne).intensity(2, Duration::from_secs(10));
        let mut log = RestartLog::default();
        let at = |s: u64| Instant::from_nanos(s * 1_000_000_000);
        assert!(log.permit(at(0), &sup));
        assert!(log.permit(at(5), &sup));
        assert!(!log.permit(at(9), &sup), "a third within ten seconds");
        assert!(log.permit(at(10), &sup), "the first left the window");
        assert!(!log.permit(at(14), &sup));
        assert!(log.permit(at(15), &sup));
    }

    #[test]
    fn zero_intensity_never_restarts() {
        let sup = Supervisor::new(Strategy::OneForOne).intensity(0, Duration::from_secs(1));
        assert!(!RestartLog::default().permit(Instant::ZERO, &sup));
    }
}
