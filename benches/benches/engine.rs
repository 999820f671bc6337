//! Engine steps on the abandoned-cart journey over a realistic mix of events.
//!
//! `cargo bench -p waymark-benches --bench engine`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, Value, json};
use waymark_core::{Event, EventType, Profile, ProfileId, Timestamp, parse_timestamp};
use waymark_engine::{Effect, Engine, EngineConfig, Input, Instance};
use waymark_journey::load_journey;

fn engine() -> Engine {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/journeys/abandoned-cart.yaml");
    Engine::new(
        vec![load_journey(&path).expect("example journey loads")],
        EngineConfig::default(),
    )
}

fn event(kind: EventType, name: Option<&str>, properties: Value, at: Timestamp) -> Event {
    let Value::Object(properties) = properties else {
        unreachable!()
    };
    let mut context = Map::new();
    context.insert(
        "page".into(),
        json!({"path": "/p/boots", "referrer": "https://search.example", "title": "Boots"}),
    );
    context.insert("userAgent".into(), json!("Mozilla/5.0 (X11; Linux x86_64)"));
    Event {
        kind,
        message_id: "m".into(),
        user_id: Some("u1".into()),
        anonymous_id: Some("a1".into()),
        previous_id: None,
        group_id: None,
        event: name.map(str::to_owned),
        properties,
        traits: Map::new(),
        context,
        timestamp: at,
        received_at: at,
    }
}

fn profile(vip: bool) -> Profile {
    let mut p = Profile::new(ProfileId::from("u1"));
    p.traits.insert("email".into(), json!("u1@example.com"));
    p.traits.insert("first_name".into(), json!("Ada"));
    p.traits.insert("country".into(), json!("DE"));
    p.traits.insert("vip".into(), json!(vip));
    p
}

/// An instance of the cart journey resting on its first wait.
fn waiting_instance(engine: &Engine, profile: &Profile, now: Timestamp) -> (Vec<Instance>, u64) {
    let cart = event(
        EventType::Track,
        Some("Cart Updated"),
        json!({"total": 80.5, "currency": "EUR"}),
        now,
    );
    let d = engine.decide(profile, Vec::new(), Input::Event(&cart), now);
    let token = d.effects.iter().find_map(|e| {
        if let Effect::ScheduleTimer(t) = e {
            Some(t.token)
        } else {
            None
        }
    });
    (d.instances, token.expect("a timer"))
}

