//! A journey with a time-based entry (inactivity, a date trait, a
//! schedule) deployed after people were known: each of them gets the
//! entry timer they would have had, had the journey been there all along.

use super::waymark::{Error, Waymark};
use super::writes::Writes;

impl Waymark {
    /// Sets the entry timers of the active version of `journey` for the
    /// people known already (a schedule's segment members, found by the
    /// membership index; for dates, inactivity and everyone-schedules,
    /// every profile). Durable when it returns; running it again sets the
    /// same timers. Returns how many profiles were decided.
    pub fn schedule_deployed(&self, journey: &str) -> Result<usize, Error> {
        let now = self.clock.now();
        let engine = self.engine();
        let timed = engine
            .active_journey(journey)
            .is_some_and(|j| j.entry.trigger.is_timed());
        if !timed {
            return Ok(0);
        }
        let mut state = self.lock()?;
        let mut writes = Writes::for_step(self.records.is_some());
        let decided = state
            .journeys
            .journey_changed(&engine, journey, now, &mut writes);
        drop(engine);
        self.commit(state, writes)?;
        tracing::info!(
            journey,
            profiles = decided,
            "entry timers set for a deployed journey"
        );
        Ok(decided)
    }
}
