//! The durable runtime: identity, engine, store and channels composed.
//!
//! State is kept in memory and loaded from the store when the runtime is
//! built; every batch of inputs (events, due timers) writes what it changed
//! (profiles with their journey instances, timers, outbox entries, merges,
//! processed message ids, the source offset) in one atomic, synced commit.
//! Deliveries leave from the outbox afterwards, with their idempotency key,
//! and are removed from it once a channel accepted them.

mod clock;
mod records;
mod seen;
mod sink;
mod state;
mod wake;
mod waymark;

pub use clock::{Clock, ManualClock, SystemClock};
pub use records::{OutboxEntry, OutboxStatus, ProfileRecord};
pub use sink::RecordSink;
pub use waymark::{
    DeliveryReport, Error, IngestReport, RuntimeOptions, Stats, Ticket, Waymark, WaymarkBuilder,
};
