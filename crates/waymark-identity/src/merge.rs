//! How two profiles of one person combine when their identities merge.

use waymark_core::Profile;

/// Folds `loser` into `winner`: traits last-write-wins by event time per
/// trait, counters add, consent takes the most restrictive answer per
/// channel and topic, push tokens unite; ids and time zone are the winner's
/// unless it has none.
pub fn absorb(winner: &mut Profile, loser: Profile) {
    if winner.user_id.is_none() {
        winner.user_id = loser.user_id;
    }
    if winner.anonymous_id.is_none() {
        winner.anonymous_id = loser.anonymous_id;
    }
    for (key, value) in loser.traits {
        let Some(at) = loser.trait_times.get(&key).copied() else {
            continue;
        };
        let newer = winner.trait_times.get(&key).is_none_or(|known| at > *known);
        if newer {
            winner.set_trait(&key, value, at);
        }
    }
    if winner.timezone.is_none() {
        winner.timezone = loser.timezone;
    }
    winner.undeliverable.extend(loser.undeliverable);
    for (device, token) in loser.push_tokens {
        winner.push_tokens.entry(device).or_insert(token);
    }
    for (key, theirs) in loser.consent {
        let merged = match winner.consent.get(&key) {
            None => theirs,
            // The most restrictive answer wins; between equal answers, the latest.
            Some(ours) if ours.subscribed != theirs.subscribed => {
                if ours.subscribed {
                    theirs
                } else {
                    *ours
                }
            }
            Some(ours) => {
                if theirs.at > ours.at {
                    theirs
                } else {
                    *ours
                }
            }
        };
        winner.consent.insert(key, merged);
    }
    for (name, theirs) in loser.events {
        winner
            .events
            .entry(name)
            .and_modify(|ours| {
                ours.count += theirs.count;
                ours.first_seen = ours.first_seen.min(theirs.first_seen);
                ours.last_seen = ours.last_seen.max(theirs.last_seen);
            })
            .or_insert(theirs);
    }
    winner.revenue += loser.revenue;
    for (ours, theirs) in winner
        .engagement_hours
        .iter_mut()
        .zip(loser.engagement_hours)
    {
        *ours += theirs;
    }
    for (channel, theirs) in loser.channel_engagement.iter() {
        match winner.channel_engagement.get_mut(channel) {
            Some(ours) => ours.add(*theirs),
            None => {
                winner.channel_engagement.insert(*channel, *theirs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use waymark_core::{Consent, EventStats, ProfileId, parse_timestamp};

    use super::*;

    #[test]
    fn merge_rules() {
        let t = |s: &str| parse_timestamp(s).unwrap();
        let mut winner = Profile::new(ProfileId::from("w"));
        winner.set_trait("plan", json!("free"), t("2026-01-01T00:00:00Z"));
        winner.set_trait("city", json!("Berlin"), t("2026-01-05T00:00:00Z"));
        winner.consent.insert(
            "channel:email".into(),
            Consent {
                subscribed: true,
                at: t("2026-01-09T00:00:00Z"),
            },
        );
        winner.events.insert(
            "Login".into(),
            EventStats {
                count: 2,
                first_seen: t("2026-01-02T00:00:00Z"),
                last_seen: t("2026-01-03T00:00:00Z"),
            },
        );
        winner.revenue = 10.0;
        let mut loser = Profile::new(ProfileId::from("l"));
        loser.user_id = Some("u1".into());
        loser.set_trait("plan", json!("pro"), t("2026-01-02T00:00:00Z"));
        loser.set_trait("city", json!("Paris"), t("2026-01-04T00:00:00Z"));
        loser.consent.insert(
            "channel:email".into(),
            Consent {
                subscribed: false,
                at: t("2026-01-01T00:00:00Z"),
            },
        );
        loser.events.insert(
            "Login".into(),
            EventStats {
                count: 1,
                first_seen: t("2026-01-01T00:00:00Z"),
                last_seen: t("2026-01-01T00:00:00Z"),
            },
        );
        loser.revenue = 5.5;
        loser.engagement_hours[9] = 3;
        absorb(&mut winner, loser);
        assert_eq!(winner.traits["plan"], "pro", "the newer write wins");
        assert_eq!(winner.traits["city"], "Berlin", "the newer write wins");
        assert!(
            !winner.consent.get("channel:email").unwrap().subscribed,
            "the most restrictive answer wins"
        );
        assert_eq!(winner.events.get("Login").unwrap().count, 3);
        assert_eq!(
            winner.events.get("Login").unwrap().first_seen,
            t("2026-01-01T00:00:00Z")
        );
        assert_eq!(winner.revenue, 15.5);
        assert_eq!(winner.engagement_hours[9], 3);
        assert_eq!(winner.user_id.as_deref(), Some("u1"));
        assert_eq!(winner.id.as_str(), "w");
    }
}
