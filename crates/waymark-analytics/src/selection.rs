//! What a report covers ([`Selection`]), checked against the journeys
//! known, and the report over it ([`Metrics::report`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use crate::metrics::{BucketKey, JourneyMetrics, Metrics};

/// Which journeys, version and days a report covers.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Every journey when `None`.
    pub journey: Option<String>,
    /// Every version, merged, when `None`.
    pub version: Option<u32>,
    /// Every day when `None`.
    pub since: Option<NaiveDate>,
}

/// A selection naming what does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    #[error("unknown journey `{journey}` (known: {known})")]
    UnknownJourney { journey: String, known: String },
    #[error("journey `{journey}` has no version {version} (versions: {versions})")]
    UnknownVersion {
        journey: String,
        version: u32,
        versions: String,
    },
}

impl Selection {
    pub(crate) fn takes(&self, key: &BucketKey) -> bool {
        self.journey.as_deref().is_none_or(|j| *key.journey == *j)
            && self.version.is_none_or(|v| key.version == v)
            && self.since.is_none_or(|since| key.day >= since)
    }

    /// Refuses a journey not in `known` (journey → versions), or a version
    /// the journey never had.
    pub fn check(&self, known: &BTreeMap<String, Vec<u32>>) -> Result<(), SelectionError> {
        let Some(journey) = &self.journey else {
            return Ok(());
        };
        let Some(versions) = known.get(journey) else {
            let names: Vec<&str> = known.keys().map(String::as_str).collect();
            return Err(SelectionError::UnknownJourney {
                journey: journey.clone(),
                known: if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                },
            });
        };
        if let Some(version) = self.version
            && !versions.contains(&version)
        {
            let mut versions = versions.clone();
            versions.sort_unstable();
            versions.dedup();
            let listed: Vec<String> = versions.iter().map(u32::to_string).collect();
            return Err(SelectionError::UnknownVersion {
                journey: journey.clone(),
                version,
                versions: listed.join(", "),
            });
        }
        Ok(())
    }
}

impl Metrics {
    /// The report over `selection`: checked against the journeys `known`
    /// besides those counted (deployed, or simulated), and a known journey
    /// nobody has entered yet reported with zeros.
    pub fn report(
        &self,
        selection: &Selection,
        mut known: BTreeMap<String, Vec<u32>>,
    ) -> Result<Vec<JourneyMetrics>, SelectionError> {
        for (journey, versions) in self.versions() {
            known
                .entry(journey.to_string())
                .or_default()
                .extend(versions);
        }
        selection.check(&known)?;
        let mut journeys = self.select(selection);
        if let Some(id) = &selection.journey
            && journeys.is_empty()
        {
            journeys.push(JourneyMetrics {
                journey: Arc::from(id.as_str()),
                version: selection.version,
                counters: Default::default(),
                daily: BTreeMap::new(),
                allocation: BTreeMap::new(),
            });
        }
        Ok(journeys)
    }
}
