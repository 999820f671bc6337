//! The per-person choices under the workspace guardrails (proptest): a
//! `best_time` wait never makes a send land in quiet hours, and a branch
//! on `profile.predictions` never breaks a frequency cap; both decide the
//! same on the same inputs.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod harness;

use chrono::{NaiveTime, TimeDelta, Timelike};
use harness::{Harness, identify, journey, track};
use proptest::prelude::*;
use serde_json::json;
use waymark_core::{EventStats, Timestamp};
use waymark_engine::predict::{BgNbd, PurchaseModel};
use waymark_engine::{Cap, Effect, Policies, QuietAction, QuietHours, Record, RecordKind, Window};

const ZONES: [&str; 4] = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"];

fn sends(effects: &[Effect]) -> Vec<&Record> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(r) if r.kind == RecordKind::Send => Some(r),
            _ => None,
        })
        .collect()
}

fn quiet(from: u32, to: u32) -> QuietHours {
    QuietHours {
        from: NaiveTime::from_hms_opt(from, 0, 0).unwrap(),
        to: NaiveTime::from_hms_opt(to, 0, 0).unwrap(),
        action: QuietAction::Defer,
    }
}

/// One person, opens per local hour `hours`, entering at `now_s`; the
/// effects of the whole run.
fn best_time_run(
    hours: &[u32; 24],
    zone: &str,
    now_s: i64,
    quiet_hours: QuietHours,
) -> Vec<Effect> {
    let j = journey(
        "id: j\nentry: { event: Signed Up }\nnodes:\n  - { id: best, type: wait, until: best_time, within: 24h, next: hello }\n  - { id: hello, type: send, channel: email, template: t }\n",
    );
    let mut h = Harness::new(vec![j], "p");
    h.engine.set_policies(Policies {
        quiet_hours: Some(quiet_hours),
        ..Policies::default()
    });
    h.profile.engagement_hours = *hours;
    h.profile.timezone = Some(zone.to_owned());
    let now = Timestamp::from_timestamp(now_s, 0).unwrap();
    h.event(&identify("p", json!({"email": "p@example.com"}), now));
    h.event(&track("p", "Signed Up", json!({}), now));
    h.advance(now + TimeDelta::days(3));
    h.effects
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn a_best_hour_in_quiet_hours_is_deferred_not_sent(
        hours in proptest::array::uniform24(0u32..4),
        zone in 0usize..ZONES.len(),
        now_s in 1_767_225_600i64..1_798_761_600,
        from in 18u32..24,
        to in 5u32..10,
    ) {
        let q = quiet(from, to);
        let effects = best_time_run(&hours, ZONES[zone], now_s, q);
        prop_assert_eq!(&effects, &best_time_run(&hours, ZONES[zone], now_s, q));
        let sent = sends(&effects);
        prop_assert_eq!(sent.len(), 1);
        let tz: chrono_tz::Tz = ZONES[zone].parse().unwrap();
        let local = sent[0].at.with_timezone(&tz).hour();
        prop_assert!(local >= to && local < from, "sent at {local}:00 local, quiet {from}-{to}");
    }

    #[test]
    fn a_branch_on_predictions_keeps_to_the_caps(
        count in 1u64..20,
        first_days in 30i64..400,
        last_days in 0i64..30,
        visits in 1usize..5,
        params in (0.1f64..2.0, 1.0f64..60.0, 0.1f64..2.0, 0.5f64..5.0),
    ) {
        let run = || {
            let j = journey(
                "id: j\nentry: { event: Visited, re_entry: { policy: after_exit, cooldown: 1m } }\nnodes:\n  - id: check\n    type: branch\n    branches: [ { when: 'has(profile.predictions) && profile.predictions.p_alive < 0.5', next: offer } ]\n    default: nudge\n  - { id: offer, type: send, channel: email, template: offer }\n  - { id: nudge, type: send, channel: email, template: nudge }\n",
            );
            let mut h = Harness::new(vec![j], "p");
            h.engine.set_policies(Policies {
                caps: vec![Cap {
                    channel: None,
                    topic: None,
                    max: 1,
                    per: Window::Rolling("1d".parse().unwrap()),
                }],
                ..Policies::default()
            });
            let (r, alpha, a, b) = params;
            h.engine.set_purchase_model(Some(PurchaseModel {
                event: "Order Completed".into(),
                params: BgNbd { r, alpha, a, b },
            }));
            let now = harness::ts("2026-06-01T12:00:00Z");
            h.profile.events.insert(
                "Order Completed".into(),
                EventStats {
                    count,
                    first_seen: now - TimeDelta::days(first_days),
                    last_seen: now - TimeDelta::days(last_days.min(first_days)),
                },
            );
            h.event(&identify("p", json!({"email": "p@example.com"}), now));
            for v in 0..visits {
                let at = now + TimeDelta::hours(2 * v as i64);
                h.event(&track("p", "Visited", json!({}), at));
            }
            h.effects
        };
        let effects = run();
        prop_assert_eq!(&effects, &run());
        // Visits within a day: one message, the rest capped.
        prop_assert_eq!(sends(&effects).len(), 1);
        let capped = effects.iter().filter(|e| matches!(e, Effect::Record(r)
            if r.kind == RecordKind::Suppressed && r.reason.as_deref() == Some("frequency_cap"))).count();
        prop_assert_eq!(capped, visits - 1);
    }
}
