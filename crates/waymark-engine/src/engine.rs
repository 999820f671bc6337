//! The engine: deployed journeys, indexed for fast matching, and `decide`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use cel::Env;
use chrono_tz::Tz;
use waymark_core::{Profile, Timestamp};
use waymark_journey::{Journey, NodeKind, Trigger};

use crate::effect::Effect;
use crate::input::Input;
use crate::instance::Instance;
use crate::step::Step;

/// The hasher of the engine's lookups (one or more per event): not SipHash.
type Fast = foldhash::fast::RandomState;

/// Workspace-wide settings the engine decides with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Seeds every sticky choice (splits, holdout). Changing it reshuffles them.
    pub seed: u64,
    /// The time zone for profiles that have none.
    pub default_timezone: Tz,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            seed: 0,
            default_timezone: Tz::UTC,
        }
    }
}

/// The outcome of one decision: the profile's instances after the input,
/// and what to do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Decision {
    pub instances: Vec<Instance>,
    pub effects: Vec<Effect>,
}

/// The decision engine over a set of deployed journeys.
pub struct Engine {
    config: EngineConfig,
    env: Arc<Env>,
    /// Every version of every journey, by id then version.
    versions: HashMap<Arc<str>, BTreeMap<u32, Arc<Journey>>, Fast>,
    /// Active versions (the ones people enter), by id, in deploy order.
    active: Vec<Arc<Journey>>,
    /// Active journeys entered by a given event name.
    by_entry_event: HashMap<String, Vec<Arc<Journey>>, Fast>,
    /// Active journeys entered by a segment condition.
    by_segment: Vec<Arc<Journey>>,
    /// Event names any version of any journey reacts to: entries, exits,
    /// goals and waits. Other events only update profiles.
    relevant: HashSet<String, Fast>,
    /// Journeys paused with `hold`: their instances do not move.
    held: HashSet<Arc<str>, Fast>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field(
                "active",
                &self
                    .active
                    .iter()
                    .map(|j| (&j.id, j.version))
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `journeys`, each active at the version it carries.
    pub fn new(journeys: impl IntoIterator<Item = Journey>, config: EngineConfig) -> Self {
        let mut engine = Engine {
            config,
            env: Arc::new(Env::stdlib()),
            versions: HashMap::default(),
            active: Vec::new(),
            by_entry_event: HashMap::default(),
            by_segment: Vec::new(),
            relevant: HashSet::default(),
            held: HashSet::default(),
        };
        for journey in journeys {
            engine.activate(journey);
        }
        engine
    }

    /// Makes `journey` the active version of its id. Earlier versions stay
    /// known, so that instances started on them finish on them.
    pub fn activate(&mut self, journey: Journey) {
        let journey = Arc::new(journey);
        self.versions
            .entry(journey.id.clone())
            .or_default()
            .insert(journey.version, Arc::clone(&journey));
        self.active.retain(|j| j.id != journey.id);
        self.active.push(journey);
        self.reindex();
    }

    /// Adds a journey version; it takes new entrants only if `active`
    /// (paused and superseded versions still carry their instances).
    pub fn insert(&mut self, journey: Journey, active: bool) {
        if active {
            self.activate(journey);
        } else {
            let journey = Arc::new(journey);
            self.versions
                .entry(Arc::clone(&journey.id))
                .or_default()
                .insert(journey.version, journey);
            self.reindex();
        }
    }

    /// Holds (or releases) the instances of journey `id`: while held, their
    /// waits ignore events and the runtime keeps their timers pending; exits
    /// and goals still apply.
    pub fn set_held(&mut self, id: &str, held: bool) {
        if held {
            self.held.insert(Arc::from(id));
        } else {
            self.held.remove(id);
        }
    }

    /// Whether journey `id` is held.
    pub fn is_held(&self, id: &str) -> bool {
        !self.held.is_empty() && self.held.contains(id)
    }

    /// Stops new entries into `id`; running instances carry on.
    pub fn deactivate(&mut self, id: &str) {
        self.active.retain(|j| &*j.id != id);
        self.reindex();
    }

    fn reindex(&mut self) {
        self.by_entry_event.clear();
        self.by_segment.clear();
        self.relevant.clear();
        for journey in &self.active {
            match &journey.entry.trigger {
                Trigger::Event(name) => {
                    self.by_entry_event
                        .entry(name.clone())
                        .or_default()
                        .push(Arc::clone(journey));
                    self.relevant.insert(name.clone());
                }
                Trigger::Segment(_) => self.by_segment.push(Arc::clone(journey)),
                Trigger::Api => {}
            }
        }
        for journey in self.versions.values().flat_map(BTreeMap::values) {
            self.relevant.extend(journey.exit_on.iter().cloned());
            self.relevant
                .extend(journey.goal.iter().map(|g| g.event.clone()));
            for node in &journey.nodes {
                if let NodeKind::WaitForEvent { event, .. } = &node.kind {
                    self.relevant.insert(event.clone());
                }
            }
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The active journeys, in activation order.
    pub fn journeys(&self) -> &[Arc<Journey>] {
        &self.active
    }

    /// A journey at a given version.
    pub fn journey(&self, id: &str, version: u32) -> Option<&Arc<Journey>> {
        self.versions.get(id)?.get(&version)
    }

    /// The active version of a journey.
    pub fn active_journey(&self, id: &str) -> Option<&Arc<Journey>> {
        self.active.iter().find(|j| &*j.id == id)
    }

    pub(crate) fn env(&self) -> &Arc<Env> {
        &self.env
    }

    pub(crate) fn entered_by(&self, event: &str) -> &[Arc<Journey>] {
        self.by_entry_event.get(event).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn segment_journeys(&self) -> &[Arc<Journey>] {
        &self.by_segment
    }

    pub(crate) fn is_relevant(&self, event: &str) -> bool {
        self.relevant.contains(event)
    }

    /// Decides what `input` means for `profile`, whose journey instances are
    /// `instances`, at `now`. Pure: no IO, no clock, no randomness.
    pub fn decide(
        &self,
        profile: &Profile,
        instances: Vec<Instance>,
        input: Input<'_>,
        now: Timestamp,
    ) -> Decision {
        let mut step = Step::new(self, profile, instances, now);
        match input {
            Input::Event(event) => step.on_event(event),
            Input::TimerFired { instance, token } => step.on_timer(instance, token),
            Input::ApiEnter {
                journey,
                properties,
            } => step.on_api_enter(journey, properties),
            Input::ProfileMerged { instances, .. } => step.on_merged(instances),
        }
        step.finish()
    }
}
