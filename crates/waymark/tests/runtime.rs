//! The durable runtime on the real fjall store: restarts, timers, the
//! outbox, retries, duplicates, merges.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::path::Path;
use std::sync::Arc;

use waymark::runtime::{ManualClock, RuntimeOptions, Waymark};
use waymark_channels::{DeliveryError, MemoryChannel};
use waymark_core::{Event, parse_timestamp};
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

const JOURNEY: &str = r#"
id: welcome
entry: { event: Signed Up }
nodes:
  - { id: hello, type: send, channel: email, template: t, next: later }
  - { id: later, type: wait, duration: 1h, next: again }
  - { id: again, type: send, channel: email, template: t2 }
"#;

fn runtime(dir: &Path, clock: &Arc<ManualClock>, channel: &Arc<MemoryChannel>) -> Waymark {
    welcome(Arc::new(FjallStore::open(dir).unwrap()), clock, channel)
        .build()
        .unwrap()
}

/// The runtime of these tests (the welcome journey, the manual clock, the
/// memory channel) on `store`, to build.
fn welcome(
    store: Arc<dyn waymark_store::Store>,
    clock: &Arc<ManualClock>,
    channel: &Arc<MemoryChannel>,
) -> waymark::runtime::WaymarkBuilder {
    Waymark::builder()
        .store(store)
        .journeys([parse_journey(Path::new("welcome.yaml"), JOURNEY).unwrap()])
        .clock(clock.clone())
        .default_channel(channel.clone())
        .options(RuntimeOptions {
            base_backoff: std::time::Duration::from_secs(10),
            ..RuntimeOptions::default()
        })
}

fn event(line: &str) -> Event {
    Event::from_json_str(line).unwrap()
}

fn signed_up(user: &str, id: &str) -> Vec<Event> {
    vec![
        event(&format!(
            r#"{{"type":"identify","messageId":"i-{id}","userId":"{user}","traits":{{"email":"{user}@example.com"}},"timestamp":"2026-10-01T09:00:00Z"}}"#
        )),
        event(&format!(
            r#"{{"type":"track","messageId":"{id}","userId":"{user}","event":"Signed Up","timestamp":"2026-10-01T09:00:00Z"}}"#
        )),
    ]
}

fn start() -> (tempfile::TempDir, Arc<ManualClock>, Arc<MemoryChannel>) {
    let clock = Arc::new(ManualClock::new(
        parse_timestamp("2026-10-01T10:00:00Z").unwrap(),
    ));
    (
        tempfile::tempdir().unwrap(),
        clock,
        Arc::new(MemoryChannel::new()),
    )
}

