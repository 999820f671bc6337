//! Crashes lose nothing: the worker runs as a child process on a large
//! event file, is killed with SIGKILL at several moments, and restarted each
//! time. At the end every expected send is in the log channel's file exactly
//! once, no event was lost, no timer lost or fired twice (instance waits,
//! the inactivity and date entry timers, and sends deferred by quiet hours,
//! all pending while it is killed), the report counters kept in the store
//! match those of an uninterrupted run of the same fixture (nothing
//! counted twice on replay), and the store opens cleanly.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

mod support;

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Timelike;
use support::postgres_url;

const USERS: usize = 3000;

/// How long after the fixture is written the timed entries fall due: past
/// the kills (about three seconds), so each is pending while they happen.
const QUIET_FOR_S: i64 = 15;
const RENEWS_IN_S: i64 = 20;
/// Quiet hours (UTC, the default zone) from an hour before the fixture to
/// this long after it: every send is deferred until then, on a timer.
const QUIET_UNTIL_S: i64 = 25;

/// Where a run keeps its state: fjall in the run's folder, or a schema of
/// its own on the local PostgreSQL (dropped when the guard is).
enum Store {
    Fjall,
    Postgres(String),
}

impl Store {
    fn postgres(name: &str) -> Store {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Store::Postgres(format!("crash_{name}_{}_{nanos}", std::process::id()))
    }

    fn section(&self, dir: &Path) -> String {
        match self {
            Store::Fjall => format!("path = \"{}/store\"", dir.display()),
            // No room for anyone between batches: every person is read
            // back from the store, across every kill.
            Store::Postgres(schema) => format!(
                "kind = \"postgres\"\nurl = \"{}\"\nschema = \"{schema}\"\ncache_mb = 0",
                postgres_url()
            ),
        }
    }

    /// `waymark-admin --store ...` for it.
    fn admin(&self, dir: &Path) -> Command {
        let mut command = Command::new(support::admin_bin());
        match self {
            Store::Fjall => command.arg("--store").arg(dir.join("store")),
            Store::Postgres(schema) => command
                .args(["--store", &postgres_url()])
                .env("WAYMARK_STORE_SCHEMA", schema),
        };
        command
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Store::Postgres(schema) = self {
            let _ = Command::new("psql")
                .args([
                    &postgres_url(),
                    "-qc",
                    &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                ])
                .output();
        }
    }
}

/// Writes the fixture; returns when quiet hours end.
fn write_fixture(dir: &Path, store: &Store) -> chrono::DateTime<chrono::Utc> {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("journey.yaml"),
        r#"
id: crash-welcome
entry: { event: Signed Up }
nodes:
  - { id: hello, type: send, channel: email, template: hello, next: pause }
  - { id: pause, type: wait, duration: 1s, next: again }
  - { id: again, type: send, channel: email, template: again }
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("quiet.yaml"),
        format!(
            "id: crash-quiet\nentry: {{ inactive: {{ events: [Page Viewed], for: {QUIET_FOR_S}s }} }}\nnodes:\n  - {{ id: quiet, type: send, channel: email, template: hello }}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("renewal.yaml"),
        "id: crash-renewal\nentry: { date: { trait: renews_at } }\nnodes:\n  - { id: renew, type: send, channel: email, template: again }\n",
    )
    .unwrap();
    let t0 = chrono::Utc::now();
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let (now, renews) = (
        stamp(t0),
        stamp(t0 + chrono::TimeDelta::seconds(RENEWS_IN_S)),
    );
    for name in ["hello", "again"] {
        std::fs::write(
            dir.join(format!("templates/{name}.yaml")),
            "channel: email\nsubject: Hi\ntext: Hello\n",
        )
        .unwrap();
    }
    let mut events = std::fs::File::create(dir.join("events.jsonl")).unwrap();
    for u in 0..USERS {
        writeln!(
            events,
            r#"{{"type":"identify","messageId":"i{u}","userId":"user-{u}","traits":{{"email":"user-{u}@example.com","renews_at":"{renews}"}},"timestamp":"2026-10-01T09:00:00Z"}}"#
        )
        .unwrap();
        writeln!(
            events,
            r#"{{"type":"page","messageId":"p{u}","userId":"user-{u}","timestamp":"{now}"}}"#
        )
        .unwrap();
        writeln!(
            events,
            r#"{{"type":"track","messageId":"s{u}","userId":"user-{u}","event":"Signed Up","timestamp":"2026-10-01T09:00:02Z"}}"#
        )
        .unwrap();
        if u % 500 == 0 {
            writeln!(events, "{{\"type\":\"track\",\"truncated").unwrap();
        }
    }
    std::fs::write(
        dir.join("worker.toml"),
        format!(
            r#"journeys = ["{d}/journey.yaml", "{d}/quiet.yaml", "{d}/renewal.yaml"]
[source]
path = "{d}/events.jsonl"
rejects = "{d}/rejects.jsonl"
batch_size = 100
[store]
{store}
[channels.log]
path = "{d}/deliveries.jsonl"
[runtime]
exit_when_idle = true
[policies]
quiet_hours = {{ from = "{from}", to = "{to}", action = "defer" }}
"#,
            d = dir.display(),
            store = store.section(dir),
            from = (t0 - chrono::TimeDelta::hours(1)).format("%H:%M:%S"),
            to = (t0 + chrono::TimeDelta::seconds(QUIET_UNTIL_S)).format("%H:%M:%S"),
        ),
    )
    .unwrap();
    t0 + chrono::TimeDelta::seconds(QUIET_UNTIL_S)
}

