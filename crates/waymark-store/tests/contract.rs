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
