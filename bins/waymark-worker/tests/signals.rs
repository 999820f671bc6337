//! SIGTERM drains and exits cleanly, with events from stdin delivered.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn sigterm_drains_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(
        d.join("templates/hi.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    std::fs::write(d.join("j.yaml"), "id: j\nentry: { event: Signed Up }\nnodes:\n  - { id: hi, type: send, channel: email, template: hi }\n").unwrap();
    std::fs::write(
        d.join("worker.toml"),
        format!(
            "journeys = [\"{d}/j.yaml\"]\n[source]\nkind = \"stdin\"\nrejects = \"{d}/rejects.jsonl\"\n[store]\npath = \"{d}/store\"\n[channels.log]\npath = \"{d}/out.jsonl\"\n",
            d = d.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_waymark-worker"))
        .arg("--config")
        .arg(d.join("worker.toml"))
        .arg("--quiet")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for u in 0..3 {
        writeln!(
            stdin,
            r#"{{"type":"track","messageId":"s{u}","userId":"u{u}","event":"Signed Up","context":{{"traits":{{"email":"u{u}@example.com"}}}},"timestamp":"2026-10-01T09:00:00Z"}}"#
        )
        .unwrap();
    }
    stdin.flush().unwrap();
    // Live: the sends go out while stdin stays open (batches are bounded by time).
    let start = Instant::now();
    let delivered = || {
        std::fs::read_to_string(d.join("out.jsonl"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    while delivered() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "deliveries did not go out while the worker ran"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the worker did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "SIGTERM is a clean exit: {exit:?}");
    drop(stdin);
    assert_eq!(delivered(), 3);
}
