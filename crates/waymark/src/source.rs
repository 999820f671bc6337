//! Reading Segment events from JSONL (a file or stdin), in batches, with
//! refused lines written to a rejects file, never dropped silently.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::json;
use waymark_core::Event;

/// One batch read from the source.
#[derive(Debug, Default)]
pub struct LineBatch {
    pub events: Vec<Event>,
    /// (line number, reason, the line as read).
    pub rejects: Vec<(u64, String, String)>,
    /// The number of lines consumed after this batch (the offset to commit).
    pub end: u64,
}

/// Reads JSON lines, counting them, so that a restart can skip what was
/// committed.
#[derive(Debug)]
pub struct JsonlReader<R> {
    reader: R,
    line: u64,
    buffer: Vec<u8>,
}

impl<R: BufRead> JsonlReader<R> {
    /// A reader positioned after the first `skip` lines.
    pub fn new(mut reader: R, skip: u64) -> std::io::Result<Self> {
        let mut buffer = Vec::new();
        let mut line = 0;
        while line < skip {
            buffer.clear();
            if reader.read_until(b'\n', &mut buffer)? == 0 {
                break;
            }
            line += 1;
        }
        Ok(JsonlReader {
            reader,
            line,
            buffer,
        })
    }

    /// Up to `max` lines; `None` at the end of the input.
    pub fn next_batch(&mut self, max: usize) -> std::io::Result<Option<LineBatch>> {
        let mut batch = LineBatch::default();
        let mut read = 0;
        while read < max.max(1) {
            self.buffer.clear();
            if self.reader.read_until(b'\n', &mut self.buffer)? == 0 {
                break;
            }
            self.line += 1;
            read += 1;
            let raw = &self.buffer[..];
            let text = match std::str::from_utf8(raw) {
                Ok(text) => text.trim_end_matches(['\n', '\r']),
                Err(e) => {
                    let reason = format!("not UTF-8: {e}");
                    batch.rejects.push((
                        self.line,
                        reason,
                        String::from_utf8_lossy(raw).into_owned(),
                    ));
                    continue;
                }
            };
            if text.trim().is_empty() {
                continue;
            }
            match Event::from_json_str(text) {
                Ok(event) => batch.events.push(event),
                Err(e) => batch
                    .rejects
                    .push((self.line, e.to_string(), text.to_owned())),
            }
        }
        batch.end = self.line;
        Ok((read > 0).then_some(batch))
    }
}

/// The rejects file: one JSON line per refused input line, each line number
/// once (a batch re-read after a crash does not repeat its rejects).
#[derive(Debug)]
pub struct Rejects {
    path: PathBuf,
    file: File,
    lines: HashSet<u64>,
}

impl Rejects {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let mut lines = HashSet::new();
        let mut complete = 0u64;
        if let Ok(existing) = File::open(path) {
            let mut reader = BufReader::new(existing);
            let mut text = String::new();
            while reader.read_line(&mut text)? > 0 {
                if !text.ends_with('\n') {
                    break;
                }
                complete += text.len() as u64;
                if let Some(n) = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["line"].as_u64())
                {
                    lines.insert(n);
                }
                text.clear();
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        file.set_len(complete)?;
        Ok(Rejects {
            path: path.to_owned(),
            file,
            lines,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a refused line (once per line number) and syncs it.
    pub fn record(
        &mut self,
        source: &str,
        line: u64,
        reason: &str,
        raw: &str,
    ) -> std::io::Result<()> {
        if !self.lines.insert(line) {
            return Ok(());
        }
        let mut text =
            json!({ "source": source, "line": line, "reason": reason, "raw": raw }).to_string();
        text.push('\n');
        self.file.write_all(text.as_bytes())?;
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_count_lines_and_refuse_bad_ones_with_their_number() {
        let input = b"{\"type\":\"track\",\"messageId\":\"1\",\"userId\":\"u\",\"event\":\"A\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\nnot json\n\n\xff\xfe\n{\"type\":\"track\",\"messageId\":\"2\",\"userId\":\"u\",\"event\":\"B\",\"timestamp\":\"2026-01-01T00:00:00Z\"}";
        let mut reader = JsonlReader::new(&input[..], 0).unwrap();
        let batch = reader.next_batch(3).unwrap().unwrap();
        assert_eq!((batch.events.len(), batch.end), (1, 3));
        assert_eq!(batch.rejects[0].0, 2);
        assert!(batch.rejects[0].1.contains("not valid JSON"));
        let batch = reader.next_batch(3).unwrap().unwrap();
        assert_eq!(batch.rejects[0].0, 4);
        assert!(batch.rejects[0].1.contains("not UTF-8"));
        assert_eq!(
            batch.events[0].message_id, "2",
            "a last line without a newline still counts"
        );
        assert!(reader.next_batch(3).unwrap().is_none());
        // Resuming skips what was consumed.
        let mut resumed = JsonlReader::new(&input[..], 3).unwrap();
        assert_eq!(
            resumed.next_batch(10).unwrap().unwrap().events[0].message_id,
            "2"
        );
    }

    #[test]
    fn rejects_are_written_once_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rejects.jsonl");
        let mut rejects = Rejects::open(&path).unwrap();
        rejects
            .record("file", 7, "field `type`: is required", "{}")
            .unwrap();
        drop(rejects);
        let mut rejects = Rejects::open(&path).unwrap();
        rejects
            .record("file", 7, "field `type`: is required", "{}")
            .unwrap();
        rejects.record("file", 9, "not valid JSON", "x").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains("\"line\":7") && text.contains("\"line\":9"));
    }
}
