//! Deployed journey versions in the store: deploy, pause, resume, archive,
//! list, and loading them into an engine.

use std::path::Path;

use serde::{Deserialize, Serialize};
use waymark_core::Timestamp;
use waymark_journey::{Journey, Segments, Templates, load_journey_set, parse_journey};
use waymark_store::{Batch, Space, Store, keys};

/// Whether a journey takes new entrants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JourneyStatus {
    /// Takes new entrants.
    Active,
    /// Takes no new entrants; people already in it carry on.
    Paused,
    /// Retired: no new entrants, hidden from `list` unless asked; people
    /// already in it carry on. `resume` brings it back.
    Archived,
}

/// One deployed version, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployed {
    pub id: String,
    pub version: u32,
    /// Meaningful on the latest version; earlier versions only finish their instances.
    pub status: JourneyStatus,
    /// The file it came from (its extension picks YAML or JSON).
    pub file: String,
    pub source: String,
    pub deployed_at: Timestamp,
    /// With `Paused`: people in the journey are held where they are (their
    /// timers wait, their waits ignore events) instead of carrying on.
    #[serde(default)]
    pub hold: bool,
}

/// A stored version ready for the engine.
#[derive(Debug, Clone)]
pub struct LoadedJourney {
    pub journey: Journey,
    /// Takes new entrants (the latest version of an active journey).
    pub active: bool,
    /// Its instances are held (the journey is paused with `hold`).
    pub held: bool,
}

/// Why a deploy or a status change failed.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    Invalid(waymark_journey::Errors),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("store: {0}")]
    Store(#[from] waymark_store::Error),
    #[error("no journey `{0}` is deployed")]
    Unknown(String),
    #[error("stored journey {id} v{version} no longer loads: {reason}")]
    Corrupt {
        id: String,
        version: u32,
        reason: String,
    },
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployOutcome {
    pub id: String,
    pub version: u32,
    /// False when the file is the same as the latest version (nothing stored).
    pub new_version: bool,
}

/// The stored versions whose key starts with `prefix`, in key order.
fn scan(store: &dyn Store, prefix: &[u8]) -> Result<Vec<Deployed>, DeployError> {
    let mut out = Vec::new();
    for (key, value) in store.scan(Space::Journeys, prefix)? {
        let deployed: Deployed =
            serde_json::from_slice(&value).map_err(|e| waymark_store::Error::Corrupt {
                space: Space::Journeys,
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: e.to_string(),
            })?;
        out.push(deployed);
    }
    Ok(out)
}

/// Every version of one journey, oldest first.
fn versions(store: &dyn Store, id: &str) -> Result<Vec<Deployed>, DeployError> {
    let mut prefix = id.as_bytes().to_vec();
    prefix.push(0);
    scan(store, &prefix)
}

fn put(store: &dyn Store, deployed: &Deployed) -> Result<(), DeployError> {
    let mut batch = Batch::new();
    batch.put(
        Space::Journeys,
        keys::journey(&deployed.id, deployed.version),
        serde_json::to_vec(deployed).unwrap_or_default(),
    );
    store.commit(batch)?;
    Ok(())
}

/// Validates `path` (with its templates) and stores it as a new version of
/// its journey, unless it is the same as the latest version.
pub fn deploy(
    store: &dyn Store,
    path: &Path,
    templates: Option<&Path>,
    at: Timestamp,
) -> Result<DeployOutcome, DeployError> {
    let (journeys, _) =
        load_journey_set(&[path.to_owned()], templates).map_err(DeployError::Invalid)?;
    let Some(journey) = journeys.into_iter().next() else {
        return Err(DeployError::Unknown(path.display().to_string()));
    };
    deploy_loaded(store, journey, path, at)
}

/// Stores `journey`, already loaded and checked from `path`, as a new
/// version unless it is the same as the latest (the file's text is kept
/// with it).
pub fn deploy_loaded(
    store: &dyn Store,
    journey: Journey,
    path: &Path,
    at: Timestamp,
) -> Result<DeployOutcome, DeployError> {
    let source = std::fs::read_to_string(path).map_err(|source| DeployError::Io {
        path: path.display().to_string(),
        source,
    })?;
    store_version(store, journey, &path.display().to_string(), source, at)
}

/// Validates a journey given as text (`file` names it and its format by
/// extension) against the templates in `templates` and the named
/// `segments` (the worker's), and stores it as a new
/// version unless it is the same as the latest. The journeys topic deploys
/// through this.
pub fn deploy_source(
    store: &dyn Store,
    file: &str,
    source: String,
    templates: &Templates,
    segments: &Segments,
    at: Timestamp,
) -> Result<DeployOutcome, DeployError> {
    let journey =
        parse_journey(Path::new(file), &source).map_err(|e| DeployError::Invalid(e.into()))?;
    let mut problems = templates.check(&journey);
    problems.extend(segments.check(&journey));
    if !problems.is_empty() {
        return Err(DeployError::Invalid(
            waymark_journey::Error::Invalid {
                path: file.into(),
                problems,
            }
            .into(),
        ));
    }
    store_version(store, journey, file, source, at)
}

fn store_version(
    store: &dyn Store,
    journey: Journey,
    file: &str,
    source: String,
    at: Timestamp,
) -> Result<DeployOutcome, DeployError> {
    let existing = versions(store, &journey.id)?;
    if let Some(latest) = existing.last().filter(|l| l.source == source) {
        return Ok(DeployOutcome {
            id: latest.id.clone(),
            version: latest.version,
            new_version: false,
        });
    }
    let version = existing.last().map_or(1, |l| l.version + 1);
    let deployed = Deployed {
        id: journey.id.to_string(),
        version,
        status: JourneyStatus::Active,
        file: file.to_owned(),
        source,
        deployed_at: at,
        hold: false,
    };
    put(store, &deployed)?;
    Ok(DeployOutcome {
        id: deployed.id,
        version,
        new_version: true,
    })
}

/// Sets the status of a journey's latest version; `hold` (with `Paused`)
/// holds the people already in it.
pub fn set_status(
    store: &dyn Store,
    id: &str,
    status: JourneyStatus,
    hold: bool,
) -> Result<Deployed, DeployError> {
    let mut latest = versions(store, id)?
        .pop()
        .ok_or_else(|| DeployError::Unknown(id.to_owned()))?;
    latest.status = status;
    latest.hold = hold && status == JourneyStatus::Paused;
    put(store, &latest)?;
    Ok(latest)
}

impl Deployed {
    /// Its status as lists show it: `active`, `paused` or `archived` for
    /// its journey's latest version, `superseded` for an earlier one.
    pub fn status_name(&self, latest: bool) -> &'static str {
        match (latest, self.status) {
            (false, _) => "superseded",
            (true, JourneyStatus::Active) => "active",
            (true, JourneyStatus::Paused) => "paused",
            (true, JourneyStatus::Archived) => "archived",
        }
    }
}

