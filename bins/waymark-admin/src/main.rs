//! `waymark-admin`: the command line over Waymark. Thin: it parses
//! arguments, loads files and prints; the work happens in the library crates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use waymark::{Simulation, SimulationOptions};
use waymark_core::{Timestamp, parse_timestamp};
use waymark_engine::{Engine, EngineConfig};
use waymark_journey::{load_journey_set, to_dot, to_mermaid};

#[derive(Parser)]
#[command(
    name = "waymark-admin",
    version,
    about = "Validate, draw and simulate Waymark journeys"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run journeys over an event file on a virtual clock and print the trace (JSONL).
    Simulate {
        /// A journey file (YAML or JSON); repeat for several.
        #[arg(long = "journey", required = true)]
        journeys: Vec<PathBuf>,
        /// Segment events, one JSON object per line.
        #[arg(long)]
        events: PathBuf,
        /// Template folder [default: templates/ beside the first journey].
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Stop the virtual clock at this instant (RFC 3339).
        #[arg(long, value_parser = parse_until)]
        until: Option<Timestamp>,
        /// Seed for splits and holdouts.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Journey definitions: validate and draw.
    Journey {
        #[command(subcommand)]
        command: JourneyCommand,
    },
}

#[derive(Subcommand)]
enum JourneyCommand {
    /// Check journey files; lists every problem and exits 1 if any.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Template folder [default: templates/ beside the first journey].
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// Draw a journey as Graphviz DOT or Mermaid.
    Graph {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Dot,
    Mermaid,
}

fn parse_until(text: &str) -> Result<Timestamp, String> {
    parse_timestamp(text).map_err(|e| format!("{text:?} is not an RFC 3339 timestamp: {e}"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("WAYMARK_LOG"))
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        // The reader went away (`| head`): not an error of ours.
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match cli.command {
        Command::Simulate {
            journeys,
            events,
            templates,
            until,
            seed,
        } => {
            let Some(loaded) = load(&journeys, templates.as_deref())? else {
                return Ok(ExitCode::FAILURE);
            };
            let text = std::fs::read_to_string(&events)
                .with_context(|| format!("cannot read {}", events.display()))?;
            let engine = Engine::new(
                loaded,
                EngineConfig {
                    seed,
                    ..EngineConfig::default()
                },
            );
            for line in Simulation::new(
                engine,
                SimulationOptions {
                    until,
                    ..SimulationOptions::default()
                },
            )
            .run(&text)
            {
                writeln!(out, "{}", line.to_json())?;
            }
        }
        Command::Journey {
            command: JourneyCommand::Validate { files, templates },
        } => {
            let Some(loaded) = load(&files, templates.as_deref())? else {
                return Ok(ExitCode::FAILURE);
            };
            for journey in loaded {
                writeln!(out, "ok {} ({} nodes)", journey.id, journey.nodes.len())?;
            }
        }
        Command::Journey {
            command: JourneyCommand::Graph { file, format },
        } => {
            let journey = waymark_journey::load_journey(&file)?;
            let text = match format {
                GraphFormat::Dot => to_dot(&journey),
                GraphFormat::Mermaid => to_mermaid(&journey),
            };
            out.write_all(text.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Loads journeys and their templates; prints every problem and returns
/// `None` when anything is wrong.
fn load(
    files: &[PathBuf],
    templates: Option<&std::path::Path>,
) -> anyhow::Result<Option<Vec<waymark_journey::Journey>>> {
    match load_journey_set(files, templates) {
        Ok((journeys, _templates)) => Ok(Some(journeys)),
        Err(errors) => {
            let mut err = std::io::stderr().lock();
            for error in errors {
                writeln!(err, "{error}")?;
            }
            Ok(None)
        }
    }
}
