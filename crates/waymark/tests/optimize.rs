//! `optimize` nodes in test mode, with people who react to the variant
//! they got: 20,000 entrants, one a minute, each converting (the
//! journey's goal) with their variant's true rate. Thompson sampling must
//! move the traffic to the better variant, and keep an even split when
//! the variants are equal.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use chrono::TimeDelta;
use waymark::{Simulation, SimulationOptions};
use waymark_analytics::{Metrics, Selection, to_json};
use waymark_core::{Event, format_timestamp, parse_timestamp, stable_hash};
use waymark_engine::{Engine, EngineConfig, RecordKind};
use waymark_journey::parse_journey;

const JOURNEY: &str = r#"
id: offer
entry: { event: Visited }
goal: { event: Order Completed, within: 1d }
nodes:
  - id: pick
    type: optimize
    goal: journey
    explore: 10%
    variants: [ { name: plain, next: plain_done }, { name: bold, next: bold_done } ]
  - { id: plain_done, type: exit }
  - { id: bold_done, type: exit }
"#;

const ENTRANTS: u64 = 20_000;

fn event(user: u64, name: &str, at: chrono::DateTime<chrono::Utc>) -> Event {
    Event::from_json_str(&format!(
        r#"{{"type":"track","messageId":"{user}-{name}","userId":"u{user}","event":"{name}","timestamp":"{}"}}"#,
        format_timestamp(at)
    ))
    .unwrap()
}

/// Runs the journey; `rates` are the true conversion rates of (plain,
/// bold). Returns the variant of each entrant in order, and the report.
fn run(rates: (f64, f64), seed: u64) -> (Vec<String>, serde_json::Value) {
    let journey = parse_journey(Path::new("offer.yaml"), JOURNEY).unwrap();
    let config = EngineConfig {
        seed,
        ..EngineConfig::default()
    };
    let mut sim = Simulation::new(Engine::new([journey], config), SimulationOptions::default());
    let start = parse_timestamp("2026-06-01T00:00:00Z").unwrap();
    let mut chosen = Vec::new();
    for user in 0..ENTRANTS {
        let at = start + TimeDelta::minutes(user as i64);
        sim.push(&event(user, "Visited", at));
        let split = sim
            .output()
            .records
            .iter()
            .rev()
            .find(|r| r.kind == RecordKind::Split)
            .unwrap();
        assert!(split.instance.contains(&format!(":{}:", split.profile)));
        let variant = split.variant.as_deref().unwrap().to_owned();
        let rate = if variant == "bold" { rates.1 } else { rates.0 };
        // The person's own coin, independent of the engine's draws.
        let coin = stable_hash(99, &["converts", &user.to_string()]) as f64 / u64::MAX as f64;
        if coin < rate {
            sim.push(&event(user, "Order Completed", at + TimeDelta::seconds(30)));
        }
        chosen.push(variant);
    }
    let run = sim.finish();
    let mut metrics = Metrics::default();
    for record in &run.records {
        metrics.add(record);
    }
    let journeys = metrics
        .report(&Selection::default(), Default::default())
        .unwrap();
    (chosen, to_json(&journeys))
}

fn share_of(chosen: &[String], variant: &str) -> f64 {
    chosen.iter().filter(|v| *v == variant).count() as f64 / chosen.len() as f64
}

#[test]
fn twelve_percent_beats_six_percent() {
    let (chosen, report) = run((0.06, 0.12), 1);
    let last = &chosen[chosen.len() - 10_000..];
    let share = share_of(last, "bold");
    assert!(share >= 0.80, "bold got {share} of the last 10,000");
    // Exploration keeps at least half of its 10% on the worse variant.
    assert!(
        share_of(last, "plain") >= 0.04,
        "{}",
        share_of(last, "plain")
    );
    let variants = report["journeys"][0]["variants"].as_array().unwrap();
    let bold = variants.iter().find(|v| v["variant"] == "bold").unwrap();
    assert!(bold["p_best"].as_f64().unwrap() > 0.99, "{bold}");
    // Allocation over time: one entry per day, bold's share growing.
    let days = bold["allocation"].as_array().unwrap();
    assert_eq!(days.len(), 14, "20,000 minutes span 14 days");
    let first = days[0]["share"].as_f64().unwrap();
    let last_day = days[13]["share"].as_f64().unwrap();
    assert!(
        last_day > first && last_day > 0.85,
        "{first} then {last_day}"
    );
    eprintln!("bold: {share:.3} of the last 10,000; first day {first:.3}, last {last_day:.3}");
}

#[test]
fn equal_variants_stay_near_even() {
    for seed in [1, 2, 3] {
        let (chosen, _) = run((0.09, 0.09), seed);
        let share = share_of(&chosen, "bold");
        assert!(
            (0.40..=0.60).contains(&share),
            "seed {seed}: bold got {share}"
        );
        eprintln!("seed {seed}: bold {share:.3}");
    }
}

#[test]
fn the_same_stream_chooses_the_same() {
    let (a, _) = run((0.06, 0.12), 5);
    let (b, _) = run((0.06, 0.12), 5);
    assert_eq!(a, b);
    let (c, _) = run((0.06, 0.12), 6);
    assert_ne!(a, c, "another seed, other draws");
}