/// Whether `versions[i]` is its journey's latest, in versions ordered by
/// id then version (as [`list`] gives them).
pub fn is_latest(versions: &[Deployed], i: usize) -> bool {
    versions
        .get(i + 1)
        .is_none_or(|next| next.id != versions[i].id)
}

/// Each version of [`list`] with whether it is its journey's latest.
pub fn with_latest(versions: Vec<Deployed>) -> Vec<(Deployed, bool)> {
    let latest: Vec<bool> = (0..versions.len())
        .map(|i| is_latest(&versions, i))
        .collect();
    versions.into_iter().zip(latest).collect()
}

/// Every deployed version of every journey, by id then version.
pub fn list(store: &dyn Store) -> Result<Vec<Deployed>, DeployError> {
    scan(store, b"")
}

/// The latest stored version of journey `id`, parsed, ready for
/// [`crate::Waymark::apply_journey`].
pub fn load_latest(store: &dyn Store, id: &str) -> Result<LoadedJourney, DeployError> {
    load(store)?
        .into_iter()
        .rev()
        .find(|l| &*l.journey.id == id)
        .ok_or_else(|| DeployError::Unknown(id.to_owned()))
}

/// Every stored version, parsed, with whether it takes new entrants (the
/// latest version of an active journey) and whether its people are held.
pub fn load(store: &dyn Store) -> Result<Vec<LoadedJourney>, DeployError> {
    let parsed = scan(store, b"")?;
    let mut out = Vec::with_capacity(parsed.len());
    for (i, deployed) in parsed.iter().enumerate() {
        let latest = is_latest(&parsed, i);
        let mut journey =
            parse_journey(Path::new(&deployed.file), &deployed.source).map_err(|e| {
                DeployError::Corrupt {
                    id: deployed.id.clone(),
                    version: deployed.version,
                    reason: e.to_string(),
                }
            })?;
        journey.version = deployed.version;
        let held = parsed
            .iter()
            .rev()
            .find(|d| d.id == deployed.id)
            .is_some_and(|last| last.hold);
        out.push(LoadedJourney {
            journey,
            active: latest && deployed.status == JourneyStatus::Active,
            held,
        });
    }
    Ok(out)
}
