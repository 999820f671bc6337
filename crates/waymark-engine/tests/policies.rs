//! Workspace policies on every send: frequency caps (rolling and calendar,
//! across journeys), quiet hours (skip, or defer to their end in local
//! time across DST), suppression windows, subscription topics and the
//! transactional exemption; and, under random streams, no window ever
//! over its cap and nothing sent in quiet hours.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod harness;

use harness::{Harness, identify, journey, track, ts};
use proptest::prelude::*;
use serde_json::{Value, json};
use waymark_core::{Event, Timestamp};
use waymark_engine::{Effect, Policies, PoliciesSection, RecordKind};
use waymark_journey::Journey;

fn policies(section: Value) -> Policies {
    serde_json::from_value::<PoliciesSection>(section)
        .expect("a policies section")
        .check()
        .expect("valid policies")
}

/// A journey entered on `Ping` (again after each exit) that sends once.
fn ping(id: &str, extra: &str) -> Journey {
    journey(&format!(
        "id: {id}\n{extra}entry: {{ event: Ping, re_entry: after_exit }}\nnodes:\n  - {{ id: hello, type: send, channel: email, template: t }}\n"
    ))
}

fn harness(journeys: Vec<Journey>, section: Value, zone: &str) -> Harness {
    let mut h = Harness::new(journeys, "u");
    h.engine.set_policies(policies(section));
    let mut e = identify(
        "u",
        json!({ "email": "u@example.com" }),
        ts("2026-01-01T00:00:00Z"),
    );
    e.context.insert("timezone".into(), json!(zone));
    h.event(&e);
    h
}

fn at(h: &mut Harness, when: &str) -> Vec<Effect> {
    h.event(&track("u", "Ping", json!({}), ts(when)))
}

