//! An instance walking its journey's nodes: sends (with reachability,
//! consent and the holdout), branches, splits, profile updates, until it
//! rests on a wait or ends.

use std::sync::Arc;

use serde_json::Value;

use waymark_core::{Channel, Event, Timestamp, stable_hash};
use waymark_journey::{Journey, NodeIndex, NodeKind, WaitFor};

use super::guard::{FREQUENCY_CAP, Verdict};
use super::{COMPLETED, HOLDOUT, Step, UNREACHABLE, UNSUBSCRIBED};
use crate::best_channel::best_channel;
use crate::effect::{Effect, ProfileUpdate, RecordKind, SendRequest, Timer};
use crate::instance::{InstanceStatus, PendingTimer};
use crate::local_time::next_local_time;
use crate::reach::reachable;

/// Each candidate channel's smoothed engagement rate, in listed order.
type Rates = Vec<(Channel, f64)>;

/// The reason on a send whose channel `channel: best` chose.
const BEST_CHANNEL: &str = "best_channel";

/// Where a node visit leaves the instance.
enum Visit {
    /// Go on to this node, or end (completed) when there is none.
    Next(Option<NodeIndex>),
    /// It waits, is deferred, or ended.
    Rests,
}

impl<'a> Step<'a> {
    /// Moves to `next`, or ends the instance as completed when there is none.
    pub(super) fn go(
        &mut self,
        i: usize,
        journey: &Journey,
        next: Option<NodeIndex>,
        event: Option<&Event>,
    ) {
        match next {
            Some(n) => self.walk(i, journey, n, event, true),
            None => self.end(i, COMPLETED),
        }
    }

    /// Runs nodes from `at` until the instance waits or ends. Validation
    /// refuses cycles without a wait, so this visits each node at most once;
    /// the bound is a second line of defence. `arrival`: whether coming to
    /// `at` is an arrival (not when a deferred send is checked again).
    pub(super) fn walk(
        &mut self,
        i: usize,
        journey: &Journey,
        mut at: NodeIndex,
        event: Option<&Event>,
        mut arrival: bool,
    ) {
        for _ in 0..=journey.nodes.len() {
            let from = {
                let node = journey.node(at);
                let instance = &mut self.instances[i];
                let from = (instance.steps > 0).then(|| Arc::clone(&instance.node));
                instance.node.clone_from(&node.id);
                instance.node_index = at.0;
                instance.steps += 1;
                from
            };
            let first = self.effects.len();
            let visit = self.visit(i, journey, at, event);
            if arrival {
                self.mark_arrival(i, first, from);
            }
            arrival = true;
            match visit {
                Visit::Rests => return,
                Visit::Next(Some(n)) => at = n,
                Visit::Next(None) => {
                    self.end(i, COMPLETED);
                    return;
                }
            }
        }
        self.end(i, "loop");
    }

    /// Flags the first record instance `i` made since effect `first` as
    /// its arrival at the node, coming `from` another.
    fn mark_arrival(&mut self, i: usize, first: usize, from: Option<Arc<str>>) {
        let id = &self.instances[i].id;
        let made = self.effects[first..]
            .iter_mut()
            .find_map(|effect| match effect {
                Effect::Record(record) if record.instance == *id => Some(record),
                _ => None,
            });
        if let Some(record) = made {
            record.arrived = true;
            record.from = from;
        }
    }

