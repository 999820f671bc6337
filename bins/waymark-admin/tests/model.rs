//! `waymark-admin model fit`: BG/NBD on purchase events, over an event
//! file and over a worker's store, checked against `lifetimes` fitted on
//! the same CDNOW transactions (in days; the command that computed the
//! reference is in crates/waymark-analytics/tests/fixtures/README.md).
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use waymark::runtime::{ManualClock, OutboxStatus, Waymark};
use waymark_analytics::predict::{BgNbd, customer_of};
use waymark_core::{Event, ProfileId, parse_timestamp};
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

/// lifetimes 0.11.3 on the CDNOW sample up to 1997-09-30, by day.
const LIFETIMES: [(&str, f64); 4] = [
    ("r", 0.24259454342106734),
    ("alpha", 30.8952190125417),
    ("a", 0.7929218333479818),
    ("b", 2.4259057287221752),
];

const END: &str = "1997-09-30T00:00:00Z";

/// An offer to the customers the model calls lapsed.
const WIN_BACK: &str = r#"
id: win-back
entry: { event: Visited }
nodes:
  - id: check
    type: branch
    branches:
      - { when: 'has(profile.predictions) && profile.predictions.p_alive < 0.5', next: offer }
    default: done
  - { id: offer, type: send, channel: email, template: offer }
  - { id: done, type: exit }
"#;

/// A visit, at the end, by CDNOW customer `customer` (with an address).
fn visit(customer: &str) -> String {
    format!(
        r#"{{"type":"track","messageId":"v{customer}","userId":"c{customer}","event":"Visited","context":{{"traits":{{"email":"c{customer}@example.com"}}}},"timestamp":"{END}"}}"#
    )
}

/// The first `n` CDNOW customers (by id) with an order by the end.
fn first_customers(n: usize) -> Vec<String> {
    let ids: BTreeSet<u32> = orders()
        .iter()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            event["userId"].as_str().unwrap()[1..].parse().unwrap()
        })
        .collect();
    ids.into_iter().take(n).map(|id| id.to_string()).collect()
}

/// One `Order Completed` per customer and day, up to the end.
fn orders() -> Vec<String> {
    let text = include_str!("../../../crates/waymark-analytics/tests/fixtures/CDNOW_sample.txt");
    let days: BTreeSet<(u32, String)> = text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let day = *fields.get(2)?;
            let customer: u32 = fields.first()?.parse().ok()?;
            (day <= "19970930").then(|| (customer, day.to_owned()))
        })
        .collect();
    days.iter()
        .map(|(customer, day)| {
            format!(
                r#"{{"type":"track","messageId":"o-{customer}-{day}","userId":"c{customer}","event":"Order Completed","timestamp":"{}-{}-{}T00:00:00Z"}}"#,
                &day[..4],
                &day[4..6],
                &day[6..]
            )
        })
        .collect()
}

fn admin(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check(model: &serde_json::Value) {
    assert_eq!(model["model"], "bgnbd");
    assert_eq!(model["customers"], 2357, "{model}");
    for (name, want) in LIFETIMES {
        let got = model["params"][name].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 0.01 * want,
            "{name}: {got} against lifetimes' {want}"
        );
    }
}

#[test]
fn a_fit_over_an_event_file_gives_lifetimes_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("orders.jsonl");
    std::fs::write(&file, orders().join("\n")).unwrap();
    let model = admin(&[
        "model",
        "fit",
        "--events",
        file.to_str().unwrap(),
        "--at",
        END,
    ]);
    check(&model);
    assert_eq!(model["event"], "Order Completed");
    assert_eq!(model["unit"], "day");
    simulate_with_the_model(dir.path(), &model);
}

