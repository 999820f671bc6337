//! Invariants of the engine under random event streams (proptest):
//! determinism, one node at a time, holdouts never messaged, no send to the
//! unsubscribed or unreachable, `never` means never, stale timers change
//! nothing, splits follow their weights.

mod harness;

use std::collections::{BTreeMap, HashMap};

use harness::{Harness, identify, journey, track};
use proptest::prelude::*;
use serde_json::json;
use waymark_core::Timestamp;
use waymark_engine::{Effect, EngineConfig, Input, RecordKind};
use waymark_journey::{Journey, NodeIndex, NodeKind};

fn journeys() -> Vec<Journey> {
    vec![
        journey(
            r#"
id: cart
entry: { event: Cart Updated, where: 'event.properties.total > 20', re_entry: { policy: after_exit, cooldown: 1h } }
exit_on: [Order Completed]
goal: { event: Order Completed, within: 2d, value: 'event.properties.revenue' }
holdout: 30%
nodes:
  - { id: wait_1h, type: wait, duration: 1h, next: vip }
  - id: vip
    type: branch
    branches: [ { when: 'profile.traits.vip == true', next: vip_email } ]
    default: email
  - { id: email, type: send, channel: [email, push], template: t, next: click }
  - { id: click, type: wait_for_event, event: Email Link Clicked, timeout: 1d, on_event: done, on_timeout: again }
  - { id: again, type: send, channel: email, template: t, next: pause }
  - { id: pause, type: wait, duration: 6h, next: vip }
  - { id: vip_email, type: send, channel: email, template: t, next: done }
  - { id: done, type: exit }
"#,
        ),
        journey(
            r#"
id: once
entry: { event: Page Viewed }
nodes:
  - { id: pick, type: split, variants: [ { weight: 1, next: a }, { weight: 2, next: b } ] }
  - { id: a, type: send, channel: email, template: t, next: later }
  - { id: b, type: wait, until: "09:00", next: later }
  - { id: later, type: wait_for_event, event: Order Completed, on_event: bye }
  - { id: bye, type: send, channel: webhook, template: t }
"#,
        ),
    ]
}

#[derive(Debug, Clone)]
enum Action {
    Cart(u32),
    Order(u32),
    Click,
    Page,
    Vip(bool),
    Email(bool),
    /// Unsubscribe from (false) or re-subscribe to (true) email.
    EmailConsent(bool),
    /// Fire a timer that is no longer current.
    StaleTimer,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        4 => (0u32..60).prop_map(Action::Cart),
        2 => (1u32..500).prop_map(Action::Order),
        2 => Just(Action::Click),
        3 => Just(Action::Page),
        1 => any::<bool>().prop_map(Action::Vip),
        1 => any::<bool>().prop_map(Action::Email),
        1 => any::<bool>().prop_map(Action::EmailConsent),
        1 => Just(Action::StaleTimer),
    ]
}

/// (profile, minutes since the previous step, action)
fn stream() -> impl Strategy<Value = Vec<(usize, i64, Action)>> {
    prop::collection::vec((0usize..3, 0i64..900, action()), 1..60)
}

