//! The worker's workspace: `segments = "DIR"` in the config, a journey
//! entered on joining one, and a start refused, with every problem listed,
//! when a segment file is broken, a journey names an unknown segment,
//! `[policies]` is invalid or a journey names an undefined topic.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::process::Command;

fn write(dir: &Path, segment: &str, journey: &str) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::create_dir_all(dir.join("audiences")).unwrap();
    std::fs::write(dir.join("audiences/buyers.yaml"), segment).unwrap();
    std::fs::write(dir.join("journey.yaml"), journey).unwrap();
    std::fs::write(
        dir.join("templates/hello.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    let order = |n: u32, user: &str| {
        format!(
            r#"{{"type":"track","messageId":"{user}-{n}","userId":"{user}","event":"Order Completed","context":{{"traits":{{"email":"{user}@example.com"}}}},"timestamp":"2026-11-30T09:0{n}:00Z"}}"#
        )
    };
    let events = [order(1, "ada"), order(2, "ada"), order(1, "bo")].join("\n") + "\n";
    std::fs::write(dir.join("events.jsonl"), events).unwrap();
    std::fs::write(
        dir.join("worker.toml"),
        format!(
            r#"journeys = ["{d}/journey.yaml"]
segments = "{d}/audiences"
[source]
path = "{d}/events.jsonl"
[store]
path = "{d}/store"
[channels.log]
path = "{d}/deliveries.jsonl"
[runtime]
exit_when_idle = true
"#,
            d = dir.display()
        ),
    )
    .unwrap();
}

fn run(dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_waymark-worker"))
        .arg("--config")
        .arg(dir.join("worker.toml"))
        .arg("--quiet")
        .output()
        .unwrap()
}

#[test]
fn a_journey_enters_people_joining_a_segment_from_the_configured_folder() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "id: buyers\nwhere: 'profile.events[\"Order Completed\"].count >= 2'\n",
        "id: thanks\nentry: { segment: buyers }\nnodes:\n  - { id: hello, type: send, channel: email, template: hello }\n",
    );
    let out = run(dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deliveries = std::fs::read_to_string(dir.path().join("deliveries.jsonl")).unwrap();
    let to: Vec<serde_json::Value> = deliveries
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["to"].clone())
        .collect();
    assert_eq!(to, [serde_json::json!("ada@example.com")]);
}

#[test]
fn a_broken_segment_or_an_unknown_one_refuses_the_start_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "id: buyer\nwhere: 'profile.events[\"Order Completed\"].count >='\n",
        "id: thanks\nentry: { segment: big_spenders }\nexit_on: [{ segment_exit: buyers }]\nnodes:\n  - { id: hello, type: send, channel: email, template: hello }\n",
    );
    let out = run(dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for fragment in [
        "audiences/buyers.yaml: invalid segment, 2 problems",
        "`buyer` differs from the file name `buyers`",
        "field `where`: CEL does not compile",
        "journey.yaml: invalid journey, 1 problem",
        "unknown segment `big_spenders`",
    ] {
        assert!(
            stderr.contains(fragment),
            "missing {fragment:?} in:\n{stderr}"
        );
    }
    assert!(!dir.path().join("deliveries.jsonl").exists());
}

#[test]
fn bad_policies_or_an_unknown_topic_refuse_the_start_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "id: buyers\nwhere: 'profile.revenue > 0.0'\n",
        "id: thanks\ntopic: deals\nentry: { event: Order Completed }\nnodes:\n  - { id: hello, type: send, channel: email, template: hello }\n",
    );
    let config = dir.path().join("worker.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(
        "[policies]\ncaps = [{ channel = \"fax\", max = 0, per = \"1d\" }]\nquiet_hours = { from = \"21:00\", to = \"21:00\" }\n",
    );
    std::fs::write(&config, &text).unwrap();
    let out = run(dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    for fragment in [
        "policies.caps[0].channel: unknown channel \"fax\"",
        "policies.caps[0].max: must be at least 1",
        "policies.quiet_hours: `from` and `to` are the same time",
    ] {
        assert!(
            stderr.contains(fragment),
            "missing {fragment:?} in:\n{stderr}"
        );
    }
    // Valid policies, but a journey names a topic they do not define.
    text = text.replace(
        "caps = [{ channel = \"fax\", max = 0, per = \"1d\" }]\nquiet_hours = { from = \"21:00\", to = \"21:00\" }\n",
        "topics = { promotions = \"opt_out\" }\n",
    );
    std::fs::write(&config, &text).unwrap();
    let out = run(dir.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("journey `thanks`: unknown topic `deals`"),
        "{stderr}"
    );
}
