//! The `Store` contract, checked against every implementation: the
//! in-memory store and fjall on a real disk.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use waymark_core::parse_timestamp;
use waymark_store::{Batch, FjallStore, MemoryStore, Space, Store, keys};

fn contract(store: &dyn Store) {
    // A batch lands whole.
    let mut batch = Batch::new();
    batch.put(Space::Profiles, "p1", "one");
    batch.put(Space::Profiles, "p2", "two");
    batch.put(Space::Meta, "offset", "10");
    store.commit(batch).unwrap();
    assert_eq!(
        store.get(Space::Profiles, b"p1").unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert_eq!(
        store.get(Space::Meta, b"offset").unwrap().as_deref(),
        Some(&b"10"[..])
    );
    // Keyspaces are separate.
    assert_eq!(store.get(Space::Meta, b"p1").unwrap(), None);

    // Puts and deletes in one batch; later ops win.
    let mut batch = Batch::new();
    batch.delete(Space::Profiles, "p1");
    batch.put(Space::Profiles, "p3", "three");
    batch.put(Space::Profiles, "p3", "three again");
    store.commit(batch).unwrap();
    assert_eq!(store.get(Space::Profiles, b"p1").unwrap(), None);
    assert_eq!(
        store.get(Space::Profiles, b"p3").unwrap().as_deref(),
        Some(&b"three again"[..])
    );

    // Scans are by prefix, in key order; ranges are half-open and limited.
    let t = |s| parse_timestamp(s).unwrap();
    let mut batch = Batch::new();
    batch.put(
        Space::Timers,
        keys::timer(t("2026-01-02T00:00:00Z"), "i2", 1),
        "b",
    );
    batch.put(
        Space::Timers,
        keys::timer(t("2026-01-01T00:00:00Z"), "i1", 1),
        "a",
    );
    batch.put(
        Space::Timers,
        keys::timer(t("2026-01-03T00:00:00Z"), "i3", 1),
        "c",
    );
    store.commit(batch).unwrap();
    let all: Vec<Vec<u8>> = store
        .scan(Space::Timers, b"")
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(all, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let due = store
        .range(
            Space::Timers,
            &keys::time(t("1970-01-01T00:00:00Z")),
            &keys::time(t("2026-01-02T00:00:00Z")),
            10,
        )
        .unwrap();
    assert_eq!(
        due.len(),
        1,
        "half-open: the timer at the end bound is not included"
    );
    assert_eq!(
        store
            .range(Space::Timers, b"", &[0xff; 9], 2)
            .unwrap()
            .len(),
        2,
        "limited"
    );
    let profiles = store.scan(Space::Profiles, b"p").unwrap();
    assert_eq!(
        profiles
            .iter()
            .map(|(k, _)| k.as_slice())
            .collect::<Vec<_>>(),
        [&b"p2"[..], &b"p3"[..]]
    );
    store.commit(Batch::new()).unwrap();

    // Several keys read at once come back in the order asked, missing
    // ones as None (also a key asked twice).
    assert_eq!(
        store
            .get_many(Space::Profiles, &[b"p3", b"nobody", b"p2", b"p3"])
            .unwrap(),
        [
            Some(b"three again".to_vec()),
            None,
            Some(b"two".to_vec()),
            Some(b"three again".to_vec())
        ]
    );
    assert!(store.get_many(Space::Profiles, &[]).unwrap().is_empty());

    // An unsynced batch is applied at once and whole; a later synced
    // commit makes it durable with itself.
    let mut batch = Batch::new();
    batch.delete(Space::Profiles, "p2");
    batch.put(Space::Outbox, "o1", "sent");
    store.commit_unsynced(batch).unwrap();
    assert_eq!(store.get(Space::Profiles, b"p2").unwrap(), None);
    assert_eq!(
        store.get(Space::Outbox, b"o1").unwrap().as_deref(),
        Some(&b"sent"[..])
    );
    let mut batch = Batch::new();
    batch.put(Space::Meta, "after", "1");
    store.commit(batch).unwrap();
}

#[test]
fn memory_store_keeps_the_contract() {
    contract(&MemoryStore::new());
}

#[test]
fn fjall_store_keeps_the_contract_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = FjallStore::open(dir.path()).unwrap();
        contract(&store);
    }
    let store = FjallStore::open(dir.path()).unwrap();
    assert_eq!(
        store.get(Space::Profiles, b"p3").unwrap().as_deref(),
        Some(&b"three again"[..])
    );
    assert_eq!(store.get(Space::Profiles, b"p1").unwrap(), None);
    assert_eq!(store.scan(Space::Timers, b"").unwrap().len(), 3);
    // The unsynced batch, made durable by the synced one after it.
    assert_eq!(store.get(Space::Profiles, b"p2").unwrap(), None);
    assert_eq!(
        store.get(Space::Outbox, b"o1").unwrap().as_deref(),
        Some(&b"sent"[..])
    );
}

