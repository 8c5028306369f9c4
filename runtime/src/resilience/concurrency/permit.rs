//! The right to one call in flight.

use tokio::sync::OwnedSemaphorePermit;

/// One of a [`ConcurrencyLimit`](super::ConcurrencyLimit)'s permits: the call it was taken
/// for counts as in flight until the permit is dropped, which hands it to the longest-waiting
/// caller, if any.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::ConcurrencyLimit;
///
/// let system = System::new();
/// let limit = ConcurrencyLimit::new(&system, "payments", 2, Duration::ZERO).unwrap();
/// let permit = limit.try_acquire().unwrap();
/// assert_eq!(limit.in_flight(), 1);
/// drop(permit);
/// assert_eq!(limit.in_flight(), 0);
/// # }
/// ```
#[derive(Debug)]
#[must_use = "the call counts as in flight only while its permit is held"]
pub struct ConcurrencyPermit {
    _permit: OwnedSemaphorePermit,
}

impl ConcurrencyPermit {
    pub(super) fn new(permit: OwnedSemaphorePermit) -> ConcurrencyPermit {
        ConcurrencyPermit { _permit: permit }
    }
}
