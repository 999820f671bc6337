//! Journey records without Kafka: the file worker writes them to
//! `[analytics] path`, and `waymark-admin report --records` over them gives
//! the report a simulation of the same events gives (but for times to
//! goal: the worker decides on its own clock, the simulation on the
//! events'). A record written twice (after a crash) counts once.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::process::Command;

use serde_json::Value;

fn report(args: &[&str], cwd: &std::path::Path) -> Value {
    let out = Command::new(support::admin_bin())
        .current_dir(cwd)
        .args(["report", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for journey in report["journeys"].as_array_mut().unwrap() {
        journey["goal"]["time_to_goal_s"] = Value::Null;
    }
    report
}

#[test]
fn the_worker_records_give_the_simulations_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let copy = |from: &str| {
        let source = support::workspace().join(from);
        let target = d.join(from);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(source, target).unwrap();
    };
    for file in [
        "examples/quickstart/waymark.toml",
        "examples/quickstart/events.jsonl",
        "examples/quickstart/journeys/welcome.yaml",
        "examples/quickstart/templates/welcome.yaml",
        "examples/quickstart/templates/nudge.email.yaml",
        "examples/quickstart/templates/nudge.push.yaml",
        "examples/quickstart/templates/tips.yaml",
    ] {
        copy(file);
    }
    let status = Command::new(env!("CARGO_BIN_EXE_waymark-worker"))
        .current_dir(d)
        .args(["--config", "examples/quickstart/waymark.toml", "--quiet"])
        .status()
        .unwrap();
    assert!(status.success());
    let records = "waymark-data/records.jsonl";
    let from_worker = report(&["--records", records], d);
    let simulated = report(
        &[
            "--journey",
            "examples/quickstart/journeys/welcome.yaml",
            "--events",
            "examples/quickstart/events.jsonl",
            "--templates",
            "examples/quickstart/templates",
            "--config",
            "examples/quickstart/waymark.toml",
        ],
        d,
    );
    assert_eq!(from_worker, simulated);
    assert_eq!(from_worker["journeys"][0]["entrants"]["total"], 5);

    // Every record written again, as after a crash: counted once.
    let text = std::fs::read_to_string(d.join(records)).unwrap();
    std::fs::write(d.join(records), format!("{text}{text}")).unwrap();
    assert_eq!(report(&["--records", records], d), from_worker);
}
