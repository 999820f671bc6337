//! `waymark` is the embeddable Waymark runtime: it composes the journey
//! model, identity resolution, the pure decision engine, the store and the
//! channels into something a service runs.
//!
//! - [`Waymark`] (`runtime`): the durable runtime an application embeds:
//!   ingest events, fire timers, deliver from the outbox, publish records.
//! - [`source`]: reading Segment events from JSONL (files, stdin), the
//!   rejects file, and what a source counts.
//! - [`deploy`]: journey versions in the store.
//! - [`analytics`]: the report counters kept in the store.
//! - [`Simulation`]: test mode (`waymark-admin simulate`): events applied in
//!   time order on a virtual clock, a [`TraceLine`] for every decision; it
//!   reads no clock and does no IO.
//! - `step`: the one interpreter of the engine's decisions both of them
//!   run: identity, instances and timers changed by an input, the rest
//!   reported to a journal (store writes, or trace lines).
//!
//! Architecture invariant: the runtime decides nothing itself; every
//! decision comes from `waymark-engine`. It owns ordering, state keeping
//! and carrying out effects. It knows nothing of Kafka, HTTP or the
//! worker process: those adapters (`waymark-kafka`, `waymark-worker`)
//! build on it.

pub mod analytics;
mod config;
pub mod deploy;
mod replay;
pub mod runtime;
mod simulate;
pub mod source;
mod step;
mod trace;

pub use config::{ConfigError, WorkspaceConfig, check_topics};
pub use replay::identity_from_events;
pub use runtime::{Waymark, WaymarkBuilder};
pub use simulate::{Simulation, SimulationOptions, SimulationRun};
pub use trace::TraceLine;

/// docs/runtime.md, whose embedding example is compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/runtime.md")]
pub struct RuntimeGuide;
