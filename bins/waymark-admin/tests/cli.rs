//! The admin CLI as a user runs it: exit codes and messages.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn admin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .args(args)
        .output()
        .expect("waymark-admin runs")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn validate_accepts_the_examples() {
    let dir = examples().join("journeys");
    let files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["journey", "validate"];
    args.extend(files.iter().map(String::as_str));
    let out = admin(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    // Eleven journeys and the two segments they use.
    assert_eq!(stdout(&out).lines().count(), 13, "{}", stdout(&out));
}

#[test]
fn validate_lists_every_problem_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "templates/hello.yaml",
        "channel: email\nsubject: Hi\ntext: Hello\n",
    );
    let journey = write(
        dir.path(),
        "bad.yaml",
        "id: bad\nentry: { event: X }\nnodes:\n  - { id: a, type: wait, duration: 1y, next: b }\n  - { id: c, type: send, channel: sms, template: hello }\n",
    );
    let out = admin(&["journey", "validate", &journey]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bad.yaml: invalid journey, 3 problems"),
        "{err}"
    );
    assert!(
        err.contains("node `a`: field `duration`: invalid duration \"1y\""),
        "{err}"
    );
    assert!(
        err.contains("node `a`: field `next`: unknown node `b`"),
        "{err}"
    );
    assert!(err.contains("node `c`: unreachable"), "{err}");
}