/// Runs a stream; checks the per-step invariants and returns every effect.
fn run(stream: &[(usize, i64, Action)], seed: u64) -> Vec<Effect> {
    let config = EngineConfig {
        seed,
        ..EngineConfig::default()
    };
    let mut profiles: Vec<Harness> = (0..3)
        .map(|i| Harness::with_config(journeys(), &format!("p{i}"), config))
        .collect();
    let mut now: Timestamp = harness::ts("2026-03-01T00:00:00Z");
    let mut fired: Vec<Vec<(std::sync::Arc<str>, u64)>> = vec![Vec::new(); 3];
    for (n, (p, gap, action)) in stream.iter().enumerate() {
        now += chrono::TimeDelta::minutes(*gap) + chrono::TimeDelta::seconds(n as i64);
        let h = &mut profiles[*p];
        let id = h.profile.id.to_string();
        // Timers due by now fire against the profile as it is before this
        // step's event; check their sends against that profile.
        let before_timers_fired: Vec<(std::sync::Arc<str>, u64)> =
            h.timers.keys().map(|(_, t, i)| (i.clone(), *t)).collect();
        let fired_now = h.advance(now);
        check_sends(&h.profile, &fired_now);
        let still: Vec<(std::sync::Arc<str>, u64)> =
            h.timers.keys().map(|(_, t, i)| (i.clone(), *t)).collect();
        fired[*p].extend(
            before_timers_fired
                .into_iter()
                .filter(|t| !still.contains(t)),
        );
        let effects_before = h.effects.len();
        let before_timers: Vec<(std::sync::Arc<str>, u64)> =
            h.timers.keys().map(|(_, t, i)| (i.clone(), *t)).collect();
        match action {
            Action::Cart(total) => {
                drop(h.event(&track(&id, "Cart Updated", json!({"total": total}), now)))
            }
            Action::Order(revenue) => drop(h.event(&track(
                &id,
                "Order Completed",
                json!({"revenue": revenue}),
                now,
            ))),
            Action::Click => drop(h.event(&track(&id, "Email Link Clicked", json!({}), now))),
            Action::Page => {
                let mut e = track(&id, "x", json!({}), now);
                e.kind = waymark_core::EventType::Page;
                drop(h.event(&e));
            }
            Action::Vip(vip) => drop(h.event(&identify(&id, json!({"vip": vip}), now))),
            Action::Email(yes) => {
                let email = if *yes {
                    json!("p@example.com")
                } else {
                    json!("")
                };
                drop(h.event(&identify(&id, json!({"email": email}), now)));
            }
            Action::EmailConsent(yes) => {
                drop(h.event(&identify(&id, json!({"subscribed_email": yes}), now)));
            }
            Action::StaleTimer => {
                drop(h.advance(now));
                if let Some((instance, token)) = fired[*p].last().cloned() {
                    let before = h.instances.clone();
                    let effects = h.input(
                        Input::TimerFired {
                            instance: &instance,
                            token,
                        },
                        now,
                    );
                    assert!(effects.is_empty(), "a stale timer produced {effects:?}");
                    assert_eq!(h.instances, before, "a stale timer changed state");
                }
            }
        }
        check_sends(&h.profile, &h.effects[effects_before..]);
        let after: Vec<(std::sync::Arc<str>, u64)> =
            h.timers.keys().map(|(_, t, i)| (i.clone(), *t)).collect();
        fired[*p].extend(before_timers.into_iter().filter(|t| !after.contains(t)));
        check_state(h);
    }
    profiles.into_iter().flat_map(|h| h.effects).collect()
}

/// No send goes to a channel the profile cannot be reached on or has
/// unsubscribed from (`profile` as it was when the sends were decided).
fn check_sends(profile: &waymark_core::Profile, effects: &[Effect]) {
    for effect in effects {
        if let Effect::Send(send) = effect {
            assert!(
                profile.allows_channel(send.channel),
                "sent {} to a profile unsubscribed from it",
                send.channel
            );
            assert!(
                waymark_engine::reachable(profile, send.channel),
                "sent on unreachable {}",
                send.channel
            );
        }
    }
}

