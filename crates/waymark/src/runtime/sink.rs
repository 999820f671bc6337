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

/// Journey records appended to a JSONL file, one record per line, synced
/// to disk on [`RecordSink::sync`]: analytics without Kafka. Delivery is
/// at least once (a crash between writing and the runtime's note that it
/// did writes a record again, with the same `key`): readers dedupe by key.
#[derive(Debug)]
pub struct JsonlRecordSink {
    file: parking_lot::Mutex<std::io::BufWriter<std::fs::File>>,
}

impl JsonlRecordSink {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(JsonlRecordSink {
            file: parking_lot::Mutex::new(std::io::BufWriter::new(file)),
        })
    }
}

impl RecordSink for JsonlRecordSink {
    fn publish(&self, _key: &str, json: &[u8]) -> Result<(), String> {
        use std::io::Write;
        let mut file = self.file.lock();
        file.write_all(json)
            .and_then(|()| file.write_all(b"\n"))
            .map_err(|e| e.to_string())
    }

    fn sync(&self) -> Result<(), String> {
        use std::io::Write;
        let mut file = self.file.lock();
        file.flush().map_err(|e| e.to_string())?;
        file.get_ref().sync_data().map_err(|e| e.to_string())
    }
}
