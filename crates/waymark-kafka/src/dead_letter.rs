//! Dead letters: why an event could not be processed, and the limit that
//! stops the worker when too many cannot.

use std::collections::VecDeque;

use crate::config::DeadLetterLimits;

/// Why an event went to the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterReason {
    TooLarge {
        bytes: usize,
        limit: usize,
    },
    Empty,
    NotUtf8 {
        at: usize,
    },
    /// Not JSON, or not a valid Segment event (the message names the field).
    Invalid(String),
}

impl DeadLetterReason {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DeadLetterReason::TooLarge { .. } => "too_large",
            DeadLetterReason::Empty => "empty",
            DeadLetterReason::NotUtf8 { .. } => "not_utf8",
            DeadLetterReason::Invalid(_) => "invalid",
        }
    }
}

impl std::fmt::Display for DeadLetterReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeadLetterReason::TooLarge { bytes, limit } => {
                write!(
                    f,
                    "event of {bytes} bytes is over the limit of {limit} bytes"
                )
            }
            DeadLetterReason::Empty => f.write_str("empty message"),
            DeadLetterReason::NotUtf8 { at } => write!(f, "not UTF-8 (byte {at})"),
            DeadLetterReason::Invalid(message) => f.write_str(message),
        }
    }
}

/// Counts dead letters against [`DeadLetterLimits`].
#[derive(Debug)]
pub struct DeadLetterGuard {
    limits: DeadLetterLimits,
    consecutive: u64,
    /// The outcome of each of the last `window` events (true: dead letter).
    recent: VecDeque<bool>,
    dead_in_recent: u64,
}

impl DeadLetterGuard {
    pub fn new(limits: DeadLetterLimits) -> Self {
        DeadLetterGuard {
            limits,
            consecutive: 0,
            recent: VecDeque::new(),
            dead_in_recent: 0,
        }
    }

    /// Counts one event; returns why the worker must stop, if it must.
    pub fn observe(&mut self, dead: bool) -> Result<(), String> {
        self.consecutive = if dead { self.consecutive + 1 } else { 0 };
        self.recent.push_back(dead);
        self.dead_in_recent += u64::from(dead);
        if self.recent.len() as u64 > self.limits.window.max(1)
            && self.recent.pop_front() == Some(true)
        {
            self.dead_in_recent -= 1;
        }
        if self.consecutive >= self.limits.max_consecutive.max(1) {
            return Err(format!(
                "{} events in a row could not be processed (kafka.dead_letters.max_consecutive = {}): \
                 is the input topic carrying Segment-spec JSON?",
                self.consecutive, self.limits.max_consecutive
            ));
        }
        let full = self.recent.len() as u64 >= self.limits.window.max(1);
        let ratio = self.dead_in_recent as f64 / self.recent.len().max(1) as f64;
        if full && ratio > self.limits.max_ratio {
            return Err(format!(
                "{:.1}% of the last {} events could not be processed (kafka.dead_letters.max_ratio = {})",
                ratio * 100.0,
                self.recent.len(),
                self.limits.max_ratio
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(max_consecutive: u64, max_ratio: f64, window: u64) -> DeadLetterGuard {
        DeadLetterGuard::new(DeadLetterLimits {
            max_consecutive,
            max_ratio,
            window,
        })
    }

    #[test]
    fn consecutive_dead_letters_stop_at_the_limit() {
        let mut g = guard(3, 1.0, 100);
        assert!(g.observe(true).is_ok());
        assert!(g.observe(true).is_ok());
        assert!(g.observe(false).is_ok(), "a good event resets the run");
        assert!(g.observe(true).is_ok());
        assert!(g.observe(true).is_ok());
        let error = g.observe(true).unwrap_err();
        assert!(error.contains("3 events in a row"), "{error}");
    }

    #[test]
    fn the_ratio_counts_over_a_full_window_only() {
        let mut g = guard(1000, 0.5, 10);
        // 5 bad out of the first 9: the window is not full yet.
        for i in 0..9 {
            assert!(g.observe(i % 2 == 0).is_ok());
        }
        // The 10th makes 6 of 10 bad: over 50%.
        let error = g.observe(true).unwrap_err();
        assert!(error.contains("60.0% of the last 10"), "{error}");
        // A slow trickle never trips it.
        let mut g = guard(1000, 0.5, 10);
        for i in 0..1000 {
            assert!(g.observe(i % 10 == 0).is_ok());
        }
    }
}
