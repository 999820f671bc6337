//! Properties of the best-hour choice: the same inputs give the same
//! instant; it is never before now; with any engagement it is within the
//! window, the first start in reach of an hour the person engaged in most
//! (uniform prior; an hour skipped by a DST jump starts an hour later).
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use chrono::{NaiveTime, TimeDelta, Timelike};
use proptest::prelude::*;
use waymark_core::Timestamp;
use waymark_engine::best_time::{EngagementPrior, best_time};

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn the_choice_is_the_busiest_reachable_hour_and_always_the_same(
        hours in proptest::array::uniform24(0u32..6),
        // 2026, DST changes included.
        now_s in 1_767_225_600i64..1_798_761_600,
        within_h in 1i64..=168,
        zone in 0usize..ZONES.len(),
    ) {
        let tz: chrono_tz::Tz = ZONES[zone].parse().unwrap();
        let now = Timestamp::from_timestamp(now_s, 0).unwrap();
        let within = TimeDelta::hours(within_h);
        let ten = NaiveTime::from_hms_opt(10, 0, 0).unwrap();
        let prior = EngagementPrior::default();
        let due = best_time(&hours, &prior, now, within, ten, tz);
        prop_assert_eq!(due, best_time(&hours, &prior, now, within, ten, tz));
        prop_assert!(due >= now);
        if hours.iter().sum::<u32>() > 0 {
            prop_assert!(due - now <= within);
            let local = due.with_timezone(&tz);
            prop_assert_eq!((local.minute(), local.second()), (0, 0));
            let reachable: Vec<(u32, Timestamp)> = hours
                .iter()
                .enumerate()
                .map(|(hour, n)| {
                    let start = NaiveTime::from_hms_opt(hour as u32, 0, 0).unwrap();
                    (*n, waymark_engine::next_local_time(now, start, tz))
                })
                .filter(|(_, at)| *at - now <= within)
                .collect();
            let most = reachable.iter().map(|(n, _)| *n).max().unwrap();
            let first = reachable
                .iter()
                .filter(|(n, _)| *n == most)
                .map(|(_, at)| *at)
                .min()
                .unwrap();
            prop_assert_eq!(due, first);
        }
    }
}
