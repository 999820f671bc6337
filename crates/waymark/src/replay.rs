//! Rebuilding identity state from an event file, for the admin's profile
//! commands until the durable store holds it.

use std::collections::HashSet;

use waymark_core::Event;
use waymark_identity::{Identity, IdentityConfig};

/// Resolves every valid event of a JSONL text, in timestamp order (file
/// order for ties), skipping duplicates and lines that are not events.
/// Returns the identity state and how many lines were skipped as invalid.
pub fn identity_from_events(jsonl: &str, config: IdentityConfig) -> (Identity, usize) {
    let mut invalid = 0;
    let mut events: Vec<Event> = Vec::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        match Event::from_json_str(line) {
            Ok(e) => events.push(e),
            Err(_) => invalid += 1,
        }
    }
    events.sort_by_key(|e| e.timestamp);
    let mut identity = Identity::new(config);
    let mut seen = HashSet::new();
    for event in events.iter().filter(|e| seen.insert(e.message_id.clone())) {
        identity.ingest(event);
    }
    (identity, invalid)
}