/// A process killed while fjall creates the database leaves the lock, the
/// first journal and an empty `keyspaces` folder, without the version
/// marker. Opening again starts afresh instead of failing on "File exists".
#[test]
fn fjall_store_opens_after_a_creation_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    // What a finished creation writes first, minus the marker.
    drop(FjallStore::open(&path).unwrap());
    for entry in std::fs::read_dir(&path).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "lock" && entry.file_name() != "0.jnl" {
            if entry.path().is_dir() {
                std::fs::remove_dir_all(entry.path()).unwrap();
            } else {
                std::fs::remove_file(entry.path()).unwrap();
            }
        }
    }
    std::fs::create_dir(path.join("keyspaces")).unwrap();

    let store = FjallStore::open(&path).unwrap();
    let mut batch = Batch::new();
    batch.put(Space::Meta, "k", "v");
    store.commit(batch).unwrap();
    drop(store);
    let store = FjallStore::open(&path).unwrap();
    assert_eq!(
        store.get(Space::Meta, b"k").unwrap().as_deref(),
        Some(&b"v"[..])
    );
}

/// A folder that holds something else is refused, untouched.
#[test]
fn fjall_store_refuses_a_folder_that_is_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    std::fs::write(dir.path().join("0.jnl"), "").unwrap();
    let error = FjallStore::open(dir.path()).unwrap_err().to_string();
    assert!(error.contains("notes.txt"), "{error}");
    assert!(dir.path().join("notes.txt").exists());
    assert!(dir.path().join("0.jnl").exists());
}

/// The contract on the local PostgreSQL (`WAYMARK_POSTGRES_URL`, default
/// `postgres://postgres@127.0.0.1:5432/test`), each test in a schema of
/// its own, dropped at the end.
#[cfg(feature = "postgres")]
mod postgres {
    use super::contract;
    use waymark_store::{Batch, PostgresConfig, PostgresStore, Space, Store};

    fn url() -> String {
        std::env::var("WAYMARK_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
    }

    fn names(partitions: &[&str]) -> Vec<String> {
        partitions.iter().map(|p| (*p).to_owned()).collect()
    }

    /// A fresh schema, dropped when the guard is.
    struct Schema(String);

    impl Schema {
        fn new(test: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            Schema(format!("t_{test}_{}_{nanos}", std::process::id()))
        }

        fn config(&self) -> PostgresConfig {
            PostgresConfig {
                url: url(),
                schema: self.0.clone(),
                pool_size: 4,
            }
        }
    }

    impl Drop for Schema {
        fn drop(&mut self) {
            let _ = std::process::Command::new("psql")
                .args([
                    &url(),
                    "-qc",
                    &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0),
                ])
                .output();
        }
    }

    /// Two workers on one store: the one that claimed a partition last
    /// writes for it; the other, fenced by its older epoch, writes nothing
    /// of a batch that touches it (the whole batch is refused).
    #[test]
    fn a_worker_that_lost_a_partition_cannot_write_for_it() {
        let schema = Schema::new("fence");
        let first = PostgresStore::open(&schema.config()).unwrap();
        let second = PostgresStore::open(&schema.config()).unwrap();
        assert_eq!(
            first
                .claim("worker-1", &names(&["events:0", "events:1"]))
                .unwrap(),
            [("events:0".to_owned(), 1), ("events:1".to_owned(), 1)]
        );
        let batch = |key: &str, fences: &[(&str, i64)]| {
            let mut batch = Batch::new();
            batch.put(Space::Profiles, key, "v");
            for (partition, epoch) in fences {
                batch.fence(*partition, *epoch);
            }
            batch
        };
        first
            .commit(batch("a", &[("events:0", 1), ("events:1", 1)]))
            .unwrap();
        // The second worker takes partition 0 over (a rebalance).
        assert_eq!(
            second.claim("worker-2", &names(&["events:0"])).unwrap(),
            [("events:0".to_owned(), 2)]
        );
        // Asked before it delivers, the store says the first lost 0.
        match first.check_fences(&[("events:0".to_owned(), 1), ("events:1".to_owned(), 1)]) {
            Err(waymark_store::Error::Fenced { partitions }) => {
                assert_eq!(partitions, ["events:0"]);
            }
            other => panic!("not fenced: {other:?}"),
        }
        second.check_fences(&[("events:0".to_owned(), 2)]).unwrap();
        // The first, not yet told, tries to write for 0 and 1: refused
        // whole, naming the partition it lost.
        let refused = first.commit(batch("b", &[("events:0", 1), ("events:1", 1)]));
        match refused {
            Err(waymark_store::Error::Fenced { partitions }) => {
                assert_eq!(partitions, ["events:0"]);
            }
            other => panic!("not fenced: {other:?}"),
        }
        assert_eq!(first.get(Space::Profiles, b"b").unwrap(), None);
        // What it still owns, it may write; the new owner writes for 0.
        first.commit(batch("c", &[("events:1", 1)])).unwrap();
        second.commit(batch("d", &[("events:0", 2)])).unwrap();
        // A partition nobody claimed fences every writer out.
        assert!(first.commit(batch("e", &[("events:9", 1)])).is_err());
        // Unsynced commits are fenced alike.
        assert!(
            first
                .commit_unsynced(batch("f", &[("events:0", 1)]))
                .is_err()
        );
        for (key, written) in [("c", true), ("d", true), ("e", false), ("f", false)] {
            assert_eq!(
                first
                    .get(Space::Profiles, key.as_bytes())
                    .unwrap()
                    .is_some(),
                written,
                "{key}"
            );
        }
    }

