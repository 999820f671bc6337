//! Engine behaviour, one journey rule per test.

mod harness;

use harness::{Harness, identify, journey, records, sends, track, ts};
use serde_json::{Map, json};
use waymark_engine::{Effect, Input};

const CART: &str = r#"
id: cart
entry: { event: Cart Updated, where: 'event.properties.total > 0', re_entry: { policy: after_exit, cooldown: 1d } }
exit_on: [Order Completed]
goal: { event: Order Completed, within: 3d, value: 'event.properties.revenue' }
nodes:
  - { id: wait_1h, type: wait, duration: 1h, next: vip }
  - id: vip
    type: branch
    branches: [ { when: 'profile.traits.vip == true', next: vip_email } ]
    default: email
  - { id: email, type: send, channel: [email, sms], template: t, next: done }
  - { id: vip_email, type: send, channel: email, template: t, next: done }
  - { id: done, type: exit }
"#;

/// A `Cart Updated` from `user` with `total`, at `at`.
fn cart_update(h: &mut Harness, user: &str, total: i64, at: &str) -> Vec<Effect> {
    h.event(&track(
        user,
        "Cart Updated",
        json!({ "total": total }),
        ts(at),
    ))
}

/// Asserts that `h` recorded `line` (`kind node [reason] [next] [channel]`).
fn assert_recorded(h: &Harness, line: &str) {
    assert!(
        h.records().iter().any(|r| r == line),
        "no `{line}` in {:#?}",
        h.records()
    );
}

fn cart() -> Harness {
    let mut h = Harness::new(vec![journey(CART)], "u1");
    h.event(&identify(
        "u1",
        json!({"email": "u1@example.com"}),
        ts("2026-01-01T00:00:00Z"),
    ));
    h
}

#[test]
fn walks_wait_branch_send_exit() {
    let mut h = cart();
    cart_update(&mut h, "u1", 10, "2026-01-01T10:00:00Z");
    h.advance(ts("2026-01-02T00:00:00Z"));
    assert_eq!(
        h.records(),
        [
            "entered wait_1h",
            "wait wait_1h",
            "branch vip email",
            "send email email",
            "exited done completed"
        ]
    );
}

#[test]
fn where_filters_entry_and_branch_reads_traits() {
    let mut h = cart();
    cart_update(&mut h, "u1", 0, "2026-01-01T10:00:00Z");
    assert!(h.records().is_empty());
    h.event(&identify(
        "u1",
        json!({"vip": true}),
        ts("2026-01-01T10:01:00Z"),
    ));
    cart_update(&mut h, "u1", 5, "2026-01-01T10:02:00Z");
    h.advance(ts("2026-01-02T00:00:00Z"));
    assert_recorded(&h, "send vip_email email");
}

#[test]
fn first_reachable_channel_or_unreachable() {
    let mut h = Harness::new(vec![journey(CART)], "u2");
    h.event(&identify(
        "u2",
        json!({"phone": "+4915100000000"}),
        ts("2026-01-01T00:00:00Z"),
    ));
    cart_update(&mut h, "u2", 10, "2026-01-01T10:00:00Z");
    h.advance(ts("2026-01-02T00:00:00Z"));
    assert_recorded(&h, "send email sms");

    let mut h = Harness::new(vec![journey(CART)], "u3");
    cart_update(&mut h, "u3", 10, "2026-01-01T10:00:00Z");
    h.advance(ts("2026-01-02T00:00:00Z"));
    assert_recorded(&h, "suppressed email unreachable email");
    assert_eq!(sends(&h.effects), 0);
}

#[test]
fn exit_on_cancels_the_timer_and_a_stale_timer_changes_nothing() {
    let mut h = cart();
    cart_update(&mut h, "u1", 10, "2026-01-01T10:00:00Z");
    let token = h.instances[0].timer.unwrap().token;
    let instance = h.instances[0].id.clone();
    let effects = h.event(&track(
        "u1",
        "Order Completed",
        json!({"revenue": 12.5}),
        ts("2026-01-01T10:30:00Z"),
    ));
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::CancelTimer(t) if t.token == token))
    );
    assert_eq!(
        records(&effects),
        ["goal wait_1h value=12.5", "exited wait_1h goal"]
    );
    let before = h.instances.clone();
    let stale = h.input(
        Input::TimerFired {
            instance: &instance,
            token,
        },
        ts("2026-01-01T11:00:00Z"),
    );
    assert!(stale.is_empty());
    assert_eq!(h.instances, before);
}

