//! Event time you can trust, through the worker's file source: Segment's
//! timestamp rules (timestamp, else originalTimestamp corrected by the
//! device's clock skew, else the receive time), a bound on the future, and
//! trait writes that no event can date ahead of its arrival. The receive
//! time of a line is when the worker reads it.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

/// Runs the worker over `events` (JSON lines) with a journey that emails
/// everyone who signs up, and returns the deliveries and the time window
/// in which the worker read the file.
fn run(events: &[String]) -> (Vec<Value>, DateTime<Utc>, DateTime<Utc>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(
        d.join("journey.yaml"),
        "id: hello\nentry: { event: Signed Up }\nnodes:\n  - { id: hello, type: send, channel: email, template: hello }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("templates/hello.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    std::fs::write(d.join("events.jsonl"), events.join("\n") + "\n").unwrap();
    std::fs::write(
        d.join("worker.toml"),
        format!(
            r#"journeys = ["{d}/journey.yaml"]
[source]
path = "{d}/events.jsonl"
rejects = "{d}/rejects.jsonl"
[store]
path = "{d}/store"
[channels.log]
path = "{d}/deliveries.jsonl"
[runtime]
exit_when_idle = true
"#,
            d = d.display()
        ),
    )
    .unwrap();
    let started = Utc::now();
    let status = Command::new(env!("CARGO_BIN_EXE_waymark-worker"))
        .arg("--config")
        .arg(d.join("worker.toml"))
        .arg("--quiet")
        .status()
        .unwrap();
    let ended = Utc::now();
    assert!(status.success());
    let rejects = std::fs::read_to_string(d.join("rejects.jsonl")).unwrap_or_default();
    assert_eq!(rejects, "", "no event refused");
    let deliveries = std::fs::read_to_string(d.join("deliveries.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (deliveries, started, ended)
}

fn text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The time the journey saw for the sign-up that made `delivery`.
fn sign_up_time(delivery: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(delivery["trigger"]["timestamp"].as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn sign_up(user: &str, time: &str) -> String {
    format!(
        r#"{{"type":"track","messageId":"s-{user}","userId":"{user}","event":"Signed Up","context":{{"traits":{{"email":"{user}@example.com"}}}}{time}}}"#
    )
}

#[test]
fn an_event_from_the_year_9999_is_placed_at_its_receive_time() {
    let (deliveries, started, ended) =
        run(&[sign_up("ana", r#","timestamp":"9999-12-31T23:59:59Z""#)]);
    let at = sign_up_time(&deliveries[0]);
    assert!(at >= started && at <= ended, "{at} in [{started}, {ended}]");
}

#[test]
fn without_timestamp_the_original_time_is_corrected_for_the_device_clock() {
    // The phone's clock is two hours slow: it stamped the event at 10:00 by
    // its clock and sent it at 10:05 by its clock; the worker received it
    // now. So it happened five minutes before it was received.
    let (deliveries, started, ended) = run(&[
        sign_up(
            "ben",
            r#","originalTimestamp":"2026-11-30T10:00:00Z","sentAt":"2026-11-30T10:05:00Z""#,
        ),
        sign_up("cleo", ""),
    ]);
    let five = TimeDelta::minutes(5);
    let ben = sign_up_time(&deliveries[0]);
    assert!(
        ben >= started - five && ben <= ended - five,
        "{ben} in [{started} - 5 min, {ended} - 5 min]"
    );
    // No time at all: the receive time.
    let cleo = sign_up_time(&deliveries[1]);
    assert!(
        cleo >= started && cleo <= ended,
        "{cleo} in [{started}, {ended}]"
    );
}

#[test]
fn no_trait_write_is_dated_ahead_of_its_arrival() {
    // A fast device clock (nine minutes ahead: within the skew, so kept)
    // sets an address; a later event, dated a minute ahead by a better
    // clock, sets the new one. The later arrival wins: neither may claim
    // a write time past the moment it arrived.
    let soon = |minutes| text(Utc::now() + TimeDelta::minutes(minutes));
    let (deliveries, _, _) = run(&[
        format!(
            r#"{{"type":"identify","messageId":"i1","userId":"dan","traits":{{"email":"old@example.com"}},"timestamp":"{}"}}"#,
            soon(9)
        ),
        format!(
            r#"{{"type":"identify","messageId":"i2","userId":"dan","traits":{{"email":"new@example.com"}},"timestamp":"{}"}}"#,
            soon(1)
        ),
        format!(
            r#"{{"type":"track","messageId":"s1","userId":"dan","event":"Signed Up","timestamp":"{}"}}"#,
            soon(1)
        ),
    ]);
    assert_eq!(deliveries[0]["to"], "new@example.com");
}