fn start(dir: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_waymark-worker"))
        .arg("--config")
        .arg(dir.join("worker.toml"))
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for the child to exit by itself, up to `limit`.
fn wait(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            start.elapsed() < limit,
            "the worker did not finish within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The report over the worker's store, as JSON.
fn report(dir: &Path, store: &Store) -> serde_json::Value {
    let out = store
        .admin(dir)
        .args(["report", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn deliveries(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("deliveries.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn sigkill_mid_stream_loses_nothing_and_sends_nothing_twice() {
    sigkill_mid_stream(&Store::Fjall, &Store::Fjall);
}

#[test]
fn on_postgres_sigkill_mid_stream_loses_nothing_and_sends_nothing_twice() {
    sigkill_mid_stream(&Store::postgres("killed"), &Store::postgres("calm"));
}

fn sigkill_mid_stream(store: &Store, calm_store: &Store) {
    let dir = tempfile::tempdir().unwrap();
    let quiet_end = write_fixture(dir.path(), store);
    // The same fixture, run without interruption beside it.
    let calm = tempfile::tempdir().unwrap();
    write_fixture(calm.path(), calm_store);
    let mut calm_worker = start(calm.path());
    // Kill moments spread over ingestion and the timers' second; a fixed
    // sequence keeps the test repeatable.
    let mut kills = 0;
    for delay_ms in [150u64, 400, 90, 700, 1200] {
        let mut child = start(dir.path());
        std::thread::sleep(Duration::from_millis(delay_ms));
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            assert!(status.success(), "run {} failed: {stderr}", kills + 1);
            break; // already done: nothing left to interrupt
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
    }
    assert!(
        kills >= 3,
        "the worker was killed mid-run only {kills} times"
    );

    let mut child = start(dir.path());
    let status = wait(&mut child, Duration::from_secs(180));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "final run failed: {stderr}");

    let sent = deliveries(dir.path());
    let mut by_key: HashMap<&str, usize> = HashMap::new();
    let mut by_user: HashMap<(&str, &str), usize> = HashMap::new();
    for d in &sent {
        *by_key.entry(d["key"].as_str().unwrap()).or_default() += 1;
        *by_user
            .entry((d["user_id"].as_str().unwrap(), d["node"].as_str().unwrap()))
            .or_default() += 1;
    }
    assert!(
        by_key.values().all(|n| *n == 1),
        "an idempotency key was delivered twice"
    );
    for u in 0..USERS {
        let user = format!("user-{u}");
        for node in ["hello", "again", "quiet", "renew"] {
            assert_eq!(
                by_user.get(&(user.as_str(), node)),
                Some(&1),
                "{user} {node}: expected exactly one send"
            );
        }
    }
    assert_eq!(sent.len(), USERS * 4);
    // Quiet hours held every send until they ended (to the second).
    let quiet_end = quiet_end.with_nanosecond(0).unwrap();
    for d in &sent {
        let decided = waymark_core::parse_timestamp(d["decided_at"].as_str().unwrap()).unwrap();
        assert!(decided >= quiet_end, "sent at {decided}, in quiet hours");
    }

    // Every truncated line is reported once, with its line number.
    let rejects = std::fs::read_to_string(dir.path().join("rejects.jsonl")).unwrap();
    assert_eq!(rejects.lines().count(), USERS / 500, "{rejects}");

    // The counters kept with the state saw every record exactly once.
    assert!(wait(&mut calm_worker, Duration::from_secs(180)).success());
    let crashed = report(dir.path(), store);
    assert_eq!(crashed, report(calm.path(), calm_store));
    let welcome = &crashed["journeys"][0];
    assert_eq!(welcome["journey"], "crash-quiet");
    assert_eq!(welcome["entrants"]["total"], USERS);

    // The store opens cleanly and there is nothing left to do.
    let mut again = start(dir.path());
    assert!(wait(&mut again, Duration::from_secs(60)).success());
    assert_eq!(deliveries(dir.path()).len(), USERS * 4);
}
