//! `waymark-admin`: the command line over Waymark. Thin: it parses
//! arguments, loads files and prints; the work happens in the library crates.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use std::sync::Arc;

use waymark::deploy::{self, JourneyStatus};
use waymark::runtime::OutboxStatus;
use waymark::{Simulation, SimulationOptions, Waymark, WorkspaceConfig};
use waymark_core::{Identifier, Timestamp, parse_timestamp};
use waymark_engine::{Engine, EngineConfig};
use waymark_journey::{load_journey_set, to_dot, to_mermaid};
use waymark_store::FjallStore;

#[derive(Parser)]
#[command(
    name = "waymark-admin",
    version,
    about = "Validate, draw and simulate Waymark journeys"
)]
struct Cli {
    /// The worker's store (a fjall folder), for commands over live state.
    /// Stop the worker first: a store is opened by one process at a time.
    #[arg(long, global = true)]
    store: Option<PathBuf>,
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
        /// Workspace configuration (TOML: [engine], [identity]).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Seed for splits and holdouts [default: the config's, else 0].
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Profiles: show, export (GDPR access) or forget (GDPR erasure) a person.
    Profile {
        #[command(subcommand)]
        command: ProfileCommand,
    },
    /// Pending timers in the store.
    Timers {
        #[command(subcommand)]
        command: TimersCommand,
    },
    /// Deliveries waiting in, or failed out of, the store's outbox.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Journey definitions: validate and draw.
    Journey {
        #[command(subcommand)]
        command: JourneyCommand,
    },
    /// Message templates: preview one rendered for a person.
    Template {
        #[command(subcommand)]
        command: TemplateCommand,
    },
    /// Try the worker on Kafka: send an event file, read a topic.
    Kafka {
        /// `bootstrap.servers` (before or after the subcommand).
        #[arg(long, global = true, default_value = "127.0.0.1:19092")]
        brokers: String,
        #[command(subcommand)]
        command: KafkaCommand,
    },
}

