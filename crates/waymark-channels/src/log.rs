//! The development channel: deliveries as JSON lines in a file, each
//! idempotency key written once, even across crashes and restarts.

use parking_lot::Mutex;
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::delivery::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};

/// Opens a JSON-lines file for appending (creating it and its folder),
/// first handing each complete line already in it, parsed, to `each`
/// (lines that are not JSON are skipped) and cutting a last line torn by a
/// crash.
pub fn reopen_jsonl(path: &Path, mut each: impl FnMut(&Value)) -> std::io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut complete_bytes = 0u64;
    if let Ok(existing) = File::open(path) {
        let mut reader = BufReader::new(existing);
        let mut line = String::new();
        while reader.read_line(&mut line)? > 0 {
            if !line.ends_with('\n') {
                break; // a line torn by a crash: cut below
            }
            complete_bytes += line.len() as u64;
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                each(&value);
            }
            line.clear();
        }
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    file.set_len(complete_bytes)?;
    Ok(file)
}

/// Writes each delivery as one JSON line (synced to disk by [`Deliver::sync`],
/// once per delivery round). On open it reads the keys already in the file
/// (ignoring a torn last line), so a delivery retried after a crash is
/// recognised and not written again.
#[derive(Debug)]
pub struct LogChannel {
    path: PathBuf,
    inner: Mutex<LogFile>,
}

#[derive(Debug)]
struct LogFile {
    file: File,
    keys: HashSet<String>,
}

impl LogChannel {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let mut keys = HashSet::new();
        let file = reopen_jsonl(path, |line| {
            if let Some(key) = line["key"].as_str() {
                keys.insert(key.to_owned());
            }
        })?;
        Ok(LogChannel {
            path: path.to_owned(),
            inner: Mutex::new(LogFile { file, keys }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, delivery: &Delivery) -> Result<Receipt, DeliveryError> {
        let mut log = self.inner.lock();
        if log.keys.contains(&delivery.key) {
            return Ok(Receipt {
                provider_id: None,
                duplicate: true,
            });
        }
        let mut line = serde_json::to_string(delivery).map_err(|e| DeliveryError::Permanent {
            reason: e.to_string(),
        })?;
        line.push('\n');
        let transient = |e: std::io::Error| DeliveryError::Transient {
            reason: e.to_string(),
            retry_after: None,
        };
        log.file.write_all(line.as_bytes()).map_err(transient)?;
        log.keys.insert(delivery.key.clone());
        Ok(Receipt {
            provider_id: Some(delivery.key.clone()),
            duplicate: false,
        })
    }
}

impl Deliver for LogChannel {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a> {
        Box::pin(async move { self.write(delivery) })
    }

    fn sync(&self) -> Result<(), DeliveryError> {
        let log = self.inner.lock();
        log.file.sync_data().map_err(|e| DeliveryError::Transient {
            reason: e.to_string(),
            retry_after: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_core::{Channel, ProfileId, parse_timestamp};

    fn delivery(key: &str) -> Delivery {
        Delivery {
            key: key.to_owned(),
            channel: Channel::Email,
            profile: ProfileId::from("p1"),
            user_id: Some("u1".into()),
            to: Some("u1@example.com".into()),
            template: "welcome".into(),
            journey: "j".into(),
            node: "n".into(),
            trigger: Default::default(),
            decided_at: parse_timestamp("2026-01-01T00:00:00Z").unwrap(),
            anonymous_id: None,
            content: serde_json::Map::new(),
            sent_at: None,
            unsubscribe_url: None,
            topic: None,
        }
    }

    #[tokio::test]
    async fn each_key_is_written_once_even_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deliveries.jsonl");
        let log = LogChannel::open(&path).unwrap();
        assert!(!log.deliver(&delivery("k1")).await.unwrap().duplicate);
        assert!(log.deliver(&delivery("k1")).await.unwrap().duplicate);
        drop(log);
        // A crash tore the last line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"key\":\"k2\",\"chan")
            .unwrap();
        let log = LogChannel::open(&path).unwrap();
        assert!(log.deliver(&delivery("k1")).await.unwrap().duplicate);
        assert!(!log.deliver(&delivery("k2")).await.unwrap().duplicate);
        let text = std::fs::read_to_string(&path).unwrap();
        let keys: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["key"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(keys, ["k1", "k2"]);
    }
}
