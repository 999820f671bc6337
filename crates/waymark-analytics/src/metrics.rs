//! Journey metrics per journey version and per day (UTC), and the view a
//! report shows: one journey (one version, or all merged) since a day.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use waymark_engine::Record;

use crate::counters::{Counters, Groups};
use crate::selection::Selection;

/// Where a record's counts go: its journey, version and day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BucketKey {
    pub journey: Arc<str>,
    pub version: u32,
    pub day: NaiveDate,
}

impl BucketKey {
    /// The key as the store keeps it: `journey \0 version \0 YYYY-MM-DD`.
    pub fn encode(&self) -> String {
        format!("{}\u{0}{}\u{0}{}", self.journey, self.version, self.day)
    }

    pub fn decode(text: &str) -> Option<BucketKey> {
        let mut parts = text.split('\u{0}');
        let journey = parts.next()?;
        let version = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        parts.next().is_none().then(|| BucketKey {
            journey: Arc::from(journey),
            version,
            day,
        })
    }
}

/// Counters by journey, version and day.
#[derive(Debug, Default, Clone)]
pub struct Metrics {
    buckets: Vec<(BucketKey, Counters)>,
    index: HashMap<BucketKey, usize, Fast>,
    /// The bucket of the last record: records come in runs of one journey
    /// and day, so most records skip the hash lookup.
    last: Option<usize>,
}

/// Not SipHash: the bucket lookup is on every record.
type Fast = foldhash::fast::RandomState;

impl Metrics {
    /// Folds one record in (segment transitions, which belong to no
    /// journey, are not counted).
    pub fn add(&mut self, record: &Record) {
        if record.journey.is_empty() {
            return;
        }
        let at = match self.last {
            Some(i) if same_bucket(&self.buckets[i].0, record) => i,
            _ => self.bucket_index(BucketKey {
                journey: Arc::clone(&record.journey),
                version: record.version,
                day: record.at.date_naive(),
            }),
        };
        self.last = Some(at);
        self.buckets[at].1.add(record);
    }

    /// Adds counters kept elsewhere (the store) under `key`; returns the
    /// bucket's new totals.
    pub fn merge(&mut self, key: BucketKey, counters: &Counters) -> &Counters {
        let at = self.bucket_index(key);
        self.buckets[at].1.merge(counters);
        &self.buckets[at].1
    }

    /// Every bucket, in the order first seen.
    pub fn buckets(&self) -> impl Iterator<Item = (&BucketKey, &Counters)> {
        self.buckets.iter().map(|(k, c)| (k, c))
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    fn bucket_index(&mut self, key: BucketKey) -> usize {
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        self.buckets.push((key.clone(), Counters::default()));
        self.index.insert(key, self.buckets.len() - 1);
        self.buckets.len() - 1
    }

    /// Journeys (and their versions) counted, in order.
    pub fn versions(&self) -> BTreeMap<Arc<str>, Vec<u32>> {
        let mut out: BTreeMap<Arc<str>, Vec<u32>> = BTreeMap::new();
        for (key, _) in &self.buckets {
            let versions = out.entry(Arc::clone(&key.journey)).or_default();
            if !versions.contains(&key.version) {
                versions.push(key.version);
            }
        }
        for versions in out.values_mut() {
            versions.sort_unstable();
        }
        out
    }

    /// What a report shows: per journey (those `selection` names), its
    /// counters merged over versions (or of one) and days since `since`,
    /// with the groups of each day. Buckets merge in key order, so the
    /// result does not depend on the order records were folded in.
    pub fn select(&self, selection: &Selection) -> Vec<JourneyMetrics> {
        let mut keys: Vec<&(BucketKey, Counters)> = self
            .buckets
            .iter()
            .filter(|(key, _)| selection.takes(key))
            .collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<JourneyMetrics> = Vec::new();
        for (key, counters) in keys {
            if out.last().is_none_or(|j| j.journey != key.journey) {
                out.push(JourneyMetrics {
                    journey: Arc::clone(&key.journey),
                    version: selection.version,
                    counters: Counters::default(),
                    daily: BTreeMap::new(),
                    allocation: BTreeMap::new(),
                });
            }
            let Some(journey) = out.last_mut() else {
                continue;
            };
            journey.counters.merge(counters);
            journey
                .daily
                .entry(key.day)
                .or_default()
                .merge(&counters.groups);
            let day = journey.allocation.entry(key.day).or_default();
            for v in counters.variants.iter().filter(|v| v.group.entrants > 0) {
                match day
                    .iter_mut()
                    .find(|(node, variant, _)| *node == v.node && *variant == v.variant)
                {
                    Some((_, _, n)) => *n += v.group.entrants,
                    None => day.push((
                        Arc::clone(&v.node),
                        Arc::clone(&v.variant),
                        v.group.entrants,
                    )),
                }
            }
        }
        for journey in &mut out {
            journey.counters.order_along_flows();
        }
        out
    }
}

fn same_bucket(key: &BucketKey, r: &Record) -> bool {
    Arc::ptr_eq(&key.journey, &r.journey) && key.version == r.version && {
        let day = r.at.date_naive();
        key.day == day
    }
}

/// A variant's entrants on one day: node, variant, entrants.
pub type Allocated = (Arc<str>, Arc<str>, u64);

/// One journey's counters as a report shows them.
#[derive(Debug, Clone)]
pub struct JourneyMetrics {
    pub journey: Arc<str>,
    /// `None` when versions are merged.
    pub version: Option<u32>,
    pub counters: Counters,
    /// Entrants and conversions of each day (conversions count on the day
    /// of the goal, entrants on the day of entry).
    pub daily: BTreeMap<NaiveDate, Groups>,
    /// Each split and `optimize` variant's entrants per day: how the
    /// traffic was allocated over time.
    pub allocation: BTreeMap<NaiveDate, Vec<Allocated>>,
}
