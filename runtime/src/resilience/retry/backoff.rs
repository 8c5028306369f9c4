//! The delay before a retry: exponential backoff, capped, then jittered.
//!
//! All arithmetic is on nanoseconds in `u128`, so no input overflows; a delay saturates at
//! `u64::MAX` nanoseconds (about 584 years).

use std::time::Duration;

/// How a [`Retry`](super::Retry) spreads its delays, so that callers that failed together do
/// not retry together. The definitions are those of the AWS architecture blog post
/// "Exponential Backoff And Jitter". With `exp = min(max, base * 2^(retry - 1))` and
/// `random(a, b)` a uniform pick in `[a, b]`:
///
/// ```
/// use std::time::Duration;
/// use snowglobe_runtime::resilience::{Jitter, Retry};
///
/// let ms = Duration::from_millis;
/// let retry = Retry::new(5).backoff(ms(100), ms(1_000));
/// // the third retry: exp = 100 ms * 2^2 = 400 ms; `0` and `u64::MAX` are the ends of the range
/// let third = |jitter, random| retry.clone().jitter(jitter).delay(3, ms(300), random);
/// assert_eq!(third(Jitter::None, 12345), ms(400));
/// assert_eq!((third(Jitter::Full, 0), third(Jitter::Full, u64::MAX)), (ms(0), ms(400)));
/// assert_eq!((third(Jitter::Equal, 0), third(Jitter::Equal, u64::MAX)), (ms(200), ms(400)));
/// assert_eq!(
///     (third(Jitter::Decorrelated, 0), third(Jitter::Decorrelated, u64::MAX)),
///     (ms(100), ms(900)),
/// );
/// assert_eq!(Jitter::default(), Jitter::Full);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// No jitter: `delay = exp`. Callers that failed together retry together.
    None,
    /// "Full jitter": `delay = random(0, exp)`. The fewest calls of the four, and the default.
    #[default]
    Full,
    /// "Equal jitter": `delay = exp / 2 + random(0, exp / 2)`: never less than half the
    /// exponential delay.
    Equal,
    /// "Decorrelated jitter": `delay = min(max, random(base, previous * 3))`, where
    /// `previous` is the delay before the previous retry (`base` before the first). It grows
    /// from the last delay rather than from the retry number; a `previous * 3` below `base`
    /// counts as `base`.
    Decorrelated,
}

/// The delay before retry number `retry` (1 = the first); see [`Jitter`] for the formulas.
pub(super) fn delay(
    jitter: Jitter,
    base: Duration,
    max: Duration,
    retry: u32,
    previous: Duration,
    random: u64,
) -> Duration {
    let base = base.as_nanos();
    let max = max.as_nanos();
    let nanos = match jitter {
        Jitter::None => exponential(base, max, retry),
        Jitter::Full => between(0, exponential(base, max, retry), random),
        Jitter::Equal => {
            let exp = exponential(base, max, retry);
            // `exp - exp / 2` rather than `exp / 2` twice, so that the top of the range is
            // `exp` itself when `exp` is odd.
            let half = exp / 2;
            half + between(0, exp - half, random)
        }
        Jitter::Decorrelated => {
            let previous = match previous.as_nanos() {
                0 => base,
                p => p,
            };
            let high = previous.saturating_mul(3).max(base);
            between(base, high, random).min(max)
        }
    };
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

/// `min(max, base * 2^(retry - 1))`, with retry 0 counted as 1.
fn exponential(base: u128, max: u128, retry: u32) -> u128 {
    let doublings = retry.saturating_sub(1);
    let exp = if base == 0 {
        0
    } else if base.leading_zeros() >= doublings {
        base << doublings
    } else {
        u128::MAX
    };
    exp.min(max)
}

/// A uniform pick in `[low, high]` from a random `u64`: `0` gives `low`, `u64::MAX` gives
/// `high` (multiply and shift, which maps the `u64` range onto the span without a modulo's
/// bias towards small values).
fn between(low: u128, high: u128, random: u64) -> u128 {
    if high <= low {
        return low;
    }
    let span = high - low;
    // A span of 2^64 nanoseconds or more (centuries) is cut to keep the product in a u128.
    let span = span.min(u128::from(u64::MAX) - 1);
    low + ((u128::from(random) * (span + 1)) >> 64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn between_reaches_both_ends() {
        assert_eq!(between(5, 5, u64::MAX), 5);
        assert_eq!(between(5, 9, 0), 5);
        assert_eq!(between(5, 9, u64::MAX), 9);
        assert_eq!(between(0, 1, 1 << 63), 1);
        assert_eq!(between(0, 1, (1 << 63) - 1), 0);
    }

    #[test]
    fn exponential_saturates_then_caps() {
        assert_eq!(exponential(3, u128::MAX, 0), 3);
        assert_eq!(exponential(3, u128::MAX, 31), 3 << 30);
        assert_eq!(exponential(1, u128::MAX, 40), 1 << 39);
        assert_eq!(exponential(1, u128::MAX, 128), 1 << 127);
        assert_eq!(exponential(1, u128::MAX, 129), u128::MAX);
        assert_eq!(exponential(3, 1_000, u32::MAX), 1_000);
        assert_eq!(exponential(0, 1_000, u32::MAX), 0);
    }
}
