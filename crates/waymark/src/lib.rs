//! `waymark` is the embeddable Waymark runtime: it composes the journey
//! model, identity resolution, the pure decision engine, the store and the
//! channels into something a service runs.
//!
//! - [`Waymark`] (`runtime`): the durable runtime an application embeds:
//!   ingest events, fire timers, deliver from the outbox, publish records.
//! - [`worker`]: the main job over a source (a JSONL file, stdin, or with
//!   the `kafka` feature, Kafka topics) with `/healthz` and `/metrics`.
//! - [`deploy`]: journey versions in the store.
//! - [`Simulation`]: test mode (`waymark-admin simulate`): events applied in
//!   time order on a virtual clock, a [`TraceLine`] for every decision; it
//!   reads no clock and does no IO.
//!
//! Architecture invariant: the runtime decides nothing itself; every
//! decision comes from `waymark-engine`. It owns ordering, state keeping
//! and carrying out effects.

mod config;
pub mod deploy;
#[cfg(feature = "kafka")]
pub mod kafka;
mod kafka_config;
mod replay;
pub mod runtime;
mod simulate;
pub mod source;
mod trace;
pub mod worker;
mod worker_config;

pub use config::{ConfigError, WorkspaceConfig};
pub use kafka_config::{DeadLetterLimits, KafkaConfig, OpsConfig, TopicsConfig};
pub use replay::identity_from_events;
pub use runtime::{Waymark, WaymarkBuilder};
pub use simulate::{Simulation, SimulationOptions};
pub use trace::TraceLine;
pub use worker_config::{
    DefaultChannel, LogChannelConfig, LoopConfig, SourceConfig, SourceKind, StoreConfig,
    UnsubscribeConfig, WorkerConfig,
};
