//! Journey records without Kafka: the file worker writes them to
//! `[analytics] path` and keeps report counters in its store; both
//! `waymark-admin report --records` and `waymark-admin --store PATH
//! report` give the report a simulation of the same events gives (but for
//! times to goal: the worker decides on its own clock, the simulation on
//! the events'). A record written twice (after a crash) counts once. Bad
//! input to `report` exits with 2 and writes nothing.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::process::Command;

use serde_json::Value;

fn report(args: &[&str], cwd: &std::path::Path) -> Value {
    report_with(&[], args, cwd)
}

/// `waymark-admin GLOBAL... report --format json ARGS...`.
fn report_with(global: &[&str], args: &[&str], cwd: &std::path::Path) -> Value {
    let out = Command::new(support::admin_bin())
        .current_dir(cwd)
        .args(global)
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

/// `report` refuses with exit code 2 and a message holding `says`.
fn refused(global: &[&str], args: &[&str], cwd: &std::path::Path, says: &str) {
    let out = Command::new(support::admin_bin())
        .current_dir(cwd)
        .args(global)
        .arg("report")
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(says), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?} printed a report");
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
        // Any free port: the quick start's 8088 may be taken here.
        .env("WAYMARK_HTTP__LISTEN", "127.0.0.1:0")
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

    // The counters the worker kept in its store, committed with the records.
    let store = ["--store", "waymark-data/store"];
    assert_eq!(report_with(&store, &[], d), simulated);
    let mut one_version = report_with(&store, &["quickstart-welcome", "--version", "1"], d);
    assert_eq!(one_version["journeys"][0]["version"], 1);
    one_version["journeys"][0]["version"] = Value::Null;
    assert_eq!(one_version, simulated);
    let since_tomorrow = (chrono::Utc::now() + chrono::TimeDelta::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let nothing_since = report_with(
        &store,
        &["quickstart-welcome", "--since", &since_tomorrow],
        d,
    );
    assert_eq!(nothing_since["journeys"][0]["entrants"]["total"], 0);
    refused(
        &store,
        &["nope"],
        d,
        "unknown journey `nope` (known: quickstart-welcome)",
    );
    refused(
        &store,
        &["quickstart-welcome", "--version", "9"],
        d,
        "has no version 9",
    );
    refused(
        &store,
        &["--since", "last week"],
        d,
        "`last week` is not a day",
    );
    refused(&["--store", "no-store-here"], &[], d, "no store here");
    assert!(!d.join("no-store-here").exists(), "a store was created");
    refused(&store, &["nope", "--svg", "charts"], d, "unknown journey");
    assert!(!d.join("charts").exists(), "charts written on bad input");
    {
        // Held by another process, as by a running worker.
        let _held = waymark_store::FjallStore::open(&d.join("waymark-data/store")).unwrap();
        refused(&store, &[], d, "is a worker running on it?");
    }

    // The charts of a journey.
    report_with(&store, &["quickstart-welcome", "--svg", "charts"], d);
    for chart in [
        "quickstart-welcome-graph.svg",
        "quickstart-welcome-daily.svg",
    ] {
        let svg = std::fs::read_to_string(d.join("charts").join(chart)).unwrap();
        assert!(svg.starts_with("<svg") || svg.contains("<svg"), "{chart}");
        assert!(
            svg.contains("quickstart-welcome"),
            "{chart} names its journey"
        );
    }
    let graph = std::fs::read_to_string(d.join("charts/quickstart-welcome-graph.svg")).unwrap();
    assert!(graph.contains("entered 5"), "{graph}");

    // Every record written again, as after a crash: counted once.
    let text = std::fs::read_to_string(d.join(records)).unwrap();
    std::fs::write(d.join(records), format!("{text}{text}")).unwrap();
    assert_eq!(report(&["--records", records], d), from_worker);
}
