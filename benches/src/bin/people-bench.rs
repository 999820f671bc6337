//! People on demand at scale: fills a store with `--people` profiles (10
//! million by default), then measures start-up, ingest over a stream
//! spread uniformly over everyone (mostly cache misses) and over a skewed
//! stream (90% of events from the 1% most active people; measured on its
//! second stream, the first warming the cache as a running worker's is), with the
//! process's resident memory and the cache's counts after each phase.
//!
//! ```text
//! cargo run --release -p waymark-benches --bin people-bench -- \
//!     --people 10000000 --cache-mb 1024 --dir /var/tmp/people-10m
//! cargo run --release -p waymark-benches --bin people-bench -- \
//!     --store postgres --people 200000
//! ```
//!
//! A filled fjall store in `--dir` is reused by later runs (the fill takes
//! minutes at 10 million).
#![allow(clippy::print_stdout)] // a command-line tool reporting results

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use waymark::runtime::{ManualClock, RuntimeOptions, Stats, Waymark};
use waymark_benches::arg;
use waymark_core::{Event, parse_timestamp};
use waymark_store::{FjallStore, PostgresConfig, PostgresStore, Store};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FILL_BATCH: usize = 5000;
const BATCH: usize = 1000;

fn main() {
    let people: usize = arg("--people", "10000000").parse().expect("--people N");
    let cache_mb: usize = arg("--cache-mb", "1024").parse().expect("--cache-mb N");
    let events: usize = arg("--events", "300000").parse().expect("--events N");
    let kind = arg("--store", "fjall");
    let dir = PathBuf::from(arg("--dir", &format!("target/people-bench-{people}")));
    let schema = format!("people_bench_{people}");
    let open = || -> Arc<dyn Store> {
        match kind.as_str() {
            "postgres" => Arc::new(
                PostgresStore::open(&PostgresConfig {
                    url: std::env::var("WAYMARK_POSTGRES_URL")
                        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
                    schema: schema.clone(),
                    pool_size: 4,
                })
                .expect("the local PostgreSQL"),
            ),
            _ => Arc::new(FjallStore::open(&dir).expect("store opens")),
        }
    };
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-11-01T09:00:00Z").expect("valid"),
    ));
    let build = |store: Arc<dyn Store>| {
        Waymark::builder()
            .store(store)
            .clock(clock.clone())
            .options(RuntimeOptions {
                cache_bytes: cache_mb << 20,
                ..RuntimeOptions::default()
            })
            .build()
            .expect("runtime builds")
    };
    println!("people {people}, cache {cache_mb} MiB, store {kind}");
    report("before", None, None);

    // Fill (reused when the store has everyone already).
    let waymark = build(open());
    let have = waymark.stats().profiles;
    if have < people {
        let started = Instant::now();
        let mut pending = None;
        for first in (have..people).step_by(FILL_BATCH) {
            let batch: Vec<Event> = (first..(first + FILL_BATCH).min(people))
                .map(identify)
                .collect();
            let (_, ticket) = waymark.stage_batch_at(&batch, &[]).expect("staged");
            if let Some(previous) = pending.replace(ticket) {
                waymark.wait_durable(previous).expect("durable");
            }
            if (first + FILL_BATCH).is_multiple_of(500_000) {
                let done = first + FILL_BATCH - have;
                let rate = done as f64 / started.elapsed().as_secs_f64();
                report(
                    &format!("{}k", (first + FILL_BATCH) / 1000),
                    Some(rate),
                    Some(&waymark.stats()),
                );
            }
        }
        if let Some(last) = pending {
            waymark.wait_durable(last).expect("durable");
        }
        let rate = (people - have) as f64 / started.elapsed().as_secs_f64();
        report("fill", Some(rate), Some(&waymark.stats()));
    }
    drop(waymark);

    // Start-up: the week's message ids of the fill are past the dedupe
    // window by now (a store of this size was filled over months).
    clock.advance(chrono::TimeDelta::days(8));
    let started = Instant::now();
    let waymark = build(open());
    let startup = started.elapsed();
    let stats = waymark.stats();
    println!("start-up {:.2} s", startup.as_secs_f64());
    report("start-up", None, Some(&stats));
    assert_eq!(stats.profiles, people, "the store holds everyone");

    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| -> usize {
        // xorshift64*: uniform enough, and the same stream every run.
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as usize % n
    };
    let uniform: Vec<usize> = (0..events).map(|_| next(people)).collect();
    let hot = (people / 100).max(1);
    let mut skewed = || -> Vec<usize> {
        (0..events)
            .map(|_| {
                if next(10) < 9 {
                    next(hot)
                } else {
                    next(people)
                }
            })
            .collect()
    };
    let (warm_up, skewed) = (skewed(), skewed());
    // Message ids new to every run (a repeated one is a duplicate).
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    // Two skewed streams: the first warms the cache, the second is measured
    // (the hot 1% were seen before, as in a running worker).
    for (name, who) in [
        ("uniform", &uniform),
        ("skew-cold", &warm_up),
        ("skewed", &skewed),
    ] {
        let before = waymark.stats().cache;
        let rate = ingest(&waymark, &format!("{name}-{run}"), who);
        let stats = waymark.stats();
        let (hits, misses) = (
            stats.cache.hits - before.hits,
            stats.cache.misses - before.misses,
        );
        println!(
            "{name:>9}: hits {:.1}% in this phase",
            100.0 * hits as f64 / (hits + misses).max(1) as f64
        );
        assert!(
            stats.cache.hits + stats.cache.misses > 0,
            "the events were decided, not taken for duplicates"
        );
        report(name, Some(rate), Some(&stats));
    }
    let stats = waymark.stats();
    let rss = rss_kib("VmRSS") * 1024;
    println!(
        "memory per cached person: {} B estimated, {} B resident (RSS / people in memory)",
        stats.cache.bytes / stats.cache.people.max(1),
        rss / stats.cache.people.max(1),
    );
    let disk = match kind.as_str() {
        "postgres" => PostgresStore::open(&PostgresConfig {
            url: std::env::var("WAYMARK_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
            schema: schema.clone(),
            pool_size: 1,
        })
        .and_then(|store| store.disk_bytes())
        .unwrap_or(0),
        _ => du(&dir),
    };
    println!(
        "disk per person: {} B ({disk} B in all)",
        disk / people as u64
    );
    waymark.leak_state_for_exit();
}

