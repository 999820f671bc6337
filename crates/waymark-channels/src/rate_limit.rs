//! A token bucket per provider: `rate_per_second` sustained, `burst` at
//! once. Waiting callers sleep until their token is due. (Small enough to
//! own: one lock, no background task.)

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// How fast a provider may be called.
#[derive(Debug)]
pub struct RateLimiter {
    per_token: Duration,
    burst: u32,
    /// When the bucket would be full again (the theoretical arrival time).
    full_at: Mutex<Instant>,
}

impl RateLimiter {
    /// `None` when `rate_per_second` is 0 (no limit).
    pub fn new(rate_per_second: f64, burst: u32) -> Option<Self> {
        (rate_per_second > 0.0).then(|| RateLimiter {
            per_token: Duration::from_secs_f64(1.0 / rate_per_second),
            burst: burst.max(1),
            full_at: Mutex::new(Instant::now()),
        })
    }

    /// Waits for a token.
    pub async fn acquire(&self) {
        let wait = {
            let mut full_at = self.full_at.lock().await;
            let now = Instant::now();
            let base = (*full_at).max(now);
            let next = base + self.per_token;
            // Up to `burst` tokens may be taken ahead of time.
            let allowance = self.per_token * self.burst;
            let wait = next.saturating_duration_since(now + allowance);
            *full_at = next;
            wait
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_then_the_sustained_rate() {
        let limiter = RateLimiter::new(10.0, 5).unwrap();
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst goes at once");
        for _ in 0..10 {
            limiter.acquire().await;
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(990) && elapsed <= Duration::from_millis(1010),
            "ten more at 10/s take a second: {elapsed:?}"
        );
        assert!(RateLimiter::new(0.0, 1).is_none());
    }
}
