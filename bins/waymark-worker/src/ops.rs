//! `/healthz` and `/metrics` over HTTP.

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