/// `send` or `suppressed <reason>` or `deferred <until>` for one step.
fn outcome(effects: &[Effect]) -> String {
    effects
        .iter()
        .find_map(|e| match e {
            Effect::Record(r) if r.kind == RecordKind::Send => Some("send".to_owned()),
            Effect::Record(r) if r.kind == RecordKind::Suppressed => {
                Some(format!("suppressed {}", r.reason.as_deref().unwrap_or("")))
            }
            Effect::Record(r) if r.kind == RecordKind::Deferred => Some(format!(
                "deferred {}",
                waymark_core::format_timestamp(r.until.unwrap())
            )),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn caps_count_across_journeys_in_rolling_and_calendar_windows() {
    let section = json!({ "caps": [
        { "channel": "any", "max": 2, "per": "1d" },
        { "channel": "email", "max": 3, "per": "week" },
    ]});
    let mut h = harness(vec![ping("a", ""), ping("b", "")], section, "UTC");
    // Two journeys answer each ping: the cap counts both.
    let first = at(&mut h, "2026-03-02T10:00:00Z");
    assert_eq!(harness::sends(&first), 2);
    let second = at(&mut h, "2026-03-02T11:00:00Z");
    assert_eq!(harness::sends(&second), 0, "{:?}", h.records());
    assert_eq!(outcome(&second), "suppressed frequency_cap");
    // The rolling day has passed; the week (Monday 2 March) allows one more.
    let third = at(&mut h, "2026-03-03T10:00:01Z");
    assert_eq!(harness::sends(&third), 1);
    // Next Monday, a new calendar week.
    assert_eq!(harness::sends(&at(&mut h, "2026-03-05T12:00:00Z")), 0);
    assert_eq!(harness::sends(&at(&mut h, "2026-03-09T00:30:00Z")), 2);
}

#[test]
fn a_calendar_day_is_the_persons_local_day() {
    let section = json!({ "caps": [{ "channel": "email", "max": 1, "per": "day" }] });
    let mut h = harness(vec![ping("a", "")], section, "Asia/Tokyo");
    // 23:30 and 00:30 in Tokyo: two local days, though one UTC day.
    assert_eq!(outcome(&at(&mut h, "2026-03-02T14:30:00Z")), "send");
    assert_eq!(outcome(&at(&mut h, "2026-03-02T15:30:00Z")), "send");
    assert_eq!(
        outcome(&at(&mut h, "2026-03-02T16:30:00Z")),
        "suppressed frequency_cap"
    );
}

#[test]
fn quiet_hours_defer_to_their_end_in_local_time_across_dst() {
    let section = json!({ "quiet_hours": { "from": "21:00", "to": "08:00", "action": "defer" } });
    // Clocks go back on 25 October (Berlin) and 1 November (New York).
    for (zone, ping_at, until) in [
        (
            "Europe/Berlin",
            "2026-10-24T19:30:00Z",
            "2026-10-25T07:00:00Z",
        ),
        (
            "America/New_York",
            "2026-10-31T02:00:00Z",
            "2026-10-31T12:00:00Z",
        ),
        (
            "America/New_York",
            "2026-11-01T02:00:00Z",
            "2026-11-01T13:00:00Z",
        ),
    ] {
        let mut h = harness(vec![ping("a", "")], section.clone(), zone);
        assert_eq!(
            outcome(&at(&mut h, ping_at)),
            format!("deferred {until}"),
            "{zone}"
        );
        let later = h.advance(ts("2026-12-01T00:00:00Z"));
        assert_eq!(outcome(&later), "send", "{zone}");
        // The deferral was the arrival at the node; the send checked
        // again after it is not another (reports count arrivals).
        let arrivals: Vec<(RecordKind, bool)> = h
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Record(r)
                    if r.kind != RecordKind::Entered && r.kind != RecordKind::Exited =>
                {
                    Some((r.kind, r.arrived))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            arrivals,
            [(RecordKind::Deferred, true), (RecordKind::Send, false)],
            "{zone}"
        );
        let sent_at = later.iter().find_map(|e| match e {
            Effect::Send(_) => h.effects.iter().find_map(|r| match r {
                Effect::Record(r) if r.kind == RecordKind::Send => Some(r.at),
                _ => None,
            }),
            _ => None,
        });
        assert_eq!(sent_at, Some(ts(until)), "{zone}: sent at 08:00 local");
    }
}

#[test]
fn quiet_hours_skip_suppression_windows_and_topics_withhold_with_one_reason() {
    let section = json!({
        "quiet_hours": { "from": "22:00", "to": "07:00", "action": "skip" },
        "suppress_after": [{ "event": "Complaint Filed", "for": "72h" }],
        "topics": { "promotions": "opt_out", "newsletter": "opt_in" },
    });
    let promo = ping("promo", "topic: promotions\n");
    let news = ping("news", "topic: newsletter\n");
    let mut h = harness(vec![promo.clone()], section.clone(), "UTC");
    assert_eq!(
        outcome(&at(&mut h, "2026-03-02T23:00:00Z")),
        "suppressed quiet_hours"
    );
    h.event(&track(
        "u",
        "Complaint Filed",
        json!({}),
        ts("2026-03-03T09:00:00Z"),
    ));
    assert_eq!(
        outcome(&at(&mut h, "2026-03-05T09:00:00Z")),
        "suppressed suppression_window"
    );
    assert_eq!(outcome(&at(&mut h, "2026-03-06T09:00:01Z")), "send");
    h.event(&track(
        "u",
        "Unsubscribed",
        json!({ "topic": "promotions" }),
        ts("2026-03-07T09:00:00Z"),
    ));
    assert_eq!(
        outcome(&at(&mut h, "2026-03-07T10:00:00Z")),
        "suppressed not_subscribed"
    );

    // Opt-in: nothing until the person says yes.
    let mut h = harness(vec![news], section, "UTC");
    assert_eq!(
        outcome(&at(&mut h, "2026-03-02T10:00:00Z")),
        "suppressed not_subscribed"
    );
    h.event(&identify(
        "u",
        json!({ "subscriptions": { "newsletter": true } }),
        ts("2026-03-02T11:00:00Z"),
    ));
    assert_eq!(outcome(&at(&mut h, "2026-03-02T12:00:00Z")), "send");
}

#[test]
fn transactional_journeys_pass_every_policy_but_a_channel_unsubscribe() {
    let section = json!({
        "caps": [{ "channel": "any", "max": 1, "per": "1d" }],
        "quiet_hours": { "from": "22:00", "to": "07:00", "action": "defer" },
        "suppress_after": [{ "event": "Complaint Filed", "for": "72h" }],
    });
    let mut h = harness(vec![ping("reset", "transactional: true\n")], section, "UTC");
    h.event(&track(
        "u",
        "Complaint Filed",
        json!({}),
        ts("2026-03-02T20:00:00Z"),
    ));
    assert_eq!(outcome(&at(&mut h, "2026-03-02T23:00:00Z")), "send");
    assert_eq!(outcome(&at(&mut h, "2026-03-02T23:10:00Z")), "send");
    h.event(&track(
        "u",
        "Unsubscribed",
        json!({ "channel": "email" }),
        ts("2026-03-02T23:20:00Z"),
    ));
    assert_eq!(
        outcome(&at(&mut h, "2026-03-02T23:30:00Z")),
        "suppressed unsubscribed"
    );
}

/// What happens at one moment of a random stream.
#[derive(Debug, Clone)]
enum Step {
    Ping,
    Complaint,
    LeaveTopic,
    JoinTopic,
    LeaveEmail,
}

fn stream() -> impl Strategy<Value = Vec<(i64, Step)>> {
    // Minutes from the start, over three weeks, in order.
    let step = prop_oneof![
        8 => Just(Step::Ping),
        1 => Just(Step::Complaint),
        1 => Just(Step::LeaveTopic),
        1 => Just(Step::JoinTopic),
        1 => Just(Step::LeaveEmail),
    ];
    prop::collection::vec((0i64..30_240, step), 1..80).prop_map(|mut v| {
        v.sort_by_key(|(m, _)| *m);
        v.dedup_by_key(|(m, _)| *m);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_window_over_its_cap_nothing_quiet_or_unwanted_one_reason_each(
        steps in stream(),
        zone in prop_oneof![Just("Europe/Berlin"), Just("America/New_York"), Just("Asia/Tokyo")],
    ) {
        let section = json!({
            "caps": [
                { "channel": "any", "max": 3, "per": "1d" },
                { "channel": "email", "max": 2, "per": "day" },
                { "channel": "any", "max": 6, "per": "week" },
            ],
            "quiet_hours": { "from": "21:00", "to": "08:00", "action": "defer" },
            "suppress_after": [{ "event": "Complaint Filed", "for": "12h" }],
            "topics": { "promotions": "opt_out" },
        });
        let promo = ping("b", "topic: promotions\n");
        let mut h = harness(vec![ping("a", ""), promo], section, zone);
        let start = ts("2026-10-19T00:00:00Z"); // across the October DST changes
        for (m, step) in &steps {
            let when: Timestamp = start + chrono::TimeDelta::minutes(*m);
            let (name, properties) = match step {
                Step::Ping => ("Ping", json!({})),
                Step::Complaint => ("Complaint Filed", json!({})),
                Step::LeaveTopic => ("Unsubscribed", json!({ "topic": "promotions" })),
                Step::JoinTopic => ("Subscribed", json!({ "topic": "promotions" })),
                Step::LeaveEmail => ("Unsubscribed", json!({ "channel": "email" })),
            };
            let e: Event = track("u", name, properties, when);
            h.event(&e);
        }
        h.advance(ts("2026-12-01T00:00:00Z"));
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        // The person's answers over time, to check each send against.
        let answer_at = |at: Timestamp, leave: &Step, join: Option<&Step>| {
            let mut subscribed = true;
            for (m, step) in &steps {
                let when = start + chrono::TimeDelta::minutes(*m);
                if when > at {
                    break;
                }
                if std::mem::discriminant(step) == std::mem::discriminant(leave) {
                    subscribed = false;
                } else if join.is_some_and(|j| std::mem::discriminant(step) == std::mem::discriminant(j)) {
                    subscribed = true;
                }
            }
            subscribed
        };
        let sends: Vec<&waymark_engine::Record> = h.effects.iter().filter_map(|e| match e {
            Effect::Record(r) if r.kind == RecordKind::Send => Some(r),
            _ => None,
        }).collect();
        let sent: Vec<Timestamp> = sends.iter().map(|r| r.at).collect();
        for (i, s) in sent.iter().enumerate() {
            // Every rolling day and week ending at a send, and its local day.
            let in_last = |d: chrono::TimeDelta| sent[..=i].iter().filter(|t| **t > *s - d).count();
            prop_assert!(in_last(chrono::TimeDelta::days(1)) <= 3, "rolling day at {s}");
            let day = s.with_timezone(&tz).date_naive();
            let same_day = sent.iter().filter(|t| t.with_timezone(&tz).date_naive() == day).count();
            prop_assert!(same_day <= 2, "local day {day}");
            use chrono::Datelike;
            let week = day.iso_week();
            let same_week = sent.iter().filter(|t| t.with_timezone(&tz).date_naive().iso_week() == week).count();
            prop_assert!(same_week <= 6, "week of {day}");
            let local = s.with_timezone(&tz).time();
            let quiet = local >= chrono::NaiveTime::from_hms_opt(21, 0, 0).unwrap()
                || local < chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap();
            prop_assert!(!quiet, "sent at {local} local");
        }
        for r in &sends {
            prop_assert!(answer_at(r.at, &Step::LeaveEmail, None), "email after leaving it");
            if &*r.journey == "b" {
                prop_assert!(answer_at(r.at, &Step::LeaveTopic, Some(&Step::JoinTopic)), "promotion after leaving the topic");
            }
        }
        // Every withheld send has exactly one reason, one of the known ones.
        for e in &h.effects {
            if let Effect::Record(r) = e && r.kind == RecordKind::Suppressed {
                prop_assert!(matches!(
                    r.reason.as_deref(),
                    Some("frequency_cap" | "suppression_window" | "not_subscribed" | "unsubscribed")
                ), "{:?}", r.reason);
            }
        }
    }
}

/// Entries everyone made, as the runtime keeps them.
struct Log(Vec<Timestamp>);

impl waymark_engine::Population for Log {
    fn entered_since(&self, journey: &str, since: Timestamp) -> usize {
        assert_eq!(journey, "launch");
        self.0.iter().filter(|t| **t > since).count()
    }
}

#[test]
fn an_entry_over_the_limit_is_skipped_and_traced() {
    let j = journey(
        "id: launch\nentry: { event: Signed Up, limit: { max: 2, per: 1h } }\nnodes:\n  - { id: hello, type: send, channel: email, template: t }\n",
    );
    let engine = waymark_engine::Engine::new(vec![j], waymark_engine::EngineConfig::default());
    let now = ts("2026-03-02T10:00:00Z");
    let profile = waymark_core::Profile::new("p".into());
    let signed_up = track("p", "Signed Up", json!({}), now);
    let decide = |log: &Log| {
        let d = engine.decide_with(
            &profile,
            Vec::new(),
            waymark_engine::Input::Event(&signed_up),
            now,
            log,
        );
        harness::records(&d.effects)
    };
    let earlier = |minutes: &[i64]| {
        Log(minutes
            .iter()
            .map(|m| now - chrono::TimeDelta::minutes(*m))
            .collect())
    };
    assert_eq!(
        decide(&earlier(&[10])).first().map(String::as_str),
        Some("entered hello")
    );
    assert_eq!(decide(&earlier(&[10, 50])), ["skipped - entry_limit"]);
    // An hour ago is outside the window.
    assert_eq!(
        decide(&earlier(&[60, 50])).first().map(String::as_str),
        Some("entered hello")
    );
}