#[tokio::test]
async fn state_timers_and_outbox_survive_a_restart() {
    let (dir, clock, channel) = start();
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        let report = waymark
            .ingest_batch(&signed_up("ada", "e1"), Some(("file", 2)))
            .unwrap();
        assert_eq!(report.sends, 1);
        // Crash before delivering: the send waits in the outbox.
        assert_eq!(waymark.stats().outbox_pending, 1);
        assert_eq!(waymark.stats().timers_pending, 1);
    }
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(waymark.source_offset("file"), Some(2));
    assert_eq!(waymark.stats().instances_active, 1);
    assert_eq!(waymark.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(
        channel.delivered()[0].to.as_deref(),
        Some("ada@example.com")
    );

    // The wait ends while the process is down: the timer fires at once after
    // the restart, exactly once.
    drop(waymark);
    clock.advance(chrono::TimeDelta::hours(2));
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(waymark.fire_due_timers().unwrap(), 1);
    assert_eq!(waymark.fire_due_timers().unwrap(), 0);
    waymark.deliver_due().await.unwrap();
    drop(waymark);
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(
        waymark.fire_due_timers().unwrap(),
        0,
        "a fired timer is gone for good"
    );
    waymark.deliver_due().await.unwrap();
    let templates: Vec<String> = channel
        .delivered()
        .iter()
        .map(|d| d.template.clone())
        .collect();
    assert_eq!(templates, ["t", "t2"]);
    let stats = waymark.stats();
    assert_eq!(
        (
            stats.instances_active,
            stats.timers_pending,
            stats.outbox_pending
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn duplicate_events_change_nothing() {
    let (dir, clock, channel) = start();
    let waymark = runtime(dir.path(), &clock, &channel);
    waymark.ingest_batch(&signed_up("bo", "e2"), None).unwrap();
    let again = waymark.ingest_batch(&signed_up("bo", "e2"), None).unwrap();
    assert_eq!((again.duplicates, again.processed, again.sends), (2, 0, 0));
    drop(waymark);
    let waymark = runtime(dir.path(), &clock, &channel);
    let after_restart = waymark.ingest_batch(&signed_up("bo", "e2"), None).unwrap();
    assert_eq!(after_restart.duplicates, 2, "dedupe survives restarts");
    assert_eq!(waymark.stats().outbox_pending, 1);
}

#[tokio::test]
async fn transient_failures_retry_with_backoff_and_permanent_ones_fail() {
    let (dir, clock, channel) = start();
    let waymark = runtime(dir.path(), &clock, &channel);
    waymark.ingest_batch(&signed_up("cy", "e3"), None).unwrap();
    channel.fail_next(DeliveryError::Transient {
        reason: "503".into(),
        retry_after: None,
    });
    assert_eq!(waymark.deliver_due().await.unwrap().retried, 1);
    assert_eq!(
        waymark.deliver_due().await.unwrap(),
        Default::default(),
        "not due again before the backoff"
    );
    clock.advance(chrono::TimeDelta::seconds(30));
    assert_eq!(waymark.deliver_due().await.unwrap().delivered, 1);

    waymark.ingest_batch(&signed_up("di", "e4"), None).unwrap();
    channel.fail_next(DeliveryError::Permanent {
        reason: "550 no such mailbox".into(),
    });
    assert_eq!(waymark.deliver_due().await.unwrap().failed, 1);
    assert_eq!(waymark.stats().outbox_failed, 1);
    drop(waymark);
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(
        waymark.stats().outbox_failed,
        1,
        "failures are kept, with their reason, for `outbox retry`"
    );
    assert_eq!(waymark.retry_failed().unwrap(), 1);
    let stats = waymark.stats();
    assert_eq!((stats.outbox_failed, stats.outbox_pending), (0, 1));
    assert_eq!(waymark.deliver_due().await.unwrap().delivered, 1);
    assert_eq!(waymark.stats().outbox_pending, 0);
}

#[tokio::test]
async fn merges_persist() {
    let (dir, clock, channel) = start();
    let waymark = runtime(dir.path(), &clock, &channel);
    let anon = event(
        r#"{"type":"page","messageId":"p1","anonymousId":"a-9","timestamp":"2026-10-01T09:00:00Z"}"#,
    );
    let user = event(
        r#"{"type":"identify","messageId":"p2","userId":"u-9","timestamp":"2026-10-01T09:01:00Z"}"#,
    );
    let link = event(
        r#"{"type":"identify","messageId":"p3","userId":"u-9","anonymousId":"a-9","timestamp":"2026-10-01T09:02:00Z"}"#,
    );
    waymark.ingest_batch(&[anon, user, link], None).unwrap();
    assert_eq!(waymark.stats().profiles, 1);
    drop(waymark);
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(waymark.stats().profiles, 1);
    let late = event(
        r#"{"type":"track","messageId":"p4","anonymousId":"a-9","event":"Signed Up","timestamp":"2026-10-01T09:03:00Z"}"#,
    );
    waymark.ingest(&late).unwrap();
    assert_eq!(
        waymark.stats().profiles,
        1,
        "the anonymous id still resolves to the merged profile"
    );
}

#[tokio::test]
async fn message_ids_are_remembered_for_the_dedupe_window_only() {
    let (dir, clock, channel) = start();
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        waymark.ingest_batch(&signed_up("ed", "e5"), None).unwrap();
    }
    clock.advance(chrono::TimeDelta::days(6));
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        assert_eq!(
            waymark
                .ingest_batch(&signed_up("ed", "e5"), None)
                .unwrap()
                .duplicates,
            2,
            "inside the window"
        );
    }
    clock.advance(chrono::TimeDelta::days(2));
    let waymark = runtime(dir.path(), &clock, &channel);
    // Eight days after the first batch: its ids are forgotten (and swept from
    // the store); the second batch had none of its own to remember.
    assert_eq!(
        waymark
            .ingest_batch(&signed_up("ed", "e5"), None)
            .unwrap()
            .duplicates,
        0,
        "past the window"
    );
    drop(waymark);
    let store = FjallStore::open(dir.path()).unwrap();
    let batches = waymark_store::Store::scan(&store, waymark_store::Space::Messages, b"").unwrap();
    assert_eq!(batches.len(), 1, "only the latest batch of ids is kept");
}

#[tokio::test]
async fn a_staged_batch_is_decided_but_nothing_goes_out_until_it_is_durable() {
    let (dir, clock, channel) = start();
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        let (first, first_ticket) = waymark
            .stage_batch_at(&signed_up("cy", "e5"), &[("kafka:in:0", 2)])
            .unwrap();
        assert_eq!(first.sends, 1);
        // Later batches see the staged one's state (a duplicate is one).
        let (again, second_ticket) = waymark
            .stage_batch_at(&signed_up("cy", "e5"), &[("kafka:in:0", 4)])
            .unwrap();
        assert_eq!(again.duplicates, 2);
        assert!(second_ticket > first_ticket);
        assert_eq!(waymark.stats().outbox_pending, 1);
        assert_eq!(
            waymark.deliver_due().await.unwrap().delivered,
            0,
            "not durable yet: nothing is delivered"
        );
        assert!(channel.delivered().is_empty());
        // Crash before the store has it: nothing of it survives.
    }
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        assert_eq!(waymark.source_offset("kafka:in:0"), None);
        assert_eq!(waymark.stats().outbox_pending, 0);
        let (replayed, ticket) = waymark
            .stage_batch_at(&signed_up("cy", "e5"), &[("kafka:in:0", 2)])
            .unwrap();
        assert_eq!(replayed.sends, 1, "the replay decides it again");
        // Waiting for a later ticket writes the earlier ones first.
        let (_, later) = waymark.stage_batch_at(&[], &[("kafka:in:0", 3)]).unwrap();
        assert!(later > ticket);
        waymark.wait_durable(later).unwrap();
        waymark.wait_durable(ticket).unwrap();
        assert_eq!(waymark.deliver_due().await.unwrap().delivered, 1);
    }
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(waymark.source_offset("kafka:in:0"), Some(3));
    assert_eq!(channel.delivered().len(), 1, "delivered once in all");
    assert_eq!(waymark.stats().outbox_pending, 0);
}

