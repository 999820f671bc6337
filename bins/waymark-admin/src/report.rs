//! `waymark-admin report`: journey metrics over a worker's store, over a
//! simulation, or over the records file a worker wrote; printed as a
//! table, JSON or CSV, and drawn as SVG charts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use waymark_analytics::{JourneyMetrics, Metrics, Selection};

use crate::cli::{ReportArgs, ReportFormat, SimulateArgs};

/// Bad input to `report` (an unknown journey or version, a store that
/// cannot be opened): exit code 2, nothing written.
const BAD_INPUT: u8 = 2;

pub(crate) fn run(
    args: ReportArgs,
    store: Option<&Path>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let (metrics, deployed) = match gather(&args, store) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(ExitCode::FAILURE),
        Err(error) => return refuse(&error),
    };
    let selection = Selection {
        journey: args.journey.clone(),
        version: args.version,
        since: args.since,
    };
    if let Err(error) = check_selection(&selection, &deployed) {
        return refuse(&error);
    }
    let mut journeys = metrics.select(&selection);
    // A known journey nobody has entered yet is reported with zeros.
    if let Some(id) = &selection.journey
        && journeys.is_empty()
    {
        journeys.push(JourneyMetrics {
            journey: Arc::from(id.as_str()),
            version: selection.version,
            counters: Default::default(),
            daily: BTreeMap::new(),
        });
    }
    if let Some(dir) = &args.svg {
        crate::charts::write_all(dir, &journeys)?;
    }
    match args.format {
        ReportFormat::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&waymark_analytics::to_json(&journeys))?
        )?,
        ReportFormat::Table => write!(out, "{}", waymark_analytics::to_table(&journeys))?,
        ReportFormat::Csv => write!(out, "{}", waymark_analytics::to_csv(&journeys))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn refuse(error: &anyhow::Error) -> anyhow::Result<ExitCode> {
    writeln!(std::io::stderr().lock(), "error: {error:#}")?;
    Ok(ExitCode::from(BAD_INPUT))
}

/// The metrics the report covers, and the journey versions known besides
/// those counted (deployed in the store, or simulated). `None` when a
/// simulation's inputs were refused (the problems are on stderr).
type Gathered = (Metrics, BTreeMap<String, Vec<u32>>);

fn gather(args: &ReportArgs, store: Option<&Path>) -> anyhow::Result<Option<Gathered>> {
    let mut metrics = Metrics::default();
    let mut known: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    if let Some(path) = &args.records {
        for record in read_records(path)? {
            metrics.add(&record);
        }
    } else if let Some(events) = args.events.clone().filter(|_| !args.journeys.is_empty()) {
        let simulate = SimulateArgs {
            journeys: args.journeys.clone(),
            events,
            templates: args.templates.clone(),
            segments: args.segments.clone(),
            until: None,
            config: args.config.clone(),
            seed: None,
        };
        let Some(simulated) = crate::simulate(&simulate)? else {
            return Ok(None);
        };
        for record in &simulated.run.records {
            metrics.add(record);
        }
        for (journey, version) in simulated.journeys {
            known.entry(journey).or_default().push(version);
        }
    } else if let Some(path) = store {
        if !waymark_store::FjallStore::exists(path) {
            anyhow::bail!("{}: no store here", path.display());
        }
        let store = waymark_store::FjallStore::open(path)
            .context("is a worker running on it? stop it first")?;
        metrics = waymark::analytics::stored_metrics(&store)?;
        for deployed in waymark::deploy::list(&store)? {
            known.entry(deployed.id).or_default().push(deployed.version);
        }
    } else {
        anyhow::bail!(
            "give --store PATH (the worker's store), --journey FILE... --events FILE, or --records FILE"
        );
    }
    for (journey, versions) in metrics.versions() {
        known
            .entry(journey.to_string())
            .or_default()
            .extend(versions);
    }
    Ok(Some((metrics, known)))
}

/// An unknown journey, or a version the journey never had, is an error.
fn check_selection(
    selection: &Selection,
    known: &BTreeMap<String, Vec<u32>>,
) -> anyhow::Result<()> {
    let Some(journey) = &selection.journey else {
        return Ok(());
    };
    let Some(versions) = known.get(journey) else {
        let names: Vec<&str> = known.keys().map(String::as_str).collect();
        anyhow::bail!(
            "unknown journey `{journey}` (known: {})",
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        );
    };
    if let Some(version) = selection.version
        && !versions.contains(&version)
    {
        let mut versions = versions.clone();
        versions.sort_unstable();
        versions.dedup();
        let listed: Vec<String> = versions.iter().map(u32::to_string).collect();
        anyhow::bail!(
            "journey `{journey}` has no version {version} (versions: {})",
            listed.join(", ")
        );
    }
    Ok(())
}

/// Journey records from a JSONL file the worker wrote, each once (a record
/// written again after a crash has the same key); a bad line is an error
/// naming it.
fn read_records(path: &Path) -> anyhow::Result<Vec<waymark_engine::Record>> {
    let text = crate::open::read(path)?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let record: waymark_engine::Record = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a journey record", path.display(), i + 1))?;
        if seen.insert(record.key.clone()) {
            out.push(record);
        }
    }
    Ok(out)
}
