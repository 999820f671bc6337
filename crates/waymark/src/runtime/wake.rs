//! A wake-up call for a thread that sleeps between rounds of work (the
//! record publisher): raised when there is something to do.

use parking_lot::{Condvar, Mutex};
use std::time::Duration;

#[derive(Debug, Default)]
pub(super) struct Wake {
    raised: Mutex<bool>,
    changed: Condvar,
}

impl Wake {
    /// Wakes the waiter (or the next wait returns at once).
    pub fn raise(&self) {
        *self.raised.lock() = true;
        self.changed.notify_all();
    }

    /// Waits until raised, and lowers it.
    pub fn wait(&self) {
        let mut raised = self.raised.lock();
        self.changed.wait_while(&mut raised, |raised| !*raised);
        *raised = false;
    }

    /// Waits until raised or `timeout` passed, and lowers it.
    pub fn wait_for(&self, timeout: Duration) {
        let mut raised = self.raised.lock();
        self.changed
            .wait_while_for(&mut raised, |raised| !*raised, timeout);
        *raised = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_raise_before_the_wait_is_not_lost() {
        let wake = Wake::default();
        wake.raise();
        let started = std::time::Instant::now();
        wake.wait();
        assert!(started.elapsed() < Duration::from_secs(30));
        wake.wait_for(Duration::from_millis(20));
        assert!(
            started.elapsed() >= Duration::from_millis(20),
            "lowered by the wait"
        );
    }
}
