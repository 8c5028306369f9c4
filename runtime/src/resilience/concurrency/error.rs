//! Why a concurrency limit refused a call, and why a configuration made no limit.

use std::sync::Arc;

use crate::resilience::FailureKind;

/// A call the [`ConcurrencyLimit`](super::ConcurrencyLimit) did not let through: every
/// permit stayed in use for as long as the call could wait. The call was not made.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{ConcurrencyLimit, FailureKind};
///
/// let system = System::new();
/// let limit = ConcurrencyLimit::new(&system, "payments", 1, Duration::ZERO).unwrap();
/// let _permit = limit.try_acquire().unwrap();
/// let full = limit.try_acquire().unwrap_err();
/// assert_eq!(full.max_in_flight, 1);
/// assert_eq!(full.kind(), FailureKind::BulkheadFull);
/// assert_eq!(full.to_string(), "concurrency limit `payments` has all 1 permits in use");
/// # }
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[error("concurrency limit `{limit}` has all {max_in_flight} permits in use")]
pub struct BulkheadFull {
    /// The limit's name.
    pub limit: Arc<str>,
    /// The most calls the limit lets run at once.
    pub max_in_flight: usize,
}

impl BulkheadFull {
    /// Always [`FailureKind::BulkheadFull`], a transient failure.
    ///
    /// ```
    /// use snowglobe_runtime::resilience::{BulkheadFull, FailureKind};
    ///
    /// let full = BulkheadFull { limit: "payments".into(), max_in_flight: 8 };
    /// assert_eq!(full.kind(), FailureKind::BulkheadFull);
    /// ```
    #[must_use]
    pub fn kind(&self) -> FailureKind {
        FailureKind::BulkheadFull
    }
}

/// A [`ConcurrencyLimit`](super::ConcurrencyLimit) setting out of its range.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{ConcurrencyLimit, InvalidLimit};
///
/// let system = System::new();
/// let error = ConcurrencyLimit::new(&system, "payments", 0, Duration::ZERO).unwrap_err();
/// assert!(matches!(error, InvalidLimit::ZeroInFlight { .. }));
/// assert_eq!(error.to_string(), "concurrency limit `payments`: no call may be in flight");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidLimit {
    /// The maximum in flight is zero: no call could ever go through.
    #[error("concurrency limit `{limit}`: no call may be in flight")]
    ZeroInFlight {
        /// The limit's name.
        limit: Arc<str>,
    },
    /// The maximum in flight is above what the semaphore can count (`usize::MAX >> 3`).
    #[error("concurrency limit `{limit}`: {max_in_flight} in flight is more than {max}")]
    TooManyInFlight {
        /// The limit's name.
        limit: Arc<str>,
        /// The maximum given.
        max_in_flight: usize,
        /// The largest maximum allowed.
        max: usize,
    },
}
