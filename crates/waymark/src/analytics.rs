//! The report counters the runtime keeps in the store (`Space::Analytics`),
//! written in the same commit as the records they count.

use waymark_analytics::{BucketKey, Counters, Metrics};
use waymark_store::{Error, Space, Store};

/// Every journey's counters in `store`, per version and day.
pub fn stored_metrics(store: &dyn Store) -> Result<Metrics, Error> {
    let mut metrics = Metrics::default();
    for (key, value) in store.scan(Space::Analytics, b"")? {
        let text = String::from_utf8_lossy(&key);
        let corrupt = |reason: String| Error::Corrupt {
            space: Space::Analytics,
            key: text.escape_debug().to_string(),
            reason,
        };
        // A shared store's runtimes each write under a slot of their own
        // (`journey\0version\0day\0slot`): added up here.
        let unslotted = match text.match_indices('\u{0}').nth(2) {
            Some((at, _)) => &text[..at],
            None => &text,
        };
        let bucket = BucketKey::decode(unslotted)
            .ok_or_else(|| corrupt("not `journey\\0version\\0day`".to_owned()))?;
        let counters: Counters =
            serde_json::from_slice(&value).map_err(|e| corrupt(e.to_string()))?;
        metrics.merge(bucket, &counters);
    }
    Ok(metrics)
}

/// Why a report over the store was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Selection(#[from] waymark_analytics::SelectionError),
    #[error("store: {0}")]
    Store(#[from] Error),
    #[error(transparent)]
    Deploy(#[from] crate::deploy::DeployError),
}

/// The report over `store` for `selection`: every deployed journey is
/// known (reported with zeros before anyone entered it); an unknown
/// journey or version is refused.
pub fn stored_report(
    store: &dyn Store,
    selection: &waymark_analytics::Selection,
) -> Result<Vec<waymark_analytics::JourneyMetrics>, ReportError> {
    let metrics = stored_metrics(store)?;
    let mut known: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    for deployed in crate::deploy::list(store)? {
        known.entry(deployed.id).or_default().push(deployed.version);
    }
    Ok(metrics.report(selection, known)?)
}