    /// One node: what it does, and where the instance goes next (or that it
    /// rests there: waiting, deferred or ended).
    fn visit(
        &mut self,
        i: usize,
        journey: &Journey,
        at: NodeIndex,
        event: Option<&Event>,
    ) -> Visit {
        let node = journey.node(at);
        let next = match &node.kind {
            NodeKind::Send {
                channels,
                best,
                template,
                topic,
                next,
            } => {
                let topic = topic.as_ref().or(journey.topic.as_ref());
                let best = if *best {
                    self.best_first(journey, channels, topic)
                } else {
                    None
                };
                let (channels, rates) = match &best {
                    Some((ordered, rates)) => (ordered.as_slice(), Some(rates)),
                    None => (channels.as_slice(), None),
                };
                let sent = self.send(i, journey, channels, template, topic, rates);
                if let Some((channel, until)) = sent {
                    self.defer(i, channel, template, until);
                    return Visit::Rests;
                }
                *next
            }
            NodeKind::Wait { wait, .. } => {
                let due = match wait {
                    WaitFor::Duration(d) => self.now + d.to_delta(),
                    WaitFor::Until(time) => next_local_time(self.now, *time, self.timezone()),
                    WaitFor::BestTime { within, default } => crate::best_time::best_time(
                        &self.profile.engagement_hours,
                        self.engine.engagement_prior(),
                        self.now,
                        within.to_delta(),
                        *default,
                        self.timezone(),
                    ),
                };
                self.wait(i, Some(due));
                return Visit::Rests;
            }
            NodeKind::WaitForEvent { timeout, .. } => {
                self.wait(i, timeout.map(|t| self.now + t.to_delta()));
                return Visit::Rests;
            }
            NodeKind::WaitForSegment {
                segment,
                timeout,
                on_enter,
                ..
            } => {
                // Waiting for a state: a member already goes straight on.
                if !self.is_member(segment) {
                    self.wait(i, timeout.map(|t| self.now + t.to_delta()));
                    return Visit::Rests;
                }
                self.passed(i);
                *on_enter
            }
            NodeKind::Branch { branches, default } => {
                let chosen = {
                    let instance = &self.instances[i];
                    let scope = self.scope(journey, Some(instance), event, &instance.trigger);
                    branches
                        .iter()
                        .find(|(condition, _)| scope.test(self.engine.env(), condition))
                        .map_or(*default, |(_, next)| *next)
                };
                let mut record = self.record(i, RecordKind::Branch, None);
                record.next = Some(journey.node(chosen).id.clone());
                self.effects.push(Effect::Record(record));
                Some(chosen)
            }
            NodeKind::Split { variants } => {
                let total: u64 = variants.iter().map(|v| u64::from(v.weight)).sum();
                let mut pick = stable_hash(
                    self.engine.config().seed,
                    &["split", &journey.id, &node.id, self.profile.id.as_str()],
                ) % total.max(1);
                let variant = variants
                    .iter()
                    .find(|v| {
                        let hit = pick < u64::from(v.weight);
                        pick = pick.saturating_sub(u64::from(v.weight));
                        hit
                    })
                    .unwrap_or(&variants[0]);
                let mut record = self.record(i, RecordKind::Split, None);
                record.variant = Some(variant.name.clone());
                record.next = Some(journey.node(variant.next).id.clone());
                self.effects.push(Effect::Record(record));
                self.instances[i].split = Some((node.id.clone(), variant.name.clone()));
                Some(variant.next)
            }
            NodeKind::Optimize {
                variants,
                explore_bp,
                ..
            } => Some(self.optimize(i, journey, node, variants, *explore_bp)),
            NodeKind::UpdateProfile { set, next } => {
                let profile = self.profile.to_mut();
                for (key, value) in set {
                    profile.set_trait(key, value.clone(), self.now);
                }
                self.updated_traits.extend(set.keys().cloned());
                let key = self.key(i, "update_profile");
                self.effects.push(Effect::UpdateProfile(ProfileUpdate {
                    key,
                    profile: self.profile.id.clone(),
                    set: set.clone(),
                    at: self.now,
                }));
                self.passed(i);
                *next
            }
            NodeKind::Exit => {
                self.end(i, COMPLETED);
                return Visit::Rests;
            }
        };
        Visit::Next(next)
    }

    /// A send node: the first channel the profile can be reached on and has
    /// not unsubscribed from, unless the instance is in the control group;
    /// then the workspace policies. Returns the channel and until when, if
    /// quiet hours defer it.
    fn send(
        &mut self,
        i: usize,
        journey: &Journey,
        channels: &[Channel],
        template: &Arc<str>,
        topic: Option<&Arc<str>>,
        rates: Option<&Rates>,
    ) -> Option<(Channel, Timestamp)> {
        let instance = &self.instances[i];
        let is_reachable = |c: &Channel| reachable(&self.profile, *c);
        let allowed = channels
            .iter()
            .copied()
            .find(|c| is_reachable(c) && self.profile.allows_channel(*c));
        let first_reachable = channels.iter().find(|c| is_reachable(c));
        let (kind, channel, reason) = match (allowed, first_reachable) {
            _ if instance.control => (RecordKind::Suppressed, channels[0], Some(HOLDOUT)),
            (Some(channel), _) => (RecordKind::Send, channel, None),
            (None, Some(unsubscribed)) => {
                (RecordKind::Suppressed, *unsubscribed, Some(UNSUBSCRIBED))
            }
            (None, None) => (RecordKind::Suppressed, channels[0], Some(UNREACHABLE)),
        };
        let (kind, reason) = match kind {
            RecordKind::Send => match self.guard(journey, channel, topic.map(|t| &**t)) {
                Verdict::Send => (kind, reason),
                Verdict::Withhold(why) => (RecordKind::Suppressed, Some(why)),
                Verdict::Defer(until) => return Some((channel, until)),
            },
            _ => (kind, reason),
        };
        let mut record = self.record(i, kind, Some(channel));
        record.template = Some(Arc::clone(template));
        record.reason = reason.map(str::to_owned);
        if let Some(rates) = rates.filter(|_| kind == RecordKind::Send) {
            record.reason = Some(BEST_CHANNEL.to_owned());
            record.value = Some(Value::Object(
                rates
                    .iter()
                    // Four places: what a person reads in a trace.
                    .map(|(c, rate)| (c.to_string(), Value::from((rate * 1e4).round() / 1e4)))
                    .collect(),
            ));
        }
        if let Some(key) = record.delivery_key() {
            let horizon = self.engine.policies().history_horizon();
            self.profile
                .to_mut()
                .record_send(self.now, channel, topic.cloned(), horizon);
            let instance = &self.instances[i];
            self.effects.push(Effect::Send(SendRequest {
                key,
                profile: self.profile.id.clone(),
                journey: journey.id.clone(),
                version: journey.version,
                instance: instance.id.clone(),
                node: instance.node.clone(),
                channel,
                template: Arc::clone(template),
                topic: topic.cloned(),
                trigger: instance.trigger.clone(),
            }));
        }
        self.effects.push(Effect::Record(record));
        None
    }

