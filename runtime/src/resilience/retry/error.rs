//! Why a [`RetryBudget`](super::RetryBudget) could not be made.

use std::time::Duration;

/// A [`RetryBudget`](super::RetryBudget) setting out of its range.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use snowglobe_runtime::System;
/// use snowglobe_runtime::resilience::{InvalidBudget, RetryBudget};
///
/// let system = System::new();
/// let error = RetryBudget::new(&system, Duration::from_secs(10), 1, -0.5).unwrap_err();
/// assert_eq!(error, InvalidBudget::RetryRatio(-0.5));
/// assert_eq!(error.to_string(), "retry budget ratio -0.5 is not within 0..=1000");
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidBudget {
    /// The ttl is not within 1 s to 60 s.
    #[error("retry budget ttl {0:?} is not within 1s..=60s")]
    Ttl(Duration),
    /// The retry ratio is not within 0 to 1000 (or is not a number).
    #[error("retry budget ratio {0} is not within 0..=1000")]
    RetryRatio(f32),
}
