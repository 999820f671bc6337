//! Where accepted events go: into an embedded runtime (durable in its
//! store, group-committed), or whatever else implements [`EventSink`] (the
//! worker's Kafka mode produces them to its input topic).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use waymark::Waymark;
use waymark_core::Event;

/// A sink's answer: resolves once the events are durable.
pub type Accepted<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// Takes events whole: `Ok` only once every one of them is durable.
pub trait EventSink: Send + Sync + 'static {
    fn accept(&self, events: Vec<Event>) -> Accepted<'_>;
}

/// Events into an embedded runtime: `Waymark::ingest_batch`, which returns
/// once the commit that holds them is synced.
#[derive(Debug, Clone)]
pub struct RuntimeSink(pub Arc<Waymark>);

impl EventSink for RuntimeSink {
    fn accept(&self, events: Vec<Event>) -> Accepted<'_> {
        let waymark = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || waymark.ingest_batch(&events, None))
                .await
                .map_err(|e| e.to_string())?
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
}
