//! A fake channel for tests: records deliveries, fails on demand.

use parking_lot::Mutex;
use std::collections::VecDeque;

use crate::delivery::{Deliver, Delivery, DeliveryError, DeliveryFuture, Receipt};

/// Keeps every delivery in memory. Failures queued with [`fail_next`]
/// are returned, in order, before deliveries succeed again.
///
/// [`fail_next`]: MemoryChannel::fail_next
#[derive(Debug, Default)]
pub struct MemoryChannel {
    delivered: Mutex<Vec<Delivery>>,
    failures: Mutex<VecDeque<DeliveryError>>,
    sync_failures: Mutex<u32>,
    calls: Mutex<Vec<String>>,
    reports_outcomes: bool,
}

impl MemoryChannel {
    pub fn new() -> Self {
        MemoryChannel::default()
    }

    /// A fake of a provider that reaches people: its outcomes become
    /// feedback events.
    pub fn reporting_outcomes() -> Self {
        MemoryChannel {
            reports_outcomes: true,
            ..MemoryChannel::default()
        }
    }

    /// Makes the next delivery attempt fail with `error`.
    pub fn fail_next(&self, error: DeliveryError) {
        self.failures.lock().push_back(error);
    }

    /// Makes the next `sync` fail (as a provider that lost what it accepted).
    pub fn fail_next_sync(&self) {
        *self.sync_failures.lock() += 1;
    }

    /// The key of every call to `deliver`, failed ones included.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().clone()
    }

    /// Everything delivered so far.
    pub fn delivered(&self) -> Vec<Delivery> {
        self.delivered.lock().clone()
    }
}

impl Deliver for MemoryChannel {
    fn deliver<'a>(&'a self, delivery: &'a Delivery) -> DeliveryFuture<'a> {
        Box::pin(async move {
            self.calls.lock().push(delivery.key.clone());
            if let Some(error) = self.failures.lock().pop_front() {
                return Err(error);
            }
            let mut delivered = self.delivered.lock();
            let duplicate = delivered.iter().any(|d| d.key == delivery.key);
            if !duplicate {
                delivered.push(delivery.clone());
            }
            Ok(Receipt {
                provider_id: None,
                duplicate,
            })
        })
    }

    fn sync(&self) -> Result<(), DeliveryError> {
        let mut failures = self.sync_failures.lock();
        if *failures > 0 {
            *failures -= 1;
            return Err(DeliveryError::Transient {
                reason: "sync failed".to_owned(),
                retry_after: None,
            });
        }
        Ok(())
    }

    fn reports_outcomes(&self) -> bool {
        self.reports_outcomes
    }
}
