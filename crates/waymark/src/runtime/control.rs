//! What the live admin API changes and reads on a running runtime:
//! journey versions deployed and their status (stored, then applied
//! without a restart), reports from the store, segment sizes, a person's
//! outbox entries.

use std::sync::Arc;

use waymark_analytics::{JourneyMetrics, Selection};
use waymark_core::{Profile, ProfileId, Timestamp};

use waymark_store::Space;

use super::layout::{for_each_page, members_prefix};
use super::records::{OutboxEntry, ProfileRecord};
use super::state::{decode, encode, model_key};
use super::waymark::{Error, Waymark};
use crate::analytics::ReportError;
use crate::deploy::{self, DeployError, DeployOutcome, Deployed, JourneyStatus};

impl Waymark {
    /// Validates a journey given as text (`file` names it and its format
    /// by extension) against this runtime's templates and segments, stores
    /// it as a new version unless it is the latest's text, and starts
    /// using it: new entrants take it, running instances finish on theirs.
    pub fn deploy_source(
        &self,
        file: &str,
        source: String,
        at: Timestamp,
    ) -> Result<DeployOutcome, DeployError> {
        let _one_at_a_time = self.deploying.lock();
        let templates = self.templates.clone().unwrap_or_default();
        let segments = self.engine().segments().clone();
        let outcome =
            deploy::deploy_source(self.store.as_ref(), file, source, &templates, &segments, at)?;
        if outcome.new_version {
            self.apply_journey(deploy::load_latest(self.store.as_ref(), &outcome.id)?);
            tracing::info!(journey = %outcome.id, version = outcome.version, "deployed");
        }
        Ok(outcome)
    }

    /// Pauses (with `hold`, holding its people), resumes or archives the
    /// latest version of journey `id`, in the store and at once here.
    pub fn set_journey_status(
        &self,
        id: &str,
        status: JourneyStatus,
        hold: bool,
    ) -> Result<Deployed, DeployError> {
        let _one_at_a_time = self.deploying.lock();
        let changed = deploy::set_status(self.store.as_ref(), id, status, hold)?;
        self.apply_journey(deploy::load_latest(self.store.as_ref(), id)?);
        tracing::info!(
            journey = id,
            ?status,
            hold = changed.hold,
            "journey status changed"
        );
        Ok(changed)
    }

    /// Every deployed version of every journey, by id then version.
    pub fn deployed(&self) -> Result<Vec<Deployed>, DeployError> {
        deploy::list(self.store.as_ref())
    }

    /// The report over the counters committed so far.
    pub fn report(&self, selection: &Selection) -> Result<Vec<JourneyMetrics>, ReportError> {
        crate::analytics::stored_report(self.store.as_ref(), selection)
    }

    /// Each segment the journeys know, with its members as committed.
    pub fn segment_sizes(&self) -> Result<Vec<(Arc<str>, usize)>, Error> {
        let ids: Vec<Arc<str>> = self
            .engine()
            .segments()
            .iter()
            .map(|s| Arc::clone(&s.id))
            .collect();
        ids.into_iter()
            .map(|id| {
                let size = self.segment_members(&id)?.len();
                Ok((id, size))
            })
            .collect()
    }

    /// The members of `segment`, by the store's member index.
    pub(super) fn segment_members(&self, segment: &str) -> Result<Vec<ProfileId>, Error> {
        let prefix = members_prefix(segment);
        Ok(self
            .store
            .scan(Space::Members, &prefix)?
            .into_iter()
            .filter_map(|(key, _)| {
                let id = key.get(prefix.len()..)?;
                Some(ProfileId::from(String::from_utf8_lossy(id).into_owned()))
            })
            .collect())
    }

    /// The outbox entries (waiting or failed) of profile `id`, oldest first.
    pub fn outbox_of(&self, id: &ProfileId) -> Vec<OutboxEntry> {
        let state = self.state.lock();
        state
            .outbox
            .values()
            .filter(|e| e.delivery.profile == *id)
            .map(|e| OutboxEntry::clone(e))
            .collect()
    }
}

impl Waymark {
    /// Calls `each` with every stored profile, a page at a time (as
    /// committed; people are not loaded into the cache).
    pub fn for_each_profile(&self, mut each: impl FnMut(&Profile)) -> Result<(), Error> {
        for_each_page(self.store.as_ref(), Space::Profiles, 1000, |page| {
            for (key, value) in &page {
                let record: ProfileRecord = decode(Space::Profiles, key, value)?;
                each(&record.profile.load());
            }
            Ok::<_, Error>(())
        })
    }

    /// Stores a fitted prediction model (JSON) under `name`.
    pub fn save_model(&self, name: &str, model: &serde_json::Value) -> Result<(), Error> {
        let mut batch = waymark_store::Batch::new();
        batch.put(Space::Meta, model_key(name), encode(model));
        self.store.commit(batch)?;
        Ok(())
    }

    /// The prediction model stored under `name`, if any.
    pub fn model(&self, name: &str) -> Result<Option<serde_json::Value>, Error> {
        let key = model_key(name);
        let Some(value) = self.store.get(Space::Meta, key.as_bytes())? else {
            return Ok(None);
        };
        Ok(Some(decode(Space::Meta, key.as_bytes(), &value)?))
    }
}
