//! Deadlines that cannot overflow: a wait longer than the clock can represent (a
//! `timeout = "10000000000000000000s"`) means "as late as the clock goes", never a panic.
//!
//! `Instant + Duration` panics when the sum does not fit; every deadline of a run is
//! computed here instead.

use std::time::{Duration, Instant};

/// `start + wait`, or the latest instant after `start` that the clock can represent.
pub(crate) fn after(start: Instant, wait: Duration) -> Instant {
    let mut wait = wait;
    loop {
        if let Some(at) = start.checked_add(wait) {
            return at;
        }
        // Halving finds a representable instant within a factor of two of the limit in
        // a few dozen steps; that is centuries away, so the difference never matters.
        wait /= 2;
    }
}

/// [`after`] for tokio's clock.
pub(crate) fn after_tokio(start: tokio::time::Instant, wait: Duration) -> tokio::time::Instant {
    tokio::time::Instant::from_std(after(start.into_std(), wait))
}

/// `wait` from now.
pub(crate) fn from_now(wait: Duration) -> Instant {
    after(Instant::now(), wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_the_clock_cannot_hold_saturates_instead_of_panicking() {
        let now = Instant::now();
        let never = after(now, Duration::MAX);
        assert!(never > now + Duration::from_secs(100 * 365 * 24 * 3600));
        let huge = Duration::from_secs(10_000_000_000_000_000_000);
        assert!(after(now, huge) > now + Duration::from_secs(100 * 365 * 24 * 3600));
        assert_eq!(
            after(now, Duration::from_millis(5)),
            now + Duration::from_millis(5)
        );
        let tokio_now = tokio::time::Instant::now();
        assert!(after_tokio(tokio_now, Duration::MAX) > tokio_now);
    }
}
