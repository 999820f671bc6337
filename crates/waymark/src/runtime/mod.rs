//! The durable runtime: identity, engine, store and channels composed.
//!
//! State is kept in memory and loaded from the store when the runtime is
//! built; every batch of inputs (events, due timers) goes through the
//! shared step ([`crate::step`]) and writes what it changed (profiles with
//! their journey instances, timers, outbox entries, merges, processed
//! message ids, the source offset) in one atomic, synced commit.
//! Deliveries leave from the outbox afterwards, with their idempotency key,
//! and are removed from it once a channel accepted them.

mod admin;
mod builder;
mod clock;
mod commit;
mod control;
mod delivery;
mod deployed;
mod enter;
mod fencing;
mod ingest;
mod layout;
mod people;
mod record_batch;
mod records;
mod run;
mod shared;
mod sink;
mod state;
mod stored_profile;
mod wake;
mod waymark;
mod writes;

pub use admin::Stats;
pub use builder::{RuntimeOptions, WaymarkBuilder};
pub use clock::{Clock, ManualClock, SystemClock};
pub use commit::Ticket;
pub use delivery::DeliveryReport;
pub use enter::{EnterRequest, Entered};
pub use ingest::IngestReport;
pub use people::CacheStats;
pub use records::{OutboxEntry, OutboxStatus, ProfileRecord};
pub use sink::{JsonlRecordSink, RecordSink};
pub use waymark::{Error, Waymark};
