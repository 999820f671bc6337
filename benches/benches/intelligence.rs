//! What choosing per person costs in one engine decision: a `best_time`
//! wait, a `channel: best` send and an `optimize` step, each beside the
//! plain node it replaces (an entry into a one-node journey).
//!
//! `cargo bench -p waymark-benches --bench intelligence`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, json};
use waymark_core::{
    Channel, ChannelEngagement, Event, EventType, Profile, ProfileId, Timestamp, parse_timestamp,
};
use waymark_engine::optimize::VariantStats;
use waymark_engine::{Engine, EngineConfig, Input, Population};
use waymark_journey::parse_journey;

fn engine(node: &str) -> Engine {
    let mut yaml = format!(
        "id: j\nentry: {{ event: Visited }}\ngoal: {{ event: Order Completed, within: 7d }}\nnodes:\n  - {node}\n  - {{ id: a, type: exit }}\n"
    );
    if node.contains("next: b") {
        yaml.push_str("  - { id: b, type: exit }\n  - { id: c, type: exit }\n");
    }
    let journey = parse_journey(Path::new("j.yaml"), &yaml).expect("valid journey");
    Engine::new([journey], EngineConfig::default())
}

fn person() -> Profile {
    let mut p = Profile::new(ProfileId::from("u1"));
    p.traits.insert("email".into(), json!("u1@example.com"));
    p.traits.insert("phone".into(), json!("+15550001"));
    p.push_tokens.insert("d1".into(), "tok".into());
    p.timezone = Some("Europe/Berlin".into());
    p.engagement_hours[8] = 2;
    p.engagement_hours[19] = 5;
    for (channel, sent, engaged) in [
        (Channel::Email, 12, 2),
        (Channel::Push, 6, 3),
        (Channel::Sms, 2, 0),
    ] {
        p.channel_engagement
            .insert(channel, ChannelEngagement { sent, engaged });
    }
    p
}

fn visited(at: Timestamp) -> Event {
    Event {
        kind: EventType::Track,
        message_id: "m".into(),
        user_id: Some("u1".into()),
        anonymous_id: None,
        previous_id: None,
        group_id: None,
        event: Some("Visited".into()),
        properties: Map::new(),
        traits: Map::new(),
        context: Map::new(),
        timestamp: at,
        received_at: at,
    }
}

/// Three variants after 30,000 entrants.
struct Counts;

impl Population for Counts {
    fn entered_since(&self, _: &str, _: Timestamp) -> usize {
        0
    }

    fn variant(&self, _: &str, _: &str, variant: &str) -> VariantStats {
        let conversions = match variant {
            "a" => 600,
            "b" => 1_100,
            _ => 700,
        };
        VariantStats {
            entrants: 10_000,
            conversions,
        }
    }
}

fn choices(c: &mut Criterion) {
    let now = parse_timestamp("2026-03-28T20:00:00Z").expect("valid");
    let event = visited(now);
    let profile = person();
    let cases = [
        (
            "wait_duration",
            "{ id: w, type: wait, duration: 12h, next: a }",
        ),
        (
            "wait_best_time",
            "{ id: w, type: wait, until: best_time, within: 24h, next: a }",
        ),
        (
            "send_first_listed",
            "{ id: s, type: send, channel: [email, push, sms], template: t, next: a }",
        ),
        (
            "send_best",
            "{ id: s, type: send, channel: best, template: t, next: a }",
        ),
        (
            "split",
            "{ id: s, type: split, variants: [ { weight: 1, next: a }, { weight: 1, next: b }, { weight: 1, next: c } ] }",
        ),
        (
            "optimize",
            "{ id: s, type: optimize, goal: journey, variants: [ { name: a, next: a }, { name: b, next: b }, { name: c, next: c } ] }",
        ),
    ];
    let mut group = c.benchmark_group("intelligence");
    group.throughput(Throughput::Elements(1));
    for (name, node) in cases {
        let engine = engine(node);
        group.bench_function(name, |b| {
            b.iter(|| {
                engine.decide_with(
                    black_box(&profile),
                    Vec::new(),
                    Input::Event(black_box(&event)),
                    now,
                    &Counts,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, choices);
criterion_main!(benches);
