//! Folding journey records into report metrics, and rendering the report.
//!
//! `cargo bench -p waymark-benches --bench analytics`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use waymark_analytics::{Metrics, to_json};
use waymark_core::{Channel, ProfileId, parse_timestamp};
use waymark_engine::{Record, RecordKind};

const RECORDS: usize = 1_000_000;

/// The records of 200,000 instances of a five-record journey: entered,
/// a split, a send, a wait, an exit (every tenth converts, every tenth is
/// held out).
fn records() -> Vec<Record> {
    let at = parse_timestamp("2026-11-02T10:00:00Z").expect("valid");
    let journey: Arc<str> = Arc::from("win-back");
    let nodes: [Arc<str>; 4] = ["offer", "email", "wait", "done"].map(Arc::from);
    let variants: [Arc<str>; 2] = ["a", "b"].map(Arc::from);
    let mut out = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS / 5 {
        let instance: Arc<str> = Arc::from(format!("win-back:p{i}:1"));
        let record = |kind: RecordKind, step: usize, node: usize| Record {
            key: format!("{instance}/{step}/{}", kind.as_str()),
            at,
            kind,
            profile: ProfileId::from("p"),
            journey: Arc::clone(&journey),
            instance: Arc::clone(&instance),
            node: Some(Arc::clone(&nodes[node])),
            channel: (kind == RecordKind::Send).then_some(Channel::Email),
            template: None,
            reason: None,
            value: None,
            next: None,
            variant: (kind == RecordKind::Split).then(|| Arc::clone(&variants[i % 2])),
            until: None,
            control: i % 10 == 0,
            segment: None,
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
    let mut metrics = Metrics::default();
    for r in &records {
        metrics.add(r);
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("report_from_metrics_of_1m_records", |b| {
        b.iter_batched(
            || (),
            |()| black_box(to_json(&metrics)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, fold);
criterion_main!(benches);
