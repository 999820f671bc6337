//! Readiness as the Kafka source sees it: partitions assigned, lag
//! measured and small enough.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What `/healthz` answers from: set by the Kafka source.
#[derive(Debug)]
pub struct Health {
    assigned: AtomicU64,
    lag: AtomicU64,
    /// The lag has been measured at least once since the last assignment.
    measured: AtomicBool,
    max_lag: u64,
}

impl Health {
    pub fn new(max_lag: u64) -> Self {
        Health {
            assigned: AtomicU64::new(0),
            lag: AtomicU64::new(0),
            measured: AtomicBool::new(false),
            max_lag,
        }
    }

    pub fn set_assigned(&self, partitions: u64) {
        self.assigned.store(partitions, Ordering::SeqCst);
        self.measured.store(false, Ordering::SeqCst);
    }

    pub fn set_lag(&self, lag: u64) {
        self.lag.store(lag, Ordering::SeqCst);
        self.measured.store(true, Ordering::SeqCst);
    }

    /// Ready, or why not.
    pub fn check(&self) -> Result<String, String> {
        let assigned = self.assigned.load(Ordering::SeqCst);
        let lag = self.lag.load(Ordering::SeqCst);
        if assigned == 0 {
            return Err("no input partition is assigned".to_owned());
        }
        if !self.measured.load(Ordering::SeqCst) {
            return Err("lag not measured yet".to_owned());
        }
        if lag > self.max_lag {
            return Err(format!(
                "catching up: lag {lag} is over {} (ops.ready_max_lag)",
                self.max_lag
            ));
        }
        Ok(format!("ready: {assigned} partitions, lag {lag}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_assigned_and_caught_up() {
        let health = Health::new(100);
        assert!(health.check().unwrap_err().contains("no input partition"));
        health.set_assigned(3);
        assert!(health.check().unwrap_err().contains("not measured"));
        health.set_lag(101);
        assert!(health.check().unwrap_err().contains("catching up"));
        health.set_lag(100);
        assert_eq!(health.check().unwrap(), "ready: 3 partitions, lag 100");
    }
}