/// Ingests events from `who` (person numbers) in batches, two in flight
/// as the Kafka source runs. Returns events per second.
fn ingest(waymark: &Waymark, name: &str, who: &[usize]) -> f64 {
    let mut elapsed = Duration::ZERO;
    let mut pending = None;
    for (b, chunk) in who.chunks(BATCH).enumerate() {
        let batch: Vec<Event> = chunk
            .iter()
            .enumerate()
            .map(|(i, person)| activity(name, b * BATCH + i, *person))
            .collect();
        let started = Instant::now();
        let (_, ticket) = waymark.stage_batch_at(&batch, &[]).expect("staged");
        if let Some(previous) = pending.replace(ticket) {
            waymark.wait_durable(previous).expect("durable");
        }
        elapsed += started.elapsed();
    }
    let started = Instant::now();
    if let Some(last) = pending {
        waymark.wait_durable(last).expect("durable");
    }
    elapsed += started.elapsed();
    who.len() as f64 / elapsed.as_secs_f64()
}

fn identify(u: usize) -> Event {
    Event::from_json_str(&format!(
        r#"{{"type":"identify","messageId":"i{u}","userId":"user-{u}","traits":{{"email":"user-{u}@example.com","first_name":"Ada","plan":"trial"}},"context":{{"timezone":"Europe/Berlin"}},"timestamp":"2026-11-01T09:00:00Z"}}"#
    ))
    .expect("valid event")
}

/// A page view, a product view or a trait change, by turns.
fn activity(phase: &str, n: usize, u: usize) -> Event {
    let line = match n % 3 {
        0 => format!(
            r#"{{"type":"page","messageId":"{phase}-{n}","userId":"user-{u}","name":"Pricing","properties":{{"path":"/pricing"}},"timestamp":"2026-11-09T10:00:00Z"}}"#
        ),
        1 => format!(
            r#"{{"type":"track","messageId":"{phase}-{n}","userId":"user-{u}","event":"Product Viewed","properties":{{"sku":"B-42","price":80.5}},"timestamp":"2026-11-09T10:00:01Z"}}"#
        ),
        _ => format!(
            r#"{{"type":"identify","messageId":"{phase}-{n}","userId":"user-{u}","traits":{{"plan":"pro"}},"timestamp":"2026-11-09T10:00:02Z"}}"#
        ),
    };
    Event::from_json_str(&line).expect("valid event")
}

fn report(phase: &str, rate: Option<f64>, stats: Option<&Stats>) {
    let mut line = format!(
        "{phase:>9}: RSS {} MiB (peak {} MiB)",
        rss_kib("VmRSS") / 1024,
        rss_kib("VmHWM") / 1024
    );
    if let Some(rate) = rate {
        line.push_str(&format!(", {rate:.0} events/s"));
    }
    if let Some(stats) = stats {
        let c = stats.cache;
        let asked = (c.hits + c.misses).max(1);
        line.push_str(&format!(
            ", profiles {}, in memory {} ({} MiB est.), hits {:.1}%, evictions {}",
            stats.profiles,
            c.people,
            c.bytes >> 20,
            100.0 * c.hits as f64 / asked as f64,
            c.evictions
        ));
    }
    println!("{line}");
}

/// A line of /proc/self/status, in KiB.
fn rss_kib(field: &str) -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn du(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = entry.metadata();
        match meta {
            Ok(m) if m.is_dir() => total += du(&entry.path()),
            Ok(m) => total += m.len(),
            Err(_) => {}
        }
    }
    total
}
