//! What workspace policies cost: one send step (a journey entered on an
//! event that sends an email) with five caps, quiet hours and two
//! suppression windows, against the same step without policies; and a
//! step that sends nothing, with and without. Also the bytes of the send
//! history a person keeps.
//!
//! `cargo bench -p waymark-benches --bench policies`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Map, json};
use waymark_core::{Channel, Event, EventType, Profile, ProfileId, Timestamp, parse_timestamp};
use waymark_engine::{Engine, EngineConfig, Input, Policies, PoliciesSection};
use waymark_journey::parse_journey;

const JOURNEY: &str = "id: promo\ntopic: promotions\nentry: { event: Price Dropped, re_entry: after_exit }\nnodes:\n  - { id: alert, type: send, channel: [sms, email], template: t }\n";

fn policies() -> Policies {
    let section: PoliciesSection = serde_json::from_value(json!({
        "caps": [
            { "channel": "any", "max": 3, "per": "1d" },
            { "channel": "email", "max": 2, "per": "day" },
            { "channel": "sms", "max": 1, "per": "day" },
            { "channel": "any", "topic": "promotions", "max": 1, "per": "4h" },
            { "channel": "any", "max": 10, "per": "week" },
        ],
        "quiet_hours": { "from": "21:00", "to": "08:00", "action": "defer" },
        "suppress_after": [
            { "event": "Complaint Filed", "for": "72h" },
            { "event": "Order Completed", "for": "4h" },
        ],
        "topics": { "promotions": "opt_out" },
    }))
    .expect("a policies section");
    section.check().expect("valid policies")
}

fn engine(with_policies: bool) -> Engine {
    let journey = parse_journey(Path::new("promo.yaml"), JOURNEY).expect("journey");
    let mut engine = Engine::new(vec![journey], EngineConfig::default());
    if with_policies {
        engine.set_policies(policies());
    }
    engine
}

fn event(name: &str, kind: EventType, at: Timestamp) -> Event {
    Event {
        kind,
        message_id: "m".into(),
        user_id: Some("u1".into()),
        anonymous_id: None,
        previous_id: None,
        group_id: None,
        event: (kind == EventType::Track).then(|| name.to_owned()),
        properties: Map::new(),
        traits: Map::new(),
        context: Map::new(),
        timestamp: at,
        received_at: at,
    }
}

/// A person with a week of history: a send a day, an order and a
/// complaint well in the past, reachable by email and SMS, in Berlin.
fn profile(now: Timestamp, horizon: waymark_core::Duration) -> Profile {
    let mut p = Profile::new(ProfileId::from("u1"));
    p.traits.insert("email".into(), json!("u1@example.com"));
    p.traits.insert("phone".into(), json!("+4915112345678"));
    p.timezone = Some("Europe/Berlin".into());
    for day in (1..=7).rev() {
        let at = now - chrono::TimeDelta::days(day);
        p.record_send(at, Channel::Email, Some("promotions".into()), horizon);
    }
    for name in ["Order Completed", "Complaint Filed"] {
        let mut old = event(name, EventType::Track, now - chrono::TimeDelta::days(10));
        old.message_id = name.into();
        waymark_identity::observe(&mut p, &old);
    }
    p
}

fn steps(c: &mut Criterion) {
    let now = parse_timestamp("2026-11-02T10:00:00Z").expect("valid");
    let mut group = c.benchmark_group("policies");
    group.throughput(Throughput::Elements(1));
    for with in [false, true] {
        let engine = engine(with);
        let horizon = policies().history_horizon();
        let profile = profile(now, horizon);
        let label = if with { "with_policies" } else { "no_policies" };
        let price = event("Price Dropped", EventType::Track, now);
        group.bench_function(format!("send_step_{label}"), |b| {
            b.iter(|| engine.decide(black_box(&profile), Vec::new(), Input::Event(&price), now))
        });
        let page = event("", EventType::Page, now);
        group.bench_function(format!("no_send_step_{label}"), |b| {
            b.iter(|| engine.decide(black_box(&profile), Vec::new(), Input::Event(&page), now))
        });
    }
    group.finish();
    history_bytes(now);
}

/// Bytes of the send history for the example config's caps (a 2-day
/// horizon) and this bench's (8 days), a send a day.
#[allow(clippy::print_stderr)] // the measurement's result, beside criterion's
fn history_bytes(now: Timestamp) {
    let entry = std::mem::size_of::<waymark_core::SentMessage>();
    for (config, horizon) in [
        (
            "examples/policies (1d, day, 4h caps)",
            waymark_core::Duration::from_days(2),
        ),
        (
            "this bench (a week cap)",
            waymark_core::Duration::from_days(8),
        ),
    ] {
        let p = profile(now, horizon);
        let bytes =
            std::mem::size_of::<Vec<waymark_core::SentMessage>>() + p.sent.capacity() * entry;
        eprintln!(
            "send history, {config}: {} entries, {bytes} bytes in memory ({entry} per entry)",
            p.sent.len()
        );
    }
}

criterion_group!(benches, steps);
criterion_main!(benches);
