//! Ingest throughput of the durable runtime on fjall with group commit, on
//! the quick-start journey with 100,000 profiles; the same on the local
//! PostgreSQL (`WAYMARK_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, a fresh schema each run); and
//! the bytes each journey instance and each pending timer takes.
//!
//! `cargo bench -p waymark-benches --bench runtime` (`-- postgres` for the
//! PostgreSQL runs alone)

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use waymark::runtime::{ManualClock, Waymark};
use waymark_channels::MemoryChannel;
use waymark_core::{Event, parse_timestamp};
use waymark_journey::load_journey_set;
use waymark_store::{FjallStore, PostgresConfig, PostgresStore, Space, Store};

/// The worker's allocator, so the figure is the worker's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PROFILES: usize = 100_000;
const BATCH: usize = 1000;

/// Per person: an identify, a sign-up (enters the journey: a send and a
/// timer) and a page view (matches nothing).
fn events() -> Vec<Event> {
    let mut out = Vec::with_capacity(PROFILES * 3);
    for u in 0..PROFILES {
        let lines = [
            format!(
                r#"{{"type":"identify","messageId":"i{u}","userId":"user-{u}","traits":{{"email":"user-{u}@example.com","first_name":"Ada","plan":"trial"}},"context":{{"timezone":"Europe/Berlin"}},"timestamp":"2026-11-23T09:00:00Z"}}"#
            ),
            format!(
                r#"{{"type":"track","messageId":"s{u}","userId":"user-{u}","event":"Signed Up","properties":{{"plan":"trial","referrer":"newsletter"}},"timestamp":"2026-11-23T09:00:01Z"}}"#
            ),
            format!(
                r#"{{"type":"page","messageId":"p{u}","userId":"user-{u}","name":"Dashboard","properties":{{"path":"/dashboard","title":"Dashboard"}},"timestamp":"2026-11-23T09:00:02Z"}}"#
            ),
        ];
        out.extend(
            lines
                .iter()
                .map(|l| Event::from_json_str(l).expect("valid event")),
        );
    }
    out
}

/// Live traffic from known people: per person a page view, a product view
/// and an identify that changes a trait (nothing enters a journey again).
fn known_people_events() -> Vec<Event> {
    let mut out = Vec::with_capacity(PROFILES * 3);
    for u in 0..PROFILES {
        let lines = [
            format!(
                r#"{{"type":"page","messageId":"k1-{u}","userId":"user-{u}","name":"Pricing","properties":{{"path":"/pricing"}},"timestamp":"2026-11-23T10:00:00Z"}}"#
            ),
            format!(
                r#"{{"type":"track","messageId":"k2-{u}","userId":"user-{u}","event":"Product Viewed","properties":{{"sku":"B-42","price":80.5}},"timestamp":"2026-11-23T10:00:01Z"}}"#
            ),
            format!(
                r#"{{"type":"identify","messageId":"k3-{u}","userId":"user-{u}","traits":{{"plan":"pro"}},"timestamp":"2026-11-23T10:00:02Z"}}"#
            ),
        ];
        out.extend(
            lines
                .iter()
                .map(|l| Event::from_json_str(l).expect("valid event")),
        );
    }
    out
}

fn runtime(dir: &Path) -> (Waymark, Arc<FjallStore>) {
    let store = Arc::new(FjallStore::open(dir).expect("store opens"));
    (runtime_on(store.clone()), store)
}

/// A fresh schema on the local PostgreSQL, dropped when the guard is.
struct Schema(String);

impl Schema {
    fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos();
        Schema(format!("bench_{}_{nanos}", std::process::id()))
    }

    fn open(&self) -> Arc<PostgresStore> {
        let config = PostgresConfig {
            url: postgres_url(),
            schema: self.0.clone(),
            pool_size: 4,
        };
        Arc::new(PostgresStore::open(&config).expect("the local PostgreSQL"))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                &postgres_url(),
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0),
            ])
            .output();
    }
}

fn postgres_url() -> String {
    std::env::var("WAYMARK_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn runtime_on(store: Arc<dyn Store>) -> Waymark {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart");
    let (journeys, _) = load_journey_set(
        &[root.join("journeys/welcome.yaml")],
        Some(&root.join("templates")),
    )
    .expect("quick-start journey loads");
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-11-23T09:00:00Z").expect("valid"),
    ));
    Waymark::builder()
        .store(store)
        .journeys(journeys)
        .clock(clock)
        .default_channel(Arc::new(MemoryChannel::new()))
        .build()
        .expect("runtime builds")
}

fn ingest_all(waymark: &Waymark, events: &[Event]) {
    ingest_from(waymark, events, "bench");
}

