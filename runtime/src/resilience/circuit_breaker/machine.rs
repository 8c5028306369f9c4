//! The state machine, under the breaker's lock: what each state does with a request for
//! permission and with a call's outcome, and what entering a state resets.

use std::time::Duration;

use super::config::CircuitBreakerConfig;
use super::state::{BreakerState, SETTLED, pack};
use super::window::{Outcome, Totals, Window};
use crate::Instant;

/// The answer to a request for permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Permission {
    /// Go ahead; the outcome counts toward the state of `epoch` if it is still current.
    Granted { epoch: u64, trial: bool },
    Rejected {
        state: BreakerState,
        retry_after: Option<Duration>,
    },
}

/// A change of state, for the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Change {
    pub(super) from: BreakerState,
    pub(super) to: BreakerState,
    pub(super) at: Instant,
}

#[derive(Debug)]
pub(super) struct Machine {
    state: BreakerState,
    /// Counts transitions (and manual re-entries): a permit granted in an earlier epoch
    /// counts for nothing, so a call that outlives its state cannot sway the next one.
    epoch: u64,
    /// The closed state's calls.
    window: Window,
    /// The half-open state's completed trial calls.
    trials: Totals,
    /// Trial calls not yet handed out. A completed trial keeps its place; an ignored or
    /// dropped one gives it back.
    free_trials: u32,
    /// Whether the metrics show the trials rather than the window: from half-open until the
    /// breaker closes, so an open breaker shows the calls that opened it.
    showing_trials: bool,
    open_until: Instant,
    half_open_since: Instant,
    /// Openings since the breaker was last closed: the open backoff's exponent.
    opens_in_a_row: u32,
    /// The transition the current operation made, for the caller to publish. Every
    /// operation makes at most one.
    change: Option<Change>,
}

impl Machine {
    pub(super) fn new(config: &CircuitBreakerConfig) -> Machine {
        Machine {
            state: BreakerState::Closed,
            epoch: 0,
            window: Window::new(config.sliding_window),
            trials: Totals::default(),
            free_trials: 0,
            showing_trials: false,
            open_until: Instant::ZERO,
            half_open_since: Instant::ZERO,
            opens_in_a_row: 0,
            change: None,
        }
    }

    /// The state and epoch, packed for the lock-free readers, with [`SETTLED`] when good
    /// calls may be recorded later.
    pub(super) fn word(&self) -> u64 {
        let settled = self.state == BreakerState::Closed && self.window.is_full_count();
        pack(self.state, self.epoch) | if settled { SETTLED } else { 0 }
    }

    /// The machine's epoch if its low 32 bits are `tag`, else one that matches nothing.
    pub(super) fn epoch_matching(&self, tag: u64) -> u64 {
        if self.epoch & 0xffff_ffff == tag {
            self.epoch
        } else {
            u64::MAX
        }
    }

    /// Records `calls` good calls of `epoch` that were deferred while the breaker was
    /// settled. They cannot change the state: each replaces an outcome at least as bad.
    pub(super) fn absorb_good_calls(&mut self, epoch: u64, calls: u64, now: Instant) {
        if epoch != self.epoch || self.state != BreakerState::Closed {
            return;
        }
        self.window.record_good(now, calls);
    }

    pub(super) fn take_change(&mut self) -> Option<Change> {
        self.change.take()
    }

    /// Makes the transitions that time alone causes, due by `now`: they happen on the first
    /// look at the breaker after they are due, since no timer runs.
    pub(super) fn tick(&mut self, now: Instant, config: &CircuitBreakerConfig) {
        match self.state {
            BreakerState::Open if now >= self.open_until => {
                self.enter(BreakerState::HalfOpen, now, config);
            }
            BreakerState::HalfOpen
                if config.max_wait_in_half_open.is_some_and(|max| {
                    now.saturating_duration_since(self.half_open_since) >= max
                }) =>
            {
                self.enter(BreakerState::Open, now, config);
            }
            _ => {}
        }
    }

    pub(super) fn state(&mut self, now: Instant, config: &CircuitBreakerConfig) -> BreakerState {
        self.tick(now, config);
        self.state
    }

    pub(super) fn acquire(&mut self, now: Instant, config: &CircuitBreakerConfig) -> Permission {
        self.tick(now, config);
        let epoch = self.epoch;
        match self.state {
            BreakerState::Closed | BreakerState::Disabled => Permission::Granted {
                epoch,
                trial: false,
            },
            BreakerState::HalfOpen if self.free_trials > 0 => {
                self.free_trials -= 1;
                Permission::Granted { epoch, trial: true }
            }
            BreakerState::Open => Permission::Rejected {
                state: BreakerState::Open,
                retry_after: Some(self.open_until.saturating_duration_since(now)),
            },
            state => Permission::Rejected {
                state,
                retry_after: None,
            },
        }
    }

