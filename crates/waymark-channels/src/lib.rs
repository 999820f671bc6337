//! `waymark-channels` delivers messages: the [`Deliver`] trait every
//! provider implements (called with the delivery's idempotency key), the
//! [`LogChannel`] that writes deliveries as JSONL (each key once, across
//! restarts) for development, and [`MemoryChannel`], a fake for tests.
//! With the `kafka` feature: [`kafka::Publisher`], a producer that
//! remembers what it published (across restarts, by reading its topics'
//! tails back), and [`kafka::KafkaChannel`], the outbox channel for teams
//! that send through their own services.
//!
//! Architecture invariant: channels know how to reach people, not why:
//! nothing here knows journeys' rules, the engine or the store.

mod delivery;
#[cfg(feature = "kafka")]
pub mod kafka;
mod log;
mod memory;

pub use delivery::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};
pub use log::LogChannel;
pub use memory::MemoryChannel;
