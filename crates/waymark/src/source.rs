//! Reading Segment events from JSONL (a file or stdin), in batches, with
//! refused lines written to a rejects file, never dropped silently.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use serde_json::json;
use waymark_core::{Arrival, Event};

use crate::runtime::IngestReport;

/// A line of a JSONL text that is not a valid event: its number (from 1),
/// its text and why.
pub type RefusedLine<'a> = (usize, &'a str, waymark_core::EventError);

/// Every event of a whole JSONL text, sorted by timestamp (file order for
/// ties), each with its line number (from 1); and the refused lines. Blank
/// lines are skipped.
pub fn read_all(jsonl: &str) -> (Vec<(usize, Event)>, Vec<RefusedLine<'_>>) {
    let mut events = Vec::new();
    let mut refused = Vec::new();
    for (i, line) in jsonl
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match Event::from_json_str(line) {
            Ok(event) => events.push((i + 1, event)),
            Err(e) => refused.push((i + 1, line, e)),
        }
    }
    events.sort_by_key(|(_, e)| e.timestamp); // stable
    (events, refused)
}

/// One batch read from the source.
#[derive(Debug, Default)]
pub struct LineBatch {
    pub events: Vec<Event>,
    /// (line number, reason, the line as read).
    pub rejects: Vec<(u64, String, String)>,
    /// The number of lines consumed before this batch.
    pub start: u64,
    /// The number of lines consumed after this batch (the offset to commit).
    pub end: u64,
}

impl LineBatch {
    /// Whether the batch carries nothing (no line arrived in time).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// What the reading thread hands over.
#[derive(Debug)]
enum Read {
    Line(std::io::Result<Vec<u8>>),
    /// The input ended.
    End,
    /// A [`ReaderWake`]: return from waiting at once.
    Wake,
}

/// Reads JSON lines on a thread of its own, counting them (so a restart
/// can skip what was committed), and hands them out in batches bounded by
/// size and by time: a slow source (stdin, a pipe) never holds events back
/// for long waiting for a full batch, and an idle one waits without
/// polling until a line arrives or it is woken.
#[derive(Debug)]
pub struct JsonlReader {
    lines: Receiver<Read>,
    wake: SyncSender<Read>,
    line: u64,
    /// How far ahead of the time it is read a line may be dated.
    max_clock_skew: chrono::TimeDelta,
}

/// Makes a [`JsonlReader`] waiting for its next line return at once (an
/// empty batch), so its caller can stop.
#[derive(Debug, Clone)]
pub struct ReaderWake(SyncSender<Read>);

impl ReaderWake {
    pub fn wake(&self) {
        // A full channel has lines to read: the reader is not waiting.
        let _ = self.0.try_send(Read::Wake);
    }
}

impl JsonlReader {
    /// Starts reading `reader` after its first `skip` lines.
    pub fn spawn<R: BufRead + Send + 'static>(mut reader: R, skip: u64) -> Self {
        let (sender, lines) = sync_channel(4096);
        let wake = sender.clone();
        std::thread::spawn(move || {
            let mut skipped = 0;
            loop {
                let mut buffer = Vec::new();
                match reader.read_until(b'\n', &mut buffer) {
                    Ok(0) => {
                        let _ = sender.send(Read::End);
                        return;
                    }
                    Ok(_) if skipped < skip => skipped += 1,
                    Ok(_) => {
                        if sender.send(Read::Line(Ok(buffer))).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = sender.send(Read::Line(Err(e)));
                        return;
                    }
                }
            }
        });
        JsonlReader {
            lines,
            wake,
            line: skip,
            max_clock_skew: Arrival::DEFAULT_MAX_CLOCK_SKEW,
        }
    }

    /// How far ahead of the time it is read an event may be dated before
    /// it is placed at that time ([`Arrival`]; default ten minutes).
    pub fn max_clock_skew(mut self, skew: chrono::TimeDelta) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// A handle that wakes this reader while it waits for a line.
    pub fn waker(&self) -> ReaderWake {
        ReaderWake(self.wake.clone())
    }

