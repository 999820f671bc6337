//! The runtime: what it holds, and its error. Its work is split by job:
//! `builder` (building it), `commit` (group commit), `ingest` (events and
//! timers through the shared step), `delivery` (the outbox through
//! channels), `run` (the loops), `enter` (entries by API) and `admin`
//! (queries, GDPR, retries).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard};
use waymark_channels::Deliver;
use waymark_channels::signing::UnsubscribeSigner;
use waymark_core::Channel;
use waymark_engine::Engine;
use waymark_journey::Templates;
use waymark_store::Store;

use super::builder::{RuntimeOptions, WaymarkBuilder};
use super::clock::Clock;
use super::commit::{DurableMarks, Staged};
use super::sink::RecordSink;
use super::state::State;

/// Why the runtime failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("store: {0}")]
    Store(#[from] waymark_store::Error),
    #[error("no store was given to the builder")]
    NoStore,
    #[error("an earlier commit failed; the runtime must be rebuilt from the store")]
    Poisoned,
    #[error("no active journey `{0}`")]
    UnknownJourney(String),
    #[error("journey `{0}` is not entered by API (its entry is an event or a segment)")]
    NotByApi(String),
    #[error("no usable identifier: give a user id or an anonymous id (not blocked, not forgotten)")]
    NoIdentifier,
    #[error("people this batch needs were held by another worker for {waited:?}; giving up")]
    Locked { waited: std::time::Duration },
}

/// The embeddable runtime.
pub struct Waymark {
    pub(super) store: Arc<dyn Store>,
    /// Written only when a journey is deployed or changes status.
    pub(super) engine: RwLock<Engine>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) channels: HashMap<Channel, Arc<dyn Deliver>>,
    pub(super) default_channel: Option<Arc<dyn Deliver>>,
    pub(super) records: Option<Arc<dyn RecordSink>>,
    pub(super) templates: Option<Templates>,
    pub(super) unsubscribe: Option<UnsubscribeSigner>,
    pub(super) options: RuntimeOptions,
    pub(super) state: Mutex<State>,
    /// Set when a commit failed: memory is ahead of the store.
    pub(super) poisoned: AtomicBool,
    /// Set while timers must not fire (see [`Waymark::hold_timers`]).
    pub(super) timers_held: AtomicBool,
    /// Wakes [`Waymark::run`]'s delivery loop when a commit left something
    /// to deliver or set a timer due before it meant to wake.
    pub(super) wake: tokio::sync::Notify,
    /// When the delivery loop means to wake on its own, in epoch
    /// milliseconds (`i64::MAX` while it works or has no deadline).
    pub(super) sleeping_until: AtomicI64,
    /// Rounds of the delivery loop (each a wake-up).
    pub(super) wakeups: AtomicU64,
    /// Told when a loop finished a round (see [`Waymark::settled`]).
    pub(super) settled: tokio::sync::Notify,
    /// Wakes its record publisher when a commit left records to publish.
    pub(super) records_wake: super::wake::Wake,
    /// Batches decided but not yet in the store, in the order they were
    /// decided (see [`Waymark::stage_batch_at`]).
    pub(super) staged: Mutex<Staged>,
    /// Held by the one thread writing staged batches to the store.
    pub(super) committing: Mutex<()>,
    /// Held while a journey version is stored and applied, so that two
    /// deploys never pick the same version number.
    pub(super) deploying: Mutex<()>,
    pub(super) durable: DurableMarks,
    /// Partition epochs claimed on a shared store (see [`Waymark::claim`]).
    pub(super) fences: Mutex<super::fencing::Fences>,
    /// This runtime's slot on a shared store (0 alone): its own sequence
    /// numbers start at `slot << 40` (see [`super::shared`]).
    pub(super) slot: u64,
    /// Delivery rounds sending now (a lane given back waits for them).
    pub(super) delivering: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Waymark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waymark")
            .field("engine", &*self.engine())
            .finish_non_exhaustive()
    }
}

impl Waymark {
    pub fn builder() -> WaymarkBuilder {
        WaymarkBuilder::default()
    }

    /// The state, for work that changes it: refused once a commit failed.
    pub(super) fn lock(&self) -> Result<MutexGuard<'_, State>, Error> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(Error::Poisoned);
        }
        Ok(self.state.lock())
    }

    /// Whether a commit failed: the runtime then takes no work until it
    /// is rebuilt (readiness probes report it).
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    /// The engine (read-locked: hold it briefly).
    pub fn engine(&self) -> RwLockReadGuard<'_, Engine> {
        self.engine.read()
    }
}