/// A fjall store that counts synced commits and the writes they carry.
#[derive(Debug)]
struct Counting {
    inner: FjallStore,
    commits: std::sync::Mutex<Vec<usize>>,
}

impl waymark_store::Store for Counting {
    fn commit(&self, batch: waymark_store::Batch) -> Result<(), waymark_store::Error> {
        self.commits.lock().unwrap().push(batch.len());
        self.inner.commit(batch)
    }
    fn get(
        &self,
        space: waymark_store::Space,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, waymark_store::Error> {
        self.inner.get(space, key)
    }
    fn scan(
        &self,
        space: waymark_store::Space,
        prefix: &[u8],
    ) -> Result<Vec<waymark_store::Entry>, waymark_store::Error> {
        self.inner.scan(space, prefix)
    }
    fn range(
        &self,
        space: waymark_store::Space,
        from: &[u8],
        to: &[u8],
        limit: usize,
    ) -> Result<Vec<waymark_store::Entry>, waymark_store::Error> {
        self.inner.range(space, from, to, limit)
    }
}

#[tokio::test]
async fn batches_staged_meanwhile_are_written_in_one_commit_with_each_person_once() {
    let (dir, clock, channel) = start();
    {
        let store = Arc::new(Counting {
            inner: FjallStore::open(dir.path()).unwrap(),
            commits: std::sync::Mutex::new(Vec::new()),
        });
        let waymark = welcome(store.clone(), &clock, &channel).build().unwrap();
        let before = store.commits.lock().unwrap().len();
        // Three batches of one person while the committer is busy elsewhere.
        let (_, _) = waymark
            .stage_batch_at(&signed_up("kim", "e1"), &[("kafka:in:0", 2)])
            .unwrap();
        let (_, _) = waymark
            .stage_batch_at(&signed_up("lee", "e2"), &[("kafka:in:0", 4)])
            .unwrap();
        let (_, last) = waymark
            .stage_batch_at(
                &[event(
                    r#"{"type":"identify","messageId":"i-9","userId":"kim","traits":{"plan":"pro"},"timestamp":"2026-10-01T09:05:00Z"}"#,
                )],
                &[("kafka:in:0", 5)],
            )
            .unwrap();
        waymark.wait_durable(last).unwrap();
        let commits = store.commits.lock().unwrap()[before..].to_vec();
        assert_eq!(
            commits.len(),
            1,
            "one synced commit for the three: {commits:?}"
        );
        assert_eq!(waymark.deliver_due().await.unwrap().delivered, 2);
    }
    // What the one commit left is what the three would have.
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(waymark.source_offset("kafka:in:0"), Some(5));
    assert_eq!(waymark.stats().instances_active, 2);
    assert_eq!(waymark.stats().timers_pending, 2);
    let kim = waymark
        .export(&waymark_core::Identifier::new(
            waymark_core::IdentifierKind::UserId,
            "kim",
        ))
        .unwrap()
        .unwrap();
    assert_eq!(kim["profile"]["traits"]["plan"], "pro", "{kim}");
    assert_eq!(
        kim["profile"]["traits"]["email"], "kim@example.com",
        "{kim}"
    );
}

#[tokio::test]
async fn record_counters_survive_a_restart_and_keep_counting() {
    let (dir, clock, channel) = start();
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        waymark.ingest_batch(&signed_up("ana", "e1"), None).unwrap();
        waymark.ingest_batch(&signed_up("bo", "e2"), None).unwrap();
        assert_eq!(waymark.stats().sends_total, 2);
    }
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(waymark.stats().sends_total, 2, "loaded from the store");
    waymark.ingest_batch(&signed_up("cy", "e3"), None).unwrap();
    assert_eq!(waymark.stats().sends_total, 3);
    drop(waymark);
    let store = FjallStore::open(dir.path()).unwrap();
    let counters = waymark_store::Store::scan(&store, waymark_store::Space::Counters, b"").unwrap();
    let keys: Vec<String> = counters
        .iter()
        .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert!(keys.contains(&"welcome\u{0}send".to_owned()), "{keys:?}");
    assert!(keys.contains(&"welcome\u{0}entered".to_owned()), "{keys:?}");
}

