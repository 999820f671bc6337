//! `waymark-core` is the shared vocabulary of Waymark: what every other crate
//! agrees on.
//!
//! It owns the Segment-spec [`Event`] model with strict parsing (every error
//! names the offending field), the [`Identifier`] kinds, typed ids
//! ([`ProfileId`]), the unified [`Profile`] as the engine reads it, and time:
//! [`Timestamp`] and human [`Duration`]s such as `30s`, `15m`, `1h`, `7d`,
//! and when an event happened: Segment's timestamp rules and a bound on
//! the future ([`Arrival`]).
//!
//! Architecture invariant: this crate knows nothing about journeys, storage,
//! channels or Kafka, does no IO and never reads the clock.

mod arrival;
mod duration;
mod event;
mod hash;
mod identifier;
mod profile;
mod redact;
mod time;

pub use arrival::Arrival;
pub use channel::Channel;
pub use duration::{Duration, DurationError};
pub use event::{Event, EventError, EventType};
pub use hash::stable_hash;
pub use identifier::{Identifier, IdentifierKind};
pub use profile::{ChannelEngagement, Consent, EventStats, Profile, ProfileId, SentMessage};
pub use redact::{redact, set_log_identifiers};
pub use time::{
    Timestamp, format_timestamp, parse_timestamp, serialize_optional_timestamp, serialize_timestamp,
};
mod channel;
