//! The engine: deployed journeys, indexed for fast matching, and `decide`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use cel::Env;
use chrono_tz::Tz;
use waymark_core::{Profile, Timestamp};
use waymark_journey::{
    Journey, NodeKind, OptimizeGoal, ScheduleTrigger, SegmentRef, Segments, Trigger,
};

use crate::effect::Effect;
use crate::input::Input;
use crate::instance::Instance;
use crate::optimize::VariantStats;
use crate::policies::Policies;
use crate::segments::{EVERYONE, SegmentIndex, Tracked};
use crate::step::Step;

/// The hasher of the engine's lookups (one or more per event): not SipHash.
type Fast = foldhash::fast::RandomState;

/// What the engine knows of all people together, handed in by the
/// caller as data: recent entries (for entry limits) and the counts of
/// `optimize` variants.
pub trait Population {
    /// Entries into `journey` after `since`.
    fn entered_since(&self, journey: &str, since: Timestamp) -> usize;

    /// The entrants and goal conversions of `variant` of the `optimize`
    /// node `node` of `journey` so far (none unless the caller counts).
    fn variant(&self, _journey: &str, _node: &str, _variant: &str) -> VariantStats {
        VariantStats::default()
    }
}

/// Nothing known of other people (a single decision, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEntries;

impl Population for NoEntries {
    fn entered_since(&self, _: &str, _: Timestamp) -> usize {
        0
    }
}

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
    /// Named segments (files), tracked whether or not a journey uses them.
    segments: Segments,
    /// Named segments and active journeys' inline ones, by what they read.
    segment_index: SegmentIndex,
    /// Active journeys entered on joining a segment, by segment id.
    by_segment: HashMap<Arc<str>, Vec<Arc<Journey>>, Fast>,
    /// Active inactivity journeys by the event names that reset them.
    by_inactive_event: HashMap<String, Vec<Arc<Journey>>, Fast>,
    /// Active date journeys by their trait.
    by_date_trait: HashMap<String, Vec<Arc<Journey>>, Fast>,
    /// Active schedule journeys by their segment ([`EVERYONE`] without one).
    by_schedule_segment: HashMap<Arc<str>, Vec<Arc<Journey>>, Fast>,
    /// Active journeys whose entry timers read the profile's time zone.
    zoned: Vec<Arc<Journey>>,
    /// The guardrails every send passes.
    policies: Policies,
    /// Event names any version of any journey reacts to: entries, exits,
    /// goals and waits. Other events only update profiles.
    relevant: HashSet<String, Fast>,
    /// Journeys paused with `hold`: their instances do not move.
    held: HashSet<Arc<str>, Fast>,
    /// The model behind `profile.predictions`, if one was fitted.
    purchase_model: Option<crate::predict::PurchaseModel>,
    /// The population's engagement per local hour, for `best_time` waits.
    engagement_prior: crate::best_time::EngagementPrior,
    /// The population's engagement rate per channel, for `channel: best`.
    channel_prior: crate::best_channel::ChannelPrior,
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
            segments: Segments::default(),
            segment_index: SegmentIndex::default(),
            by_segment: HashMap::default(),
            by_inactive_event: HashMap::default(),
            by_date_trait: HashMap::default(),
            by_schedule_segment: HashMap::default(),
            zoned: Vec::new(),
            policies: Policies::default(),
            purchase_model: None,
            engagement_prior: crate::best_time::EngagementPrior::default(),
            channel_prior: crate::best_channel::ChannelPrior::default(),
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

    /// Sets the workspace policies (caps, quiet hours, suppression windows,
    /// topics) every send passes.
    pub fn set_policies(&mut self, policies: Policies) {
        self.policies = policies;
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    /// The model `profile.predictions` comes from (None: no predictions).
    pub fn set_purchase_model(&mut self, model: Option<crate::predict::PurchaseModel>) {
        self.purchase_model = model;
    }

    pub fn purchase_model(&self) -> Option<&crate::predict::PurchaseModel> {
        self.purchase_model.as_ref()
    }

    /// The population's engagement per local hour `best_time` waits lean
    /// towards for people with few engagements (uniform by default).
    pub fn set_engagement_prior(&mut self, prior: crate::best_time::EngagementPrior) {
        self.engagement_prior = prior;
    }

    pub fn engagement_prior(&self) -> &crate::best_time::EngagementPrior {
        &self.engagement_prior
    }

    /// Sets the population's engagement rate per channel, the prior of
    /// each person's rate in `channel: best` sends.
    pub fn set_channel_prior(&mut self, prior: crate::best_channel::ChannelPrior) {
        self.channel_prior = prior;
    }

    pub fn channel_prior(&self) -> &crate::best_channel::ChannelPrior {
        &self.channel_prior
    }

    /// Sets both engagement priors (hours and channels) from the
    /// population's totals.
    pub fn set_engagement(&mut self, engagement: &crate::Engagement) {
        self.engagement_prior = engagement.hour_prior();
        self.channel_prior = engagement.channel_prior();
    }

    /// Sets the named segments (segment files) the engine keeps membership of.
    pub fn set_segments(&mut self, segments: Segments) {
        self.segments = segments;
        self.reindex();
    }

    /// The named segments.
    pub fn segments(&self) -> &Segments {
        &self.segments
    }

    /// The segment id an inline `entry.segment` condition is tracked under.
    pub fn inline_segment_id(journey: &str) -> String {
        format!("journey:{journey}")
    }

    fn reindex(&mut self) {
        self.by_entry_event.clear();
        self.by_segment.clear();
        self.by_inactive_event.clear();
        self.by_date_trait.clear();
        self.by_schedule_segment.clear();
        self.zoned.clear();
        self.relevant.clear();
        let mut tracked: Vec<Tracked> = self
            .segments
            .iter()
            .map(|s| Tracked {
                id: s.id.clone(),
                condition: s.condition.clone(),
            })
            .collect();
        for journey in &self.active {
            let j = Arc::clone(journey);
            match &journey.entry.trigger {
                Trigger::Event(name) => {
                    self.by_entry_event.entry(name.clone()).or_default().push(j);
                    self.relevant.insert(name.clone());
                }
                Trigger::Segment(SegmentRef::Named(id)) => {
                    self.by_segment.entry(id.clone()).or_default().push(j);
                }
                Trigger::Segment(SegmentRef::Inline(condition)) => {
                    let id: Arc<str> = Arc::from(Self::inline_segment_id(&journey.id));
                    tracked.push(Tracked {
                        id: id.clone(),
                        condition: condition.clone(),
                    });
                    self.by_segment.entry(id).or_default().push(j);
                }
                Trigger::Api => {}
                Trigger::Inactive { events, .. } => {
                    for name in events {
                        self.by_inactive_event
                            .entry(name.clone())
                            .or_default()
                            .push(Arc::clone(&j));
                        self.relevant.insert(name.clone());
                    }
                }
                Trigger::Date(date) => {
                    self.by_date_trait
                        .entry(date.trait_name.clone())
                        .or_default()
                        .push(Arc::clone(&j));
                    self.zoned.push(j);
                }
                Trigger::Schedule(ScheduleTrigger { segment, .. }) => {
                    let id = segment.clone().unwrap_or_else(|| Arc::from(EVERYONE));
                    self.by_schedule_segment
                        .entry(id)
                        .or_default()
                        .push(Arc::clone(&j));
                    self.zoned.push(j);
                }
            }
        }
        self.segment_index = SegmentIndex::new(tracked);
        for journey in self.versions.values().flat_map(BTreeMap::values) {
            self.relevant.extend(journey.exit_on.iter().cloned());
            self.relevant
                .extend(journey.goal.iter().map(|g| g.event.clone()));
            for node in &journey.nodes {
                match &node.kind {
                    NodeKind::WaitForEvent { event, .. }
                    | NodeKind::Optimize {
                        goal: OptimizeGoal::Event { name: event, .. },
                        ..
                    } => {
                        self.relevant.insert(event.clone());
                    }
                    _ => {}
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

    pub(crate) fn segment_index(&self) -> &SegmentIndex {
        &self.segment_index
    }

    /// Active journeys entered on joining `segment`.
    pub(crate) fn entered_on_segment(&self, segment: &str) -> &[Arc<Journey>] {
        self.by_segment.get(segment).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn inactive_on(&self, event: &str) -> &[Arc<Journey>] {
        self.by_inactive_event.get(event).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn dated_by(&self, name: &str) -> &[Arc<Journey>] {
        self.by_date_trait.get(name).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn date_journeys(&self) -> impl Iterator<Item = &Arc<Journey>> {
        self.by_date_trait.values().flatten()
    }

    pub(crate) fn scheduled_for(&self, segment: &str) -> &[Arc<Journey>] {
        self.by_schedule_segment
            .get(segment)
            .map_or(&[], Vec::as_slice)
    }

    /// Whether a schedule enters everyone (the [`EVERYONE`] segment is kept).
    pub(crate) fn schedules_everyone(&self) -> bool {
        self.by_schedule_segment.contains_key(EVERYONE)
    }

    /// Active journeys whose entry timers follow the profile's time zone.
    pub(crate) fn zoned(&self) -> &[Arc<Journey>] {
        &self.zoned
    }

    pub(crate) fn is_relevant(&self, event: &str) -> bool {
        self.relevant.contains(event)
    }

    /// Decides what `input` means for `profile`, whose journey instances are
    /// `instances`, at `now`. Pure: no IO, no clock, only seeded draws.
    /// Entry limits see no earlier entries and `optimize` nodes no counts
    /// (see [`Engine::decide_with`]).
    pub fn decide(
        &self,
        profile: &Profile,
        instances: Vec<Instance>,
        input: Input<'_>,
        now: Timestamp,
    ) -> Decision {
        self.decide_with(profile, instances, input, now, &NoEntries)
    }

    /// [`Engine::decide`], with what the caller keeps of all people: the
    /// entries they made lately (journeys with an entry `limit`) and the
    /// counts of `optimize` variants.
    pub fn decide_with(
        &self,
        profile: &Profile,
        instances: Vec<Instance>,
        input: Input<'_>,
        now: Timestamp,
        population: &dyn Population,
    ) -> Decision {
        let mut step = Step::new(self, profile, instances, now, population);
        match input {
            Input::Event(event) => step.on_event(event),
            Input::TimerFired { instance, token } => step.on_timer(instance, token),
            Input::ApiEnter {
                journey,
                properties,
            } => step.on_api_enter(journey, properties),
            Input::ProfileMerged { instances, .. } => step.on_merged(instances),
            Input::EntryDue { journey, due } => step.on_entry_due(journey, due),
            Input::JourneyChanged { journey } => step.on_journey_changed(journey),
        }
        step.settle();
        step.finish()
    }
}
