//! Choices the engine makes per person — `channel: best` sends and
//! `optimize` nodes — under random profiles, policies and counts
//! (proptest): the same inputs give the same decisions, and no choice
//! breaks a guardrail (reachability, consent, caps, holdout).

#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod harness;

use harness::{journey, records, track, ts};
use proptest::prelude::*;
use serde_json::json;
use waymark_core::{Channel, ChannelEngagement, Consent, Profile, ProfileId, Timestamp};
use waymark_engine::best_channel::smoothed_rate;
use waymark_engine::optimize::VariantStats;
use waymark_engine::{
    Cap, Effect, Engine, EngineConfig, Input, Policies, Population, RecordKind, Window,
};

const CHANNELS: [Channel; 3] = [Channel::Email, Channel::Push, Channel::Sms];

/// One channel of a person: address, consent, (sent, engaged), sent an
/// hour ago, capped at one a day.
type ChannelSetup = (bool, bool, (u32, u32), bool, bool);

/// Everything random about one person and the workspace.
#[derive(Debug, Clone)]
struct Setup {
    channels: [ChannelSetup; 3],
    seed: u64,
}

fn setup() -> impl Strategy<Value = Setup> {
    let channel = (
        any::<bool>(),
        prop::bool::weighted(0.8),
        (0u32..30).prop_flat_map(|sent| (Just(sent), 0..=sent)),
        any::<bool>(),
        any::<bool>(),
    );
    ([channel.clone(), channel.clone(), channel], any::<u64>())
        .prop_map(|(channels, seed)| Setup { channels, seed })
}

fn profile_of(setup: &Setup, now: Timestamp) -> Profile {
    let mut p = Profile::new(ProfileId::from("p"));
    for (channel, (address, consents, (sent, engaged), recently, _)) in
        CHANNELS.iter().zip(setup.channels)
    {
        if address {
            match channel {
                Channel::Email => {
                    p.traits.insert("email".into(), json!("p@example.com"));
                }
                Channel::Sms => {
                    p.traits.insert("phone".into(), json!("+15550001"));
                }
                _ => {
                    p.push_tokens.insert("d1".into(), "tok".into());
                }
            }
        }
        p.consent.insert(
            Profile::channel_consent_key(*channel),
            Consent {
                subscribed: consents,
                at: now - chrono::TimeDelta::days(30),
            },
        );
        p.channel_engagement
            .insert(*channel, ChannelEngagement { sent, engaged });
        if recently {
            p.sent.push(waymark_core::SentMessage {
                at: now - chrono::TimeDelta::hours(1),
                channel: *channel,
                topic: None,
            });
        }
    }
    p
}

fn engine_of(setup: &Setup) -> Engine {
    let j = journey(
        "id: tip\nentry: { event: Tip Due }\nnodes:\n  - { id: tip, type: send, channel: best, template: t }\n",
    );
    let mut engine = Engine::new(
        vec![j],
        EngineConfig {
            seed: setup.seed,
            ..EngineConfig::default()
        },
    );
    let caps = CHANNELS
        .iter()
        .zip(setup.channels)
        .filter(|(_, c)| c.4)
        .map(|(channel, _)| Cap {
            channel: Some(*channel),
            topic: None,
            max: 1,
            per: Window::Rolling("1d".parse().unwrap()),
        })
        .collect();
    engine.set_policies(Policies {
        caps,
        ..Policies::default()
    });
    engine
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]
    #[test]
    fn a_best_send_is_the_best_channel_allowed_and_always_the_same(setup in setup()) {
        let now = ts("2026-05-04T12:00:00Z");
        let engine = engine_of(&setup);
        let profile = profile_of(&setup, now);
        let event = track("p", "Tip Due", json!({}), now);
        let decide = || engine.decide(&profile, Vec::new(), Input::Event(&event), now);
        let decision = decide();
        prop_assert_eq!(&decision, &decide());
        let allowed: Vec<(Channel, f64)> = CHANNELS
            .iter()
            .zip(setup.channels)
            .filter(|(_, (address, consents, _, recently, capped))| {
                *address && *consents && !(*recently && *capped)
            })
            .map(|(c, (_, _, (sent, engaged), _, _))| {
                (*c, smoothed_rate(ChannelEngagement { sent, engaged }, 0.1))
            })
            .collect();
        let sent: Vec<Channel> = decision
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(s) => Some(s.channel),
                _ => None,
            })
            .collect();
        match allowed.iter().copied().reduce(|a, b| if b.1 > a.1 { b } else { a }) {
            None => prop_assert!(sent.is_empty(), "{:?}", records(&decision.effects)),
            Some((best, _)) => prop_assert_eq!(sent, vec![best]),
        }
    }

    #[test]
    fn an_optimize_choice_depends_on_seed_person_and_counts_only(
        seed in any::<u64>(),
        person in 0u32..1_000,
        counts in prop::collection::vec((0u64..5_000, 0u64..500), 3),
    ) {
        let engine = optimize_engine(seed, 50);
        let counts = Counts(counts.iter().map(|(n, c)| VariantStats {
            entrants: *n,
            conversions: (*c).min(*n),
        }).collect());
        let now = ts("2026-05-04T12:00:00Z");
        let profile = Profile::new(ProfileId::from(format!("p{person}").as_str()));
        let event = track("p", "Visited", json!({}), now);
        let decide = || engine.decide_with(&profile, Vec::new(), Input::Event(&event), now, &counts);
        let decision = decide();
        prop_assert_eq!(&decision, &decide());
        let split: Vec<_> = decision.effects.iter().filter_map(|e| match e {
            Effect::Record(r) if r.kind == RecordKind::Split => Some(r),
            _ => None,
        }).collect();
        prop_assert_eq!(split.len(), 1);
        prop_assert!(matches!(split[0].reason.as_deref(), Some("explore" | "thompson")));
        // Control instances walk the journey but are never messaged.
        let control = decision.instances.iter().any(|i| i.control);
        let sends = harness::sends(&decision.effects);
        prop_assert_eq!(sends, usize::from(!control), "{:?}", records(&decision.effects));
    }
}

