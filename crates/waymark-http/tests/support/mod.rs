//! Test support: a runtime on fjall, and the routers in front of it on a
//! loopback port.
#![allow(clippy::unwrap_used, dead_code)] // test support: a failed unwrap is a failed test

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use waymark::Waymark;
use waymark_channels::signing::UnsubscribeSigner;
use waymark_http::{Front, HttpConfig, RuntimeSink, router};
use waymark_journey::parse_journey;
use waymark_store::FjallStore;

/// A runtime whose store is in `dir`, running `journeys` (YAML texts).
pub fn runtime(dir: &Path, journeys: &[&str]) -> Arc<Waymark> {
    let journeys: Vec<_> = journeys
        .iter()
        .map(|text| parse_journey(Path::new("j.yaml"), text).unwrap())
        .collect();
    Arc::new(
        Waymark::builder()
            .store(Arc::new(FjallStore::open(dir).unwrap()))
            .journeys(journeys)
            .build()
            .unwrap(),
    )
}

/// Serves the routers into `waymark` on a free loopback port.
pub async fn serve(
    waymark: &Arc<Waymark>,
    config: HttpConfig,
    unsubscribe: Option<UnsubscribeSigner>,
) -> SocketAddr {
    let front = Front::new(
        config,
        Box::new(RuntimeSink::new(Arc::clone(waymark))),
        unsubscribe,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(Arc::new(front))).await });
    addr
}