    /// For `channel: best`: the listed channels, the one with the highest
    /// smoothed engagement rate first among those the person can be sent
    /// on now (reachable, consented, not capped), with the rates compared.
    /// `None` when none can be sent on: the listed order then says why.
    fn best_first(
        &self,
        journey: &Journey,
        channels: &[Channel],
        topic: Option<&Arc<str>>,
    ) -> Option<(Vec<Channel>, Rates)> {
        let candidates: Vec<Channel> = channels
            .iter()
            .copied()
            .filter(|c| reachable(&self.profile, *c) && self.profile.allows_channel(*c))
            .filter(|c| {
                self.guard(journey, *c, topic.map(|t| &**t)) != Verdict::Withhold(FREQUENCY_CAP)
            })
            .collect();
        let counts = |c: Channel| {
            self.profile
                .channel_engagement
                .get(&c)
                .copied()
                .unwrap_or_default()
        };
        let (chosen, rates) = best_channel(&candidates, counts, self.engine.channel_prior())?;
        let mut ordered = vec![chosen];
        ordered.extend(channels.iter().copied().filter(|c| *c != chosen));
        Some((ordered, rates))
    }

    /// Holds a send until `until` (quiet hours), with a timer; it is
    /// checked again then.
    fn defer(&mut self, i: usize, channel: Channel, template: &Arc<str>, until: Timestamp) {
        self.set_timer(i, until);
        let mut record = self.record(i, RecordKind::Deferred, Some(channel));
        record.template = Some(Arc::clone(template));
        record.until = Some(until);
        self.effects.push(Effect::Record(record));
    }

    /// Records that the instance went through a node that records nothing else.
    fn passed(&mut self, i: usize) {
        let record = self.record(i, RecordKind::Passed, None);
        self.effects.push(Effect::Record(record));
    }

    /// Holds the instance on its node, with a timer when `due` is set.
    fn wait(&mut self, i: usize, due: Option<Timestamp>) {
        if let Some(due) = due {
            self.set_timer(i, due);
        }
        let mut record = self.record(i, RecordKind::Wait, None);
        record.until = due;
        self.effects.push(Effect::Record(record));
    }

    /// Wakes instance `i` at `due`.
    fn set_timer(&mut self, i: usize, due: Timestamp) {
        {
            let instance = &mut self.instances[i];
            let token = instance.next_token;
            instance.next_token += 1;
            instance.timer = Some(PendingTimer { token, due });
            let timer = Timer {
                key: format!("{}/timer/{token}", instance.id),
                profile: self.profile.id.clone(),
                journey: instance.journey.clone(),
                instance: instance.id.clone(),
                token,
                due,
                entry: false,
            };
            self.effects.push(Effect::ScheduleTimer(timer));
        }
    }

    pub(super) fn cancel_timer(&mut self, i: usize) {
        let instance = &mut self.instances[i];
        if let Some(pending) = instance.timer.take() {
            let timer = Timer {
                key: format!("{}/timer/{}", instance.id, pending.token),
                profile: self.profile.id.clone(),
                journey: instance.journey.clone(),
                instance: instance.id.clone(),
                token: pending.token,
                due: pending.due,
                entry: false,
            };
            self.effects.push(Effect::CancelTimer(timer));
        }
    }

    pub(super) fn end(&mut self, i: usize, reason: &str) {
        self.cancel_timer(i);
        self.instances[i].status = InstanceStatus::Ended {
            reason: reason.to_owned(),
            at: self.now,
        };
        let mut record = self.record(i, RecordKind::Exited, None);
        record.reason = Some(reason.to_owned());
        self.effects.push(Effect::Record(record));
    }
}
