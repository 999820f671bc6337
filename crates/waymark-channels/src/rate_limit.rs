//! How fast a provider may be called: `rate_per_second` sustained, `burst`
//! at once (governor's GCRA). Waiting callers sleep until their turn.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota};

/// A provider's rate limit.
#[derive(Debug)]
pub struct RateLimiter {
    limiter: DefaultDirectRateLimiter,
}

impl RateLimiter {
    /// `None` when `rate_per_second` is 0 (no limit).
    pub fn new(rate_per_second: f64, burst: u32) -> Option<Self> {
        if rate_per_second <= 0.0 || !rate_per_second.is_finite() {
            return None;
        }
        let period = Duration::from_secs_f64(1.0 / rate_per_second).max(Duration::from_nanos(1));
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(period)?.allow_burst(burst);
        Some(RateLimiter {
            limiter: governor::RateLimiter::direct(quota),
        })
    }

    /// Waits for a turn.
    pub async fn acquire(&self) {
        self.limiter.until_ready().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test]
    async fn a_burst_then_the_sustained_rate() {
        // 20/s with a burst of 5: five at once (one at a time they would
        // take 200 ms), then one every 50 ms.
        let limiter = RateLimiter::new(20.0, 5).unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "the burst goes at once: {:?}",
            start.elapsed()
        );
        for _ in 0..4 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(190),
            "four more at 20/s take 200 ms: {elapsed:?}"
        );
        assert!(RateLimiter::new(0.0, 1).is_none());
    }
}
