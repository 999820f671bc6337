//! Key encodings whose byte order is the order that matters.

use waymark_core::{Identifier, Timestamp};

/// Milliseconds since the epoch, shifted so that byte order is time order
/// for every representable instant.
pub fn time(at: Timestamp) -> [u8; 8] {
    ((at.timestamp_millis() as u64) ^ (1 << 63)).to_be_bytes()
}

/// Decodes [`time`].
pub fn decode_time(bytes: &[u8]) -> Option<Timestamp> {
    let raw = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?) ^ (1 << 63);
    chrono::DateTime::from_timestamp_millis(raw as i64)
}

/// A timer: due time first, so a scan from the start yields timers in due
/// order; then the instance and token, so each timer has its own key.
pub fn timer(due: Timestamp, instance: &str, token: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(8 + instance.len() + 9);
    key.extend_from_slice(&time(due));
    key.extend_from_slice(instance.as_bytes());
    key.push(0);
    key.extend_from_slice(&token.to_be_bytes());
    key
}

/// A sequence number (outbox, merges).
pub fn seq(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn decode_seq(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// An identifier: `kind` NUL `value`.
pub fn identifier(id: &Identifier) -> Vec<u8> {
    let kind = id.kind.to_string();
    let mut key = Vec::with_capacity(kind.len() + 1 + id.value.len());
    key.extend_from_slice(kind.as_bytes());
    key.push(0);
    key.extend_from_slice(id.value.as_bytes());
    key
}

/// A deployed journey version: `id` NUL `version` (big-endian), so the
/// versions of one journey are adjacent and in order.
pub fn journey(id: &str, version: u32) -> Vec<u8> {
    let mut key = Vec::with_capacity(id.len() + 5);
    key.extend_from_slice(id.as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_keys_sort_by_due_time() {
        let t = |s| waymark_core::parse_timestamp(s).unwrap();
        let early = timer(t("1969-12-31T00:00:00Z"), "zz", 9);
        let mid = timer(t("2026-01-01T00:00:00Z"), "b", 1);
        let late = timer(t("2026-01-01T00:00:01Z"), "a", 1);
        assert!(early < mid && mid < late);
        assert_eq!(decode_time(&mid), Some(t("2026-01-01T00:00:00Z")));
        assert_eq!(decode_time(&early), Some(t("1969-12-31T00:00:00Z")));
    }
}
