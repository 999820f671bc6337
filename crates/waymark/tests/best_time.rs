//! `wait: { until: best_time }` in test mode: people whose opens cluster
//! at 19:00 local get their email at 19:00 local, in three time zones and
//! across a daylight-saving change; someone who never opened gets the
//! default hour.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::path::Path;

use chrono::Timelike;
use waymark::{Simulation, SimulationOptions};
use waymark_engine::{Engine, EngineConfig};
use waymark_journey::parse_journey;

const JOURNEY: &str = r#"
id: digest
entry: { event: Signed Up }
nodes:
  - { id: best, type: wait, until: best_time, within: 24h, default: "10:00", next: hello }
  - { id: hello, type: send, channel: email, template: t }
"#;

/// Three opens at 19:xx local before the sign-up (`at` is the sign-up).
fn person(user: &str, tz: &str, opens: [&str; 3], at: &str) -> String {
    let mut lines = vec![format!(
        r#"{{"type":"identify","messageId":"{user}-i","userId":"{user}","traits":{{"email":"{user}@example.com"}},"context":{{"timezone":"{tz}"}},"timestamp":"2026-03-01T00:00:00Z"}}"#
    )];
    for (i, open) in opens.iter().enumerate() {
        lines.push(format!(
            r#"{{"type":"track","messageId":"{user}-o{i}","userId":"{user}","event":"Email Opened","timestamp":"{open}"}}"#
        ));
    }
    lines.push(format!(
        r#"{{"type":"track","messageId":"{user}-s","userId":"{user}","event":"Signed Up","timestamp":"{at}"}}"#
    ));
    lines.join("\n")
}

#[test]
fn opens_at_seven_in_the_evening_get_the_email_at_seven_local() {
    let people = [
        // 19:xx CET is 18:xx UTC; the sign-up on 28 March, the send on the
        // 29th after the clocks moved to CEST (19:00 is then 17:00 UTC).
        (
            "berlin",
            "Europe/Berlin",
            [
                "2026-03-02T18:05:00Z",
                "2026-03-03T18:40:00Z",
                "2026-03-05T18:10:00Z",
            ],
            "2026-03-28T20:00:00Z",
            "2026-03-29T17:00:00Z",
        ),
        (
            "newyork",
            "America/New_York",
            [
                "2026-03-03T00:15:00Z",
                "2026-03-04T00:30:00Z",
                "2026-03-05T00:45:00Z",
            ],
            "2026-03-10T12:00:00Z",
            "2026-03-10T23:00:00Z",
        ),
        (
            "tokyo",
            "Asia/Tokyo",
            [
                "2026-03-02T10:20:00Z",
                "2026-03-03T10:05:00Z",
                "2026-03-04T10:55:00Z",
            ],
            "2026-03-10T00:00:00Z",
            "2026-03-10T10:00:00Z",
        ),
    ];
    let mut text: Vec<String> = people
        .iter()
        .map(|(user, tz, opens, at, _)| person(user, tz, *opens, at))
        .collect();
    // Never opened anything: the default hour, 10:00 local.
    text.push(
        r#"{"type":"identify","messageId":"q-i","userId":"quiet","traits":{"email":"quiet@example.com"},"context":{"timezone":"Europe/Paris"},"timestamp":"2026-03-01T00:00:00Z"}
{"type":"track","messageId":"q-s","userId":"quiet","event":"Signed Up","timestamp":"2026-03-10T12:00:00Z"}"#
            .to_owned(),
    );
    let journey = parse_journey(Path::new("digest.yaml"), JOURNEY).unwrap();
    let engine = Engine::new([journey], EngineConfig::default());
    let run = Simulation::new(engine, SimulationOptions::default()).run_all(&text.join("\n"));
    assert_eq!(run.deliveries.len(), 4, "{:?}", run.trace);
    for (user, tz, _, _, expected) in people {
        let sent = run
            .deliveries
            .iter()
            .find(|d| d.user_id.as_deref() == Some(user))
            .unwrap();
        assert_eq!(
            waymark_core::format_timestamp(sent.decided_at),
            expected,
            "{user}"
        );
        let tz: chrono_tz::Tz = tz.parse().unwrap();
        assert_eq!(sent.decided_at.with_timezone(&tz).hour(), 19, "{user}");
    }
    let quiet = run
        .deliveries
        .iter()
        .find(|d| d.user_id.as_deref() == Some("quiet"))
        .unwrap();
    assert_eq!(
        waymark_core::format_timestamp(quiet.decided_at),
        "2026-03-11T09:00:00Z",
        "10:00 in Paris"
    );
}
