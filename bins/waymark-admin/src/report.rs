//! `waymark-admin report`: journey metrics over a worker's store, over a
//! simulation, or over the records file a worker wrote; printed as a
//! table, JSON or CSV, and drawn as SVG charts.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use waymark_analytics::{Metrics, Selection};

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
    let journeys = match metrics.report(&selection, deployed) {
        Ok(journeys) => journeys,
        Err(error) => return refuse(&error.into()),
    };
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
            model: Vec::new(),
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
        let store = crate::open::open_any(path)?;
        metrics = waymark::analytics::stored_metrics(store.as_ref())?;
        for deployed in waymark::deploy::list(store.as_ref())? {
            known.entry(deployed.id).or_default().push(deployed.version);
        }
    } else {
        anyhow::bail!(
            "give --store PATH (the worker's store), --journey FILE... --events FILE, or --records FILE"
        );
    }
    Ok(Some((metrics, known)))
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
