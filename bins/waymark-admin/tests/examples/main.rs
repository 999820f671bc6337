//! Runs `waymark-admin simulate` on every example journey with its event
//! file and checks the whole trace, one line per record:
//! `at kind node user [field=value]...`.

mod intelligence;
mod journeys;

use std::process::Command;

use serde_json::Value;

const FIELDS: [&str; 9] = [
    "channel", "template", "reason", "value", "next", "variant", "until", "line", "segment",
];

fn simulate(name: &str) -> Vec<Value> {
    simulate_with(name, name)
}

/// Simulates journey `journey` over the event file `events`.
fn simulate_with(journey: &str, events: &str) -> Vec<Value> {
    simulate_until(journey, events, None)
}

/// Simulates with the virtual clock stopped at `until`, if given.
fn simulate_until(journey: &str, events: &str, until: Option<&str>) -> Vec<Value> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let mut command = Command::new(env!("CARGO_BIN_EXE_waymark-admin"));
    command
        .args(["simulate", "--journey"])
        .arg(format!("{root}/examples/journeys/{journey}.yaml"))
        .arg("--events")
        .arg(format!("{root}/examples/events/{events}.jsonl"));
    if let Some(until) = until {
        command.args(["--until", until]);
    }
    let output = command.output().expect("waymark-admin runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn render(record: &Value) -> String {
    let text = |k: &str| {
        record
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    let who = record
        .get("user_id")
        .or_else(|| record.get("anonymous_id"))
        .and_then(Value::as_str)
        .unwrap_or("-");
    let mut parts = vec![text("at"), text("kind"), text("node"), who.to_owned()];
    for field in FIELDS {
        match record.get(field) {
            Some(Value::String(s)) => parts.push(format!("{field}={s}")),
            Some(other) => parts.push(format!("{field}={other}")),
            None => {}
        }
    }
    parts.join(" ")
}

/// Simulates example `name` and compares the rendered trace with `expect`.
fn check(name: &str, expect: &str) {
    compare(name, simulate(name), expect);
}

fn compare(name: &str, trace: Vec<Value>, expect: &str) {
    let got: Vec<String> = trace.iter().map(render).collect();
    let want: Vec<&str> = expect
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(got, want, "trace of {name}:\n{}", got.join("\n"));
}