#[derive(Subcommand)]
enum TemplateCommand {
    /// Render template NAME (Liquid) for a profile in `--store`, or for a
    /// sample file: JSON or YAML with `profile`, `event`, `journey` and
    /// optionally `unsubscribe_url`.
    Render {
        name: String,
        /// The template folder.
        #[arg(long, default_value = "templates")]
        templates: PathBuf,
        /// The channel variant to render [default: the template's own].
        #[arg(long)]
        channel: Option<String>,
        /// A person in `--store`: `user_id=ana`, `email=ana@example.com`, ...
        #[arg(long, conflicts_with = "sample")]
        profile: Option<String>,
        #[arg(long)]
        sample: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KafkaCommand {
    /// Publish each line of a JSONL event file to TOPIC, keyed by userId
    /// (or anonymousId), as the worker expects.
    Produce { topic: String, file: PathBuf },
    /// Print TOPIC's messages from the beginning, one per line.
    Tail {
        topic: String,
        /// Stop after this many seconds without a message (default: never).
        #[arg(long)]
        idle: Option<f64>,
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
    /// Store journey files as new versions (only if changed) in `--store`.
    Deploy {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Template folder [default: templates/ beside the first journey].
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Publish to the journeys topic of these brokers (running workers
        /// validate and activate it) instead of writing to `--store`.
        #[arg(long, value_name = "BROKERS")]
        kafka: Option<String>,
        /// The journeys topic, with `--kafka`.
        #[arg(long, default_value = "waymark.journeys", requires = "kafka")]
        topic: String,
    },
    /// No new entrants; people already in the journey carry on, or with
    /// `--hold` stay where they are until `resume`.
    Pause {
        id: String,
        #[arg(long)]
        hold: bool,
    },
    /// Take new entrants again (also brings back an archived journey).
    Resume { id: String },
    /// Retire: no new entrants, hidden from `list`; people in it carry on.
    Archive { id: String },
    /// Deployed journeys in `--store`: latest versions (with `--all`, every
    /// version and archived journeys too).
    List {
        #[arg(long)]
        all: bool,
    },
    /// Draw a journey as Graphviz DOT or Mermaid.
    Graph {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

#[derive(Subcommand)]
enum ProfileCommand {
    /// Print the unified profile of the person an identifier belongs to.
    Show(ProfileArgs),
    /// Print everything held about the person: profile, identifiers, merges.
    Export(ProfileArgs),
    /// Delete the person and suppress their identifiers; prints what was removed.
    Forget(ProfileArgs),
}

#[derive(Subcommand)]
enum TimersCommand {
    /// Timers due before an instant (default: all), in due order, as JSON lines.
    List {
        #[arg(long, value_parser = parse_until)]
        due_before: Option<Timestamp>,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// Outbox entries with a status, as JSON lines.
    List {
        #[arg(long, value_enum, default_value_t = OutboxFilter::Failed)]
        status: OutboxFilter,
    },
    /// Put every failed delivery back in line.
    Retry,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutboxFilter {
    Pending,
    Failed,
}

#[derive(clap::Args)]
struct ProfileArgs {
    /// `kind=value` (user_id=u1, email=ada@example.com, anonymous_id=..., external:crm_id=42);
    /// a bare value is a user_id.
    identifier: String,
    /// Build profiles from these events (JSONL) instead of reading `--store`.
    #[arg(long)]
    events: Option<PathBuf>,
    /// Workspace configuration (TOML: [identity]).
    #[arg(long)]
    config: Option<PathBuf>,
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
        Command::Template {
            command:
                TemplateCommand::Render {
                    name,
                    templates,
                    channel,
                    profile,
                    sample,
                },
        } => {
            if !templates.is_dir() {
                anyhow::bail!("{}: no such template folder", templates.display());
            }
            let catalog = waymark_journey::Templates::load_dir(&templates)?;
            let channel = channel
                .map(|c| c.parse::<waymark_core::Channel>())
                .transpose()
                .map_err(|e| anyhow::anyhow!("--channel: {e}"))?;
            let template = catalog
                .find(&name, channel)
                .with_context(|| format!("no template `{name}` in {}", templates.display()))?;
            let scope = match (profile, sample) {
                (Some(identifier), None) => {
                    let identifier: Identifier = identifier
                        .parse()
                        .map_err(|e: String| anyhow::anyhow!("--profile: {e}"))?;
                    let waymark = open_store(cli.store.as_deref(), WorkspaceConfig::default())?;
                    let export = waymark
                        .export(&identifier)?
                        .with_context(|| format!("no profile for {identifier}"))?;
                    serde_json::json!({"profile": export["profile"], "event": {}, "journey": {}})
                }
                (None, Some(file)) => {
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("{}: cannot read", file.display()))?;
                    waymark_journey::parse_document(&file, &text)?
                }
                _ => anyhow::bail!("give --profile ID (with --store) or --sample FILE"),
            };
            let rendered = template.render(&scope)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&rendered)?)?;
        }
        Command::Kafka { brokers, command } => {
            let kafka = waymark_kafka::KafkaConfig {
                brokers,
                ..Default::default()
            };
            match command {
                KafkaCommand::Produce { topic, file } => {
                    let text = std::fs::read_to_string(&file)
                        .with_context(|| format!("{}: cannot read", file.display()))?;
                    let sent = waymark_kafka::tools::produce_jsonl(&kafka, &topic, &text)
                        .map_err(|e| anyhow::anyhow!("{topic}: {e}"))?;
                    writeln!(out, "sent {sent} events to {topic}")?;
                }
                KafkaCommand::Tail { topic, idle } => {
                    let idle = idle.map(std::time::Duration::from_secs_f64);
                    let mut failed = None;
                    waymark_kafka::tools::tail(&kafka, &topic, idle, |value| {
                        if failed.is_none() {
                            let line = String::from_utf8_lossy(value);
                            if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
                                failed = Some(e);
                            }
                        }
                    })
                    .map_err(|e| anyhow::anyhow!("{topic}: {e}"))?;
                    if let Some(e) = failed {
                        return Err(e.into());
                    }
                }
            }
        }
        Command::Simulate {
            journeys,
            events,
            templates,
            until,
            config,
            seed,
        } => {
            let config = workspace_config(config.as_deref())?;
            let Some(loaded) = load(&journeys, templates.as_deref())? else {
                return Ok(ExitCode::FAILURE);
            };
            let text = read(&events)?;
            let engine_config = EngineConfig {
                seed: seed.unwrap_or(config.engine.seed),
                ..config.engine
            };
            let engine = Engine::new(loaded, engine_config);
            let options = SimulationOptions {
                until,
                identity: config.identity,
            };
            for line in Simulation::new(engine, options).run(&text) {
                writeln!(out, "{}", line.to_json())?;
            }
        }
        Command::Profile { command } => {
            let (args, action) = match &command {
                ProfileCommand::Show(a) => (a, "show"),
                ProfileCommand::Export(a) => (a, "export"),
                ProfileCommand::Forget(a) => (a, "forget"),
            };
            let identifier: Identifier = args
                .identifier
                .parse()
                .map_err(|e: String| anyhow::anyhow!("identifier: {e}"))?;
            let config = workspace_config(args.config.as_deref())?;
            let shown = match (&args.events, &cli.store) {
                (Some(events), _) => profile_from_events(events, config, &identifier, action)?,
                (None, Some(store)) => profile_from_store(store, config, &identifier, action)?,
                (None, None) => {
                    anyhow::bail!("give --store PATH (the worker's store) or --events FILE")
                }
            };
            writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
        }
        Command::Timers {
            command: TimersCommand::List { due_before },
        } => {
            let waymark = open_store(cli.store.as_deref(), WorkspaceConfig::default())?;
            let before = due_before.unwrap_or(Timestamp::MAX_UTC);
            for timer in waymark.timers_due_before(before) {
                writeln!(out, "{}", serde_json::to_string(&timer)?)?;
            }
        }
        Command::Outbox { command } => {
            let waymark = open_store(cli.store.as_deref(), WorkspaceConfig::default())?;
            match command {
                OutboxCommand::List { status } => {
                    let status = match status {
                        OutboxFilter::Pending => OutboxStatus::Pending,
                        OutboxFilter::Failed => OutboxStatus::Failed,
                    };
                    for entry in waymark.outbox(status) {
                        writeln!(out, "{}", serde_json::to_string(&entry)?)?;
                    }
                }
                OutboxCommand::Retry => {
                    let n = waymark.retry_failed()?;
                    writeln!(out, "{n} failed deliveries put back in line")?;
                }
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
            command:
                JourneyCommand::Deploy {
                    files,
                    templates,
                    kafka: Some(brokers),
                    topic,
                },
        } => {
            let kafka = waymark_kafka::KafkaConfig {
                brokers,
                topics: waymark_kafka::TopicsConfig {
                    journeys: topic,
                    ..Default::default()
                },
                ..Default::default()
            };
            for file in &files {
                let id = waymark_kafka::publish_journey(&kafka, file, templates.as_deref())
                    .map_err(|e| anyhow::anyhow!(e))?;
                writeln!(out, "published {id} to {}", kafka.topics.journeys)?;
            }
        }
        Command::Journey {
            command: JourneyCommand::Deploy {
                files, templates, ..
            },
        } => {
            let store = store_only(cli.store.as_deref())?;
            for file in &files {
                let outcome =
                    deploy::deploy(&store, file, templates.as_deref(), chrono::Utc::now())?;
                let what = if outcome.new_version {
                    "deployed"
                } else {
                    "unchanged"
                };
                writeln!(out, "{what} {} v{}", outcome.id, outcome.version)?;
            }
        }
        Command::Journey {
            command: JourneyCommand::Pause { id, hold },
        } => {
            let d = deploy::set_status(
                &store_only(cli.store.as_deref())?,
                &id,
                JourneyStatus::Paused,
                hold,
            )?;
            let how = if d.hold { " (people in it held)" } else { "" };
            writeln!(out, "paused {} v{}{how}", d.id, d.version)?;
        }
        Command::Journey {
            command: JourneyCommand::Resume { id },
        } => {
            let d = deploy::set_status(
                &store_only(cli.store.as_deref())?,
                &id,
                JourneyStatus::Active,
                false,
            )?;
            writeln!(out, "resumed {} v{}", d.id, d.version)?;
        }
        Command::Journey {
            command: JourneyCommand::Archive { id },
        } => {
            let d = deploy::set_status(
                &store_only(cli.store.as_deref())?,
                &id,
                JourneyStatus::Archived,
                false,
            )?;
            writeln!(out, "archived {} v{}", d.id, d.version)?;
        }
        Command::Journey {
            command: JourneyCommand::List { all },
        } => {
            let deployed = deploy::list(&store_only(cli.store.as_deref())?)?;
            for (i, d) in deployed.iter().enumerate() {
                let latest = deployed.get(i + 1).is_none_or(|next| next.id != d.id);
                if all || (latest && d.status != JourneyStatus::Archived) {
                    let status = serde_json::to_value(d.status)?;
                    let status = status.as_str().unwrap_or_default();
                    let shown = if latest { status } else { "superseded" };
                    let at = waymark_core::format_timestamp(d.deployed_at);
                    writeln!(out, "{}\tv{}\t{shown}\t{at}\t{}", d.id, d.version, d.file)?;
                }
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

/// The store alone (journey commands need no runtime state).
fn store_only(path: Option<&std::path::Path>) -> anyhow::Result<FjallStore> {
    let path = path.context("give --store PATH (the worker's store)")?;
    FjallStore::open(path).with_context(|| "is a worker running on it? stop it first".to_owned())
}

/// The runtime over a store, for reading and administering live state.
fn open_store(path: Option<&std::path::Path>, config: WorkspaceConfig) -> anyhow::Result<Waymark> {
    let path = path.context("give --store PATH (the worker's store)")?;
    if !path.exists() {
        anyhow::bail!("{}: no store here", path.display());
    }
    let store = FjallStore::open(path)
        .with_context(|| "is a worker running on it? stop it first".to_owned())?;
    Ok(Waymark::builder()
        .store(Arc::new(store))
        .identity(config.identity)
        .engine(config.engine)
        .build()?)
}

fn profile_from_store(
    store: &std::path::Path,
    config: WorkspaceConfig,
    identifier: &Identifier,
    action: &str,
) -> anyhow::Result<serde_json::Value> {
    let waymark = open_store(Some(store), config)?;
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

fn profile_from_events(
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
fn forgotten_report(gone: &waymark_identity::Forgotten) -> serde_json::Value {
    let ids: Vec<String> = gone.identifiers.iter().map(ToString::to_string).collect();
    serde_json::json!({ "forgotten": gone.profile, "identifiers": ids, "suppressed": true })
}

fn read(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn workspace_config(path: Option<&std::path::Path>) -> anyhow::Result<WorkspaceConfig> {
    Ok(match path {
        Some(path) => WorkspaceConfig::load(path)?,
        None => WorkspaceConfig::default(),
    })
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
            writeln!(err, "{errors}")?;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The brokers as the README writes them (after the subcommand) and
    /// before it.
    #[test]
    fn brokers_go_before_or_after_the_kafka_subcommand() {
        for args in [
            [
                "waymark-admin",
                "kafka",
                "produce",
                "--brokers",
                "h:1",
                "t",
                "f",
            ],
            [
                "waymark-admin",
                "kafka",
                "--brokers",
                "h:1",
                "produce",
                "t",
                "f",
            ],
        ] {
            let Ok(Cli {
                command: Command::Kafka { brokers, .. },
                ..
            }) = Cli::try_parse_from(args)
            else {
                panic!("{args:?} not understood");
            };
            assert_eq!(brokers, "h:1", "{args:?}");
        }
    }
}