    /// Up to `max` lines, gathered for at most `wait` after the first one,
    /// which it waits for as long as it takes. An empty batch when woken
    /// ([`ReaderWake`]) before a line came; `None` at the end of the input.
    pub fn next_batch(&mut self, max: usize, wait: Duration) -> std::io::Result<Option<LineBatch>> {
        let mut batch = LineBatch {
            start: self.line,
            end: self.line,
            ..LineBatch::default()
        };
        let first = match self.lines.recv() {
            Ok(Read::Line(line)) => line?,
            Ok(Read::Wake) => return Ok(Some(batch)),
            Ok(Read::End) | Err(_) => return Ok(None),
        };
        let deadline = Instant::now() + wait;
        self.take(first, &mut batch);
        while self.count(&batch) < max.max(1) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(Read::Line(line)) => {
                    let line = line?;
                    self.take(line, &mut batch);
                }
                Ok(Read::Wake) => {}
                // The end is met again by the next call.
                Ok(Read::End) => {
                    let _ = self.wake.try_send(Read::End);
                    break;
                }
                Err(_) => break,
            }
        }
        Ok(Some(batch))
    }

    fn count(&self, batch: &LineBatch) -> usize {
        (self.line - batch.start) as usize
    }

    /// Parses one raw line into the batch.
    fn take(&mut self, raw: Vec<u8>, batch: &mut LineBatch) {
        self.line += 1;
        batch.end = self.line;
        let text = match std::str::from_utf8(&raw) {
            Ok(text) => text.trim_end_matches(['\n', '\r']),
            Err(e) => {
                let reason = format!("not UTF-8: {e}");
                batch.rejects.push((
                    self.line,
                    reason,
                    String::from_utf8_lossy(&raw).into_owned(),
                ));
                return;
            }
        };
        if text.trim().is_empty() {
            return;
        }
        // The receive time of a line is when it is read (its own
        // `receivedAt`, if it has one, comes first).
        let arrival = Arrival::at(chrono::Utc::now(), self.max_clock_skew);
        match Event::from_json_str_arrived(text, &arrival) {
            Ok(event) => batch.events.push(event),
            Err(e) => batch
                .rejects
                .push((self.line, e.to_string(), text.to_owned())),
        }
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
        let mut lines = HashSet::new();
        let file = waymark_channels::reopen_jsonl(path, |reject| {
            if let Some(n) = reject["line"].as_u64() {
                lines.insert(n);
            }
        })?;
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

/// What a source counts as it goes (the worker's progress line and
/// `/metrics` read it).
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub events: AtomicU64,
    pub rejected: AtomicU64,
    pub duplicates: AtomicU64,
    pub replayed: AtomicU64,
}

impl SourceCounters {
    /// Counts a decided batch: what the runtime processed and skipped,
    /// and `refused` events the source turned away before it.
    pub fn count(&self, report: &IngestReport, refused: usize) {
        self.events
            .fetch_add(report.processed as u64, Ordering::Relaxed);
        self.duplicates
            .fetch_add(report.duplicates as u64, Ordering::Relaxed);
        self.rejected
            .fetch_add((refused + report.unresolvable) as u64, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_count_lines_and_refuse_bad_ones_with_their_number() {
        let input = b"{\"type\":\"track\",\"messageId\":\"1\",\"userId\":\"u\",\"event\":\"A\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\nnot json\n\n\xff\xfe\n{\"type\":\"track\",\"messageId\":\"2\",\"userId\":\"u\",\"event\":\"B\",\"timestamp\":\"2026-01-01T00:00:00Z\"}";
        let wait = Duration::from_millis(200);
        let mut reader = JsonlReader::spawn(std::io::Cursor::new(input.to_vec()), 0);
        let batch = reader.next_batch(3, wait).unwrap().unwrap();
        assert_eq!((batch.events.len(), batch.end), (1, 3));
        assert_eq!(batch.rejects[0].0, 2);
        assert!(batch.rejects[0].1.contains("not valid JSON"));
        let batch = reader.next_batch(3, wait).unwrap().unwrap();
        assert_eq!(batch.rejects[0].0, 4);
        assert!(batch.rejects[0].1.contains("not UTF-8"));
        assert_eq!(
            batch.events[0].message_id, "2",
            "a last line without a newline still counts"
        );
        assert!(reader.next_batch(3, wait).unwrap().is_none());
        // Resuming skips what was consumed.
        let mut resumed = JsonlReader::spawn(std::io::Cursor::new(input.to_vec()), 3);
        let batch = resumed.next_batch(10, wait).unwrap().unwrap();
        assert_eq!((batch.start, batch.end), (3, 5));
        assert_eq!(batch.events[0].message_id, "2");
    }

    #[test]
    fn a_slow_source_is_batched_by_time() {
        // A pipe whose writer sends one line and then waits.
        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut source = JsonlReader::spawn(std::io::BufReader::new(reader), 0);
        let wait = Duration::from_millis(30);
        // No line yet: it waits (no polling) until woken, then hands out
        // an empty batch.
        let waker = source.waker();
        let started = std::time::Instant::now();
        let woken = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            waker.wake();
        });
        let nothing = source.next_batch(1000, wait).unwrap().unwrap();
        assert!(nothing.is_empty(), "woken before a line: an empty batch");
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "it waited for the wake, not for `wait`: {:?}",
            started.elapsed()
        );
        woken.join().unwrap();
        writer
            .write_all(b"{\"type\":\"track\",\"messageId\":\"1\",\"userId\":\"u\",\"event\":\"A\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n")
            .unwrap();
        let one = source.next_batch(1000, wait).unwrap().unwrap();
        assert_eq!(
            one.events.len(),
            1,
            "the line goes out without waiting for 999 more"
        );
        drop(writer);
        assert!(source.next_batch(1000, wait).unwrap().is_none());
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
