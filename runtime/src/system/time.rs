//! Time as the runtime seam reports it.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time on a [`System`](crate::System)'s clock.
///
/// An `Instant` counts nanoseconds since the system started. It comes from the runtime seam
/// ([`System::now`](crate::System::now), [`Context::now`](crate::Context::now)), never from the
/// operating system directly, so that the same code reads virtual time under a simulated clock.
/// It is eight bytes wide, which keeps an envelope's deadline cheap to carry.
///
/// Instants from two different systems are not comparable.
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::Instant;
///
/// let start = Instant::from_nanos(1_000);
/// let later = start + Duration::from_micros(3);
/// assert_eq!(later - start, Duration::from_micros(3));
/// assert_eq!(later.saturating_duration_since(start), Duration::from_micros(3));
/// assert_eq!(start.saturating_duration_since(later), Duration::ZERO);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The system's start.
    pub const ZERO: Instant = Instant(0);

    /// The instant `nanos` nanoseconds after the system started.
    #[must_use]
    pub const fn from_nanos(nanos: u64) -> Instant {
        Instant(nanos)
    }

    /// Nanoseconds since the system started.
    #[must_use]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    #[must_use]
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at the end of time instead of overflowing.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(duration_nanos(d)))
    }
}

/// Nanoseconds in `d`, saturating at `u64::MAX` (about 584 years).
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, rhs: Duration) -> Instant {
        self.saturating_add(rhs)
    }
}

impl Sub for Instant {
    type Output = Duration;

    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_duration_since(rhs)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Instant({:?})", Duration::from_nanos(self.0))
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t+{:?}", Duration::from_nanos(self.0))
    }
}
