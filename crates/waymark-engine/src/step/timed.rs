//! Time-based entries: inactivity, date traits and schedules, each a
//! durable entry timer per person and journey, computed from the profile
//! so that a timer the profile no longer agrees with is inert.

use std::sync::Arc;

use chrono::{LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use serde_json::Value;
use waymark_core::{Event, Timestamp, parse_timestamp};
use waymark_identity::ProfileChanges;
use waymark_journey::{DateTrigger, Journey, ScheduleTrigger, ScheduleZone, Trigger};

use super::{Entrance, Step};
use crate::effect::{Effect, RecordKind, Timer};
use crate::segments::EVERYONE;

/// Reason of a `skipped` record for a date trait that does not parse.
const INVALID_DATE: &str = "invalid_date";

/// When a date trigger enters, from the profile.
#[derive(Debug, PartialEq)]
enum DateDue {
    At(Timestamp),
    /// The trait is not set.
    Unset,
    /// The trait is set to something that is not a date.
    Invalid(Value),
}

impl Step<'_> {
    /// Moves the entry timers a change affects: inactivity on the event's
    /// name, dates on their trait (or the time zone), schedules on the
    /// time zone.
    pub(crate) fn reschedule(&mut self, changes: &ProfileChanges<'_>, event: Option<&Event>) {
        let engine = self.engine;
        if let (Some(name), Some(event)) = (changes.event, event) {
            for journey in engine.inactive_on(name) {
                // An event older than the last one moves nothing.
                if self.inactive_due(journey) == self.inactive_due_from(journey, event.timestamp) {
                    self.schedule_inactive(journey);
                }
            }
        }
        if changes.everything || changes.timezone {
            for journey in engine.date_journeys() {
                self.schedule_date(journey);
            }
            for journey in engine.zoned() {
                if let Trigger::Schedule(schedule) = &journey.entry.trigger
                    && self.in_schedule(schedule)
                {
                    self.schedule_next(journey, self.now);
                }
            }
        } else {
            for name in &changes.traits {
                for journey in engine.dated_by(name) {
                    self.schedule_date(journey);
                }
            }
        }
    }

    /// A time-based entry timer is due: enters if the profile still agrees
    /// it is (a newer event, a changed date or time zone make it inert).
    pub(crate) fn on_entry_due(&mut self, journey_id: &str, due: Timestamp) {
        let Some(journey) = self.engine.active_journey(journey_id) else {
            return;
        };
        let kind = match &journey.entry.trigger {
            Trigger::Inactive { .. } if self.inactive_due(journey) == Some(due) => "inactive",
            Trigger::Date(date) if self.date_due(date) == DateDue::At(due) => "date",
            Trigger::Schedule(schedule) if self.in_schedule(schedule) => {
                let current = self.next_occurrence(schedule, due - chrono::TimeDelta::seconds(1));
                if current != Some(due) {
                    return;
                }
                self.schedule_next(journey, due);
                "schedule"
            }
            _ => return,
        };
        let trigger = self.synthetic_trigger(kind, None);
        self.try_enter(journey, Entrance::Synthetic(trigger));
    }

    /// A journey was deployed: its entry timer for this profile.
    pub(crate) fn on_journey_changed(&mut self, journey_id: &str) {
        let Some(journey) = self.engine.active_journey(journey_id) else {
            return;
        };
        match &journey.entry.trigger {
            Trigger::Inactive { .. } => self.schedule_inactive(journey),
            Trigger::Date(_) => self.schedule_date(journey),
            Trigger::Schedule(schedule) if self.in_schedule(schedule) => {
                self.schedule_next(journey, self.now);
            }
            _ => {}
        }
    }

    fn schedule_inactive(&mut self, journey: &Arc<Journey>) {
        if let Some(due) = self.inactive_due(journey).filter(|due| *due > self.now) {
            self.set_entry_timer(journey, due);
        }
    }

    /// `for` after the last of the journey's events; none if never seen.
    fn inactive_due(&self, journey: &Journey) -> Option<Timestamp> {
        let Trigger::Inactive { events, .. } = &journey.entry.trigger else {
            return None;
        };
        let last = events
            .iter()
            .filter_map(|name| self.profile.events.get(name))
            .map(|stats| stats.last_seen)
            .max()?;
        self.inactive_due_from(journey, last)
    }

    fn inactive_due_from(&self, journey: &Journey, last: Timestamp) -> Option<Timestamp> {
        match &journey.entry.trigger {
            Trigger::Inactive { after, .. } => Some(last + after.to_delta()),
            _ => None,
        }
    }

    fn schedule_date(&mut self, journey: &Arc<Journey>) {
        let Trigger::Date(date) = &journey.entry.trigger else {
            return;
        };
        match self.date_due(date) {
            DateDue::At(due) if due > self.now => self.set_entry_timer(journey, due),
            DateDue::At(_) | DateDue::Unset => self.clear_entry_timer(journey),
            DateDue::Invalid(found) => {
                self.clear_entry_timer(journey);
                let key = format!(
                    "{}/skipped/{}/{}",
                    Timer::entry_id(&journey.id, &self.profile.id),
                    date.trait_name,
                    self.now.timestamp_millis()
                );
                let mut record = self.person_record(key, RecordKind::Skipped, &journey.id);
                record.reason = Some(INVALID_DATE.to_owned());
                record.value =
                    Some(serde_json::json!({ "trait": date.trait_name, "found": found }));
                self.effects.push(Effect::Record(record));
            }
        }
    }

    /// The moment a date trigger names: the trait's date shifted by
    /// `offset`, at `at` local time (or the trait's own instant).
    fn date_due(&self, date: &DateTrigger) -> DateDue {
        let value = match self.profile.traits.get(&date.trait_name) {
            None | Some(Value::Null) => return DateDue::Unset,
            Some(v) => v,
        };
        let tz = self.timezone();
        let text = value.as_str().unwrap_or_default().trim();
        let offset = chrono::TimeDelta::seconds(date.offset_seconds);
        let (day, instant) = if let Ok(t) = parse_timestamp(text) {
            (t.with_timezone(&tz).date_naive(), Some(t))
        } else if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            (d, None)
        } else {
            return DateDue::Invalid(value.clone());
        };
        let local = match (date.at, instant) {
            (None, Some(t)) => return DateDue::At(t + offset),
            (Some(at), _) => day.and_time(at),
            (None, None) => day.and_time(chrono::NaiveTime::MIN),
        };
        match resolve_local(local + offset, tz) {
            Some(t) => DateDue::At(t),
            None => DateDue::Invalid(value.clone()),
        }
    }

    /// Whether the person is in the schedule's audience.
    fn in_schedule(&self, schedule: &ScheduleTrigger) -> bool {
        self.is_member(schedule.segment.as_deref().unwrap_or(EVERYONE))
    }

    /// Sets the entry timer for the schedule's first occurrence after `after`.
    pub(crate) fn schedule_next(&mut self, journey: &Arc<Journey>, after: Timestamp) {
        let Trigger::Schedule(schedule) = &journey.entry.trigger else {
            return;
        };
        if let Some(due) = self.next_occurrence(schedule, after) {
            self.set_entry_timer(journey, due);
        }
    }

    /// The first occurrence strictly after `after` in the schedule's zone.
    fn next_occurrence(&self, schedule: &ScheduleTrigger, after: Timestamp) -> Option<Timestamp> {
        let tz = match schedule.timezone {
            ScheduleZone::Fixed(tz) => tz,
            ScheduleZone::Profile => self.timezone(),
        };
        schedule
            .cron
            .find_next_occurrence(&after.with_timezone(&tz), false)
            .ok()
            .map(|t| t.to_utc())
    }

    fn set_entry_timer(&mut self, journey: &Journey, due: Timestamp) {
        let instance = Timer::entry_id(&journey.id, &self.profile.id);
        // Joining a segment and a new time zone in one event ask twice.
        let asked = self.effects.iter().any(
            |e| matches!(e, Effect::ScheduleTimer(t) if t.instance == instance && t.due == due),
        );
        if asked {
            return;
        }
        self.effects.push(Effect::ScheduleTimer(Timer {
            key: format!("{instance}/{}", due.timestamp_millis()),
            profile: self.profile.id.clone(),
            journey: journey.id.clone(),
            instance,
            token: due.timestamp_millis().unsigned_abs(),
            due,
            entry: true,
        }));
    }

    /// Cancels the person's entry timer for `journey`, whatever its due time.
    pub(crate) fn clear_entry_timer(&mut self, journey: &Journey) {
        let instance = Timer::entry_id(&journey.id, &self.profile.id);
        self.effects.push(Effect::CancelTimer(Timer {
            key: format!("{instance}/cancel"),
            profile: self.profile.id.clone(),
            journey: journey.id.clone(),
            instance,
            token: 0,
            due: self.now,
            entry: true,
        }));
    }
}

/// A local date and time in `tz` as an instant: the first of two in a
/// fall-back hour, an hour later in a spring-forward gap.
fn resolve_local(local: NaiveDateTime, tz: chrono_tz::Tz) -> Option<Timestamp> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.to_utc()),
        LocalResult::None => tz
            .from_local_datetime(&(local + chrono::TimeDelta::hours(1)))
            .earliest()
            .map(|t| t.to_utc()),
    }
}