#[test]
fn a_missing_template_is_refused_naming_node_and_template() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "templates/hello.yaml",
        "channel: email\nsubject: Hi\ntext: Hello\n",
    );
    let journey = write(
        dir.path(),
        "j.yaml",
        "id: j\nentry: { event: X }\nnodes:\n  - { id: s1, type: send, channel: email, template: helo, next: s2 }\n  - { id: s2, type: send, channel: [email, sms], template: hello }\n",
    );
    let events = write(dir.path(), "e.jsonl", "");
    let out = admin(&["simulate", "--journey", &journey, "--events", &events]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("node `s1`: field `template`: template `helo` not found for email"),
        "{err}"
    );
    assert!(
        err.contains("node `s2`: field `template`: template `hello` is written for email"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_broken_template_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "templates/hello.yaml",
        "channel: sms\ntext: no body\n",
    );
    let journey = write(
        dir.path(),
        "j.yaml",
        "id: j\nentry: { event: X }\nnodes:\n  - { id: s, type: send, channel: sms, template: hello }\n",
    );
    let out = admin(&["journey", "validate", &journey]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(
            "hello.yaml: invalid journey, 1 problem:\n  - field `body`: required for a sms template"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn graph_draws_dot_and_mermaid() {
    let journey = examples().join("journeys/abandoned-cart.yaml");
    let journey = journey.to_string_lossy();
    let dot = admin(&["journey", "graph", &journey, "--format", "dot"]);
    assert!(dot.status.success());
    let text = stdout(&dot);
    assert!(text.starts_with("digraph \"abandoned-cart\" {"), "{text}");
    assert!(
        text.contains("\"vip\" -> \"vip_email\" [label=\"profile.traits.vip == true\"];"),
        "{text}"
    );
    assert!(
        text.contains("\"wait_click\" -> \"push_nudge\" [label=\"timeout 1d\"];"),
        "{text}"
    );
    let mermaid = admin(&["journey", "graph", &journey, "--format", "mermaid"]);
    let text = stdout(&mermaid);
    assert!(text.starts_with("flowchart TD\n"), "{text}");
    assert!(text.contains("n1 -->|\"default\"| n2"), "{text}");
}

#[test]
fn bad_event_lines_become_rejected_records_with_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let journey = examples().join("journeys/trial-conversion.yaml");
    let events = write(
        dir.path(),
        "e.jsonl",
        concat!(
            "{\"type\":\"track\",\"messageId\":\"1\",\"userId\":\"u\",\"event\":\"Trial Started\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n",
            "{not json\n",
            "\n",
            "{\"type\":\"track\",\"messageId\":\"2\",\"userId\":7,\"event\":\"X\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n",
            "{\"type\":\"track\",\"messageId\":\"3\",\"anonymousId\":\"a\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n",
        ),
    );
    let out = admin(&[
        "simulate",
        "--journey",
        &journey.to_string_lossy(),
        "--events",
        &events,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rejected: Vec<_> = lines.iter().filter(|r| r["kind"] == "rejected").collect();
    assert_eq!(rejected.len(), 3);
    assert_eq!(rejected[0]["line"], 2);
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    assert_eq!(rejected[1]["line"], 4);
    assert_eq!(
        rejected[1]["reason"],
        "field `userId`: must be a string, found a number"
    );
    assert_eq!(rejected[2]["line"], 5);
    assert_eq!(rejected[2]["at"], "2026-01-01T00:00:00Z");
    assert_eq!(rejected[2]["reason"], "field `event`: is required");
    assert!(
        lines
            .iter()
            .any(|r| r["kind"] == "entered" && r["user_id"] == "u")
    );
}

#[test]
fn until_stops_the_virtual_clock() {
    let root = examples();
    let run = |until: Option<&str>| {
        let mut args = vec![
            "simulate".to_owned(),
            "--journey".to_owned(),
            root.join("journeys/trial-conversion.yaml")
                .to_string_lossy()
                .into_owned(),
            "--events".to_owned(),
            root.join("events/trial-conversion.jsonl")
                .to_string_lossy()
                .into_owned(),
        ];
        if let Some(u) = until {
            args.extend(["--until".to_owned(), u.to_owned()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stdout(&admin(&args))
    };
    let full = run(None);
    let cut = run(Some("2026-09-06T00:00:00Z"));
    assert!(full.contains("trial_ending"));
    assert!(!cut.contains("trial_ending"), "{cut}");
    assert!(cut.contains("reports_nudge"));
    assert!(
        full.starts_with(&cut),
        "a cut run is a prefix of the full run"
    );
    let bad = admin(&[
        "simulate",
        "--journey",
        "x.yaml",
        "--events",
        "e.jsonl",
        "--until",
        "tomorrow",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("\"tomorrow\" is not an RFC 3339 timestamp"));
}

#[test]
fn a_missing_file_is_named() {
    let out = admin(&["journey", "validate", "/nonexistent/j.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("/nonexistent/j.yaml: cannot read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn profile_show_export_and_forget() {
    let events = examples().join("events/abandoned-cart-identity.jsonl");
    let events = events.to_string_lossy();
    let show = admin(&[
        "profile",
        "show",
        "--events",
        &events,
        "anonymous_id=phone-anon-9",
    ]);
    assert!(show.status.success(), "{}", stderr(&show));
    let profile: serde_json::Value = serde_json::from_str(&stdout(&show)).unwrap();
    assert_eq!(
        profile["user_id"], "shopper-9",
        "the phone's anonymous id resolves to the merged shopper"
    );
    assert_eq!(profile["traits"]["email"], "nina@example.com");
    assert_eq!(profile["events"]["Cart Updated"]["count"], 1);

    let export = admin(&[
        "profile",
        "export",
        "--events",
        &events,
        "email=NINA@example.com",
    ]);
    let export: serde_json::Value = serde_json::from_str(&stdout(&export)).unwrap();
    let ids: Vec<&str> = export["identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"phone-anon-9") && ids.contains(&"laptop-9") && ids.contains(&"shopper-9"),
        "{ids:?}"
    );
    assert_eq!(export["merges"][0]["linked_by"]["value"], "phone-anon-9");

    let forget = admin(&["profile", "forget", "--events", &events, "shopper-9"]);
    let gone: serde_json::Value = serde_json::from_str(&stdout(&forget)).unwrap();
    assert_eq!(gone["suppressed"], true);
    assert_eq!(gone["identifiers"].as_array().unwrap().len(), 4, "{gone}");

    let unknown = admin(&["profile", "show", "--events", &events, "user_id=nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no profile holds user_id=nobody"));
    let bad = admin(&["profile", "show", "--events", &events, "shoe_size=42"]);
    assert!(
        stderr(&bad).contains("unknown identifier kind \"shoe_size\""),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn simulate_reads_identity_rules_and_seed_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let root = examples();
    let journey = root.join("journeys/abandoned-cart.yaml");
    let events = root.join("events/abandoned-cart-identity.jsonl");
    let run = |config: &str| {
        let path = write(dir.path(), "waymark.toml", config);
        let out = admin(&[
            "simulate",
            "--journey",
            &journey.to_string_lossy(),
            "--events",
            &events.to_string_lossy(),
            "--config",
            &path,
        ]);
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let (code, trace, _) = run("[engine]\nseed = 3\n");
    assert_eq!(code, Some(0));
    assert!(trace.contains("\"kind\":\"merged\""));
    // Blocking the phone's anonymous id: its cart is refused, nothing merges.
    let (code, trace, err) =
        run("[identity]\nblocked_values = [\"phone-anon-9\", \"undefined\"]\n");
    assert_eq!(code, Some(0), "{err}");
    assert!(!trace.contains("\"kind\":\"merged\""), "{trace}");
    assert!(
        trace.contains("\"kind\":\"rejected\",\"reason\":\"no usable identifier"),
        "{trace}"
    );
    let (code, _, err) = run("[engine]\nseeed = 3\n");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("waymark.toml") && err.contains("seeed"),
        "{err}"
    );
}

#[test]
fn a_liquid_syntax_error_is_refused_with_file_field_and_position() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "templates/hello.yaml",
        "channel: email\nsubject: 'Hi {{ profile.traits.first_name '\ntext: '{% if x %}unclosed'\n",
    );
    let journey = write(
        dir.path(),
        "j.yaml",
        "id: j\nentry: { event: X }\nnodes:\n  - { id: s, type: send, channel: email, template: hello }\n",
    );
    let out = admin(&["journey", "validate", &journey]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("hello.yaml: invalid journey, 2 problems"),
        "{err}"
    );
    assert!(err.contains("field `subject`: Liquid:"), "{err}");
    assert!(err.contains("field `text`: Liquid:"), "{err}");
    assert!(err.contains("1:"), "the position inside the field: {err}");
}

#[test]
fn template_render_previews_a_template_for_a_sample_person() {
    let dir = tempfile::tempdir().unwrap();
    let sample = write(
        dir.path(),
        "sample.yaml",
        "profile: { traits: { first_name: Ana } }\nevent: { properties: { total: 42 } }\njourney: { id: welcome }\n",
    );
    let templates = examples().join("journeys/templates");
    let out = admin(&[
        "template",
        "render",
        "welcome",
        "--templates",
        templates.to_str().unwrap(),
        "--sample",
        &sample,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rendered: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rendered["subject"], "Welcome to Acme, Ana");
    assert_eq!(rendered["channel"], "email");
    // A channel variant, and a person without the trait.
    write(dir.path(), "nobody.json", r#"{"profile": {"traits": {}}}"#);
    let out = admin(&[
        "template",
        "render",
        "welcome",
        "--templates",
        templates.to_str().unwrap(),
        "--sample",
        dir.path().join("nobody.json").to_str().unwrap(),
    ]);
    let rendered: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rendered["subject"], "Welcome to Acme, friend");
    let out = admin(&[
        "template",
        "render",
        "nope",
        "--templates",
        templates.to_str().unwrap(),
        "--sample",
        &sample,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no template `nope`"),
        "{}",
        stderr(&out)
    );
}