/// One instance per journey; a running instance rests on a wait, on the
/// node its index names, with at most one pending timer.
fn check_state(h: &Harness) {
    let mut per_journey: HashMap<&str, usize> = HashMap::new();
    for instance in &h.instances {
        *per_journey.entry(&instance.journey).or_default() += 1;
        let journey = h
            .engine
            .journey(&instance.journey, instance.version)
            .expect("known version");
        let node = journey.node(NodeIndex(instance.node_index));
        assert_eq!(node.id, instance.node, "node id and index agree");
        let pending = h
            .timers
            .values()
            .filter(|t| t.instance == instance.id)
            .count();
        if instance.is_running() {
            assert!(
                node.kind.is_wait(),
                "running instance {} rests on non-wait node {}",
                instance.id,
                node.id
            );
            assert!(pending <= 1, "{} has {pending} timers", instance.id);
            if matches!(node.kind, NodeKind::Wait { .. }) {
                assert_eq!(pending, 1, "{} waits without a timer", instance.id);
            }
        } else {
            assert_eq!(pending, 0, "ended instance {} keeps a timer", instance.id);
            assert!(instance.timer.is_none());
        }
    }
    assert!(per_journey.values().all(|n| *n == 1), "{per_journey:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn same_input_same_effects(stream in stream(), seed in any::<u64>()) {
        prop_assert_eq!(run(&stream, seed), run(&stream, seed));
    }

    #[test]
    fn holdout_instances_are_never_messaged(stream in stream(), seed in any::<u64>()) {
        let effects = run(&stream, seed);
        let mut control: BTreeMap<std::sync::Arc<str>, bool> = BTreeMap::new();
        for effect in &effects {
            match effect {
                Effect::Record(r) if r.kind == RecordKind::Entered => { control.insert(r.instance.clone(), r.control); }
                Effect::Send(s) => prop_assert_eq!(control.get(&s.instance), Some(&false), "send to a control instance {}", s.instance),
                Effect::Record(r) if r.kind == RecordKind::Suppressed && control[&r.instance] => {
                    prop_assert_eq!(r.reason.as_deref(), Some("holdout"));
                }
                _ => {}
            }
        }
    }

    #[test]
    fn never_re_enters_when_re_entry_is_never(stream in stream()) {
        let effects = run(&stream, 1);
        let mut entries: HashMap<String, usize> = HashMap::new();
        for effect in &effects {
            if let Effect::Record(r) = effect
                && r.kind == RecordKind::Entered
                && &*r.journey == "once"
            {
                *entries.entry(r.profile.to_string()).or_default() += 1;
            }
        }
        prop_assert!(entries.values().all(|n| *n == 1), "{:?}", entries);
    }

}

proptest! {
    // Each case decides for 10,000 profiles; a few seeds are plenty.
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn splits_follow_their_weights_within_five_standard_deviations(seed in any::<u64>()) {
        let split = journey(
            r#"
id: ab
entry: { api: true }
nodes:
  - id: pick
    type: split
    variants: [ { weight: 20, next: a }, { weight: 30, next: b }, { weight: 50, next: c } ]
  - { id: a, type: exit }
  - { id: b, type: exit }
  - { id: c, type: exit }
"#,
        );
        let engine = waymark_engine::Engine::new(vec![split], EngineConfig { seed, ..EngineConfig::default() });
        let properties = serde_json::Map::new();
        let mut counts: HashMap<std::sync::Arc<str>, u32> = HashMap::new();
        let mut sticky = true;
        for i in 0..10_000 {
            let profile = waymark_core::Profile::new(waymark_core::ProfileId::from(format!("user-{i}")));
            let pick = |engine: &waymark_engine::Engine| {
                let d = engine.decide(&profile, Vec::new(), Input::ApiEnter { journey: "ab", properties: &properties }, harness::ts("2026-01-01T00:00:00Z"));
                d.effects.iter().find_map(|e| match e {
                    Effect::Record(r) if r.kind == RecordKind::Split => r.variant.clone(),
                    _ => None,
                })
            };
            let first = pick(&engine).expect("a split record");
            if i % 100 == 0 { sticky &= pick(&engine).as_ref() == Some(&first); }
            *counts.entry(first).or_default() += 1;
        }
        prop_assert!(sticky, "the same profile lands on the same variant");
        // A fair assignment's share of 10,000 varies by sqrt(p(1-p)/n):
        // 0.46 points for 30%. Five of those (2.3 points for 30%) fails a
        // fair hash about once in 10^5 runs of 8 seeds; a biased one
        // beyond them, as a fixed 2 points did once for a fair seed.
        for (variant, weight) in [("a", 20.0), ("b", 30.0), ("c", 50.0)] {
            let share = f64::from(counts.get(variant).copied().unwrap_or(0)) / 100.0;
            let p: f64 = weight / 100.0;
            let sd = (p * (1.0 - p) / 10_000.0).sqrt() * 100.0;
            prop_assert!((share - weight).abs() <= 5.0 * sd, "{} got {:.2}% for weight {}% (sd {:.2} points)", variant, share, weight, sd);
        }
    }
}
