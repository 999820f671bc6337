//! `waymark` is the embeddable Waymark runtime: it composes the journey
//! model, identity resolution, the pure decision engine and (as they land)
//! storage, channels and analytics into something a service runs.
//!
//! Today it provides the in-memory [`Simulation`] behind test mode
//! (`waymark-admin simulate`): events applied in time order on a virtual
//! clock, timers firing between them, and a [`TraceLine`] for every decision.
//!
//! Architecture invariant: the runtime decides nothing itself; every
//! decision comes from `waymark-engine`. It owns ordering, state keeping
//! and carrying out effects. The simulation reads no clock and does no IO:
//! it is handed the events' text and returns the trace.

mod config;
pub mod deploy;
mod replay;
pub mod runtime;
mod simulate;
pub mod source;
mod trace;
pub mod worker;
mod worker_config;

pub use config::{ConfigError, WorkspaceConfig};
pub use replay::identity_from_events;
pub use runtime::{Waymark, WaymarkBuilder};
pub use simulate::{Simulation, SimulationOptions};
pub use trace::TraceLine;
pub use worker_config::{
    LogChannelConfig, LoopConfig, SourceConfig, SourceKind, StoreConfig, WorkerConfig,
};
