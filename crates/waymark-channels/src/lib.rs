//! `waymark-channels` delivers messages: the [`Deliver`] trait every
//! provider implements (called with the delivery's idempotency key), the
//! [`LogChannel`] that writes deliveries as JSONL (each key once, across
//! restarts) for development, [`MemoryChannel`], a fake for tests, and
//! the providers: SMTP, Twilio SMS/WhatsApp, FCM push, signed webhooks.
//! Outcomes come back as Segment events journeys can branch on:
//! [`feedback_event`] for what a provider answered,
//! [`twilio_status_event`] and [`unsubscribe_event`] for what providers
//! and people call back with. The Kafka outbox channel lives with the other Kafka adapters, in
//! `waymark-kafka`.
//!
//! Architecture invariant: channels know how to reach people, not why:
//! nothing here knows journeys' rules, the engine or the store.

mod callbacks;
mod delivery;
mod email_events;
mod fcm;
mod feedback;
mod http;
mod log;
mod memory;
mod rate_limit;
pub mod signing;
mod smtp;
mod twilio;
mod webhook;

pub use callbacks::{CallbackError, TwilioCallback, twilio_status_event, unsubscribe_event};
pub use delivery::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};
pub use email_events::{EmailEventsError, postmark_event, sendgrid_events};
pub use fcm::{FcmChannel, FcmConfig, FcmSetupError, ServiceAccount};
pub use feedback::{Person, feedback_event};
pub use log::{LogChannel, reopen_jsonl};
pub use memory::MemoryChannel;
pub use rate_limit::RateLimiter;
pub use smtp::{SmtpChannel, SmtpConfig, SmtpSetupError, SmtpTls};
pub use twilio::{TwilioChannel, TwilioConfig};
pub use webhook::{WebhookChannel, WebhookConfig};
