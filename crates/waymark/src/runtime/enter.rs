//! Entries by API: a backend enters a person into a journey (a password
//! reset, an order confirmation), once per call id however often the call
//! is retried.

use serde_json::{Map, Value};
use waymark_core::{Event, EventType};
use waymark_journey::Trigger;

use super::ingest::remember_messages;
use super::waymark::{Error, Waymark};
use super::writes::Writes;
use crate::step::Ingested;

/// One entry by API (its JSON form is what `journey enter --kafka`
/// publishes to the enter topic).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterRequest {
    /// The journey (its latest active version), whose entry is `api`.
    pub journey: String,
    /// The call's id: a call retried with the same id enters nobody again.
    pub call_id: String,
    /// Who: a user id, an anonymous id, or both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
    /// Traits set with the entry (`email`, `phone`, ...: how to reach them).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub traits: Map<String, Value>,
    /// The call's data, in scope as `event.properties` in the journey.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

/// What an entry by API did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entered {
    /// The call was decided: `entered` unless the journey's entry rules
    /// (re-entry, `where`, `audience`) kept the person out.
    Decided { entered: bool, sends: usize },
    /// A call with this id was decided before: nothing was done.
    Repeated,
}

impl Waymark {
    /// Enters the person `request` names into its journey, durably when it
    /// returns; once per call id.
    pub fn enter(&self, request: &EnterRequest) -> Result<Entered, Error> {
        let now = self.clock.now();
        let engine = self.engine();
        match engine.active_journey(&request.journey) {
            None => return Err(Error::UnknownJourney(request.journey.clone())),
            Some(journey) if !matches!(journey.entry.trigger, Trigger::Api) => {
                return Err(Error::NotByApi(request.journey.clone()));
            }
            Some(_) => {}
        }
        if request.user_id.is_none() && request.anonymous_id.is_none() {
            return Err(Error::NoIdentifier);
        }
        // The person as an `identify` of the call: its ids and traits, its
        // message id the call's (per journey), for the dedupe window.
        let call = Event {
            kind: EventType::Identify,
            message_id: format!("enter:{}:{}", request.journey, request.call_id),
            user_id: request.user_id.clone(),
            anonymous_id: request.anonymous_id.clone(),
            previous_id: None,
            group_id: None,
            event: None,
            properties: Map::new(),
            traits: request.traits.clone(),
            context: Map::new(),
            timestamp: now,
            received_at: now,
        };
        let mut state = self.lock()?;
        self.make_room(&mut state);
        let mut writes = Writes::for_step(self.records.is_some());
        let calls = std::slice::from_ref(&call);
        if self.is_shared() {
            // As an event: the person locked and read afresh (docs/scale.md).
            writes.lane = self.lane_for(None);
            if let Err(error) = self.load_locked_for_events(&mut state, calls, &mut writes.locks) {
                self.give_back(&writes.locks.0);
                return Err(error);
            }
        } else {
            state.load_for_events(self.store.as_ref(), calls)?;
        }
        let outcome = state.journeys.enter(
            &engine,
            &call,
            &request.journey,
            &request.data,
            now,
            &mut writes,
        );
        let sends = match outcome {
            Ingested::Processed { sends } => sends,
            refused => {
                self.give_back(&writes.locks.0);
                return match refused {
                    Ingested::Duplicate => Ok(Entered::Repeated),
                    _ => Err(Error::NoIdentifier),
                };
            }
        };
        writes.messages.push(call.message_id.as_str());
        remember_messages(&mut state, &mut writes, now);
        let entered = writes.entered(&request.journey);
        drop(engine);
        self.commit(state, writes)?;
        Ok(Entered::Decided { entered, sends })
    }
}
