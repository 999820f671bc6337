//! Local times of day in a profile's time zone.

use chrono::{Days, LocalResult, NaiveTime, TimeZone};
use chrono_tz::Tz;
use waymark_core::Timestamp;

/// The first instant at or after `now` when the clock in `tz` shows `at`.
/// A time skipped by a daylight-saving jump is taken an hour later; a time
/// that happens twice is taken the first time.
pub fn next_local_time(now: Timestamp, at: NaiveTime, tz: Tz) -> Timestamp {
    let mut date = now.with_timezone(&tz).date_naive();
    loop {
        let local = date.and_time(at);
        let candidate = match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
            LocalResult::None => tz
                .from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
                .earliest(),
        };
        if let Some(t) = candidate.map(|t| t.to_utc()).filter(|t| *t >= now) {
            return t;
        }
        match date.checked_add_days(Days::new(1)) {
            Some(next) => date = next,
            None => return now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_core::{format_timestamp, parse_timestamp};

    fn check(now: &str, at: &str, tz: &str, expect: &str) {
        let got = next_local_time(
            parse_timestamp(now).unwrap(),
            NaiveTime::parse_from_str(at, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(at, "%H:%M"))
                .unwrap(),
            tz.parse().unwrap(),
        );
        assert_eq!(format_timestamp(got), expect, "{now} until {at} in {tz}");
    }

    #[test]
    fn to_the_second() {
        check(
            "2026-10-01T07:00:00Z",
            "09:00:30",
            "Europe/Berlin",
            "2026-10-01T07:00:30Z",
        );
        check(
            "2026-10-01T07:00:31Z",
            "09:00:30",
            "Europe/Berlin",
            "2026-10-02T07:00:30Z",
        );
    }

    #[test]
    fn later_today_or_tomorrow_in_the_profile_zone() {
        check(
            "2026-10-01T05:00:00Z",
            "09:00",
            "Europe/Berlin",
            "2026-10-01T07:00:00Z",
        );
        check(
            "2026-10-01T08:00:00Z",
            "09:00",
            "Europe/Berlin",
            "2026-10-02T07:00:00Z",
        );
        check(
            "2026-10-01T07:00:00Z",
            "09:00",
            "Europe/Berlin",
            "2026-10-01T07:00:00Z",
        );
        check(
            "2026-10-01T23:30:00Z",
            "09:00",
            "America/New_York",
            "2026-10-02T13:00:00Z",
        );
        check(
            "2026-10-01T23:30:00Z",
            "09:00",
            "UTC",
            "2026-10-02T09:00:00Z",
        );
    }

    #[test]
    fn daylight_saving_gaps_and_repeats() {
        // 02:30 does not exist in Berlin on 2026-03-29: taken at 03:30 CEST.
        check(
            "2026-03-29T00:00:00Z",
            "02:30",
            "Europe/Berlin",
            "2026-03-29T01:30:00Z",
        );
        // 02:30 happens twice on 2026-10-25: the first (CEST) one.
        check(
            "2026-10-25T00:00:00Z",
            "02:30",
            "Europe/Berlin",
            "2026-10-25T00:30:00Z",
        );
    }
}
