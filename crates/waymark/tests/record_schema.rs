//! The records the engine decides match their documented JSON schema
//! (docs/schema/record.schema.json): every field they carry is described,
//! the required ones are always there, and kinds and channels are among
//! the schema's values. Run over examples that make every kind of record.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;
use waymark::{Simulation, SimulationOptions, WorkspaceConfig};
use waymark_engine::Engine;
use waymark_journey::load_workspace;

fn records(journeys: &[&str], events: &str, config: Option<&str>) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let paths: Vec<_> = journeys.iter().map(|j| root.join(j)).collect();
    let set = load_workspace(&paths, None, None).unwrap();
    let config = config.map_or_else(WorkspaceConfig::default, |c| {
        WorkspaceConfig::load(&root.join(c)).unwrap()
    });
    let mut engine = Engine::new(set.journeys, config.engine);
    engine.set_segments(set.segments);
    engine.set_policies(config.policies);
    let text = std::fs::read_to_string(root.join(events)).unwrap();
    let run = Simulation::new(engine, SimulationOptions::default()).run_all(&text);
    run.records
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

#[test]
fn every_record_matches_the_documented_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/schema/record.schema.json")).unwrap(),
    )
    .unwrap();
    let properties = schema["properties"].as_object().unwrap();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let one_of =
        |field: &str| -> Vec<Value> { properties[field]["enum"].as_array().unwrap().clone() };
    let mut all = Vec::new();
    all.extend(records(
        &["journeys/win-back.yaml"],
        "events/win-back.jsonl",
        None,
    ));
    all.extend(records(&["journeys/vip.yaml"], "events/vip.jsonl", None));
    all.extend(records(
        &["journeys/trial-ending.yaml"],
        "events/trial-ending.jsonl",
        None,
    ));
    all.extend(records(
        &["policies/price-drop.yaml", "policies/receipt.yaml"],
        "policies/events.jsonl",
        Some("policies/waymark.toml"),
    ));
    let mut kinds = BTreeSet::new();
    for record in &all {
        let object = record.as_object().unwrap();
        for key in object.keys() {
            assert!(
                properties.contains_key(key),
                "`{key}` is not in the schema: {record}"
            );
        }
        for key in &required {
            assert!(object.contains_key(*key), "`{key}` is missing: {record}");
        }
        assert!(one_of("kind").contains(&record["kind"]), "{record}");
        if let Some(channel) = record.get("channel") {
            assert!(one_of("channel").contains(channel), "{record}");
        }
        kinds.insert(record["kind"].as_str().unwrap().to_owned());
    }
    // The examples make most kinds: the check is not vacuous.
    for kind in [
        "entered",
        "send",
        "suppressed",
        "deferred",
        "goal",
        "exited",
        "split",
        "skipped",
        "segment_entered",
    ] {
        assert!(
            kinds.contains(kind),
            "no {kind} record in the examples: {kinds:?}"
        );
    }
}
