//! The workspace policies every send passes, in a fixed order so that a
//! withheld send has exactly one reason: topic consent, the transactional
//! exemption, suppression windows, quiet hours, frequency caps. (Holdout,
//! channel consent and reachability are decided before, with the channel.)

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use chrono_tz::Tz;
use waymark_core::{Channel, Timestamp};
use waymark_journey::Journey;

use super::Step;
use crate::local_time::next_local_time;
use crate::policies::{Cap, QuietAction, QuietHours, TopicDefault, Window};

pub(crate) const NOT_SUBSCRIBED: &str = "not_subscribed";
pub(crate) const SUPPRESSION_WINDOW: &str = "suppression_window";
pub(crate) const QUIET_HOURS: &str = "quiet_hours";
pub(crate) const FREQUENCY_CAP: &str = "frequency_cap";

/// What the policies say about one send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Send,
    /// Not sent, for this reason.
    Withhold(&'static str),
    /// Held until this instant (quiet hours), then checked again.
    Defer(Timestamp),
}

impl Step<'_> {
    /// The policies' verdict on sending on `channel` about `topic` now.
    pub(crate) fn guard(
        &self,
        journey: &Journey,
        channel: Channel,
        topic: Option<&str>,
    ) -> Verdict {
        let policies = self.engine.policies();
        if let Some(topic) = topic
            && !self.subscribed_to(topic)
        {
            return Verdict::Withhold(NOT_SUBSCRIBED);
        }
        if journey.transactional {
            return Verdict::Send;
        }
        let suppressed = policies.suppress_after.iter().any(|s| {
            self.profile.events.get(&s.event).is_some_and(|stats| {
                stats.last_seen <= self.now && self.now < stats.last_seen + s.for_.to_delta()
            })
        });
        if suppressed {
            return Verdict::Withhold(SUPPRESSION_WINDOW);
        }
        // The zone is read once: parsing it is most of a cap's cost.
        let tz = self.timezone();
        let local = self.now.with_timezone(&tz);
        if let Some(quiet) = &policies.quiet_hours
            && in_quiet_hours(quiet, local.time())
        {
            return match quiet.action {
                QuietAction::Skip => Verdict::Withhold(QUIET_HOURS),
                QuietAction::Defer => Verdict::Defer(next_local_time(self.now, quiet.to, tz)),
            };
        }
        let today = local.date_naive();
        let capped = policies.caps.iter().any(|cap| {
            let applies = cap.channel.is_none_or(|c| c == channel)
                && cap.topic.as_deref().is_none_or(|t| Some(t) == topic);
            applies && self.sent_within(cap, tz, today) >= cap.max
        });
        if capped {
            return Verdict::Withhold(FREQUENCY_CAP);
        }
        Verdict::Send
    }

    /// The person's answer for `topic`: what they said, else the topic's default.
    fn subscribed_to(&self, topic: &str) -> bool {
        match self.profile.consent.get(&format!("topic:{topic}")) {
            Some(consent) => consent.subscribed,
            None => {
                let default = self.engine.policies().topics.get(topic);
                default != Some(&TopicDefault::OptIn)
            }
        }
    }

    /// Sends in the person's history matching a cap's channel and topic
    /// within its window ending now (`today`: the local date in `tz`).
    fn sent_within(&self, cap: &Cap, tz: Tz, today: NaiveDate) -> u32 {
        let (channel, topic) = (cap.channel, cap.topic.as_deref());
        let in_window = |at: Timestamp| match cap.per {
            Window::Rolling(d) => at > self.now - d.to_delta() && at <= self.now,
            Window::Day => at <= self.now && at.with_timezone(&tz).date_naive() == today,
            Window::Week => {
                at <= self.now && at.with_timezone(&tz).date_naive().iso_week() == today.iso_week()
            }
        };
        let count = self
            .profile
            .sent
            .iter()
            .filter(|s| channel.is_none_or(|c| c == s.channel))
            .filter(|s| topic.is_none_or(|t| s.topic.as_deref() == Some(t)))
            .filter(|s| in_window(s.at))
            .count();
        u32::try_from(count).unwrap_or(u32::MAX)
    }
}

/// Whether local time `local` (to the second) falls in quiet hours.
fn in_quiet_hours(quiet: &QuietHours, local: NaiveTime) -> bool {
    let local =
        NaiveTime::from_hms_opt(local.hour(), local.minute(), local.second()).unwrap_or(local);
    if quiet.from < quiet.to {
        quiet.from <= local && local < quiet.to
    } else {
        local >= quiet.from || local < quiet.to
    }
}