/// Test mode given the model (`simulate --model`) offers to the customers
/// the model calls lapsed, as the library computes it; without the model,
/// to nobody.
fn simulate_with_the_model(dir: &Path, model: &serde_json::Value) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    std::fs::write(
        dir.join("templates/offer.yaml"),
        "channel: email\nsubject: We miss you\ntext: Come back\n",
    )
    .unwrap();
    let journey = dir.join("win-back.yaml");
    std::fs::write(&journey, WIN_BACK).unwrap();
    let model_file = dir.join("model.json");
    std::fs::write(&model_file, model.to_string()).unwrap();
    let customers = first_customers(60);
    let mut lines = orders();
    lines.extend(customers.iter().map(|c| visit(c)));
    let events = dir.join("with-visits.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    let sends = |with_model: bool| -> usize {
        let mut command = Command::new(env!("CARGO_BIN_EXE_waymark-admin"));
        command
            .args(["simulate", "--journey"])
            .arg(&journey)
            .arg("--events")
            .arg(&events);
        if with_model {
            command.arg("--model").arg(&model_file);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|line| {
                serde_json::from_str::<serde_json::Value>(line).unwrap()["kind"] == "send"
            })
            .count()
    };
    // The customers the model calls lapsed at the end, by the library.
    let params: BgNbd = serde_json::from_value(model["params"].clone()).unwrap();
    let at = parse_timestamp(END).unwrap();
    let lapsed = customers
        .iter()
        .filter(|c| {
            let days: Vec<chrono::DateTime<chrono::Utc>> = orders()
                .iter()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
                .filter(|e| e["userId"] == format!("c{c}"))
                .map(|e| parse_timestamp(e["timestamp"].as_str().unwrap()).unwrap())
                .collect();
            let stats = waymark_core::EventStats {
                count: days.len() as u64,
                first_seen: *days.iter().min().unwrap(),
                last_seen: *days.iter().max().unwrap(),
            };
            let history = customer_of(&stats, at, chrono::TimeDelta::days(1)).unwrap();
            params.p_alive(&history) < 0.5
        })
        .count();
    assert!(lapsed > 0 && lapsed < 60);
    assert_eq!(sends(true), lapsed);
    assert_eq!(sends(false), 0);
}

#[test]
fn a_fit_over_the_store_gives_the_same_and_is_saved_there() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<Event> = orders()
        .iter()
        .map(|line| Event::from_json_str(line).unwrap())
        .collect();
    {
        let waymark = Waymark::builder()
            .store(Arc::new(FjallStore::open(dir.path()).unwrap()))
            .clock(Arc::new(ManualClock::new(parse_timestamp(END).unwrap())))
            .build()
            .unwrap();
        for batch in events.chunks(1000) {
            waymark.ingest_batch(batch, None).unwrap();
        }
    }
    let store = dir.path().to_str().unwrap();
    let model = admin(&["--store", store, "model", "fit", "--at", END]);
    check(&model);
    // Saved with the store, and the store still opens.
    let waymark = Waymark::builder()
        .store(Arc::new(FjallStore::open(Path::new(store)).unwrap()))
        .build()
        .unwrap();
    assert_eq!(waymark.model("bgnbd").unwrap(), Some(model.clone()));
    drop(waymark);
    predictions_drive_a_branch(Path::new(store), &model);
    // No purchase event by that name: refused with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_waymark-admin"))
        .args(["--store", store, "model", "fit", "--event", "Refund Issued"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no one has a `Refund Issued` event"), "{err}");
}

/// With the model saved, a runtime on the store sees
/// `profile.predictions`: a win-back branch on P(alive) picks the people
/// the model calls lapsed, as the model computes it.
fn predictions_drive_a_branch(store: &Path, model: &serde_json::Value) {
    let journey = parse_journey(Path::new("win-back.yaml"), WIN_BACK).unwrap();
    let at = parse_timestamp(END).unwrap();
    let waymark = Waymark::builder()
        .store(Arc::new(FjallStore::open(store).unwrap()))
        .journeys([journey])
        .clock(Arc::new(ManualClock::new(at)))
        .build()
        .unwrap();
    let params: BgNbd = serde_json::from_value(model["params"].clone()).unwrap();
    let customers = first_customers(60);
    let mut lapsed = 0;
    for customer in customers.iter().take(60) {
        waymark
            .ingest(&Event::from_json_str(&visit(customer)).unwrap())
            .unwrap();
        let profile = waymark
            .profile(&ProfileId::from(
                waymark
                    .export(&waymark_core::Identifier::new(
                        waymark_core::IdentifierKind::UserId,
                        format!("c{customer}"),
                    ))
                    .unwrap()
                    .unwrap()["profile"]["id"]
                    .as_str()
                    .unwrap(),
            ))
            .unwrap()
            .unwrap();
        let history = customer_of(
            profile.events.get("Order Completed").unwrap(),
            at,
            chrono::TimeDelta::days(1),
        )
        .unwrap();
        let offered = waymark
            .outbox(OutboxStatus::Pending)
            .iter()
            .any(|e| e.delivery.user_id.as_deref() == Some(&format!("c{customer}")));
        assert_eq!(
            offered,
            params.p_alive(&history) < 0.5,
            "customer {customer}"
        );
        lapsed += usize::from(offered);
    }
    assert!(
        lapsed > 0 && lapsed < 60,
        "both branches taken: {lapsed} of 60"
    );
}
