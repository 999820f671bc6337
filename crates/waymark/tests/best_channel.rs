//! `channel: { best_of: [email, push] }` in test mode, with people who
//! react to what they get: someone who only ever taps pushes is moved to
//! push after one unopened email; someone who opens every email keeps
//! email; the trace says which channel and why.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use chrono::TimeDelta;
use waymark::{Simulation, SimulationOptions};
use waymark_core::{Channel, Event, format_timestamp, parse_timestamp};
use waymark_engine::{Engine, EngineConfig, RecordKind};
use waymark_journey::parse_journey;

const JOURNEY: &str = r#"
id: weekly
entry: { event: Week Started, re_entry: { policy: after_exit, cooldown: 1h } }
nodes:
  - { id: tip, type: send, channel: { best_of: [email, push] }, template: tip }
"#;

fn event(json: String) -> Event {
    Event::from_json_str(&json).unwrap()
}

/// Twelve weeks of `user`, who engages only with `likes`; returns the
/// channel of each week's send.
fn weeks(sim: &mut Simulation, user: &str, likes: Channel) -> Vec<Channel> {
    let start = parse_timestamp("2026-01-05T09:00:00Z").unwrap();
    sim.push(&event(format!(
        r#"{{"type":"identify","messageId":"{user}-id","userId":"{user}","traits":{{"email":"{user}@example.com"}},"context":{{"device":{{"id":"d1","token":"tok-{user}"}}}},"timestamp":"{}"}}"#,
        format_timestamp(start - TimeDelta::days(1))
    )));
    let mut channels = Vec::new();
    for week in 0..12 {
        let at = start + TimeDelta::weeks(week);
        sim.push(&event(format!(
            r#"{{"type":"track","messageId":"{user}-w{week}","userId":"{user}","event":"Week Started","timestamp":"{}"}}"#,
            format_timestamp(at)
        )));
        let send = sim
            .output()
            .records
            .iter()
            .rev()
            .find(|r| r.kind == RecordKind::Send)
            .unwrap();
        let channel = send.channel.unwrap();
        channels.push(channel);
        if channel == likes {
            let name = match likes {
                Channel::Push => "Push Notification Tapped",
                _ => "Email Opened",
            };
            sim.push(&event(format!(
                r#"{{"type":"track","messageId":"{user}-e{week}","userId":"{user}","event":"{name}","timestamp":"{}"}}"#,
                format_timestamp(at + TimeDelta::hours(1))
            )));
        }
    }
    channels
}

#[test]
fn people_who_only_tap_pushes_get_pushes() {
    let journey = parse_journey(Path::new("weekly.yaml"), JOURNEY).unwrap();
    let engine = Engine::new([journey], EngineConfig::default());
    let mut sim = Simulation::new(engine, SimulationOptions::default());
    let tapper = weeks(&mut sim, "tapper", Channel::Push);
    assert_eq!(tapper[0], Channel::Email, "no data: the listed order");
    assert!(
        tapper[1..].iter().all(|c| *c == Channel::Push),
        "{tapper:?}"
    );
    let mut sim = Simulation::new(
        Engine::new(
            [parse_journey(Path::new("weekly.yaml"), JOURNEY).unwrap()],
            EngineConfig::default(),
        ),
        SimulationOptions::default(),
    );
    let reader = weeks(&mut sim, "reader", Channel::Email);
    assert!(reader.iter().all(|c| *c == Channel::Email), "{reader:?}");
    let run = sim.finish();
    let sends: Vec<_> = run.trace.iter().filter(|t| t.kind == "send").collect();
    assert_eq!(sends.len(), 12);
    let last = sends[11];
    assert_eq!(last.reason.as_deref(), Some("best_channel"));
    let rates = last.value.as_ref().unwrap();
    // Eleven emails opened of eleven: (11 + 10 × 0.1) / (11 + 10), to
    // four places.
    let email = rates["email"].as_f64().unwrap();
    assert_eq!(email, 0.5714, "{rates}");
    assert_eq!(rates["push"].as_f64(), Some(0.1), "{rates}");
}
