//! Delivery: due outbox entries rendered (Liquid, unsubscribe link) and
//! handed to their channels, outcomes written back (delivered entries
//! leave the outbox, failures retry with backoff), outcomes reported back
//! to the journeys as feedback events.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use waymark_channels::{Delivery, DeliveryError};
use waymark_core::{Channel, Event, Profile, ProfileId, Timestamp, stable_hash};
use waymark_journey::{Scope, SharedValue};
use waymark_store::{Space, keys};

use super::records::{OutboxEntry, OutboxStatus};
use super::state::encode;
use super::waymark::{Error, Waymark};
use super::writes::Writes;

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
}

/// A delivery round in progress, counted while it lives.
struct Round<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Round<'a> {
    fn start(rounds: &'a std::sync::atomic::AtomicUsize) -> Self {
        rounds.fetch_add(1, Ordering::SeqCst);
        Round(rounds)
    }
}

impl Drop for Round<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The people a delivery round renders for, as they are now (shared).
type People = HashMap<ProfileId, Option<Arc<Profile>>>;

impl Waymark {
    /// Hands due outbox entries to their channels; delivered entries leave
    /// the outbox, failures retry with backoff until `max_attempts`.
    pub async fn deliver_due(&self) -> Result<DeliveryReport, Error> {
        // Counted from before the fence check to the acknowledgements: a
        // lane given back waits for the round (see `Waymark::release`).
        let _round = Round::start(&self.delivering);
        self.check_fences()?;
        let now = self.clock.now();
        let started = std::time::Instant::now();
        // The due entries and, for rendering, their people as they are now:
        // taken under one lock, so the round never waits on ingest again.
        let (due, people): (Vec<Arc<OutboxEntry>>, People) = {
            let mut state = self.lock()?;
            // Only what the store holds: a crash must not lose a decision
            // whose message went out.
            let durable = self.durable.outbox_below.load(Ordering::SeqCst);
            let due: Vec<Arc<OutboxEntry>> = self
                .durable_seqs(&state.outbox, durable)
                .map(|(_, e)| e)
                .filter(|e| e.status == OutboxStatus::Pending && e.next_attempt_at <= now)
                .take(self.options.delivery_batch)
                .cloned()
                .collect();
            let mut people = HashMap::new();
            if self.templates.is_some() {
                let ids: Vec<ProfileId> = due.iter().map(|e| e.delivery.profile.clone()).collect();
                state.load_profiles(self.store.as_ref(), &ids, true)?;
                for entry in &due {
                    let id = &entry.delivery.profile;
                    if !people.contains_key(id) {
                        // Shared, not copied: read by the templates after the lock.
                        people.insert(id.clone(), state.journeys.identity.shared_profile(id));
                    }
                }
            }
            (due, people)
        };
        // Each person made a template value once for all their deliveries
        // of the round (read in place: no JSON copy of the profile).
        let people: HashMap<ProfileId, SharedValue> = people
            .into_iter()
            .map(|(id, profile)| {
                let value = match profile {
                    Some(profile) => SharedValue::profile(profile),
                    None => SharedValue::new(Value::Null),
                };
                (id, value)
            })
            .collect();
        let mut report = DeliveryReport::default();
        if due.is_empty() {
            return Ok(report);
        }
        use futures_util::StreamExt as _;
        // Up to `delivery_concurrency` calls in flight (providers answer in
        // tens of milliseconds; one at a time would cap a channel at a few
        // dozen messages a second).
        let taken = started.elapsed();
        let results: Vec<_> = futures_util::stream::iter(due)
            .map(|entry| self.attempt(entry, &people, now))
            .buffered(self.options.delivery_concurrency.max(1))
            .collect()
            .await;
        let attempted = started.elapsed();
        let mut outcomes = Vec::with_capacity(results.len());
        let mut feedback = Vec::new();
        for (entry, outcome, channel_id, event) in results {
            feedback.extend(event);
            outcomes.push((entry, outcome, channel_id));
        }

        // Make what the channels accepted durable before the outbox forgets
        // it; what a channel could not make durable is retried.
        let mut synced: Vec<usize> = Vec::new();
        let mut unsynced: Vec<(usize, String)> = Vec::new();
        for channel in self.channels.values().chain(self.default_channel.iter()) {
            let id = Arc::as_ptr(channel).cast::<()>() as usize;
            if synced.contains(&id) {
                continue;
            }
            synced.push(id);
            if let Err(error) = channel.sync() {
                tracing::warn!(%error, "a channel could not sync; its deliveries will be retried");
                unsynced.push((id, error.to_string()));
            }
        }
        let synced = started.elapsed();
        let mut state = self.lock()?;
        let mut writes = Writes::default();
        for (entry, mut outcome, channel_id) in outcomes {
            if let Some((_, reason)) = unsynced.iter().find(|(id, _)| *id == channel_id)
                && outcome.is_ok()
            {
                outcome = Err(DeliveryError::Transient {
                    reason: format!("not made durable: {reason}"),
                    retry_after: None,
                });
            }
            let key = keys::seq(entry.seq).to_vec();
            let error = match outcome {
                Ok(()) => {
                    state.outbox.remove(&entry.seq);
                    writes.batch.delete(Space::Outbox, key);
                    report.delivered += 1;
                    continue;
                }
                Err(error) => error,
            };
            if !state.outbox.contains_key(&entry.seq) {
                continue; // forgotten meanwhile (`forget`): not put back
            }
            // Still shared with the outbox: copied only to be changed.
            let mut entry = Arc::unwrap_or_clone(entry);
            match error {
                DeliveryError::Transient {
                    reason,
                    retry_after,
                } if entry.attempts + 1 < self.options.max_attempts => {
                    entry.attempts += 1;
                    let wait = retry_after.unwrap_or_else(|| self.backoff(&entry));
                    entry.next_attempt_at =
                        now + chrono::TimeDelta::from_std(wait).unwrap_or_default();
                    entry.last_error = Some(reason);
                    report.retried += 1;
                }
                error => {
                    entry.attempts += 1;
                    entry.status = OutboxStatus::Failed;
                    state.outbox_failed += 1;
                    entry.last_error = Some(error.to_string());
                    tracing::warn!(
                        key = %entry.delivery.key,
                        error = %waymark_core::redact(&error.to_string()),
                        "delivery failed"
                    );
                    report.failed += 1;
                }
            }
            writes.batch.put(Space::Outbox, key, encode(&entry));
            state.outbox.insert(entry.seq, Arc::new(entry));
        }
        self.commit_unsynced(state, writes)?;
        tracing::debug!(
            delivered = report.delivered,
            retried = report.retried,
            failed = report.failed,
            taken_ms = taken.as_millis(),
            attempted_ms = attempted.as_millis(),
            synced_ms = synced.as_millis(),
            committed_ms = started.elapsed().as_millis(),
            "delivery round"
        );
        // Outcomes go back to the journeys as events (deduplicated by their
        // message id should a crash repeat a round).
        if !feedback.is_empty() {
            self.ingest_batch(&feedback, None)?;
        }
        Ok(report)
    }

