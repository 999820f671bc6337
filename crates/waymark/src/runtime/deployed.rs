//! A journey with a time-based entry (inactivity, a date trait, a
//! schedule) deployed after people were known: each of them gets the
//! entry timer they would have had, had the journey been there all along.

use waymark_core::ProfileId;
use waymark_store::Space;

use super::layout::for_each_page;
use super::waymark::{Error, Waymark};
use super::writes::Writes;
use crate::step::{Audience, audience};

/// People decided per commit (each chunk read, decided and written
/// before the next: memory stays within the cache's budget).
const CHUNK: usize = 1000;

impl Waymark {
    /// Sets the entry timers of the active version of `journey` for the
    /// people known already (a schedule's segment members, found by the
    /// store's member index; for dates, inactivity and everyone-schedules,
    /// every stored profile). Durable when it returns; running it again
    /// sets the same timers. Returns how many profiles were decided.
    pub fn schedule_deployed(&self, journey: &str) -> Result<usize, Error> {
        let Some(audience) = audience(&self.engine(), journey) else {
            return Ok(0);
        };
        let mut decided = 0;
        match audience {
            Audience::Segment(segment) => {
                for chunk in self.segment_members(&segment)?.chunks(CHUNK) {
                    decided += self.tell_deployed(journey, chunk)?;
                }
            }
            Audience::Everyone => {
                for_each_page(self.store.as_ref(), Space::Profiles, CHUNK, |page| {
                    let ids: Vec<ProfileId> = page
                        .into_iter()
                        .map(|(key, _)| ProfileId::from(String::from_utf8_lossy(&key).into_owned()))
                        .collect();
                    decided += self.tell_deployed(journey, &ids)?;
                    Ok::<_, Error>(())
                })?;
            }
        }
        tracing::info!(
            journey,
            profiles = decided,
            "entry timers set for a deployed journey"
        );
        Ok(decided)
    }

    /// Decides the deploy of `journey` for some of its audience, in one commit.
    fn tell_deployed(&self, journey: &str, people: &[ProfileId]) -> Result<usize, Error> {
        let now = self.clock.now();
        let engine = self.engine();
        let mut state = self.lock()?;
        self.make_room(&mut state);
        state.load_profiles(self.store.as_ref(), people, true)?;
        let mut live: Vec<ProfileId> = people
            .iter()
            .filter_map(|id| state.journeys.identity.canonical(id))
            .collect();
        live.sort();
        live.dedup();
        let mut writes = Writes::for_step(self.records.is_some());
        state
            .journeys
            .tell_journey_changed(&engine, journey, &live, now, &mut writes);
        drop(engine);
        self.commit(state, writes)?;
        Ok(live.len())
    }
}
