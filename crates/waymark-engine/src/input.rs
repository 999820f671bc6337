//! What the engine reacts to.

use serde_json::{Map, Value};
use waymark_core::{Event, ProfileId, Timestamp};

use crate::instance::Instance;

/// One input for one profile.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Something the person did.
    Event(&'a Event),
    /// A timer the engine scheduled is due. A token that is no longer the
    /// instance's current one (the timer was superseded) changes nothing.
    TimerFired { instance: &'a str, token: u64 },
    /// An explicit entry into a journey through the API, with properties the
    /// journey sees as `event.properties`.
    ApiEnter {
        journey: &'a str,
        properties: &'a Map<String, Value>,
    },
    /// A time-based entry timer of `journey` (inactivity, date, schedule)
    /// set for `due` is due. One that no longer matches the profile (a
    /// newer event, a changed date) changes nothing.
    EntryDue { journey: &'a str, due: Timestamp },
    /// `journey` was deployed: set its time-based entry timer for this
    /// profile (for people known before the journey was).
    JourneyChanged { journey: &'a str },
    /// Identity resolution merged profile `from` into this one: its journey
    /// instances fold into this profile's. Where both run the same journey,
    /// the earlier-entered instance stays and the other exits (`merged`).
    ProfileMerged {
        from: &'a ProfileId,
        instances: &'a [Instance],
    },
}
