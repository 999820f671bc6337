//! Folding journey records into report counters, rendering the report
//! from the counters a store keeps, and fitting the BG/NBD model of
//! repeat buying over 1,000,000 customers.
//!
//! `cargo bench -p waymark-benches --bench analytics`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use waymark_analytics::predict::{BgNbd, Customer, Fitting};
use waymark_analytics::{Metrics, Selection, to_json};
use waymark_core::{Channel, ProfileId, parse_timestamp};
use waymark_engine::{Record, RecordKind};
use waymark_store::{Batch, FjallStore, Space, Store};

const RECORDS: usize = 1_000_000;

/// The records of 200,000 instances of a five-record journey over 30
/// days: entered, a split, a send, a wait, an exit (every tenth converts,
/// every tenth is held out).
fn records() -> Vec<Record> {
    let start = parse_timestamp("2026-11-02T10:00:00Z").expect("valid");
    let journey: Arc<str> = Arc::from("win-back");
    let nodes: [Arc<str>; 4] = ["offer", "email", "wait", "done"].map(Arc::from);
    let variants: [Arc<str>; 2] = ["a", "b"].map(Arc::from);
    let mut out = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS / 5 {
        let instance: Arc<str> = Arc::from(format!("win-back:p{i}:1"));
        let at = start + chrono::TimeDelta::days((i * 30 / (RECORDS / 5)) as i64);
        let record = |kind: RecordKind, step: usize, node: usize| Record {
            version: 1,
            node: Some(Arc::clone(&nodes[node])),
            arrived: kind != RecordKind::Entered && kind != RecordKind::Goal,
            from: (step > 1).then(|| Arc::clone(&nodes[node.saturating_sub(1)])),
            channel: (kind == RecordKind::Send).then_some(Channel::Email),
            variant: matches!(kind, RecordKind::Split | RecordKind::Goal)
                .then(|| Arc::clone(&variants[i % 2])),
            split: (kind == RecordKind::Goal).then(|| Arc::clone(&nodes[0])),
            entered_at: (kind == RecordKind::Goal).then_some(at),
            control: i % 10 == 0,
            ..Record::new(
                format!("{instance}/{step}/{}", kind.as_str()),
                at,
                kind,
                ProfileId::from("p"),
                Arc::clone(&journey),
                Arc::clone(&instance),
            )
        };
        out.push(record(RecordKind::Entered, 0, 0));
        out.push(record(RecordKind::Split, 1, 0));
        out.push(record(RecordKind::Send, 2, 1));
        if i % 10 == 3 {
            let mut goal = record(RecordKind::Goal, 3, 2);
            goal.value = Some(serde_json::json!(29.0));
            out.push(goal);
        } else {
            out.push(record(RecordKind::Wait, 3, 2));
        }
        let mut exit = record(RecordKind::Exited, 4, 3);
        exit.reason = Some("completed".to_owned());
        out.push(exit);
    }
    out
}

fn fold(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("analytics");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.sample_size(10);
    group.bench_function("fold_1m_records", |b| {
        b.iter(|| {
            let mut metrics = Metrics::default();
            for r in &records {
                metrics.add(r);
            }
            metrics
        })
    });
    // The counters as the worker keeps them: one value per journey
    // version and day, in fjall on disk.
    let mut metrics = Metrics::default();
    for r in &records {
        metrics.add(r);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let store = FjallStore::open(dir.path()).expect("store");
    let mut batch = Batch::new();
    for (key, counters) in metrics.buckets() {
        batch.put(
            Space::Analytics,
            key.encode(),
            serde_json::to_vec(counters).expect("json"),
        );
    }
    store.commit(batch).expect("commit");
    group.throughput(Throughput::Elements(1));
    group.bench_function("report_from_stored_counters_of_1m_records", |b| {
        b.iter_batched(
            || (),
            |()| {
                let stored = waymark::analytics::stored_metrics(&store).expect("read");
                black_box(to_json(&stored.select(&Selection::default())))
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// 1,000,000 purchase histories: the CDNOW customers (the test fixture),
/// each repeated with its age shifted by up to a week in 1/7 steps (as
/// day-resolution histories are), so that the fit sees at most 16,500
/// distinct histories as a store's would group.
fn customers() -> Vec<Customer> {
    let text =
        include_str!("../../crates/waymark-analytics/tests/fixtures/cdnow_customers_summary.csv");
    let cdnow: Vec<Customer> = text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<f64> = line
                .split(',')
                .skip(1)
                .filter_map(|f| f.parse().ok())
                .collect();
            Some(Customer {
                frequency: *fields.first()? as u32,
                recency: *fields.get(1)?,
                age: *fields.get(2)?,
            })
        })
        .collect();
    (0..1_000_000)
        .map(|i| {
            let c = cdnow[i % cdnow.len()];
            Customer {
                age: c.age + (i / cdnow.len() % 7) as f64 / 7.0,
                ..c
            }
        })
        .collect()
}

fn fit(c: &mut Criterion) {
    let customers = customers();
    let mut group = c.benchmark_group("predict");
    group.sample_size(10);
    group.throughput(Throughput::Elements(customers.len() as u64));
    group.bench_function("bgnbd_fit_1m_customers", |b| {
        b.iter(|| BgNbd::fit(black_box(&customers)).expect("fits"))
    });
    // The worst case: no two histories alike (ages apart by a second).
    let distinct: Vec<Customer> = customers
        .iter()
        .enumerate()
        .map(|(i, c)| Customer {
            age: c.age + i as f64 / 604_800.0,
            ..*c
        })
        .collect();
    group.bench_function("bgnbd_fit_1m_distinct_customers", |b| {
        b.iter(|| BgNbd::fit(black_box(&distinct)).expect("fits"))
    });
    group.finish();
}

criterion_group!(benches, fold, fit);
criterion_main!(benches);
