//! One commit's journey records as the store keeps them (JSON lines) and
//! the record sink publishes them.

use waymark_engine::Record;

/// One commit's journey records, encoded once, by the thread that writes
/// the commit (not under the state lock; the record publisher reads them
/// only once that commit is durable).
#[derive(Debug)]
pub(super) struct RecordBatch {
    records: Vec<Record>,
    /// The records' keys when read back from the store (`records` is then
    /// empty).
    keys: Vec<String>,
    encoded: std::sync::OnceLock<EncodedRecords>,
}

/// Records as JSON lines in one buffer (the store's value as it is), and
/// where each line ends (its `\n` excluded).
#[derive(Debug)]
struct EncodedRecords {
    text: Vec<u8>,
    ends: Vec<usize>,
}

impl RecordBatch {
    pub fn new(records: Vec<Record>) -> Self {
        RecordBatch {
            records,
            keys: Vec::new(),
            encoded: std::sync::OnceLock::new(),
        }
    }

    /// A batch read back from the store (`key` names it in errors).
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, waymark_store::Error> {
        // Each non-empty line a record: its key read, the line kept
        // (newline-terminated, as `RecordBatch::stored` expects).
        let (mut keys, mut text) = (Vec::new(), Vec::with_capacity(value.len()));
        for line in value.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let record: serde_json::Value =
                super::state::decode(waymark_store::Space::Records, key, line)?;
            let id = record
                .get("key")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_owned();
            keys.push(id);
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        Ok(RecordBatch::stored(text, keys))
    }

    /// Records read back from the store: the stored value and each
    /// record's key.
    pub fn stored(text: Vec<u8>, keys: Vec<String>) -> Self {
        let ends = text
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i)
            .collect();
        RecordBatch {
            records: Vec::new(),
            keys,
            encoded: std::sync::OnceLock::from(EncodedRecords { text, ends }),
        }
    }

    fn encoded(&self) -> &EncodedRecords {
        self.encoded.get_or_init(|| {
            let mut text = Vec::with_capacity(self.records.len() * 256);
            let mut ends = Vec::with_capacity(self.records.len());
            for record in &self.records {
                let start = text.len();
                if let Err(error) = serde_json::to_writer(&mut text, record) {
                    // Cannot happen (a record is strings, numbers and
                    // string-keyed maps); keep the lines aligned with keys.
                    tracing::error!(%error, key = %record.key, "a journey record did not encode");
                    text.truncate(start);
                    text.extend_from_slice(b"{}");
                }
                ends.push(text.len());
                text.push(b'\n');
            }
            EncodedRecords { text, ends }
        })
    }

    /// Each record's key and JSON.
    pub fn lines(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let EncodedRecords { text, ends } = self.encoded();
        let keys = self
            .records
            .iter()
            .map(|record| record.key.as_str())
            .chain(self.keys.iter().map(String::as_str));
        let starts = std::iter::once(0).chain(ends.iter().map(|end| end + 1));
        keys.zip(starts.zip(ends))
            .map(|(key, (start, &end))| (key, &text[start..end]))
    }

    /// The store's value: the records as JSON lines.
    pub fn value(&self) -> Vec<u8> {
        self.encoded().text.clone()
    }

    pub fn len(&self) -> usize {
        self.records.len() + self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use waymark_core::ProfileId;
    use waymark_engine::RecordKind;

    fn record(key: &str, kind: RecordKind) -> Record {
        Record {
            version: 1,
            node: Some(Arc::from("hello")),
            reason: Some("line\nbreak inside a string".to_owned()),
            ..Record::new(
                key.to_owned(),
                waymark_core::parse_timestamp("2026-11-27T10:00:00Z").unwrap(),
                kind,
                ProfileId::from("p1"),
                Arc::from("welcome"),
                Arc::from("welcome:p1:1"),
            )
        }
    }

    #[test]
    fn a_record_batch_reads_back_from_its_stored_value_line_for_line() {
        let fresh = RecordBatch::new(vec![
            record("k1", RecordKind::Entered),
            record("k2", RecordKind::Send),
        ]);
        let lines: Vec<(String, Vec<u8>)> = fresh
            .lines()
            .map(|(k, json)| (k.to_owned(), json.to_vec()))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, "k1");
        let first: Record = serde_json::from_slice(&lines[0].1).unwrap();
        assert_eq!(first, record("k1", RecordKind::Entered));
        let value = fresh.value();
        assert_eq!(
            value.iter().filter(|b| **b == b'\n').count(),
            2,
            "JSON lines"
        );

        let keys = lines.iter().map(|(k, _)| k.clone()).collect();
        let stored = RecordBatch::stored(value, keys);
        assert_eq!(stored.len(), 2);
        let again: Vec<(String, Vec<u8>)> = stored
            .lines()
            .map(|(k, json)| (k.to_owned(), json.to_vec()))
            .collect();
        assert_eq!(again, lines);
    }
}
