//! Rebuilding identity state from an event file, for the admin's profile
//! commands until the durable store holds it.

use std::collections::HashSet;

use waymark_identity::{Identity, IdentityConfig};

use crate::source::read_all;

/// Resolves every valid event of a JSONL text, in timestamp order (file
/// order for ties), skipping duplicates and lines that are not events.
/// Returns the identity state and how many lines were skipped as invalid.
pub fn identity_from_events(jsonl: &str, config: IdentityConfig) -> (Identity, usize) {
    let (events, refused) = read_all(jsonl);
    let mut identity = Identity::new(config);
    let mut seen = HashSet::new();
    for (_, event) in events
        .iter()
        .filter(|(_, e)| seen.insert(e.message_id.clone()))
    {
        identity.ingest(event);
    }
    (identity, refused.len())
}