/// `events` in batches, positions counted under `source`.
fn ingest_from(waymark: &Waymark, events: &[Event], source: &str) {
    for (i, chunk) in events.chunks(BATCH).enumerate() {
        waymark
            .ingest_batch(chunk, Some((source, ((i + 1) * BATCH) as u64)))
            .expect("ingest");
    }
}

/// A runtime over a new, empty store, and what keeps that store (a
/// temporary folder, a schema) until the runtime is dropped first.
type Fresh = (Waymark, Box<dyn std::any::Any>);

fn fresh_fjall() -> Fresh {
    let dir = tempfile::tempdir().expect("temp dir");
    let (waymark, _) = runtime(dir.path());
    (waymark, Box::new(dir))
}

fn fresh_postgres() -> Fresh {
    let schema = Schema::new();
    let waymark = runtime_on(schema.open());
    (waymark, Box::new(schema))
}

/// Time to ingest `events` into fresh runtimes, after `before` (untimed).
fn timed(iterations: u64, fresh: fn() -> Fresh, before: &[Event], events: &[Event]) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iterations {
        let (waymark, _store) = fresh();
        ingest_from(&waymark, before, "bench");
        let start = Instant::now();
        ingest_from(&waymark, events, "bench-known");
        total += start.elapsed();
    }
    total
}

fn ingest(c: &mut Criterion) {
    let events = events();
    let known = known_people_events();
    let mut group = c.benchmark_group("runtime");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(60));
    let cases = [
        (&[][..], &events, "100k_profiles"),
        (&events[..], &known, "from_100k_known_profiles"),
    ];
    for (store, fresh) in [
        ("fjall", fresh_fjall as fn() -> Fresh),
        ("postgres", fresh_postgres),
    ] {
        for (before, timed_events, what) in cases {
            // The fjall names as they were before the PostgreSQL runs.
            let name = match (store, what) {
                ("fjall", "100k_profiles") => {
                    "ingest_300k_events_100k_profiles_fjall_group_commit".to_owned()
                }
                ("fjall", _) => format!("ingest_300k_events_{what}"),
                _ => format!("{store}_ingest_300k_events_{what}"),
            };
            group.bench_function(name, |b| {
                b.iter_custom(|iterations| timed(iterations, fresh, before, timed_events))
            });
        }
    }
    group.finish();
    sizes(&events);
}

/// Bytes per pending timer and per journey instance, encoded and on disk.
#[allow(clippy::print_stderr)] // the measurement's result, beside criterion's
fn sizes(events: &[Event]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (waymark, store) = runtime(dir.path());
    ingest_all(&waymark, events);
    let stats = waymark.stats();
    let timers = store.scan(Space::Timers, b"").expect("scan");
    let timer_bytes: usize = timers.iter().map(|(k, v)| k.len() + v.len()).sum();
    let profiles = store.scan(Space::Profiles, b"").expect("scan");
    let record_bytes: usize = profiles.iter().map(|(k, v)| k.len() + v.len()).sum();
    let instance_bytes: usize = profiles
        .iter()
        .filter_map(|(_, v)| serde_json::from_slice::<serde_json::Value>(v).ok())
        .map(|record| record["instances"].to_string().len())
        .sum();
    let timers_disk = store.space_disk_bytes(Space::Timers).expect("disk");
    let profiles_disk = store.space_disk_bytes(Space::Profiles).expect("disk");
    let n = |x: usize| x as f64;
    eprintln!(
        "sizes: {} instances active, {} timers pending\n\
         timer: {:.0} B encoded (key + value), {:.0} B on disk (LZ4 blocks)\n\
         instance: {:.0} B encoded (JSON inside its profile record)\n\
         profile record (profile + identifiers + instances): {:.0} B encoded, {:.0} B on disk",
        stats.instances_active,
        stats.timers_pending,
        n(timer_bytes) / n(timers.len()),
        timers_disk as f64 / n(timers.len()),
        n(instance_bytes) / n(stats.instances_active),
        n(record_bytes) / n(profiles.len()),
        profiles_disk as f64 / n(profiles.len()),
    );
    let schema = Schema::new();
    let postgres = schema.open();
    ingest_all(&runtime_on(postgres.clone()), events);
    let people = n(waymark.stats().profiles);
    eprintln!(
        "on disk per person (profile, timer, outbox entry, records, ids): fjall {:.0} B, PostgreSQL {:.0} B (table, index and TOAST)",
        Space::ALL
            .iter()
            .map(|space| store.space_disk_bytes(*space).expect("disk"))
            .sum::<u64>() as f64
            / people,
        postgres.disk_bytes().expect("disk") as f64 / people,
    );
}

criterion_group!(benches, ingest);
criterion_main!(benches);
