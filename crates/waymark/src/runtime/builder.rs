//! Building a [`Waymark`]: the store, journeys, channels and options, and
//! the state loaded from the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use waymark_channels::Deliver;
use waymark_channels::signing::UnsubscribeSigner;
use waymark_core::Channel;
use waymark_engine::{Engine, EngineConfig};
use waymark_identity::IdentityConfig;
use waymark_journey::{Journey, Segments, Templates};
use waymark_store::{Batch, Space, Store};

use super::clock::{Clock, SystemClock};
use super::commit::DurableMarks;
use super::sink::RecordSink;
use super::state::State;
use super::waymark::{Error, Waymark};

/// Settings of the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Delivery attempts before an outbox entry is marked failed.
    pub max_attempts: u32,
    /// First retry delay; doubles with each attempt (with jitter), capped at `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// How long processed message ids are remembered for deduplication.
    pub dedupe_window: chrono::TimeDelta,
    /// How many due timers one commit handles at most.
    pub timer_batch: usize,
    /// How many outbox entries one delivery round sends at most.
    pub delivery_batch: usize,
    /// How many provider calls one round has in flight at once.
    pub delivery_concurrency: usize,
    /// How many journey records one publishing round hands to the sink.
    pub record_batch: usize,
    /// Memory for people (profiles, identifiers, journey instances) held
    /// between inputs, in bytes; the least recently used go beyond it and
    /// are read from the store again when needed.
    pub cache_bytes: usize,
    /// How far ahead timers are held in memory: those due later stay in
    /// the store (ordered by due time) until the window reaches them.
    pub timer_window: chrono::TimeDelta,
    /// Other workers share the store (PostgreSQL, many workers in one
    /// consumer group): people are locked while decided and read afresh,
    /// keys numbered under a slot of this runtime's, and outbox entries
    /// and timers taken per claimed partition (docs/scale.md).
    pub shared: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            dedupe_window: chrono::TimeDelta::days(7),
            timer_batch: 1000,
            delivery_batch: 2048,
            delivery_concurrency: 32,
            record_batch: 4096,
            cache_bytes: 512 << 20,
            timer_window: chrono::TimeDelta::hours(1),
            shared: false,
        }
    }
}

/// Builds a [`Waymark`].
#[derive(Default)]
pub struct WaymarkBuilder {
    store: Option<Arc<dyn Store>>,
    journeys: Vec<Journey>,
    deployed: Vec<crate::deploy::LoadedJourney>,
    engine: EngineConfig,
    identity: IdentityConfig,
    clock: Option<Arc<dyn Clock>>,
    channels: HashMap<Channel, Arc<dyn Deliver>>,
    default_channel: Option<Arc<dyn Deliver>>,
    records: Option<Arc<dyn RecordSink>>,
    templates: Option<Templates>,
    segments: Segments,
    policies: waymark_engine::Policies,
    unsubscribe: Option<UnsubscribeSigner>,
    options: RuntimeOptions,
}

impl std::fmt::Debug for WaymarkBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaymarkBuilder")
            .field("journeys", &self.journeys.len())
            .finish_non_exhaustive()
    }
}

impl WaymarkBuilder {
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    pub fn journeys(mut self, journeys: impl IntoIterator<Item = Journey>) -> Self {
        self.journeys.extend(journeys);
        self
    }

    /// Deployed journey versions (see [`crate::deploy::load`]).
    pub fn deployed(
        mut self,
        journeys: impl IntoIterator<Item = crate::deploy::LoadedJourney>,
    ) -> Self {
        self.deployed.extend(journeys);
        self
    }

    pub fn engine(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self
    }

