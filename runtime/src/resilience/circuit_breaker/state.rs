//! The breaker's states, and how one is packed with its epoch into the word the lock-free
//! paths read.

use std::fmt;

/// Where a [`CircuitBreaker`](super::CircuitBreaker) stands.
///
/// `Closed`, `Open` and `HalfOpen` are the automatic states; `ForcedOpen` and `Disabled` are
/// entered and left only by hand, and hold until another manual transition.
///
/// ```
/// use snowglobe_runtime::resilience::BreakerState;
///
/// assert_eq!(BreakerState::HalfOpen.to_string(), "half-open");
/// assert!(BreakerState::ForcedOpen.rejects_all());
/// assert!(!BreakerState::HalfOpen.rejects_all());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls go through and are recorded in the sliding window; too many failures or slow
    /// calls open the breaker.
    Closed,
    /// Calls are rejected until the wait in open has passed; then the breaker is half-open.
    Open,
    /// A limited number of trial calls go through; their outcome closes or reopens the
    /// breaker.
    HalfOpen,
    /// Every call is rejected until a manual transition (an operator switch).
    ForcedOpen,
    /// Every call goes through and nothing is recorded until a manual transition.
    Disabled,
}

impl BreakerState {
    /// Whether the state rejects every call, whatever happened before: open and forced open.
    /// A half-open breaker lets trial calls through.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::BreakerState;
    ///
    /// assert!(BreakerState::Open.rejects_all());
    /// assert!(!BreakerState::Disabled.rejects_all());
    /// ```
    #[must_use]
    pub const fn rejects_all(self) -> bool {
        matches!(self, BreakerState::Open | BreakerState::ForcedOpen)
    }

    const fn code(self) -> u64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
            BreakerState::ForcedOpen => 3,
            BreakerState::Disabled => 4,
        }
    }

    fn from_code(code: u64) -> BreakerState {
        match code {
            0 => BreakerState::Closed,
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            3 => BreakerState::ForcedOpen,
            4 => BreakerState::Disabled,
            _ => unreachable!("the state word holds a state code written by `pack`"),
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
            BreakerState::ForcedOpen => "forced open",
            BreakerState::Disabled => "disabled",
        })
    }
}

/// The state and its epoch in one word: the epoch counts the breaker's transitions, so a
/// permit can tell whether the state that granted it is still the current one. 56 bits of
/// epoch: a breaker would need 2^56 transitions to wrap it.
pub(super) const fn pack(state: BreakerState, epoch: u64) -> u64 {
    (epoch << 8) | state.code()
}

/// A flag beside the state code: the breaker is closed and its count window is full, so a
/// good call cannot change its state (it replaces an outcome at least as bad) and may be
/// recorded later, in a batch, without the lock.
pub(super) const SETTLED: u64 = 0x80;

/// The inverse of [`pack`] (ignoring [`SETTLED`]).
pub(super) fn unpack(word: u64) -> (BreakerState, u64) {
    (BreakerState::from_code(word & 0x7f), word >> 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_round_trips() {
        for state in [
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::ForcedOpen,
            BreakerState::Disabled,
        ] {
            assert_eq!(unpack(pack(state, 12_345)), (state, 12_345));
        }
    }
}