    /// Two workers on one store get different slots, and lock people all
    /// or none: a lock one holds, the other cannot take until it is given
    /// back as often as it was taken.
    #[test]
    fn workers_get_their_own_slots_and_lock_people_all_or_none() {
        let schema = Schema::new("locks");
        let first = PostgresStore::open(&schema.config()).unwrap();
        let second = PostgresStore::open(&schema.config()).unwrap();
        let (a, b) = (first.slot().unwrap(), second.slot().unwrap());
        assert!(a > 0 && b > 0 && a != b, "slots {a} and {b}");
        assert!(first.try_lock(&[2, 3]).unwrap());
        // Counted: taken again by the same worker, held until both go.
        assert!(first.try_lock(&[3]).unwrap());
        // All or none: 1 is free but 3 is not, so the second takes nothing.
        assert!(!second.try_lock(&[1, 3]).unwrap());
        assert!(first.try_lock(&[1]).unwrap(), "1 was left taken");
        first.unlock(&[1]).unwrap();
        first.unlock(&[2, 3]).unwrap();
        assert!(!second.try_lock(&[3]).unwrap(), "3 is still held once");
        assert!(second.try_lock(&[2]).unwrap());
        first.unlock(&[3]).unwrap();
        assert!(second.try_lock(&[1, 3]).unwrap());
        // A worker that goes away gives its locks back with its connection.
        drop(second);
        assert!(first.try_lock(&[1, 2, 3]).unwrap());
    }

    #[test]
    fn postgres_store_keeps_the_contract_and_survives_reopening() {
        let schema = Schema::new("contract");
        {
            let store = PostgresStore::open(&schema.config()).unwrap();
            contract(&store);
        }
        let store = PostgresStore::open(&schema.config()).unwrap();
        assert_eq!(
            store.get(Space::Profiles, b"p3").unwrap().as_deref(),
            Some(&b"three again"[..])
        );
        assert_eq!(store.scan(Space::Timers, b"").unwrap().len(), 3);
        assert_eq!(
            store.get(Space::Outbox, b"o1").unwrap().as_deref(),
            Some(&b"sent"[..])
        );
    }

    /// Workers starting together migrate once, and all open.
    #[test]
    fn stores_opened_at_once_migrate_once() {
        let schema = Schema::new("migrate");
        let config = schema.config();
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let config = config.clone();
                std::thread::spawn(move || PostgresStore::open(&config).map(|_| ()))
            })
            .collect();
        for handle in opened {
            handle.join().unwrap().unwrap();
        }
        let output = std::process::Command::new("psql")
            .args([
                &url(),
                "-tAc",
                &format!("SELECT count(*) FROM {}.waymark_migrations", schema.0),
            ])
            .output()
            .unwrap();
        // Each migration once (V1 key/values, V2 partition owners, V3
        // slots and locks).
        assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "3");
    }

    /// Keys with every byte value, and large batches, round-trip in key order.
    #[test]
    fn keys_are_bytes_in_byte_order() {
        let schema = Schema::new("bytes");
        let store = PostgresStore::open(&schema.config()).unwrap();
        let mut batch = Batch::new();
        for i in (0..=255u8).rev() {
            batch.put(Space::Messages, vec![0, i, 0xff], vec![i; 3]);
        }
        // Keys after the prefix's range, which a scan of it must not return.
        batch.put(Space::Messages, vec![1], b"after".to_vec());
        batch.put(Space::Messages, vec![0xff, 0xff], b"last".to_vec());
        for i in 0..5_000u32 {
            batch.put(Space::Records, i.to_be_bytes().to_vec(), b"r".to_vec());
        }
        store.commit(batch).unwrap();
        let keys: Vec<Vec<u8>> = store
            .scan(Space::Messages, &[0])
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let expected: Vec<Vec<u8>> = (0..=255u8).map(|i| vec![0, i, 0xff]).collect();
        assert_eq!(keys, expected);
        assert_eq!(store.scan(Space::Messages, &[0, 0xff]).unwrap().len(), 1);
        assert_eq!(store.scan(Space::Messages, &[0xff]).unwrap().len(), 1);
        assert_eq!(store.scan(Space::Messages, b"").unwrap().len(), 258);
        assert_eq!(store.scan(Space::Records, b"").unwrap().len(), 5_000);
    }

    #[test]
    fn a_bad_address_is_refused_without_its_password() {
        let config = PostgresConfig {
            url: "postgres://me:hunter2@127.0.0.1:1/none".to_owned(),
            schema: "waymark".to_owned(),
            pool_size: 1,
        };
        let error = PostgresStore::open(&config).unwrap_err().to_string();
        assert!(error.contains("postgres://me@127.0.0.1:1/none"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let bad_schema = PostgresConfig {
            schema: "x; DROP TABLE y".to_owned(),
            ..PostgresConfig::default()
        };
        assert!(PostgresStore::open(&bad_schema).is_err());
    }
}
