//! The purchase model the engine applies: a person's predictions from
//! what their profile keeps of the purchase event, at decision time.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use waymark_core::{Profile, Timestamp};

use super::{BgNbd, customer_of};

/// BG/NBD fitted on one event, with histories in days (what
/// `waymark-admin model fit` saves; other fields of that JSON are ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseModel {
    /// The purchase event (`Order Completed`).
    pub event: String,
    pub params: BgNbd,
}

/// What `profile.predictions` holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predictions {
    /// The probability the person is still a customer.
    pub p_alive: f64,
    /// Purchases expected in the next 30 days.
    pub expected_orders_30d: f64,
}

impl PurchaseModel {
    /// The person's predictions at `now`; None for someone who never made
    /// the purchase (the model speaks of customers).
    pub fn predictions(&self, profile: &Profile, now: Timestamp) -> Option<Predictions> {
        let stats = profile.events.get(&self.event)?;
        let customer = customer_of(stats, now, TimeDelta::days(1))?;
        Some(Predictions {
            p_alive: self.params.p_alive(&customer),
            expected_orders_30d: self.params.expected_purchases(30.0, &customer)?,
        })
    }
}

impl Predictions {
    pub fn to_json(self) -> Value {
        json!({ "p_alive": self.p_alive, "expected_orders_30d": self.expected_orders_30d })
    }
}