#[test]
fn re_entry_after_exit_waits_for_the_cooldown() {
    let mut h = cart();
    cart_update(&mut h, "u1", 10, "2026-01-01T10:00:00Z");
    cart_update(&mut h, "u1", 20, "2026-01-01T10:10:00Z");
    assert_eq!(
        h.records()
            .iter()
            .filter(|r| r.starts_with("entered"))
            .count(),
        1,
        "one running instance"
    );
    h.advance(ts("2026-01-01T12:00:00Z")); // completes at 11:00
    cart_update(&mut h, "u1", 30, "2026-01-02T10:59:00Z");
    assert_eq!(
        h.records()
            .iter()
            .filter(|r| r.starts_with("entered"))
            .count(),
        1,
        "within the cooldown"
    );
    cart_update(&mut h, "u1", 30, "2026-01-02T11:00:00Z");
    assert_eq!(
        h.records()
            .iter()
            .filter(|r| r.starts_with("entered"))
            .count(),
        2
    );
    assert_eq!(h.instances.len(), 1, "one instance kept per journey");
    assert_eq!(h.instances[0].entry_seq, 2);
    assert!(h.instances[0].id.ends_with(":u1:2"));
}

#[test]
fn goals_count_after_completion_within_the_window_only() {
    let mut h = cart();
    cart_update(&mut h, "u1", 10, "2026-01-01T10:00:00Z");
    h.advance(ts("2026-01-01T12:00:00Z"));
    let late = h.event(&track(
        "u1",
        "Order Completed",
        json!({"revenue": 99}),
        ts("2026-01-04T10:00:01Z"),
    ));
    assert!(
        records(&late).is_empty(),
        "outside the 3d window: {:?}",
        records(&late)
    );

    let mut h = cart();
    cart_update(&mut h, "u1", 10, "2026-01-01T10:00:00Z");
    h.advance(ts("2026-01-01T12:00:00Z"));
    let effects = h.event(&track(
        "u1",
        "Order Completed",
        json!({"revenue": 99}),
        ts("2026-01-03T10:00:00Z"),
    ));
    assert_eq!(records(&effects), ["goal done value=99"]);
    let again = h.event(&track(
        "u1",
        "Order Completed",
        json!({"revenue": 5}),
        ts("2026-01-03T11:00:00Z"),
    ));
    assert!(records(&again).is_empty(), "a goal counts once");
}

#[test]
fn wait_for_event_takes_the_event_or_the_timeout() {
    let j = journey(
        r#"
id: w
entry: { event: Start }
nodes:
  - { id: w, type: wait_for_event, event: Clicked, where: 'event.properties.link == "buy"', timeout: 1d, on_event: yes, on_timeout: no }
  - { id: yes, type: send, channel: webhook, template: t }
  - { id: no, type: send, channel: webhook, template: t2 }
"#,
    );
    let mut h = Harness::new(vec![j.clone()], "u");
    h.event(&track("u", "Start", json!({}), ts("2026-01-01T00:00:00Z")));
    h.event(&track(
        "u",
        "Clicked",
        json!({"link": "help"}),
        ts("2026-01-01T01:00:00Z"),
    ));
    h.event(&track(
        "u",
        "Clicked",
        json!({"link": "buy"}),
        ts("2026-01-01T02:00:00Z"),
    ));
    h.advance(ts("2026-01-05T00:00:00Z"));
    assert_eq!(
        h.records(),
        [
            "entered w",
            "wait w",
            "send yes webhook",
            "exited yes completed"
        ]
    );
    assert!(h.timers.is_empty());

    let mut h = Harness::new(vec![j], "u");
    h.event(&track("u", "Start", json!({}), ts("2026-01-01T00:00:00Z")));
    h.advance(ts("2026-01-05T00:00:00Z"));
    assert_eq!(
        h.records(),
        [
            "entered w",
            "wait w",
            "send no webhook",
            "exited no completed"
        ]
    );
}

