//! Segments and time-based entries in the engine: entering on becoming a
//! member (once), leaving, re-joining under the re-entry policy, waiting
//! for a segment, inactivity, date traits across DST and schedules; and,
//! under random streams, membership kept incrementally equal to
//! evaluating every segment from scratch.

mod harness;

use harness::{Harness, identify, journey, track, ts};
use proptest::prelude::*;
use serde_json::json;
use waymark_core::{Profile, ProfileId, Timestamp};
use waymark_engine::{Effect, Engine, EngineConfig, Input, RecordKind};
use waymark_journey::{Expr, Journey, Segment, Segments};

fn segments() -> Segments {
    let segment = |id: &str, source: &str| {
        Segment::new(id, Expr::compile(source).expect("segment CEL compiles"))
    };
    Segments::from_list([
        segment("buyers", r#"profile.events["Order Completed"].count >= 2"#),
        segment("pro", r#"profile.traits.plan == "pro""#),
        segment("big", "profile.revenue >= 100.0"),
        segment("berliners", r#"profile.timezone == "Europe/Berlin""#),
        segment("opted_out", r#"profile.consent["channel:email"] == false"#),
    ])
}

fn harness(journeys: Vec<Journey>) -> Harness {
    let mut h = Harness::new(journeys, "u");
    h.engine.set_segments(segments());
    h
}

fn plan(plan: &str, at: &str) -> waymark_core::Event {
    identify("u", json!({ "plan": plan }), ts(at))
}

#[test]
fn a_counter_crossing_the_threshold_enters_once_at_that_event() {
    let mut h = harness(vec![journey(
        r#"
id: thanks
entry: { segment: buyers }
nodes:
  - { id: hi, type: send, channel: webhook, template: t }
"#,
    )]);
    for day in 1..=4 {
        h.event(&track(
            "u",
            "Order Completed",
            json!({}),
            ts(&format!("2026-01-0{day}T10:00:00Z")),
        ));
    }
    let entered: Vec<_> = h
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(r) if r.kind == RecordKind::Entered => Some(r.at),
            _ => None,
        })
        .collect();
    assert_eq!(entered, [ts("2026-01-02T10:00:00Z")]);
    let joined: Vec<String> = h
        .records()
        .into_iter()
        .filter(|r| r.starts_with("segment_"))
        .collect();
    assert_eq!(
        joined,
        ["segment_entered buyers"],
        "a transition is decided once"
    );
}

#[test]
fn leaving_exits_and_rejoining_reenters_only_under_the_policy() {
    let yaml = |policy: &str| {
        format!(
            r#"
id: pro
entry: {{ segment: pro, re_entry: {policy} }}
exit_on: [{{ segment_exit: pro }}]
nodes:
  - {{ id: hold, type: wait, duration: 30d }}
"#
        )
    };
    for (policy, entries) in [("never", 1), ("after_exit", 2)] {
        let mut h = harness(vec![journey(&yaml(policy))]);
        h.event(&plan("pro", "2026-01-01T00:00:00Z"));
        h.event(&plan("free", "2026-01-02T00:00:00Z"));
        h.event(&plan("pro", "2026-01-03T00:00:00Z"));
        let records = h.records();
        assert!(
            records.contains(&"exited hold segment_exit".to_owned()),
            "{records:?}"
        );
        assert!(records.contains(&"segment_exited pro".to_owned()));
        let n = records.iter().filter(|r| r.starts_with("entered")).count();
        assert_eq!(n, entries, "{policy}: {records:?}");
    }
}

#[test]
fn wait_for_segment_moves_on_joining_or_times_out() {
    let j = journey(
        r#"
id: upsell
entry: { event: Signed Up }
nodes:
  - { id: wait_pro, type: wait_for_segment, segment: pro, timeout: 7d, on_enter: welcome_pro, on_timeout: nudge }
  - { id: welcome_pro, type: send, channel: webhook, template: t }
  - { id: nudge, type: send, channel: webhook, template: t }
"#,
    );
    let mut h = harness(vec![j.clone()]);
    h.event(&track(
        "u",
        "Signed Up",
        json!({}),
        ts("2026-01-01T00:00:00Z"),
    ));
    h.event(&plan("pro", "2026-01-03T00:00:00Z"));
    h.advance(ts("2026-02-01T00:00:00Z"));
    assert!(
        h.records().contains(&"send welcome_pro webhook".to_owned()),
        "{:?}",
        h.records()
    );
    assert!(!h.records().iter().any(|r| r.contains("nudge")));

    let mut h = harness(vec![j]);
    h.event(&track(
        "u",
        "Signed Up",
        json!({}),
        ts("2026-01-01T00:00:00Z"),
    ));
    h.advance(ts("2026-02-01T00:00:00Z"));
    assert!(
        h.records().contains(&"send nudge webhook".to_owned()),
        "{:?}",
        h.records()
    );
}

#[test]
fn inactivity_fires_once_per_quiet_period_and_never_for_the_active() {
    let j = journey(
        r#"
id: quiet
entry: { inactive: { events: [App Opened], for: 10d }, re_entry: after_exit }
nodes:
  - { id: miss_you, type: send, channel: webhook, template: t }
"#,
    );
    let mut h = harness(vec![j.clone()]);
    h.event(&track(
        "u",
        "App Opened",
        json!({}),
        ts("2026-01-01T00:00:00Z"),
    ));
    h.advance(ts("2026-01-20T00:00:00Z"));
    h.event(&track(
        "u",
        "App Opened",
        json!({}),
        ts("2026-01-20T00:00:00Z"),
    ));
    h.advance(ts("2026-03-01T00:00:00Z"));
    let entered: Vec<Timestamp> = entries(&h);
    assert_eq!(
        entered,
        [ts("2026-01-11T00:00:00Z"), ts("2026-01-30T00:00:00Z")]
    );

    // Active every 5 days: never; never opened the app: never.
    let mut active = harness(vec![j.clone()]);
    for day in (1..=28).step_by(5) {
        active.event(&track(
            "u",
            "App Opened",
            json!({}),
            ts(&format!("2026-01-{day:02}T00:00:00Z")),
        ));
    }
    active.advance(ts("2026-02-04T23:59:59Z"));
    assert!(entries(&active).is_empty());
    let mut never = harness(vec![j]);
    never.event(&track(
        "u",
        "Page Viewed",
        json!({}),
        ts("2026-01-01T00:00:00Z"),
    ));
    never.advance(ts("2026-06-01T00:00:00Z"));
    assert!(entries(&never).is_empty() && never.timers.is_empty());
}

#[test]
fn a_date_trigger_fires_at_nine_local_across_dst() {
    let j = journey(
        r#"
id: renewal
entry: { date: { trait: renews_on, offset: -3d, at: "09:00" } }
nodes:
  - { id: remind, type: send, channel: webhook, template: t }
"#,
    );
    // Clocks go back on 25 October (Berlin) and 1 November (New York), 2026.
    for (zone, renews, expect) in [
        ("Europe/Berlin", "2026-10-27", "2026-10-24T07:00:00Z"),
        ("Europe/Berlin", "2026-10-30", "2026-10-27T08:00:00Z"),
        ("America/New_York", "2026-11-03", "2026-10-31T13:00:00Z"),
        ("America/New_York", "2026-11-06", "2026-11-03T14:00:00Z"),
    ] {
        let mut h = harness(vec![j.clone()]);
        let mut e = identify(
            "u",
            json!({ "renews_on": renews }),
            ts("2026-10-01T00:00:00Z"),
        );
        e.context.insert("timezone".into(), json!(zone));
        h.event(&e);
        h.advance(ts("2026-12-01T00:00:00Z"));
        assert_eq!(entries(&h), [ts(expect)], "{zone} {renews}");
    }
    // A value that is not a date: skipped, traced, nothing scheduled.
    let mut h = harness(vec![j]);
    h.event(&identify(
        "u",
        json!({ "renews_on": "soon" }),
        ts("2026-10-01T00:00:00Z"),
    ));
    assert!(h.timers.is_empty());
    assert_eq!(
        h.records(),
        [r#"skipped - invalid_date value={"trait":"renews_on","found":"soon"}"#]
    );
}

#[test]
fn a_schedule_enters_each_member_once_per_occurrence_in_local_time() {
    let j = journey(
        r#"
id: digest
entry: { schedule: { cron: "0 9 * * MON", timezone: profile, segment: pro }, re_entry: after_exit }
nodes:
  - { id: send, type: send, channel: webhook, template: t }
"#,
    );
    let mut h = harness(vec![j]);
    let mut e = plan("pro", "2026-10-21T00:00:00Z");
    e.context
        .insert("timezone".into(), json!("America/New_York"));
    h.event(&e);
    h.advance(ts("2026-11-04T00:00:00Z"));
    assert_eq!(
        entries(&h),
        [ts("2026-10-26T13:00:00Z"), ts("2026-11-02T14:00:00Z")]
    );
}

#[test]
fn a_superseded_entry_timer_is_inert() {
    let j = journey(
        r#"
id: quiet
entry: { inactive: { events: [App Opened], for: 10d } }
nodes:
  - { id: miss_you, type: send, channel: webhook, template: t }
"#,
    );
    let mut h = harness(vec![j]);
    h.event(&track(
        "u",
        "App Opened",
        json!({}),
        ts("2026-01-01T00:00:00Z"),
    ));
    h.event(&track(
        "u",
        "App Opened",
        json!({}),
        ts("2026-01-05T00:00:00Z"),
    ));
    // The timer set by the first event, had it not been replaced.
    let stale = Input::EntryDue {
        journey: "quiet",
        due: ts("2026-01-11T00:00:00Z"),
    };
    assert!(h.input(stale, ts("2026-01-11T00:00:00Z")).is_empty());
    let current = Input::EntryDue {
        journey: "quiet",
        due: ts("2026-01-15T00:00:00Z"),
    };
    assert_eq!(
        harness::sends(&h.input(current, ts("2026-01-15T00:00:00Z"))),
        1
    );
}

#[test]
fn a_schedule_without_a_segment_enters_everyone_in_a_fixed_zone() {
    let j = journey(
        r#"
id: monthly
entry: { schedule: { cron: "0 9 1 * *", timezone: Europe/Berlin }, re_entry: after_exit }
nodes:
  - { id: send, type: send, channel: webhook, template: t }
"#,
    );
    let mut h = harness(vec![j]);
    // The person's own zone does not matter with a fixed one.
    let mut e = plan("free", "2026-09-15T00:00:00Z");
    e.context.insert("timezone".into(), json!("Asia/Tokyo"));
    h.event(&e);
    h.advance(ts("2026-11-02T00:00:00Z"));
    // 09:00 in Berlin: summer time on 1 October, winter time on 1 November.
    assert_eq!(
        entries(&h),
        [ts("2026-10-01T07:00:00Z"), ts("2026-11-01T08:00:00Z")]
    );
    assert!(
        !h.records().iter().any(|r| r.contains("segment_")),
        "everyone is not a traced segment"
    );
}

fn entries(h: &Harness) -> Vec<Timestamp> {
    h.effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(r) if r.kind == RecordKind::Entered => Some(r.at),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Change {
    Order(u32),
    Plan(&'static str),
    Zone(&'static str),
    Unsubscribe,
    Subscribe,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0u32..80).prop_map(Change::Order),
        prop_oneof![Just("pro"), Just("free")].prop_map(Change::Plan),
        prop_oneof![Just("Europe/Berlin"), Just("Asia/Tokyo")].prop_map(Change::Zone),
        Just(Change::Unsubscribe),
        Just(Change::Subscribe),
    ]
}

/// Every segment evaluated from scratch on `profile` (a merge re-checks all).
fn from_scratch(engine: &Engine, profile: &Profile) -> Vec<String> {
    let mut blank = profile.clone();
    blank.segments.clear();
    let input = Input::ProfileMerged {
        from: &ProfileId::from("nobody"),
        instances: &[],
    };
    let mut members: Vec<String> = engine
        .decide(&blank, Vec::new(), input, ts("2027-01-01T00:00:00Z"))
        .effects
        .into_iter()
        .filter_map(|e| match e {
            Effect::Membership(m) if m.joined => Some(m.segment.to_string()),
            _ => None,
        })
        .collect();
    members.sort();
    members
}

proptest! {
    #[test]
    fn incremental_membership_equals_evaluation_from_scratch(
        changes in prop::collection::vec(change(), 1..40)
    ) {
        let mut h = Harness::with_config(Vec::new(), "u", EngineConfig::default());
        h.engine.set_segments(segments());
        for (i, c) in changes.iter().enumerate() {
            let at = ts("2026-01-01T00:00:00Z") + chrono::TimeDelta::minutes(i as i64);
            let event = match c {
                Change::Order(revenue) => track("u", "Order Completed", json!({ "revenue": revenue }), at),
                Change::Plan(p) => identify("u", json!({ "plan": p }), at),
                Change::Zone(z) => identify("u", json!({ "timezone": z }), at),
                Change::Unsubscribe => identify("u", json!({ "subscribed_email": false }), at),
                Change::Subscribe => identify("u", json!({ "subscribed_email": true }), at),
            };
            h.event(&event);
        }
        let mut kept: Vec<String> = h.profile.segments.keys().cloned().collect();
        kept.sort();
        prop_assert_eq!(kept, from_scratch(&h.engine, &h.profile));
    }
}
