//! Identity resolution over a realistic stream: 1,000,000 events from
//! 100,000 people on up to three devices each; 30% of people browse
//! anonymously first and log in later (so their anonymous profiles merge
//! into their known ones).
//!
//! `cargo bench -p waymark-benches --bench identity`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use waymark_core::{Identifier, IdentifierKind, parse_timestamp};
use waymark_identity::{IdentityConfig, IdentityGraph};

const EVENTS: usize = 1_000_000;
const PEOPLE: u64 = 100_000;

/// xorshift: a fixed, dependency-free pseudo-random stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Each event's identifiers, highest priority first, as `identifiers_of`
/// would produce them.
fn stream() -> Vec<Vec<Identifier>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Per person: which of their 3 devices they are logged in on (bits).
    let mut logged_in = vec![0u8; PEOPLE as usize];
    let mut events = Vec::with_capacity(EVENTS);
    for _ in 0..EVENTS {
        let person = rng.next() % PEOPLE;
        let device = (rng.next() % 3) as u8;
        let anonymous_first = person % 10 < 3;
        let anon = Identifier::new(
            IdentifierKind::AnonymousId,
            format!("anon-{person}-{device}"),
        );
        let user = Identifier::new(IdentifierKind::UserId, format!("user-{person}"));
        let state = &mut logged_in[person as usize];
        let ids = if !anonymous_first || *state & (1 << device) != 0 {
            *state |= 1 << device;
            vec![user, anon]
        } else if rng.next().is_multiple_of(8) {
            // Logs in on this device: links (and often merges) the anonymous profile.
            *state |= 1 << device;
            let email = Identifier::new(
                IdentifierKind::Email,
                format!("person-{person}@example.com"),
            );
            vec![user, email, anon]
        } else {
            vec![anon]
        };
        events.push(ids);
    }
    events
}

#[allow(clippy::print_stderr)] // the stream's shape, reported beside the timings
fn resolve_stream(c: &mut Criterion) {
    let events = stream();
    let at = parse_timestamp("2026-10-01T00:00:00Z").expect("valid");
    let mut group = c.benchmark_group("identity");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("resolve_1m_events_100k_people", |b| {
        b.iter_batched(
            || IdentityGraph::new(IdentityConfig::default()),
            |mut graph| {
                for ids in &events {
                    black_box(graph.resolve(ids, at, "m"));
                }
                graph
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let mut graph = IdentityGraph::new(IdentityConfig::default());
    let merges: usize = events
        .iter()
        .map(|ids| graph.resolve(ids, at, "m").map_or(0, |r| r.merges.len()))
        .sum();
    eprintln!(
        "stream: {EVENTS} events, {} profiles at the end, {merges} merges",
        graph.profile_count()
    );
}

criterion_group!(benches, resolve_stream);
criterion_main!(benches);