#[test]
fn update_profile_is_seen_by_the_next_branch_and_returned_as_an_effect() {
    let j = journey(
        r#"
id: u
entry: { api: true }
nodes:
  - { id: tag, type: update_profile, set: { stage: hot }, next: check }
  - { id: check, type: branch, branches: [ { when: 'profile.traits.stage == "hot" && event.properties.source == "crm"', next: hot } ], default: cold }
  - { id: hot, type: exit }
  - { id: cold, type: exit }
"#,
    );
    let mut h = Harness::new(vec![j], "u");
    let mut properties = Map::new();
    properties.insert("source".into(), json!("crm"));
    let effects = h.input(
        Input::ApiEnter {
            journey: "u",
            properties: &properties,
        },
        ts("2026-01-01T00:00:00Z"),
    );
    assert_eq!(
        records(&effects),
        [
            "entered tag",
            "passed tag",
            "branch check hot",
            "exited hot completed"
        ]
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::UpdateProfile(u) if u.set["stage"] == "hot"))
    );
    assert_eq!(h.profile.traits["stage"], "hot");
}

#[test]
fn segment_entry_when_traits_start_matching() {
    let j = journey(
        r#"
id: pro
entry: { segment: 'profile.traits.plan == "pro"' }
nodes:
  - { id: thanks, type: send, channel: webhook, template: t }
"#,
    );
    let mut h = Harness::new(vec![j], "u");
    h.event(&identify(
        "u",
        json!({"plan": "free"}),
        ts("2026-01-01T00:00:00Z"),
    ));
    assert!(h.records().is_empty());
    h.event(&identify(
        "u",
        json!({"plan": "pro"}),
        ts("2026-01-02T00:00:00Z"),
    ));
    h.event(&identify(
        "u",
        json!({"plan": "pro", "seats": 3}),
        ts("2026-01-03T00:00:00Z"),
    ));
    // Entered on becoming a member, not again while staying one.
    assert_eq!(
        h.records(),
        [
            "segment_entered journey:pro",
            "entered thanks",
            "send thanks webhook",
            "exited thanks completed"
        ]
    );
}

#[test]
fn wait_until_uses_the_profile_zone_then_the_default() {
    let j = journey(
        "id: m\nentry: { event: Go }\nnodes:\n  - { id: morning, type: wait, until: \"09:00\" }\n",
    );
    let mut h = Harness::new(vec![j.clone()], "u");
    h.event(&identify(
        "u",
        json!({"timezone": "America/Los_Angeles"}),
        ts("2026-07-01T00:00:00Z"),
    ));
    let effects = h.event(&track("u", "Go", json!({}), ts("2026-07-01T12:00:00Z")));
    let due = effects.iter().find_map(|e| {
        if let Effect::ScheduleTimer(t) = e {
            Some(t.due)
        } else {
            None
        }
    });
    assert_eq!(due, Some(ts("2026-07-01T16:00:00Z")));

    let config = waymark_engine::EngineConfig {
        default_timezone: chrono_tz::Asia::Kolkata,
        ..Default::default()
    };
    let mut h = Harness::with_config(vec![j], "u", config);
    let effects = h.event(&track("u", "Go", json!({}), ts("2026-07-01T12:00:00Z")));
    let due = effects.iter().find_map(|e| {
        if let Effect::ScheduleTimer(t) = e {
            Some(t.due)
        } else {
            None
        }
    });
    assert_eq!(due, Some(ts("2026-07-02T03:30:00Z")));
}

#[test]
fn idempotency_keys_are_unique_and_deterministic() {
    let run = || {
        let mut h = cart();
        cart_update(&mut h, "u1", 10, "2026-01-01T10:00:00Z");
        h.advance(ts("2026-01-03T00:00:00Z"));
        cart_update(&mut h, "u1", 10, "2026-01-05T10:00:00Z");
        h.advance(ts("2026-01-06T00:00:00Z"));
        h.effects
    };
    let first = run();
    assert_eq!(first, run());
    let mut keys: Vec<&str> = first
        .iter()
        .filter(|e| !matches!(e, Effect::CancelTimer(_)))
        .map(Effect::key)
        .collect();
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "every effect has its own key");
    assert!(
        first
            .iter()
            .any(|e| matches!(e, Effect::Send(s) if s.key == "cart:u1:2/3/send:email")),
        "{first:#?}"
    );
}

