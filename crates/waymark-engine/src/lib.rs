//! `waymark-engine` is the pure decision engine of Waymark.
//!
//! [`Engine::decide`] takes the deployed journeys (held by the [`Engine`]),
//! one [`Profile`](waymark_core::Profile), that profile's journey
//! [`Instance`]s, one [`Input`] and `now`, and returns the new instances and
//! the [`Effect`]s to carry out: `Send`, `ScheduleTimer`, `CancelTimer`,
//! `UpdateProfile` and `Record` (analytics). Every effect carries a
//! deterministic idempotency key; splits and holdouts are a function of a
//! seed and the ids, so a replay decides the same.
//!
//! Architecture invariant: this crate does no IO, reads no clock (`now` is
//! an argument), spawns nothing and is not async; its only draws (Thompson
//! sampling in `optimize` nodes) come from generators seeded by the
//! workspace seed and the ids. Same input, same output.

pub mod best_channel;
pub mod best_time;
mod condition;
mod effect;
mod engagement;
mod engine;
mod input;
mod instance;
mod local_time;
pub mod optimize;
mod policies;
pub mod predict;
mod reach;
mod segments;
mod step;

pub use effect::{Effect, MembershipChange, ProfileUpdate, Record, RecordKind, SendRequest, Timer};
pub use engagement::{ChannelTotals, Engagement};
pub use engine::{Decision, Engine, EngineConfig, NoEntries, Population};
pub use input::Input;
pub use instance::{Instance, InstanceStatus, PendingTimer};
pub use local_time::next_local_time;
pub use policies::{
    Cap, CapSection, Policies, PoliciesSection, QuietAction, QuietHours, QuietHoursSection,
    SuppressAfter, SuppressAfterSection, TopicDefault, Window,
};
pub use reach::reachable;
pub use segments::EVERYONE;
