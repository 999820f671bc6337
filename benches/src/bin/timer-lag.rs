//! Timers on time, measured from outside the worker: `waymark-worker` on
//! the embedded default (fjall store, stdin source, log channel) runs a
//! journey that waits `--wait` (4 s) and then sends an email, while people
//! enter at a steady rate. The send is decided when the wait ends, so a
//! delivery line's `decided_at` is the timer's due time and its `sent_at`
//! when it was handed to the channel: the lag is `sent_at - decided_at`.
//!
//! ```sh
//! timer-lag --worker target/release/waymark-worker [--rates 250,1000,2500] [--seconds 20] [--wait 4s]
//! timer-lag --worker target/release/waymark-worker --idle 100000 [--idle-seconds 10]
//! ```
//!
//! `--idle N` instead enters N people into a 30-day wait and reports the
//! worker's CPU while they wait (nothing else to do).
//! `scripts/bench-timers.sh` builds the binaries and runs this; see
//! docs/benchmarks.md.
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a command-line tool reporting results

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use waymark_benches::{Worker, arg, cpu_seconds, percentile};

fn main() {
    let worker = PathBuf::from(arg("--worker", "target/release/waymark-worker"));
    let wait = arg("--wait", "4s");
    let idle: usize = arg("--idle", "0").parse().unwrap();
    if idle > 0 {
        let seconds: u64 = arg("--idle-seconds", "10").parse().unwrap();
        idle_cpu(&worker, idle, Duration::from_secs(seconds));
        return;
    }
    let seconds: f64 = arg("--seconds", "20").parse().unwrap();
    println!("first-wait lag (sent_at - due) for a {wait} wait, {seconds} s of entrants per rate");
    println!("| rate (people/s) | sends | lag p50 | lag p99 | lag max | worker CPU |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for rate in arg("--rates", "250,1000,2500").split(',') {
        let rate: f64 = rate.parse().unwrap();
        lag(&worker, &wait, rate, seconds);
    }
}

/// A journey file waiting `wait` before one email, with its template.
fn setup(dir: &Path, wait: &str) -> PathBuf {
    let journey = dir.join("lag.yaml");
    std::fs::write(
        &journey,
        format!(
            "id: lag\nentry: {{ event: Signed Up }}\nnodes:\n  - {{ id: pause, type: wait, duration: {wait}, next: hello }}\n  - {{ id: hello, type: send, channel: email, template: hello }}\n"
        ),
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("templates/hello.yaml"),
        "channel: email\nsubject: 'Hello'\ntext: 'Hello {{ profile.user_id }}'\n",
    )
    .unwrap();
    let config = dir.join("worker.toml");
    std::fs::write(
        &config,
        format!(
            r#"journeys = ["{journey}"]
templates = "{templates}"
[source]
kind = "stdin"
rejects = "{dir}/rejects.jsonl"
[store]
path = "{dir}/store"
[channels.log]
path = "{dir}/deliveries.jsonl"
[runtime]
exit_when_idle = true
"#,
            journey = journey.display(),
            templates = dir.join("templates").display(),
            dir = dir.display(),
        ),
    )
    .unwrap();
    config
}

fn sign_up(i: usize) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    format!(
        r#"{{"type":"track","messageId":"m{i}","userId":"p{i}","event":"Signed Up","context":{{"traits":{{"email":"p{i}@example.com"}}}},"timestamp":"{now}"}}"#
    )
}

/// Writes `total` sign-ups to `input` at `rate` a second, in slices of 10 ms.
fn feed(input: &mut impl Write, rate: f64, total: usize) {
    let started = Instant::now();
    let mut sent = 0;
    while sent < total {
        let due = ((started.elapsed().as_secs_f64() * rate) as usize + 1).min(total);
        let mut chunk = String::new();
        while sent < due {
            chunk.push_str(&sign_up(sent));
            chunk.push('\n');
            sent += 1;
        }
        input.write_all(chunk.as_bytes()).unwrap();
        input.flush().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn lag(worker_bin: &Path, wait: &str, rate: f64, seconds: f64) {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), wait);
    let mut worker = Worker::start(worker_bin, &config, true);
    let pid = worker.pid();
    let total = (rate * seconds) as usize;
    let mut input = worker.0.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || feed(&mut input, rate, total));
    // CPU read until the worker exits (it does once stdin closed and every
    // wait has passed).
    let mut cpu = 0.0;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds) + Duration::from_secs(120);
    while worker.0.try_wait().unwrap().is_none() && Instant::now() < deadline {
        cpu = cpu_seconds(pid).unwrap_or(cpu);
        std::thread::sleep(Duration::from_millis(100));
    }
    feeder.join().unwrap();
    let mut lags: Vec<f64> = Vec::with_capacity(total);
    let file = std::fs::File::open(dir.path().join("deliveries.jsonl")).unwrap();
    for line in std::io::BufReader::new(file).lines() {
        let delivery: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let time = |field: &str| {
            chrono::DateTime::parse_from_rfc3339(delivery[field].as_str().unwrap()).unwrap()
        };
        lags.push((time("sent_at") - time("decided_at")).as_seconds_f64() * 1000.0);
    }
    lags.sort_by(f64::total_cmp);
    if lags.is_empty() {
        println!("| {rate} | 0 | - | - | - | - |");
        return;
    }
    println!(
        "| {rate} | {} of {total} | {:.1} ms | {:.1} ms | {:.1} ms | {cpu:.2} s |",
        lags.len(),
        percentile(&lags, 0.50),
        percentile(&lags, 0.99),
        lags[lags.len() - 1],
    );
}

fn idle_cpu(worker_bin: &Path, people: usize, over: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), "30d");
    let mut worker = Worker::start(worker_bin, &config, true);
    let pid = worker.pid();
    let mut input = worker.0.stdin.take().unwrap();
    let mut text = String::new();
    for i in 0..people {
        text.push_str(&sign_up(i));
        text.push('\n');
    }
    input.write_all(text.as_bytes()).unwrap();
    input.flush().unwrap();
    // stdin stays open: the worker keeps running with every timer pending.
    // Wait for the ingest to finish (its CPU stops rising).
    let mut last = cpu_seconds(pid).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now = cpu_seconds(pid).unwrap();
        if now - last < 0.05 {
            break;
        }
        last = now;
    }
    let before = cpu_seconds(pid).unwrap();
    std::thread::sleep(over);
    let after = cpu_seconds(pid).unwrap();
    println!(
        "idle worker, {people} timers pending 30 days ahead: {:.3} CPU seconds over {:?} ({:.2}% of a core)",
        after - before,
        over,
        (after - before) / over.as_secs_f64() * 100.0
    );
    drop(input);
}
