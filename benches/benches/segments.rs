//! What segments add to the per-event cost: the mixed stream (80% page
//! views, 10% product views, 8% cart updates, 2% orders) of 100,000
//! events over 1,000,000 profiles in memory, each event folded into its
//! profile and decided (the abandoned-cart journey), with no segments,
//! 10 and 100 (and 100 that read only traits, which the stream never
//! changes); and with 100 segments over 10,000 profiles. The cost
//! should follow what an event changes, not how many segments or
//! profiles there are.
//!
//! `cargo bench -p waymark-benches --bench segments`

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use waymark_core::{Event, EventType, Profile, ProfileId, Timestamp, parse_timestamp};
use waymark_engine::{Effect, Engine, EngineConfig, Input, Instance};
use waymark_journey::{Expr, Segment, Segments, load_journey};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EVENTS: u64 = 100_000;

/// `n` segments of the kinds teams write: on traits, on event counters, on
/// revenue, on consent and the time zone (in that proportion); with
/// `traits_only`, all on traits (which the stream never changes).
fn segments(n: usize, traits_only: bool) -> Segments {
    let list = (0..n).map(|i| {
        let source = match i % 10 {
            _ if traits_only => format!("profile.traits.score_{i} >= 50"),
            0..=3 => format!("profile.traits.score_{} >= 50", i % 40),
            4..=6 => format!(r#"profile.events["Feature {}"].count >= 3"#, i % 30),
            7 => format!(
                r#"profile.events["Order Completed"].count >= {}"#,
                2 + i % 5
            ),
            8 => format!("profile.revenue >= {}.0", 100 * (1 + i % 20)),
            _ if i % 20 == 9 => r#"profile.consent["channel:email"] == false"#.to_owned(),
            _ => r#"profile.timezone == "Europe/Berlin""#.to_owned(),
        };
        Segment::new(
            &format!("s{i}"),
            Expr::compile(&source).expect("segment compiles"),
        )
    });
    Segments::from_list(list)
}

fn engine(n: usize, traits_only: bool) -> Engine {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/journeys/abandoned-cart.yaml");
    let mut engine = Engine::new(
        vec![load_journey(&path).expect("example journey loads")],
        EngineConfig::default(),
    );
    if n > 0 {
        engine.set_segments(segments(n, traits_only));
    }
    engine
}

fn event(kind: EventType, name: &str, properties: Value, user: usize, at: Timestamp) -> Event {
    let Value::Object(properties) = properties else {
        unreachable!()
    };
    Event {
        kind,
        message_id: "m".into(),
        user_id: Some(format!("u{user}")),
        anonymous_id: None,
        previous_id: None,
        group_id: None,
        event: (kind == EventType::Track).then(|| name.to_owned()),
        properties,
        traits: Map::new(),
        context: Map::new(),
        timestamp: at,
        received_at: at,
    }
}

fn profiles(n: usize) -> Vec<Profile> {
    (0..n)
        .map(|i| {
            let mut p = Profile::new(ProfileId::from(format!("u{i}")));
            p.traits
                .insert("email".into(), json!(format!("u{i}@example.com")));
            p.traits.insert("score_1".into(), json!(i % 100));
            p
        })
        .collect()
}

fn stream(profiles: usize) -> Vec<(usize, Event)> {
    let start = parse_timestamp("2026-10-01T00:00:00Z").expect("valid");
    (0..EVENTS)
        .map(|i| {
            let at = start + chrono::TimeDelta::milliseconds(i as i64 * 10);
            let p = (i.wrapping_mul(2_654_435_761) % profiles as u64) as usize;
            let e = match i % 50 {
                0..=39 => event(EventType::Page, "", json!({"path": "/p/boots"}), p, at),
                40..=44 => event(
                    EventType::Track,
                    "Product Viewed",
                    json!({"sku": "B-42"}),
                    p,
                    at,
                ),
                45..=48 => event(
                    EventType::Track,
                    "Cart Updated",
                    json!({"total": 80.5}),
                    p,
                    at,
                ),
                _ => event(
                    EventType::Track,
                    "Order Completed",
                    json!({"revenue": 80.5}),
                    p,
                    at,
                ),
            };
            (p, e)
        })
        .collect()
}

/// Folds each event into its profile, decides, and keeps what the decision
/// changed (instances, memberships): the runtime's step without a store.
fn run(
    engine: &Engine,
    events: &[(usize, Event)],
    people: &mut [Profile],
    state: &mut [Vec<Instance>],
) {
    for (p, e) in events {
        waymark_identity::observe(&mut people[*p], e);
        let d = engine.decide(
            &people[*p],
            std::mem::take(&mut state[*p]),
            Input::Event(e),
            e.timestamp,
        );
        state[*p] = d.instances;
        for effect in d.effects {
            if let Effect::Membership(m) = effect {
                let segments = &mut people[*p].segments;
                if m.joined {
                    segments.insert(m.segment.to_string(), m.at);
                } else {
                    segments.remove(&*m.segment);
                }
            }
        }
    }
}

fn mixed_stream(c: &mut Criterion) {
    let mut group = c.benchmark_group("segments");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    for (segments, traits_only, people) in [
        (0, false, 1_000_000),
        (10, false, 1_000_000),
        (100, false, 1_000_000),
        (100, true, 1_000_000),
        (100, false, 10_000),
    ] {
        let engine = engine(segments, traits_only);
        let events = stream(people);
        let base = profiles(people);
        let kind = if traits_only { "_trait" } else { "" };
        let name = format!("mixed_100k_events_{segments}{kind}_segments_{people}_profiles");
        group.bench_function(name, |b| {
            b.iter_batched(
                || (base.clone(), vec![Vec::<Instance>::new(); people]),
                |(mut people, mut state)| {
                    run(&engine, &events, &mut people, &mut state);
                    black_box((people, state))
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, mixed_stream);
criterion_main!(benches);