fn steps(c: &mut Criterion) {
    let engine = engine();
    let now = parse_timestamp("2026-10-01T12:00:00Z").expect("valid");
    let profile = profile(false);
    let page = event(
        EventType::Page,
        Some("Product"),
        json!({"path": "/p/boots", "url": "https://shop.example/p/boots", "title": "Boots", "sku": "B-42"}),
        now,
    );
    let unrelated = event(
        EventType::Track,
        Some("Product Viewed"),
        json!({"sku": "B-42", "price": 80.5}),
        now,
    );
    let cart = event(
        EventType::Track,
        Some("Cart Updated"),
        json!({"total": 80.5, "currency": "EUR", "items": 3}),
        now,
    );
    let empty_cart = event(
        EventType::Track,
        Some("Cart Updated"),
        json!({"total": 0, "currency": "EUR"}),
        now,
    );
    let (waiting, token) = waiting_instance(&engine, &profile, now);

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.bench_function("page_view_no_instances", |b| {
        b.iter(|| {
            engine.decide(
                black_box(&profile),
                Vec::new(),
                Input::Event(black_box(&page)),
                now,
            )
        })
    });
    group.bench_function("unrelated_track_while_waiting", |b| {
        b.iter_batched(
            || waiting.clone(),
            |instances| {
                engine.decide(
                    black_box(&profile),
                    instances,
                    Input::Event(black_box(&unrelated)),
                    now,
                )
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("entry_where_cel_false", |b| {
        b.iter(|| {
            engine.decide(
                black_box(&profile),
                Vec::new(),
                Input::Event(black_box(&empty_cart)),
                now,
            )
        })
    });
    group.bench_function("entry_with_where_cel", |b| {
        b.iter(|| {
            engine.decide(
                black_box(&profile),
                Vec::new(),
                Input::Event(black_box(&cart)),
                now,
            )
        })
    });
    // What the runtime then writes of that entry's journey records (the
    // store's JSON lines, the analytics topic's messages).
    let records: Vec<waymark_engine::Record> = engine
        .decide(&profile, Vec::new(), Input::Event(&cart), now)
        .effects
        .into_iter()
        .filter_map(|effect| match effect {
            waymark_engine::Effect::Record(record) => Some(record),
            _ => None,
        })
        .collect();
    assert!(!records.is_empty(), "an entry records something");
    group.bench_function("encode_entry_records", |b| {
        b.iter(|| {
            let mut text = Vec::with_capacity(1024);
            for record in black_box(&records) {
                serde_json::to_writer(&mut text, record).expect("a record encodes");
                text.push(b'\n');
            }
            text
        })
    });
    let instance_id = waiting[0].id.clone();
    let later = now + chrono::TimeDelta::hours(1);
    group.bench_function("timer_branch_cel_and_send", |b| {
        b.iter_batched(
            || waiting.clone(),
            |instances| {
                engine.decide(
                    black_box(&profile),
                    instances,
                    Input::TimerFired {
                        instance: &instance_id,
                        token,
                    },
                    later,
                )
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// A stream across 1,000 profiles: 80% page views, 10% unrelated tracks,
/// 8% cart updates, 2% orders; state is kept between events.
fn mixed_stream(c: &mut Criterion) {
    let engine = engine();
    let start = parse_timestamp("2026-10-01T00:00:00Z").expect("valid");
    let profiles: Vec<Profile> = (0..1000).map(|i| profile(i % 10 == 0)).collect();
    let events: Vec<(usize, Event)> = (0..10_000u64)
        .map(|i| {
            let at = start + chrono::TimeDelta::seconds(i as i64);
            let p = (i.wrapping_mul(2_654_435_761) % 1000) as usize;
            let e = match i % 50 {
                0..=39 => event(
                    EventType::Page,
                    Some("Product"),
                    json!({"path": "/p/boots"}),
                    at,
                ),
                40..=44 => event(
                    EventType::Track,
                    Some("Product Viewed"),
                    json!({"sku": "B-42"}),
                    at,
                ),
                45..=48 => event(
                    EventType::Track,
                    Some("Cart Updated"),
                    json!({"total": 80.5}),
                    at,
                ),
                _ => event(
                    EventType::Track,
                    Some("Order Completed"),
                    json!({"revenue": 80.5}),
                    at,
                ),
            };
            (p, e)
        })
        .collect();
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("mixed_stream_10k_events", |b| {
        b.iter_batched(
            || vec![Vec::<Instance>::new(); profiles.len()],
            |mut state| {
                for (p, e) in &events {
                    let d = engine.decide(
                        &profiles[*p],
                        std::mem::take(&mut state[*p]),
                        Input::Event(e),
                        e.timestamp,
                    );
                    state[*p] = d.instances;
                }
                state
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Parsing one event as Segment sends it (`Event::from_json_str`: JSON,
/// then the checks of the spec), what a source does for every message.
fn parse(c: &mut Criterion) {
    let line = r#"{"type":"page","messageId":"ajs-next-1732712345-6f1c","anonymousId":"a1f3c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d","userId":"u-48213","name":"Pricing","properties":{"path":"/pricing","referrer":"https://www.google.com/","search":"?plan=pro","title":"Pricing - Example","url":"https://www.example.com/pricing?plan=pro"},"context":{"library":{"name":"analytics.js","version":"next-1.74.0"},"locale":"en-US","page":{"path":"/pricing","referrer":"https://www.google.com/","search":"?plan=pro","title":"Pricing - Example","url":"https://www.example.com/pricing?plan=pro"},"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15","timezone":"Europe/Berlin","ip":"203.0.113.7","campaign":{"name":"spring","source":"newsletter","medium":"email"}},"timestamp":"2026-11-27T10:15:30.123Z","sentAt":"2026-11-27T10:15:30.456Z","receivedAt":"2026-11-27T10:15:31.001Z"}"#;
    let mut group = c.benchmark_group("event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_segment_page_view", |b| {
        b.iter(|| Event::from_json_str(std::hint::black_box(line)).expect("a valid event"))
    });
    group.finish();
}

/// Choosing a person's best hour for a `best_time` wait (24 candidate
/// hours in their zone, each a local-time lookup).
fn best_hour(c: &mut Criterion) {
    use waymark_engine::best_time::{EngagementPrior, best_time};
    let mut hours = [0u32; 24];
    hours[8] = 2;
    hours[19] = 5;
    hours[21] = 1;
    let tz: chrono_tz::Tz = "Europe/Berlin".parse().expect("zone");
    let now = parse_timestamp("2026-03-28T20:00:00Z").expect("valid");
    let ten = chrono::NaiveTime::from_hms_opt(10, 0, 0).expect("time");
    let prior = EngagementPrior::default();
    c.bench_function("best_time_choice", |b| {
        b.iter(|| {
            best_time(
                black_box(&hours),
                &prior,
                now,
                chrono::TimeDelta::hours(24),
                ten,
                tz,
            )
        })
    });
}

criterion_group!(benches, steps, mixed_stream, parse, best_hour);
criterion_main!(benches);
