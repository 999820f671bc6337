//! `/healthz` and `/metrics` over HTTP.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;
use crate::runtime::Waymark;

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

#[derive(Clone)]
struct Ops {
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    waymark: Arc<Waymark>,
}

async fn healthz(State(ops): State<Ops>) -> impl IntoResponse {
    match ops.health.check() {
        Ok(text) => (StatusCode::OK, text + "\n"),
        Err(text) => (StatusCode::SERVICE_UNAVAILABLE, text + "\n"),
    }
}

async fn metrics_text(State(ops): State<Ops>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ops.metrics.encode(&ops.waymark.stats()),
    )
}

/// Serves `/healthz` and `/metrics` on `listener` until `shutdown`.
pub async fn serve_ops(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    waymark: Arc<Waymark>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(Ops {
            health,
            metrics,
            waymark,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
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
