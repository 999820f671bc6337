//! `waymark-channels` delivers messages: the [`Deliver`] trait every
//! provider implements (called with the delivery's idempotency key), the
//! [`LogChannel`] that writes deliveries as JSONL (each key once, across
//! restarts) for development, and [`MemoryChannel`], a fake for tests.
//!
//! Architecture invariant: channels know how to reach people, not why:
//! nothing here knows journeys' rules, the engine or the store.

mod delivery;
mod log;
mod memory;

pub use delivery::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};
pub use log::LogChannel;
pub use memory::MemoryChannel;
