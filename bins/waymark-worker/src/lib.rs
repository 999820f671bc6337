//! `waymark-worker` as a library: the worker process's parts, so that
//! tests and benchmarks drive the same code the binary runs.
//!
//! - [`WorkerConfig`] (`config`): the worker's TOML with `WAYMARK_*`
//!   overrides and the effective configuration printable.
//! - [`Worker`] (`worker`): a source (a JSONL file, stdin, or Kafka
//!   topics through `waymark-kafka`) into the durable runtime, with timers,
//!   deliveries and record publishing beside it, until the source ends or
//!   a shutdown signal.
//! - `ops`: `/healthz`, `/readyz` and `/metrics` over HTTP, in every mode;
//!   with `[http]`, beside the front door (`waymark-http`), whose events
//!   go into the runtime or, with a Kafka source, to the input topic
//!   (`front`).
//!
//! Architecture invariant: the worker wires; it decides nothing and keeps
//! no state of its own beyond what it counts. Everything it runs is a call
//! into `waymark` (the runtime) or the adapters (`waymark-kafka`,
//! `waymark-http`).

mod config;
mod front;
mod ops;
mod wiring;
pub mod worker;

pub use config::{
    ChannelsConfig, DefaultChannel, EngineSection, LogChannelConfig, LoopConfig, OpsConfig,
    SourceConfig, SourceKind, StoreConfig, StoreKind, UnsubscribeConfig, WorkerConfig,
};
pub use worker::{Worker, WorkerError, WorkerStats};
