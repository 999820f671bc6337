//! The best local hour to reach a person (`wait: { until: best_time }`):
//! the hour of day at which they most often opened or clicked, from the
//! engagement hours their profile keeps, shrunk towards the population's
//! (docs/intelligence.md).

use chrono::{NaiveTime, TimeDelta};
use chrono_tz::Tz;
use waymark_core::Timestamp;

use crate::local_time::next_local_time;

/// How many engagements the population's histogram weighs as: a person
/// with fewer leans towards the population's hours, one with many
/// towards their own.
pub const PRIOR_WEIGHT: f64 = 10.0;

/// The population's engagement per local hour of day, as shares summing
/// to 1 (the same share for every hour until one is handed in).
#[derive(Debug, Clone, PartialEq)]
pub struct EngagementPrior([f64; 24]);

impl Default for EngagementPrior {
    fn default() -> Self {
        EngagementPrior([1.0 / 24.0; 24])
    }
}

impl EngagementPrior {
    /// The shares of engagements counted per local hour (uniform when
    /// there are none).
    pub fn from_counts(counts: &[u64; 24]) -> Self {
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return EngagementPrior::default();
        }
        EngagementPrior(counts.map(|n| n as f64 / total as f64))
    }

    pub fn share(&self, hour: usize) -> f64 {
        self.0.get(hour).copied().unwrap_or_default()
    }
}

/// When to reach a person: the start of the local hour, within `within`
/// of `now`, with the highest shrunk engagement rate
/// (n_h + k·prior_h) / (n + k); the earliest on a tie. Someone with no
/// engagement at all gets `default`, local.
pub fn best_time(
    hours: &[u32; 24],
    prior: &EngagementPrior,
    now: Timestamp,
    within: TimeDelta,
    default: NaiveTime,
    tz: Tz,
) -> Timestamp {
    let n: u32 = hours.iter().sum();
    if n == 0 {
        return next_local_time(now, default, tz);
    }
    let n = f64::from(n);
    let mut best: Option<(f64, Timestamp)> = None;
    for (hour, count) in hours.iter().enumerate() {
        let Some(start) = NaiveTime::from_hms_opt(hour as u32, 0, 0) else {
            continue;
        };
        let at = next_local_time(now, start, tz);
        if at - now > within {
            continue;
        }
        let score = (f64::from(*count) + PRIOR_WEIGHT * prior.share(hour)) / (n + PRIOR_WEIGHT);
        let better = match best {
            None => true,
            Some((top, first)) => score > top || (score == top && at < first),
        };
        if better {
            best = Some((score, at));
        }
    }
    best.map_or_else(|| next_local_time(now, default, tz), |(_, at)| at)
}

#[cfg(test)]
mod tests {
    use waymark_core::{format_timestamp, parse_timestamp};

    use super::*;

    fn at(text: &str) -> Timestamp {
        parse_timestamp(text).unwrap()
    }

    fn ten() -> NaiveTime {
        NaiveTime::from_hms_opt(10, 0, 0).unwrap()
    }

    #[test]
    fn the_persons_busiest_hour_in_their_zone() {
        let mut hours = [0; 24];
        hours[19] = 5;
        hours[8] = 1;
        let tz: Tz = "America/New_York".parse().unwrap();
        let prior = EngagementPrior::default();
        // 20:00 local on 7 March: 19:00 tomorrow, after the clocks moved
        // forward (EDT, UTC-4).
        let due = best_time(
            &hours,
            &prior,
            at("2026-03-08T01:00:00Z"),
            TimeDelta::hours(24),
            ten(),
            tz,
        );
        assert_eq!(format_timestamp(due), "2026-03-08T23:00:00Z");
        // Within 12 hours 19:00 is out of reach: the best hour in reach.
        let due = best_time(
            &hours,
            &prior,
            at("2026-03-08T01:00:00Z"),
            TimeDelta::hours(12),
            ten(),
            tz,
        );
        assert_eq!(format_timestamp(due), "2026-03-08T12:00:00Z", "08:00 EDT");
        // No engagement: the default time.
        let due = best_time(
            &[0; 24],
            &prior,
            at("2026-03-08T01:00:00Z"),
            TimeDelta::hours(24),
            ten(),
            tz,
        );
        assert_eq!(format_timestamp(due), "2026-03-08T14:00:00Z", "10:00 EDT");
    }

    #[test]
    fn few_engagements_lean_towards_the_population() {
        let mut counts = [0; 24];
        counts[19] = 90;
        counts[8] = 10;
        let prior = EngagementPrior::from_counts(&counts);
        let mut one = [0; 24];
        one[8] = 1;
        let now = at("2026-06-01T00:00:00Z");
        let due = best_time(
            &one,
            &prior,
            now,
            TimeDelta::hours(24),
            ten(),
            chrono_tz::UTC,
        );
        assert_eq!(
            format_timestamp(due),
            "2026-06-01T19:00:00Z",
            "one open at 8 is not enough"
        );
        let mut many = [0; 24];
        many[8] = 30;
        let due = best_time(
            &many,
            &prior,
            now,
            TimeDelta::hours(24),
            ten(),
            chrono_tz::UTC,
        );
        assert_eq!(format_timestamp(due), "2026-06-01T08:00:00Z", "thirty are");
    }
}
