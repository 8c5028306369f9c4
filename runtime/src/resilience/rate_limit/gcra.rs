//! The token bucket as GCRA (the generic cell rate algorithm): the whole bucket is one
//! number, the theoretical arrival time `tat`, the instant at which the bucket would be full
//! again had no token been taken since. Its debt `tat - now` is the time the missing tokens
//! take to refill, so the bucket holds `burst - debt / interval` tokens. Taking a token adds
//! one interval to `tat`; a reservation takes a token the bucket does not have yet, pushing
//! `tat` past `now + burst * interval`, which is what queues later callers behind it.
//!
//! All values are nanoseconds on the system's clock.

/// The fixed parameters of one bucket. The arithmetic that can pass `u64::MAX` (a huge
/// burst times a long interval) is done in `u128`, so no extreme setting wraps or saturates
/// into a bucket that lets everything through.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bucket {
    /// Nanoseconds for one token to refill, at least 1.
    pub(super) interval: u64,
    /// `burst * interval`: the debt of an empty bucket.
    capacity: u128,
    pub(super) burst: u32,
}

impl Bucket {
    pub(super) fn new(interval: u64, burst: u32) -> Bucket {
        Bucket {
            interval,
            capacity: u128::from(interval) * u128::from(burst),
            burst,
        }
    }

    /// How long a caller at `now` waits for its token: zero if the bucket has one.
    pub(super) fn wait(self, tat: u64, now: u64) -> u128 {
        let debt = tat.saturating_sub(now);
        (u128::from(debt) + u128::from(self.interval)).saturating_sub(self.capacity)
    }

    /// `tat` once a caller at `now` has taken (or reserved) a token, or `None` when that is
    /// past the end of the clock (584 years): no token is ever given for then. The bucket's
    /// last token is the exception: it is given, and the bucket is empty until the end of
    /// the clock (a rate of one in centuries). With more tokens left, a `tat` held at the end
    /// of the clock would stop counting them, so those are refused instead.
    pub(super) fn take(self, tat: u64, now: u64) -> Option<u64> {
        match tat.max(now).checked_add(self.interval) {
            Some(tat) => Some(tat),
            None if self.wait(tat, now) == 0 && self.available(tat, now) == 1 => Some(u64::MAX),
            None => None,
        }
    }

    /// Whole tokens in the bucket at `now`.
    pub(super) fn available(self, tat: u64, now: u64) -> u32 {
        let debt = tat.saturating_sub(now);
        let tokens = self.capacity.saturating_sub(u128::from(debt)) / u128::from(self.interval);
        // At most `burst`, a u32, since the capacity is `burst * interval`.
        u32::try_from(tokens).unwrap_or(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::Bucket;

    #[test]
    fn a_full_bucket_empties_then_refills() {
        let bucket = Bucket::new(100, 3);
        let mut tat = 0;
        for _ in 0..3 {
            assert_eq!(bucket.wait(tat, 0), 0);
            tat = bucket.take(tat, 0).unwrap();
        }
        assert_eq!((bucket.available(tat, 0), bucket.wait(tat, 0)), (0, 100));
        assert_eq!((bucket.available(tat, 150), bucket.wait(tat, 150)), (1, 0));
        assert_eq!(bucket.available(tat, 10_000), 3);
    }

    #[test]
    fn reservations_queue() {
        let bucket = Bucket::new(100, 1);
        let tat = bucket.take(0, 0).unwrap();
        let tat = bucket.take(tat, 0).unwrap();
        assert_eq!(bucket.wait(tat, 0), 200);
        assert_eq!(bucket.available(tat, 0), 0);
    }

    #[test]
    fn extreme_settings_do_not_overflow() {
        let bucket = Bucket::new(u64::MAX, u32::MAX);
        assert_eq!(bucket.available(0, 0), u32::MAX);
        let tat = bucket.take(0, 0).unwrap();
        assert_eq!(bucket.take(tat, 0), None);
        let slow = Bucket::new(u64::MAX, 1);
        assert_eq!(slow.wait(tat, 0), u128::from(u64::MAX));
    }

    #[test]
    fn a_full_bucket_gives_its_token_whatever_the_rate() {
        // A token a century: past zero on the clock, the next token's time would overflow.
        let slow = Bucket::new(u64::MAX, 1);
        let now = 1_000_000;
        assert_eq!(slow.available(0, now), 1);
        assert_eq!(slow.wait(0, now), 0);
        let tat = slow.take(0, now).unwrap();
        assert_eq!(slow.available(tat, now), 0);
        assert!(slow.wait(tat, now) > 0);
        assert_eq!(
            slow.take(tat, now),
            None,
            "no reservation past the end of the clock"
        );
    }
}