    /// Records the outcome of a call granted in `epoch`, and judges the rates.
    pub(super) fn record(
        &mut self,
        epoch: u64,
        outcome: Outcome,
        now: Instant,
        config: &CircuitBreakerConfig,
    ) {
        // A half-open breaker that waited too long opened before this outcome arrived.
        self.tick(now, config);
        if epoch != self.epoch {
            return;
        }
        match self.state {
            BreakerState::Closed => {
                // A good call into a full count window cannot raise a rate: the window was
                // below both thresholds before it (else the breaker would be open), and the
                // call replaces an outcome at least as bad.
                let settled = self.window.is_full_count() && !outcome.failed && !outcome.slow;
                self.window.record(now, outcome);
                if settled {
                    return;
                }
                let totals = self.window.totals(now);
                if exceeds(totals, config.closed_minimum(), config) {
                    self.enter(BreakerState::Open, now, config);
                }
            }
            BreakerState::HalfOpen => {
                self.trials.add(outcome);
                let permitted = u64::from(config.permitted_calls_in_half_open);
                if self.trials.calls >= permitted {
                    let to = if exceeds(self.trials, permitted, config) {
                        BreakerState::Open
                    } else {
                        BreakerState::Closed
                    };
                    self.enter(to, now, config);
                }
            }
            // Open and forced-open breakers grant nothing; disabled ones record nothing.
            _ => {}
        }
    }

    /// A trial call of `epoch` will not complete: its place goes to another.
    pub(super) fn release(&mut self, epoch: u64, config: &CircuitBreakerConfig) {
        if self.state == BreakerState::HalfOpen && epoch == self.epoch {
            self.free_trials = (self.free_trials + 1).min(config.permitted_calls_in_half_open);
        }
    }

    /// The state, the calls the metrics show and the minimum for their rates.
    pub(super) fn snapshot(
        &mut self,
        now: Instant,
        config: &CircuitBreakerConfig,
    ) -> (BreakerState, Totals, u64) {
        self.tick(now, config);
        if self.showing_trials {
            let permitted = u64::from(config.permitted_calls_in_half_open);
            (self.state, self.trials, permitted)
        } else {
            (self.state, self.window.totals(now), config.closed_minimum())
        }
    }

    /// Enters `to` whatever the current state: the manual transitions. Entering the current
    /// state again starts it afresh (an empty window, a new wait, new trials) without an
    /// event.
    pub(super) fn transition(
        &mut self,
        to: BreakerState,
        now: Instant,
        config: &CircuitBreakerConfig,
    ) {
        self.enter(to, now, config);
    }

    fn enter(&mut self, to: BreakerState, now: Instant, config: &CircuitBreakerConfig) {
        debug_assert!(self.change.is_none(), "one transition per operation");
        let from = self.state;
        self.state = to;
        self.epoch += 1;
        match to {
            BreakerState::Closed => {
                self.window.reset();
                self.showing_trials = false;
                self.opens_in_a_row = 0;
            }
            BreakerState::Open => {
                // The window (or the trials) stay as they were: the calls that opened it.
                self.opens_in_a_row = self.opens_in_a_row.saturating_add(1);
                self.open_until = now.saturating_add(config.wait_for(self.opens_in_a_row));
            }
            BreakerState::HalfOpen => {
                self.trials = Totals::default();
                self.free_trials = config.permitted_calls_in_half_open;
                self.half_open_since = now;
                self.showing_trials = true;
            }
            BreakerState::ForcedOpen | BreakerState::Disabled => {
                self.window.reset();
                self.trials = Totals::default();
                self.showing_trials = false;
                self.opens_in_a_row = 0;
            }
        }
        if from != to {
            self.change = Some(Change { from, to, at: now });
        }
    }
}

/// Whether the failure rate or the slow-call rate reached its threshold, with at least
/// `minimum` calls.
fn exceeds(totals: Totals, minimum: u64, config: &CircuitBreakerConfig) -> bool {
    let failing = totals
        .failure_rate(minimum)
        .is_some_and(|rate| rate >= config.failure_rate_threshold);
    let slow = totals
        .slow_call_rate(minimum)
        .is_some_and(|rate| rate >= config.slow_call_rate_threshold);
    failing || slow
}
