//! The official Python SDKs, unchanged and with their default settings
//! (`rudder-sdk-python` gzips every request), against the worker's front
//! door: their events go through, and a refusal reaches them with the
//! status and code they read. `scripts/test.sh` installs both from PyPI.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::process::Command;
use std::time::Duration;

use support::{eventually, free_port, start_stdin_worker};

#[test]
fn segment_and_rudderstack_python_sdks_work_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let addr = format!("127.0.0.1:{}", free_port());
    std::fs::create_dir_all(d.join("templates")).unwrap();
    std::fs::write(
        d.join("templates/hi.yaml"),
        "channel: email\nsubject: Hi\ntext: Hello\n",
    )
    .unwrap();
    std::fs::write(
        d.join("j.yaml"),
        "id: j\nentry: { event: Signed Up }\nnodes:\n  - { id: hi, type: send, channel: email, template: hi }\n",
    )
    .unwrap();
    let config = d.join("worker.toml");
    std::fs::write(
        &config,
        format!(
            "journeys = [\"{d}/j.yaml\"]\n[source]\nkind = \"stdin\"\nrejects = \"{d}/rejects.jsonl\"\n[store]\npath = \"{d}/store\"\n[channels.log]\npath = \"{d}/out.jsonl\"\n[http]\nlisten = \"{addr}\"\nwrite_keys = [\"sdk-key\"]\n",
            d = d.display()
        ),
    )
    .unwrap();
    let (_worker, _stdin) = start_stdin_worker(&config);
    eventually(Duration::from_secs(30), "the front door", &config, || {
        std::net::TcpStream::connect(&addr).is_ok()
    });
    let script = support::workspace().join("scripts/sdk_client.py");
    for (sdk, user) in [("segment", "seg-user"), ("rudder", "rudder-user")] {
        let out = Command::new("python3")
            .arg(&script)
            .args([sdk, &format!("http://{addr}"), "sdk-key", user])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sdk}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Both people were emailed: their identify and track went through.
    eventually(Duration::from_secs(30), "both emailed", &config, || {
        let out = std::fs::read_to_string(d.join("out.jsonl")).unwrap_or_default();
        ["seg-user@example.com", "rudder-user@example.com"]
            .iter()
            .all(|to| out.contains(to))
    });
}
