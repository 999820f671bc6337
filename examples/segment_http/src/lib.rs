//! Example: Waymark's HTTP front door mounted in one's own axum service.
//! `waymark-http` gives the routes (Segment's tracking API, one-click
//! unsubscribe, Twilio's callbacks); the service adds its own beside them
//! and decides where it listens.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use waymark::Waymark;
use waymark_channels::signing::UnsubscribeSigner;
use waymark_http::{Front, HttpConfig, RuntimeSink};

/// The service's routes: the front door, and a page of its own.
pub fn app(
    waymark: Arc<Waymark>,
    config: HttpConfig,
    unsubscribe: Option<UnsubscribeSigner>,
) -> Router {
    let front = Front::new(config, Box::new(RuntimeSink::new(waymark)), unsubscribe);
    Router::new()
        .route(
            "/",
            get(|| async { "our own service, with Waymark inside\n" }),
        )
        .merge(waymark_http::router(Arc::new(front)))
}
