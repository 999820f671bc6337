//! The worker's HTTP endpoints, for every source: `/healthz`, `/readyz`
//! and `/metrics`; with an `[http]` section, the front door
//! (`waymark-http`: Segment's tracking API and the callbacks) beside them.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use waymark::Waymark;
use waymark_kafka::{Health, Metrics};

#[derive(Clone)]
struct Ops {
    /// Readiness as the Kafka source sees it; none without Kafka.
    health: Option<Arc<Health>>,
    metrics: Arc<Metrics>,
    waymark: Arc<Waymark>,
}

/// Ready: with Kafka, partitions assigned and lag small; always, a
/// runtime that still takes work.
fn ready(ops: &Ops) -> Result<String, String> {
    if ops.waymark.is_poisoned() {
        return Err("a store write failed; the runtime takes no work until restarted".to_owned());
    }
    match &ops.health {
        Some(health) => health.check(),
        None => Ok("ready".to_owned()),
    }
}

async fn readyz(State(ops): State<Ops>) -> impl IntoResponse {
    match ready(&ops) {
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

/// `/healthz` (as `/readyz`: what Kafka deployments probe), `/readyz`
/// and `/metrics`.
pub fn ops_router(
    health: Option<Arc<Health>>,
    metrics: Arc<Metrics>,
    waymark: Arc<Waymark>,
) -> Router {
    Router::new()
        .route("/healthz", get(readyz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Ops {
            health,
            metrics,
            waymark,
        })
}

/// Serves `app` on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