    pub fn identity(mut self, config: IdentityConfig) -> Self {
        self.identity = config;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The provider for one channel.
    pub fn channel(mut self, channel: Channel, deliver: Arc<dyn Deliver>) -> Self {
        self.channels.insert(channel, deliver);
        self
    }

    /// The provider for every channel without its own.
    pub fn default_channel(mut self, deliver: Arc<dyn Deliver>) -> Self {
        self.default_channel = Some(deliver);
        self
    }

    /// Renders each delivery's template (Liquid) just before it goes out;
    /// without templates, channels get the delivery unrendered.
    pub fn templates(mut self, templates: Templates) -> Self {
        self.templates = Some(templates);
        self
    }

    /// Signs a one-click unsubscribe link into each delivery
    /// (`unsubscribe_url` in templates, `List-Unsubscribe` in email).
    pub fn unsubscribe(mut self, signer: UnsubscribeSigner) -> Self {
        self.unsubscribe = Some(signer);
        self
    }

    /// Publishes every journey record to `sink` (at least once, after the
    /// commit that made it).
    pub fn records(mut self, sink: Arc<dyn RecordSink>) -> Self {
        self.records = Some(sink);
        self
    }

    /// The named segments journeys enter on, exit on, wait for and
    /// schedule to (`segments/<id>.yaml`).
    pub fn segments(mut self, segments: Segments) -> Self {
        self.segments = segments;
        self
    }

    /// The workspace policies every send passes (caps, quiet hours,
    /// suppression windows, topics).
    pub fn policies(mut self, policies: waymark_engine::Policies) -> Self {
        self.policies = policies;
        self
    }

    pub fn options(mut self, options: RuntimeOptions) -> Self {
        self.options = options;
        self
    }

    /// Loads the state from the store and returns the runtime.
    pub fn build(self) -> Result<Waymark, Error> {
        let store = self.store.ok_or(Error::NoStore)?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let seen_after = clock.now() - self.options.dedupe_window;
        let slot = if self.options.shared {
            store.slot()?
        } else {
            0
        };
        let mut state = State::load(
            store.as_ref(),
            self.identity,
            seen_after,
            self.options.cache_bytes,
            clock.now() + self.options.timer_window,
            self.options.shared.then_some(slot),
        )?;
        let expired = std::mem::take(&mut state.expired_messages);
        if !expired.is_empty() {
            let mut sweep = Batch::new();
            for key in expired {
                sweep.delete(Space::Messages, key);
            }
            store.commit(sweep)?;
        }
        tracing::info!(
            profiles = state.journeys.people,
            timers = state.timers_pending,
            timers_in_memory = state.journeys.timers.len(),
            outbox = state.outbox.len(),
            "state loaded"
        );
        let mut engine = Engine::new(self.journeys, self.engine);
        engine.set_segments(self.segments);
        engine.set_policies(self.policies);
        // `profile.predictions`, from the model `waymark-admin model fit`
        // saved (read at start: a new fit takes effect at the next one).
        engine.set_purchase_model(super::state::purchase_model(store.as_ref())?);
        // The priors of `best_time` waits and `channel: best` sends, from
        // the totals `waymark-admin model engagement` saved (also at start).
        if let Some(engagement) = super::state::engagement_model(store.as_ref())? {
            engine.set_engagement(&engagement);
        }
        for loaded in self.deployed {
            if loaded.held {
                engine.set_held(&loaded.journey.id, true);
            }
            engine.insert(loaded.journey, loaded.active);
        }
        let durable = DurableMarks {
            outbox_below: AtomicU64::new(state.next_outbox_seq),
            records_below: AtomicU64::new(state.next_record_seq),
            ..DurableMarks::default()
        };
        Ok(Waymark {
            store,
            engine: RwLock::new(engine),
            clock,
            channels: self.channels,
            default_channel: self.default_channel,
            records: self.records,
            templates: self.templates,
            unsubscribe: self.unsubscribe,
            options: self.options,
            state: Mutex::new(state),
            poisoned: AtomicBool::new(false),
            timers_held: AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
            sleeping_until: AtomicI64::new(i64::MAX),
            wakeups: AtomicU64::new(0),
            settled: tokio::sync::Notify::new(),
            records_wake: super::wake::Wake::default(),
            staged: Mutex::default(),
            committing: Mutex::new(()),
            deploying: Mutex::new(()),
            durable,
            fences: Mutex::default(),
            slot,
            delivering: std::sync::atomic::AtomicUsize::new(0),
        })
    }
}
