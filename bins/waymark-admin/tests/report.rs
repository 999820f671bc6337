//! `waymark-admin report` over a simulation: the numbers of a crafted
//! stream against a hand count.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::process::Command;

use serde_json::{Value, json};

const JOURNEY: &str = r#"
id: onboard
entry: { event: Signed Up }
goal: { event: Purchased, within: 7d, value: 'event.properties.revenue' }
nodes:
  - { id: welcome, type: send, channel: email, template: t, next: wait }
  - { id: wait, type: wait_for_event, event: Purchased, timeout: 2d, on_event: done, on_timeout: nudge }
  - { id: nudge, type: send, channel: [sms, email], template: t, next: done }
  - { id: done, type: exit }
"#;

/// u1 buys within the hour (the goal ends it at `wait`); u2 buys on day
/// three, after the nudge (a conversion inside the window, after the
/// journey completed); u3 never buys; u4 has no address (both sends
/// unreachable).
const EVENTS: &str = r#"{"type":"identify","messageId":"i1","userId":"u1","traits":{"email":"u1@example.com"},"timestamp":"2026-11-02T09:00:00Z"}
{"type":"identify","messageId":"i2","userId":"u2","traits":{"email":"u2@example.com"},"timestamp":"2026-11-02T09:00:00Z"}
{"type":"identify","messageId":"i3","userId":"u3","traits":{"email":"u3@example.com"},"timestamp":"2026-11-02T09:00:00Z"}
{"type":"track","messageId":"s1","userId":"u1","event":"Signed Up","timestamp":"2026-11-02T10:00:00Z"}
{"type":"track","messageId":"s2","userId":"u2","event":"Signed Up","timestamp":"2026-11-02T10:00:00Z"}
{"type":"track","messageId":"s3","userId":"u3","event":"Signed Up","timestamp":"2026-11-02T10:00:00Z"}
{"type":"track","messageId":"s4","userId":"u4","event":"Signed Up","timestamp":"2026-11-02T10:00:00Z"}
{"type":"track","messageId":"p1","userId":"u1","event":"Purchased","properties":{"revenue":10},"timestamp":"2026-11-02T11:00:00Z"}
{"type":"track","messageId":"p2","userId":"u2","event":"Purchased","properties":{"revenue":20},"timestamp":"2026-11-05T10:00:00Z"}
"#;

#[test]
fn a_report_counts_what_a_hand_count_finds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(
        d.join("templates/t.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    std::fs::write(
        d.join("templates/t.sms.yaml"),
        "channel: sms\nbody: Hello\n",
    )
    .unwrap();
    std::fs::write(d.join("onboard.yaml"), JOURNEY).unwrap();
    std::fs::write(d.join("events.jsonl"), EVENTS).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .args(["report", "--format", "json", "--journey"])
        .arg(d.join("onboard.yaml"))
        .arg("--events")
        .arg(d.join("events.jsonl"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let j = &report["journeys"][0];
    assert_eq!(j["journey"], "onboard");
    assert_eq!(
        j["entrants"],
        json!({"total": 4, "treatment": 4, "control": 0})
    );
    assert_eq!(
        j["nodes"],
        json!([
            {"id": "welcome", "reached": 4, "ended_here": 0},
            {"id": "wait", "reached": 4, "ended_here": 1},
            {"id": "nudge", "reached": 3, "ended_here": 0},
            {"id": "done", "reached": 3, "ended_here": 3},
        ])
    );
    assert_eq!(j["exits"], json!({"completed": 3, "goal": 1}));
    assert_eq!(j["sends"], json!({"email": 5}));
    assert_eq!(j["suppressed"], json!({"unreachable": 2}));
    let goal = &j["goal"];
    assert_eq!(goal["conversions"], 2);
    assert_eq!(goal["revenue"], 30.0);
    // An hour, and three days (259,200 s) rounded down to its histogram
    // bucket: 2^17 + 125 * 2^10 = 259,072 s (within 1/128).
    assert_eq!(goal["time_to_goal_s"], json!({"p50": 3600, "p90": 259_072}));
    // Four entrants: too few for a rate, an interval or an uplift.
    assert_eq!(goal["rate"], Value::Null);
    assert_eq!(goal["ci95"], Value::Null);
    assert_eq!(j["uplift"], Value::Null);
    assert_eq!(j["groups"]["treatment"]["conversions"], 2);
    assert_eq!(j["variants"], json!([]));

    // The same numbers as CSV, one per row; no number for lack of data.
    let out = Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .args(["report", "--format", "csv", "--journey"])
        .arg(d.join("onboard.yaml"))
        .arg("--events")
        .arg(d.join("events.jsonl"))
        .output()
        .unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    for row in [
        "journey,section,key,value",
        "onboard,entrants,total,4",
        "onboard,reached,nudge,3",
        "onboard,ended_here,wait,1",
        "onboard,sends,email,5",
        "onboard,suppressed,unreachable,2",
        "onboard,goal,revenue,30.0",
        "onboard,goal,rate,",
        "onboard,goal,time_to_goal_p90_s,259072",
    ] {
        assert!(csv.lines().any(|l| l == row), "no row {row:?} in\n{csv}");
    }
}
