//! Where journey records (entered, node reached, send, suppressed, exited,
//! goal) go beyond the runtime's own counters: an analytics topic, a
//! warehouse loader.

/// Receives journey records, each a JSON object with a unique `key`.
///
/// The runtime commits a record with the state change that made it, then
/// hands it to the sink and forgets it only after [`RecordSink::sync`]
/// succeeded: a crash in between publishes it again (at least once, with
/// the same `key`), never loses it.
pub trait RecordSink: Send + Sync + std::fmt::Debug {
    /// Queues one record (`json` is its encoding, `key` its unique key).
    fn publish(&self, key: &str, json: &[u8]) -> Result<(), String>;
    /// Returns once everything queued so far is durable at the sink.
    fn sync(&self) -> Result<(), String>;
}