/// Counts of the `pick` node's variants a, b, c.
struct Counts(Vec<VariantStats>);

impl Population for Counts {
    fn entered_since(&self, _: &str, _: Timestamp) -> usize {
        0
    }

    fn variant(&self, journey: &str, node: &str, variant: &str) -> VariantStats {
        assert_eq!((journey, node), ("offer", "pick"));
        let at = ["a", "b", "c"].iter().position(|v| *v == variant).unwrap();
        self.0[at]
    }
}

fn optimize_engine(seed: u64, holdout: u32) -> Engine {
    let j = journey(&format!(
        r#"
id: offer
entry: {{ event: Visited }}
holdout: {holdout}%
goal: {{ event: Order Completed, within: 7d }}
nodes:
  - id: pick
    type: optimize
    goal: journey
    variants: [ {{ name: a, next: send_a }}, {{ name: b, next: send_b }}, {{ name: c, next: send_c }} ]
  - {{ id: send_a, type: send, channel: webhook, template: a }}
  - {{ id: send_b, type: send, channel: webhook, template: b }}
  - {{ id: send_c, type: send, channel: webhook, template: c }}
"#
    ));
    Engine::new(
        vec![j],
        EngineConfig {
            seed,
            ..EngineConfig::default()
        },
    )
}

#[test]
fn an_event_goal_counts_once_for_the_variant_within_its_window() {
    let j = journey(
        r#"
id: offer
entry: { event: Visited, re_entry: { policy: after_exit, cooldown: 1h } }
goal: { event: Order Completed, within: 7d }
nodes:
  - id: pick
    type: optimize
    goal: Clicked
    within: 1d
    variants: [ { name: a, next: wait }, { name: b, next: wait } ]
  - { id: wait, type: wait, duration: 3d }
"#,
    );
    let mut h = harness::Harness::new(vec![j], "p");
    h.event(&track(
        "p",
        "Visited",
        json!({}),
        ts("2026-05-04T12:00:00Z"),
    ));
    h.event(&track(
        "p",
        "Clicked",
        json!({}),
        ts("2026-05-04T13:00:00Z"),
    ));
    h.event(&track(
        "p",
        "Clicked",
        json!({}),
        ts("2026-05-04T14:00:00Z"),
    ));
    let converted: Vec<_> = h
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Record(r) if r.kind == RecordKind::Converted => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(converted.len(), 1, "{:?}", h.records());
    assert_eq!(converted[0].split.as_deref(), Some("pick"));
    assert!(converted[0].variant.is_some());
    // The journey's goal is not this node's: its record names no variant.
    h.event(&track(
        "p",
        "Order Completed",
        json!({}),
        ts("2026-05-04T15:00:00Z"),
    ));
    let goal = h
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Record(r) if r.kind == RecordKind::Goal => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!((goal.split.as_ref(), goal.variant.as_ref()), (None, None));
    // Entered again: a click after the one-day window does not count.
    h.event(&track(
        "p",
        "Visited",
        json!({}),
        ts("2026-05-10T12:00:00Z"),
    ));
    h.event(&track(
        "p",
        "Clicked",
        json!({}),
        ts("2026-05-11T13:00:00Z"),
    ));
    let converted = h
        .effects
        .iter()
        .filter(|e| matches!(e, Effect::Record(r) if r.kind == RecordKind::Converted))
        .count();
    assert_eq!(converted, 1, "{:?}", h.records());
}
