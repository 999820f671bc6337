//! A person's history of one event, as BG/NBD reads it.

use chrono::TimeDelta;
use waymark_core::{EventStats, Timestamp};

use super::Customer;

/// The history the profile keeps of one event (how often, first and last
/// seen), up to `end`, in `unit`s: x = count − 1 repeat purchases,
/// tₓ = last − first, T = end − first. None when the first one is after
/// `end` (or the unit is not positive).
pub fn customer_of(stats: &EventStats, end: Timestamp, unit: TimeDelta) -> Option<Customer> {
    let unit = unit.num_milliseconds() as f64;
    if stats.first_seen > end || unit <= 0.0 {
        return None;
    }
    let span = |from: Timestamp, to: Timestamp| (to - from).num_milliseconds() as f64 / unit;
    let frequency = u32::try_from(stats.count.saturating_sub(1)).unwrap_or(u32::MAX);
    let last = stats.last_seen.min(end);
    Some(Customer {
        frequency,
        recency: if frequency == 0 {
            0.0
        } else {
            span(stats.first_seen, last)
        },
        age: span(stats.first_seen, end),
    })
}

#[cfg(test)]
mod tests {
    use waymark_core::parse_timestamp;

    use super::*;

    #[test]
    fn first_last_and_count_become_x_tx_and_t() {
        let at = |s| parse_timestamp(s).unwrap();
        let stats = EventStats {
            count: 3,
            first_seen: at("2026-01-01T00:00:00Z"),
            last_seen: at("2026-01-11T00:00:00Z"),
        };
        let c = customer_of(&stats, at("2026-01-31T00:00:00Z"), TimeDelta::days(1)).unwrap();
        assert_eq!((c.frequency, c.recency, c.age), (2, 10.0, 30.0));
        let once = EventStats { count: 1, ..stats };
        let c = customer_of(&once, at("2026-01-31T00:00:00Z"), TimeDelta::days(1)).unwrap();
        assert_eq!((c.frequency, c.recency), (0, 0.0));
        assert_eq!(
            customer_of(&stats, at("2025-12-31T00:00:00Z"), TimeDelta::days(1)),
            None
        );
    }
}
