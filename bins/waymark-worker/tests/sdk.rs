//! The official Python SDKs, unchanged and with their default settings
//! (`rudder-sdk-python` gzips every request), against the worker's front
//! door: their events go through, and a refusal reaches them with the
//! status and code they read. `scripts/test.sh` installs both from PyPI.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The worker, killed if the test fails before it stops it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn segment_and_rudderstack_python_sdks_work_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
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
    std::fs::write(
        d.join("worker.toml"),
        format!(
            "journeys = [\"{d}/j.yaml\"]\n[source]\nkind = \"stdin\"\nrejects = \"{d}/rejects.jsonl\"\n[store]\npath = \"{d}/store\"\n[channels.log]\npath = \"{d}/out.jsonl\"\n[http]\nlisten = \"{addr}\"\nwrite_keys = [\"sdk-key\"]\n",
            d = d.display()
        ),
    )
    .unwrap();
    let mut worker = Running(
        Command::new(env!("CARGO_BIN_EXE_waymark-worker"))
            .arg("--config")
            .arg(d.join("worker.toml"))
            .arg("--quiet")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let _stdin = worker.0.stdin.take();
    let start = Instant::now();
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "no front door");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    let start = Instant::now();
    loop {
        let out = std::fs::read_to_string(d.join("out.jsonl")).unwrap_or_default();
        if ["seg-user@example.com", "rudder-user@example.com"]
            .iter()
            .all(|to| out.contains(to))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "deliveries: {out}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
