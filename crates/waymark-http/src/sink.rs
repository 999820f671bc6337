//! Where accepted events go: into an embedded runtime (durable in its
//! store, group-committed), or whatever else implements [`EventSink`] (the
//! worker's Kafka mode produces them to its input topic).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use waymark::Waymark;
use waymark::runtime::{EnterRequest, Entered, Error as RuntimeError};
use waymark::source::SourceCounters;
use waymark_core::Event;

/// A sink's answer: resolves once the events are durable.
pub type Accepted<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// An entry's answer: resolves once it is durable, with what was decided,
/// or `None` when it is queued to be decided later (Kafka's enter topic).
pub type EnterAnswer<'a> =
    Pin<Box<dyn Future<Output = Result<Option<Entered>, EnterRefused>> + Send + 'a>>;

/// Why an entry by API was not made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnterRefused {
    #[error("unknown journey `{0}`")]
    UnknownJourney(String),
    #[error("journey `{0}` is not entered by API (its entry is not `api`)")]
    NotByApi(String),
    #[error("give `userId` or `anonymousId`")]
    NoIdentifier,
    #[error("entries by API are not served here")]
    Unsupported,
    /// Not the caller's fault: retry with the same key.
    #[error("the entry could not be made durable: {0}")]
    Unavailable(String),
}

/// Takes events whole: `Ok` only once every one of them is durable.
pub trait EventSink: Send + Sync + 'static {
    fn accept(&self, events: Vec<Event>) -> Accepted<'_>;

    /// Enters a person into a journey whose entry is `api`, once per
    /// `call_id`.
    fn enter(&self, request: EnterRequest) -> EnterAnswer<'_> {
        let _ = request;
        Box::pin(async { Err(EnterRefused::Unsupported) })
    }
}

/// Events into an embedded runtime: `Waymark::ingest_batch`, which returns
/// once the commit that holds them is synced.
#[derive(Debug, Clone)]
pub struct RuntimeSink {
    waymark: Arc<Waymark>,
    /// Where what was ingested is counted (a worker's progress line and
    /// `/metrics`), if anywhere.
    counters: Option<Arc<SourceCounters>>,
}

impl RuntimeSink {
    pub fn new(waymark: Arc<Waymark>) -> Self {
        RuntimeSink {
            waymark,
            counters: None,
        }
    }

    /// Counts what it ingests in `counters`, as a source does.
    pub fn counting(mut self, counters: Arc<SourceCounters>) -> Self {
        self.counters = Some(counters);
        self
    }
}

impl EventSink for RuntimeSink {
    fn accept(&self, events: Vec<Event>) -> Accepted<'_> {
        let waymark = Arc::clone(&self.waymark);
        Box::pin(async move {
            let report = tokio::task::spawn_blocking(move || waymark.ingest_batch(&events, None))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            if let Some(counters) = &self.counters {
                counters.count(&report, 0);
            }
            Ok(())
        })
    }

    fn enter(&self, request: EnterRequest) -> EnterAnswer<'_> {
        let waymark = Arc::clone(&self.waymark);
        Box::pin(async move {
            let entered = tokio::task::spawn_blocking(move || waymark.enter(&request))
                .await
                .map_err(|e| EnterRefused::Unavailable(e.to_string()))?;
            entered.map(Some).map_err(|error| match error {
                RuntimeError::UnknownJourney(id) => EnterRefused::UnknownJourney(id),
                RuntimeError::NotByApi(id) => EnterRefused::NotByApi(id),
                RuntimeError::NoIdentifier => EnterRefused::NoIdentifier,
                other => EnterRefused::Unavailable(other.to_string()),
            })
        })
    }
}