    /// One delivery attempt: rendered, handed to its channel, the outcome
    /// (with the channel's identity, for its sync) and any feedback event.
    async fn attempt(
        &self,
        entry: Arc<OutboxEntry>,
        people: &HashMap<ProfileId, SharedValue>,
        now: Timestamp,
    ) -> (
        Arc<OutboxEntry>,
        Result<(), DeliveryError>,
        usize,
        Option<Event>,
    ) {
        let channel = self
            .channels
            .get(&entry.delivery.channel)
            .or(self.default_channel.as_ref());
        let channel_id = channel.map_or(0, |c| Arc::as_ptr(c).cast::<()>() as usize);
        let mut feedback = None;
        let person = people.get(&entry.delivery.profile);
        let outcome = match (channel, self.prepare(&entry.delivery, person)) {
            (None, _) => Err(DeliveryError::Permanent {
                reason: format!("no channel configured for {}", entry.delivery.channel),
            }),
            // A render failure fails this delivery, never the process.
            (Some(_), Err(error)) => Err(error),
            (Some(channel), Ok(mut delivery)) => {
                delivery.sent_at = Some(self.clock.now());
                let outcome = channel.deliver(&delivery).await;
                if channel.reports_outcomes() {
                    feedback = waymark_channels::feedback_event(&delivery, outcome.as_ref(), now);
                }
                outcome.map(|_| ())
            }
        };
        (entry, outcome, channel_id, feedback)
    }

    /// The delivery as the channel gets it: the template rendered for the
    /// person as they are now, and their unsubscribe link.
    fn prepare(
        &self,
        source: &Delivery,
        profile: Option<&SharedValue>,
    ) -> Result<Delivery, DeliveryError> {
        let mut delivery = source.clone();
        if let Some(signer) = &self.unsubscribe
            && delivery.channel != Channel::Webhook
        {
            let claim = match (&delivery.user_id, &delivery.anonymous_id) {
                (Some(user), _) => Some((user.clone(), false)),
                (None, Some(anonymous)) => Some((anonymous.clone(), true)),
                (None, None) => None,
            };
            delivery.unsubscribe_url = claim.map(|(id, anonymous)| {
                signer.url(&waymark_channels::signing::UnsubscribeClaim {
                    id,
                    anonymous,
                    channel: delivery.channel.to_string(),
                    topic: delivery.topic.clone(),
                })
            });
        }
        let Some(templates) = &self.templates else {
            return Ok(delivery);
        };
        let template = templates
            .resolve(&delivery.template, delivery.channel)
            .ok_or_else(|| DeliveryError::Permanent {
                reason: format!(
                    "template `{}` not found for {}",
                    delivery.template, delivery.channel
                ),
            })?;
        let mut scope = Scope::new()
            .json("event", &source.trigger)
            .owned(
                "journey",
                serde_json::json!({"id": delivery.journey, "node": delivery.node}),
            )
            .owned(
                "unsubscribe_url",
                delivery
                    .unsubscribe_url
                    .as_ref()
                    .map_or(Value::Null, |url| Value::String(url.clone())),
            );
        // Without a profile, `profile` reads as nil like any missing name.
        if let Some(profile) = profile {
            scope = scope.shared("profile", profile);
        }
        delivery.content = template
            .render_scope(&scope)
            .map_err(|e| DeliveryError::Permanent {
                reason: format!("render: {e}"),
            })?;
        Ok(delivery)
    }

    /// Exponential backoff with deterministic jitter (from the key).
    fn backoff(&self, entry: &OutboxEntry) -> Duration {
        let exp = self
            .options
            .base_backoff
            .saturating_mul(1 << entry.attempts.min(16));
        let capped = exp.min(self.options.max_backoff);
        let jitter = stable_hash(entry.attempts.into(), &[&entry.delivery.key]) % 1000;
        capped.mul_f64(0.75 + jitter as f64 / 4000.0)
    }
}