#[tokio::test]
async fn a_running_runtime_forgets_ids_past_the_dedupe_window_without_a_restart() {
    let (dir, clock, channel) = start();
    let waymark = runtime(dir.path(), &clock, &channel);
    waymark.ingest_batch(&signed_up("ed", "e5"), None).unwrap();
    clock.advance(chrono::TimeDelta::days(6));
    let again = waymark.ingest_batch(&signed_up("ed", "e5"), None).unwrap();
    assert_eq!(again.duplicates, 2, "inside the window");
    clock.advance(chrono::TimeDelta::days(2));
    let past = waymark.ingest_batch(&signed_up("ed", "e5"), None).unwrap();
    assert_eq!(past.duplicates, 0, "past the window");
    waymark.ingest_batch(&signed_up("flo", "e6"), None).unwrap();
    drop(waymark);
    let store = FjallStore::open(dir.path()).unwrap();
    let batches = waymark_store::Store::scan(&store, waymark_store::Space::Messages, b"").unwrap();
    assert_eq!(
        batches.len(),
        2,
        "the forgotten batch left the store too; ed's new one and flo's stay"
    );
}

#[tokio::test]
async fn leaving_the_state_at_exit_loses_nothing_from_the_store() {
    let (dir, clock, channel) = start();
    {
        let waymark = runtime(dir.path(), &clock, &channel);
        waymark
            .ingest_batch(&signed_up("ana", "e1"), Some(("file", 2)))
            .unwrap();
        waymark.leak_state_for_exit();
        assert_eq!(waymark.stats().profiles, 0, "nothing left in memory");
    }
    let waymark = runtime(dir.path(), &clock, &channel);
    assert_eq!(waymark.source_offset("file"), Some(2));
    assert_eq!(waymark.stats().profiles, 1);
    assert_eq!(waymark.stats().instances_active, 1);
    assert_eq!(waymark.stats().outbox_pending, 1);
}

/// A record sink that keeps what it was given.
#[derive(Debug, Default)]
struct KeptRecords(std::sync::Mutex<Vec<String>>);

impl waymark::runtime::RecordSink for KeptRecords {
    fn publish(&self, key: &str, _json: &[u8]) -> Result<(), String> {
        self.0.lock().unwrap().push(key.to_owned());
        Ok(())
    }
    fn sync(&self) -> Result<(), String> {
        Ok(())
    }
}

#[test]
fn a_cancelled_run_loop_lets_its_tokio_runtime_shut_down() {
    // Tokio's runtime waits for its blocking threads when dropped: the
    // record publisher (one of them) must stop when `run` is cancelled,
    // not only when it returns.
    let (dir, clock, channel) = start();
    let records = Arc::new(KeptRecords::default());
    let waymark = Arc::new(
        welcome(
            Arc::new(FjallStore::open(dir.path()).unwrap()),
            &clock,
            &channel,
        )
        .records(records.clone())
        .build()
        .unwrap(),
    );
    waymark.ingest_batch(&signed_up("ana", "e1"), None).unwrap();
    let (finished, stopped) = std::sync::mpsc::channel();
    let runner = {
        let waymark = Arc::clone(&waymark);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            // Never told to stop: the runtime's shutdown cancels it.
            runtime.spawn(waymark.run(std::future::pending()));
            runtime.block_on(async {
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            });
            drop(runtime);
            finished.send(()).unwrap();
        })
    };
    assert!(
        stopped
            .recv_timeout(std::time::Duration::from_secs(20))
            .is_ok(),
        "the runtime did not shut down: the record publisher kept running"
    );
    runner.join().unwrap();
    assert!(
        !records.0.lock().unwrap().is_empty(),
        "the publisher ran before it was stopped"
    );
}
