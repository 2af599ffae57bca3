//! When to try the WebSocket again after it dropped or failed to open: exponential backoff with "equal
//! jitter". Pure: the caller passes the random number, so the schedule is testable and every tab that lost
//! the same server spreads its retries instead of knocking all at once.

/// The retry schedule. Attempt 0 is the first retry after a drop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The ceiling of the first retry, in milliseconds.
    pub base_ms: f64,
    /// No delay ever exceeds this, however many attempts failed.
    pub max_ms: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base_ms: 500.0,
            max_ms: 30_000.0,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based). The ceiling doubles each attempt up to
    /// `max_ms`; the delay is uniformly spread over the upper half of the ceiling, so it still grows
    /// (unlike full jitter) but no two clients retry in lockstep. `random` is in `[0, 1)`.
    pub fn delay_ms(&self, attempt: u32, random: f64) -> f64 {
        let ceiling = (self.base_ms * 2f64.powi(attempt.min(30) as i32)).min(self.max_ms);
        let random = random.clamp(0.0, 1.0);
        ceiling / 2.0 + random * ceiling / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_within_jitter_bounds() {
        let backoff = Backoff::default();
        for (attempt, ceiling) in [
            (0, 500.0),
            (1, 1_000.0),
            (2, 2_000.0),
            (3, 4_000.0),
            (5, 16_000.0),
        ] {
            assert_eq!(
                backoff.delay_ms(attempt, 0.0),
                ceiling / 2.0,
                "attempt {attempt}"
            );
            assert_eq!(backoff.delay_ms(attempt, 1.0), ceiling, "attempt {attempt}");
            let mid = backoff.delay_ms(attempt, 0.5);
            assert!(mid > ceiling / 2.0 && mid < ceiling);
        }
    }

    #[test]
    fn delays_are_capped_however_many_attempts_failed() {
        let backoff = Backoff::default();
        for attempt in [6, 10, 31, 1_000, u32::MAX] {
            let delay = backoff.delay_ms(attempt, 0.999);
            assert!(
                (15_000.0..=30_000.0).contains(&delay),
                "attempt {attempt}: {delay}"
            );
        }
    }

    #[test]
    fn jitter_spreads_clients_that_dropped_together() {
        let backoff = Backoff::default();
        let delays: Vec<f64> = [0.0, 0.25, 0.5, 0.75]
            .iter()
            .map(|r| backoff.delay_ms(4, *r))
            .collect();
        assert!(delays.windows(2).all(|w| w[0] < w[1]), "{delays:?}");
    }

    #[test]
    fn out_of_range_randomness_is_clamped() {
        let backoff = Backoff::default();
        assert_eq!(backoff.delay_ms(0, -3.0), 250.0);
        assert_eq!(backoff.delay_ms(0, 7.0), 500.0);
    }
}
