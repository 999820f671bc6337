//! Opening what a command works on: the worker's store (alone, or with a
//! runtime over it), journey files, the workspace config, a person's
//! profile from a store or from an event file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use waymark::{Waymark, WorkspaceConfig};
use waymark_core::Identifier;
use waymark_journey::load_workspace;
use waymark_store::{FjallStore, PostgresConfig, PostgresStore, Store};

/// The store `--store` names: a fjall folder, or a PostgreSQL URL
/// (`postgres://...`, its schema from `WAYMARK_STORE_SCHEMA`, default
/// `waymark`).
pub(crate) fn open_any(path: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    let text = path.to_string_lossy();
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        let config = PostgresConfig {
            url: text.into_owned(),
            schema: std::env::var("WAYMARK_STORE_SCHEMA").unwrap_or_else(|_| "waymark".to_owned()),
            pool_size: 2,
        };
        return Ok(Arc::new(PostgresStore::open(&config)?));
    }
    if !FjallStore::exists(path) {
        anyhow::bail!("{}: no store here", path.display());
    }
    let store = FjallStore::open(path)
        .with_context(|| "is a worker running on it? stop it first".to_owned())?;
    Ok(Arc::new(store))
}

/// The store alone (journey commands need no runtime state).
pub(crate) fn store_only(path: Option<&std::path::Path>) -> anyhow::Result<Arc<dyn Store>> {
    let path = path.context("give --store PATH (the worker's store)")?;
    let text = path.to_string_lossy();
    if text.starts_with("postgres") {
        return open_any(path);
    }
    // A new folder is a new store (deploying into it creates it).
    Ok(Arc::new(FjallStore::open(path).with_context(|| {
        "is a worker running on it? stop it first".to_owned()
    })?))
}

/// The runtime over a store, for reading and administering live state.
pub(crate) fn open_store(
    path: Option<&std::path::Path>,
    config: WorkspaceConfig,
    segments: Option<&std::path::Path>,
) -> anyhow::Result<Waymark> {
    let segments = match segments {
        Some(dir) => {
            waymark_journey::Segments::load_dir(dir).map_err(|e| anyhow::anyhow!("{e}"))?
        }
        None => waymark_journey::Segments::default(),
    };
    let path = path.context("give --store PATH (the worker's store)")?;
    let store = open_any(path)?;
    // The journeys deployed there, for commands that decide (`journey enter`).
    let deployed = waymark::deploy::load(store.as_ref())?;
    Ok(Waymark::builder()
        .store(store)
        .deployed(deployed)
        .segments(segments)
        .identity(config.identity)
        .engine(config.engine)
        .build()?)
}

pub(crate) fn profile_from_store(
    store: &std::path::Path,
    config: WorkspaceConfig,
    identifier: &Identifier,
    action: &str,
) -> anyhow::Result<serde_json::Value> {
    let waymark = open_store(Some(store), config, None)?;
    let export = waymark
        .export(identifier)?
        .with_context(|| format!("no profile holds {identifier}"))?;
    Ok(match action {
        "show" => export["profile"].clone(),
        "export" => export,
        _ => {
            let gone = waymark
                .forget(identifier)?
                .context("the profile disappeared")?;
            forgotten_report(&gone)
        }
    })
}

pub(crate) fn profile_from_events(
    events: &std::path::Path,
    config: WorkspaceConfig,
    identifier: &Identifier,
    action: &str,
) -> anyhow::Result<serde_json::Value> {
    let (mut identity, invalid) = waymark::identity_from_events(&read(events)?, config.identity);
    if invalid > 0 {
        tracing::warn!(invalid, file = %events.display(), "lines that are not valid events were skipped");
    }
    let profile = identity
        .lookup(identifier)
        .with_context(|| format!("no profile holds {identifier}"))?;
    Ok(match action {
        "show" => serde_json::to_value(identity.profile(&profile))?,
        "export" => identity.export(identifier).unwrap_or_default(),
        _ => {
            let gone = identity
                .forget(identifier)
                .context("the profile disappeared")?;
            forgotten_report(&gone)
        }
    })
}

/// What `profile forget` prints.
pub(crate) fn forgotten_report(gone: &waymark_identity::Forgotten) -> serde_json::Value {
    let ids: Vec<String> = gone.identifiers.iter().map(ToString::to_string).collect();
    serde_json::json!({ "forgotten": gone.profile, "identifiers": ids, "suppressed": true })
}

pub(crate) fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

pub(crate) fn workspace_config(path: Option<&std::path::Path>) -> anyhow::Result<WorkspaceConfig> {
    Ok(match path {
        Some(path) => WorkspaceConfig::load(path)?,
        None => WorkspaceConfig::default(),
    })
}

/// Loads journeys and their templates; prints every problem and returns
/// `None` when anything is wrong.
pub(crate) fn load(
    files: &[PathBuf],
    templates: Option<&std::path::Path>,
    segments: Option<&std::path::Path>,
) -> anyhow::Result<Option<waymark_journey::JourneySet>> {
    match load_workspace(files, templates, segments) {
        Ok(set) => Ok(Some(set)),
        Err(errors) => {
            let mut err = std::io::stderr().lock();
            writeln!(err, "{errors}")?;
            Ok(None)
        }
    }
}
