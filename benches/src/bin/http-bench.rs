//! The front door under load, measured from outside the worker:
//! `waymark-worker` on the embedded default (fjall store, stdin source
//! held open) with `[http]`, and N keep-alive connections sending
//! `POST /v1/track` (one event) or `POST /v1/batch` (100 events), each
//! waiting for its answer (200 once the events are durable) before the
//! next. Reports requests/s, events/s and the answer latency.
//!
//! ```sh
//! http-bench --worker target/release/waymark-worker [--connections 128] [--seconds 10] [--mode single|batch|both]
//! ```
//!
//! `scripts/bench-http.sh` builds the binaries and runs this; see
//! docs/benchmarks.md.
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a command-line tool reporting results

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use waymark_benches::{Worker, arg, cpu_seconds, percentile};

fn main() {
    let worker = PathBuf::from(arg("--worker", "target/release/waymark-worker"));
    let connections: usize = arg("--connections", "128").parse().unwrap();
    let seconds: u64 = arg("--seconds", "10").parse().unwrap();
    let mode = arg("--mode", "both");
    println!("| mode | connections | requests/s | events/s | p50 | p99 | worker CPU |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, per_request) in [("single", 1usize), ("batch", 100)] {
        if mode == "both" || mode == name {
            run(
                &worker,
                name,
                per_request,
                connections,
                Duration::from_secs(seconds),
            );
        }
    }
}

fn setup(dir: &Path, listen: &str) -> PathBuf {
    std::fs::write(
        dir.join("j.yaml"),
        "id: j\nentry: { event: Signed Up, re_entry: never }\nnodes:\n  - { id: pause, type: wait, duration: 30d }\n",
    )
    .unwrap();
    let config = dir.join("worker.toml");
    std::fs::write(
        &config,
        format!(
            "journeys = [\"{d}/j.yaml\"]\n[source]\nkind = \"stdin\"\nrejects = \"{d}/rejects.jsonl\"\n[store]\npath = \"{d}/store\"\n[channels.log]\npath = \"{d}/out.jsonl\"\n[http]\nlisten = \"{listen}\"\nwrite_keys = [\"bench\"]\n",
            d = dir.display()
        ),
    )
    .unwrap();
    config
}

fn run(bin: &Path, name: &str, per_request: usize, connections: usize, length: Duration) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let config = setup(dir.path(), &listen);
    let worker = Worker::start(bin, &config, true);
    let start = Instant::now();
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "no front door");
        std::thread::sleep(Duration::from_millis(20));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_seconds(worker.pid()).unwrap_or(0.0);
    let began = Instant::now();
    let latencies: Vec<f64> = runtime.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..connections {
            let (listen, counter) = (listen.clone(), Arc::clone(&counter));
            tasks.push(tokio::spawn(async move {
                client(&listen, c, per_request, &counter, began + length).await
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    });
    let elapsed = began.elapsed().as_secs_f64();
    let cpu = cpu_seconds(worker.pid()).unwrap_or(0.0) - cpu_before;
    drop(worker);
    let mut sorted = latencies;
    sorted.sort_by(f64::total_cmp);
    let requests = sorted.len() as f64;
    println!(
        "| {name} | {connections} | {:.0} | {:.0} | {:.1} ms | {:.1} ms | {:.0}% |",
        requests / elapsed,
        requests * per_request as f64 / elapsed,
        percentile(&sorted, 0.5) * 1000.0,
        percentile(&sorted, 0.99) * 1000.0,
        100.0 * cpu / elapsed,
    );
}

/// One keep-alive connection sending until `until`; each answer's latency.
async fn client(
    listen: &str,
    c: usize,
    per_request: usize,
    counter: &AtomicU64,
    until: Instant,
) -> Vec<f64> {
    let stream = TcpStream::connect(listen).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut latencies = Vec::new();
    let mut line = String::new();
    while Instant::now() < until {
        let body = if per_request == 1 {
            event(c, counter.fetch_add(1, Ordering::Relaxed))
        } else {
            let events: Vec<String> = (0..per_request)
                .map(|_| event(c, counter.fetch_add(1, Ordering::Relaxed)))
                .collect();
            format!("{{\"batch\":[{}]}}", events.join(","))
        };
        let path = if per_request == 1 {
            "/v1/track"
        } else {
            "/v1/batch"
        };
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Basic YmVuY2g6\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let sent = Instant::now();
        write.write_all(request.as_bytes()).await.unwrap();
        // Status line, headers, then the body by its length.
        line.clear();
        read.read_line(&mut line).await.unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        let mut length = 0;
        loop {
            line.clear();
            read.read_line(&mut line).await.unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        read.read_exact(&mut body).await.unwrap();
        latencies.push(sent.elapsed().as_secs_f64());
    }
    latencies
}

/// A `track` event for one of 100,000 people.
fn event(c: usize, n: u64) -> String {
    format!(
        r#"{{"type":"track","messageId":"b{c}-{n}","userId":"u{}","event":"Signed Up","properties":{{"plan":"trial"}},"timestamp":"2026-11-30T10:00:00Z"}}"#,
        n % 100_000
    )
}
