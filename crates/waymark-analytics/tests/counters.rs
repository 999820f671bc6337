//! Counters fold statelessly: folding records in any split and merging
//! gives what folding them all at once gives, whatever the order of the
//! buckets; and a hand count of a crafted run.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::sync::Arc;

use serde_json::json;
use waymark_analytics::{Counters, Metrics, Selection, to_json};
use waymark_core::{Channel, ProfileId, Timestamp, parse_timestamp};
use waymark_engine::{Record, RecordKind};

fn at(text: &str) -> Timestamp {
    parse_timestamp(text).unwrap()
}

struct Run {
    journey: Arc<str>,
    records: Vec<Record>,
}

impl Run {
    fn record(&mut self, who: &str, when: &str, kind: RecordKind, node: &str) -> &mut Record {
        let instance: Arc<str> = Arc::from(format!("{}:{who}:1", self.journey));
        self.records.push(Record {
            version: if when < "2026-11-03" { 1 } else { 2 },
            node: Some(Arc::from(node)),
            control: who.starts_with('c'),
            ..Record::new(
                format!("{instance}/{}/{}", self.records.len(), kind.as_str()),
                at(when),
                kind,
                ProfileId::from(who),
                Arc::clone(&self.journey),
                instance,
            )
        });
        self.records.last_mut().unwrap()
    }

    fn arrive(
        &mut self,
        who: &str,
        when: &str,
        kind: RecordKind,
        node: &str,
        from: Option<&str>,
    ) -> &mut Record {
        let r = self.record(who, when, kind, node);
        r.arrived = true;
        r.from = from.map(Arc::from);
        r
    }
}

/// t1 and t2 (treatment) and c1 (control) enter on two days and two
/// versions; t1 gets variant a and converts a day later with 12.5.
fn run() -> Vec<Record> {
    let mut run = Run {
        journey: Arc::from("j"),
        records: Vec::new(),
    };
    for (who, day) in [
        ("t1", "2026-11-02T10:00:00Z"),
        ("c1", "2026-11-02T11:00:00Z"),
        ("t2", "2026-11-03T10:00:00Z"),
    ] {
        run.record(who, day, RecordKind::Entered, "offer");
        run.arrive(who, day, RecordKind::Split, "offer", None)
            .variant = Some(Arc::from(if who == "t2" { "b" } else { "a" }));
        let send = run.arrive(
            who,
            day,
            if who == "c1" {
                RecordKind::Suppressed
            } else {
                RecordKind::Send
            },
            "mail",
            Some("offer"),
        );
        send.channel = Some(Channel::Email);
        if who == "c1" {
            send.reason = Some("holdout".to_owned());
        }
        run.arrive(who, day, RecordKind::Wait, "wait", Some("mail"));
    }
    let goal = run.record("t1", "2026-11-03T10:00:00Z", RecordKind::Goal, "wait");
    goal.value = Some(json!(12.5));
    goal.entered_at = Some(at("2026-11-02T10:00:00Z"));
    goal.split = Some(Arc::from("offer"));
    goal.variant = Some(Arc::from("a"));
    run.record("t1", "2026-11-03T10:00:00Z", RecordKind::Exited, "wait")
        .reason = Some("goal".to_owned());
    run.records
}

#[test]
fn a_crafted_run_counts_as_a_hand_count() {
    let mut metrics = Metrics::default();
    for r in run() {
        metrics.add(&r);
    }
    let report = to_json(&metrics.select(&Selection::default()));
    let j = &report["journeys"][0];
    assert_eq!(j["version"], serde_json::Value::Null);
    assert_eq!(
        j["entrants"],
        json!({"total": 3, "treatment": 2, "control": 1})
    );
    assert_eq!(
        j["nodes"],
        json!([
            {"id": "offer", "reached": 3, "ended_here": 0},
            {"id": "mail", "reached": 3, "ended_here": 0},
            {"id": "wait", "reached": 3, "ended_here": 1},
        ])
    );
    assert_eq!(j["sends"], json!({"email": 2}));
    assert_eq!(j["suppressed"], json!({"holdout": 1}));
    assert_eq!(j["exits"], json!({"goal": 1}));
    assert_eq!(j["goal"]["conversions"], 1);
    assert_eq!(j["goal"]["revenue"], 12.5);
    // A day, rounded down to its histogram bucket (2^16 + 40 * 2^9).
    assert_eq!(
        j["goal"]["time_to_goal_s"],
        json!({"p50": 86_016, "p90": 86_016})
    );
    assert_eq!(j["groups"]["treatment"]["conversions"], 1);
    assert_eq!(j["variants"][0]["variant"], "a");
    assert_eq!(j["variants"][0]["entrants"], 2);
    assert_eq!(j["variants"][0]["conversions"], 1);
    assert_eq!(j["variants"][1]["entrants"], 1);
    // Each variant's share of its node's entrants, per day.
    assert_eq!(
        j["variants"][0]["allocation"],
        json!([
            {"day": "2026-11-02", "entrants": 2, "share": 1.0},
            {"day": "2026-11-03", "entrants": 0, "share": 0.0},
        ])
    );

    // One version, one day.
    let v2 = metrics.select(&Selection {
        journey: Some("j".into()),
        version: Some(2),
        since: None,
    });
    assert_eq!(v2[0].version, Some(2));
    assert_eq!(v2[0].counters.groups.total().entrants, 1);
    assert_eq!(
        v2[0].counters.groups.total().conversions,
        1,
        "the goal came on day two"
    );
    let since = metrics.select(&Selection {
        since: "2026-11-03".parse().ok(),
        ..Selection::default()
    });
    assert_eq!(since[0].counters.groups.total().entrants, 1);
    assert_eq!(since[0].daily.len(), 1);
    // The flows between nodes.
    let edges: Vec<(String, String, u64)> = metrics.select(&Selection::default())[0]
        .counters
        .edges
        .iter()
        .map(|e| (e.from.to_string(), e.to.to_string(), e.n))
        .collect();
    assert_eq!(
        edges,
        [
            ("offer".into(), "mail".into(), 3),
            ("mail".into(), "wait".into(), 3)
        ]
    );
}

#[test]
fn folding_in_parts_and_merging_equals_folding_at_once() {
    let records = run();
    let mut whole = Metrics::default();
    for r in &records {
        whole.add(r);
    }
    for cut in 0..=records.len() {
        // As the runtime does: each batch folded apart, then added to the
        // stored counters (which went through JSON).
        let mut stored = Metrics::default();
        for part in [&records[..cut], &records[cut..]] {
            let mut batch = Metrics::default();
            for r in part {
                batch.add(r);
            }
            for (key, counters) in batch.buckets() {
                let json = serde_json::to_vec(counters).unwrap();
                let back: Counters = serde_json::from_slice(&json).unwrap();
                stored.merge(key.clone(), &back);
            }
        }
        let all = Selection::default();
        assert_eq!(
            to_json(&stored.select(&all)),
            to_json(&whole.select(&all)),
            "cut at {cut}"
        );
    }
}