#[test]
fn a_later_version_takes_new_entrants_while_running_instances_finish_on_theirs() {
    let v1 = journey(CART);
    let mut v2 = journey(&CART.replace("duration: 1h", "duration: 2h"));
    v2.version = 2;
    let mut h = cart();
    cart_update(&mut h, "u1", 10, "2026-01-01T10:00:00Z");
    h.engine.activate(v2);
    assert_eq!(h.instances[0].version, 1);
    let fired = h.advance(ts("2026-01-01T11:00:00Z"));
    assert!(
        records(&fired).contains(&"send email email".to_owned()),
        "v1 instance finishes on v1"
    );
    drop(v1);
    cart_update(&mut h, "u1", 10, "2026-01-03T10:00:00Z");
    assert_eq!(h.instances[0].version, 2);
    assert_eq!(
        h.timers.keys().next().unwrap().0,
        ts("2026-01-03T12:00:00Z")
    );
}

#[test]
fn an_unsubscribed_channel_is_skipped_for_the_next_one_or_suppressed() {
    let mut h = Harness::new(vec![journey(CART)], "u5");
    h.event(&identify(
        "u5",
        json!({"email": "u5@example.com", "phone": "+4915100000005", "subscribed_email": false}),
        ts("2026-01-01T00:00:00Z"),
    ));
    cart_update(&mut h, "u5", 10, "2026-01-01T10:00:00Z");
    h.advance(ts("2026-01-02T00:00:00Z"));
    assert_recorded(&h, "send email sms");

    let mut h = Harness::new(vec![journey(CART)], "u6");
    h.event(&identify(
        "u6",
        json!({"email": "u6@example.com"}),
        ts("2026-01-01T00:00:00Z"),
    ));
    h.event(&track(
        "u6",
        "Unsubscribed",
        json!({}),
        ts("2026-01-01T09:00:00Z"),
    ));
    cart_update(&mut h, "u6", 10, "2026-01-01T10:00:00Z");
    h.advance(ts("2026-01-02T00:00:00Z"));
    assert_recorded(&h, "suppressed email unsubscribed email");
    assert_eq!(sends(&h.effects), 0);
}

#[test]
fn merged_instances_fold_the_earlier_entered_stays() {
    let mut winner = cart();
    cart_update(&mut winner, "u1", 10, "2026-01-01T10:30:00Z");
    let mut loser = Harness::new(vec![journey(CART)], "anon-1");
    loser.event(&identify(
        "anon-1",
        json!({"email": "a@example.com"}),
        ts("2026-01-01T00:00:00Z"),
    ));
    cart_update(&mut loser, "anon-1", 10, "2026-01-01T10:00:00Z");
    let theirs = loser.instances.clone();
    let from = loser.profile.id.clone();
    let effects = winner.input(
        Input::ProfileMerged {
            from: &from,
            instances: &theirs,
        },
        ts("2026-01-01T10:45:00Z"),
    );
    assert_eq!(
        records(&effects),
        ["exited wait_1h merged"],
        "ours entered later and gives way"
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::CancelTimer(_))));
    assert_eq!(winner.instances.len(), 1);
    assert_eq!(winner.instances[0].id, theirs[0].id);
    // The kept instance's timer (scheduled for the loser) still fires it.
    let token = theirs[0].timer.unwrap().token;
    let fired = winner.input(
        Input::TimerFired {
            instance: &theirs[0].id,
            token,
        },
        ts("2026-01-01T11:00:00Z"),
    );
    assert!(
        records(&fired).contains(&"send email email".to_owned()),
        "{:?}",
        records(&fired)
    );

    // A journey only the loser ran is simply taken over.
    let mut empty = Harness::new(vec![journey(CART)], "u9");
    let effects = empty.input(
        Input::ProfileMerged {
            from: &from,
            instances: &theirs,
        },
        ts("2026-01-01T10:45:00Z"),
    );
    assert!(effects.is_empty());
    assert_eq!(empty.instances, theirs);
}
