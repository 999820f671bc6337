//! `waymark-admin`: the command line over Waymark. Thin: it parses
//! arguments, loads files and prints; the work happens in the library crates.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use waymark::deploy::{self, JourneyStatus};
use waymark::runtime::{EnterRequest, Entered, OutboxStatus};
use waymark::{Simulation, SimulationOptions, WorkspaceConfig};
use waymark_core::{Identifier, Timestamp};
use waymark_engine::{Engine, EngineConfig};
use waymark_journey::{to_dot, to_mermaid};

mod charts;
mod cli;
mod model;
mod open;
mod remote;
mod report;

use cli::{
    Cli, Command, GraphFormat, JourneyCommand, KafkaCommand, ModelCommand, OutboxCommand,
    OutboxFilter, ProfileCommand, SimulateArgs, TemplateCommand, TimersCommand,
};
use open::{
    load, open_store, profile_from_events, profile_from_store, read, store_only, workspace_config,
};

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
    if let Some(url) = &cli.url {
        let code = remote::run(url, cli.token, cli.command, &mut out)?;
        out.flush()?;
        return Ok(code);
    }
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
                    let waymark =
                        open_store(cli.store.as_deref(), WorkspaceConfig::default(), None)?;
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
        Command::Simulate(args) => {
            let Some(Simulated { run, .. }) = simulate(&args)? else {
                return Ok(ExitCode::FAILURE);
            };
            for line in run.trace {
                writeln!(out, "{}", line.to_json())?;
            }
        }
        Command::Report(args) => return report::run(args, cli.store.as_deref(), &mut out),
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
        Command::Model {
            command: ModelCommand::Fit { event, events, at },
        } => {
            let model = model::fit(cli.store.as_deref(), events.as_deref(), &event, at)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&model)?)?;
        }
        Command::Model {
            command: ModelCommand::Engagement { events },
        } => {
            let model = model::engagement(cli.store.as_deref(), events.as_deref())?;
            writeln!(out, "{}", serde_json::to_string_pretty(&model)?)?;
        }
        Command::Segments { segments } => {
            let waymark = open_store(
                cli.store.as_deref(),
                WorkspaceConfig::default(),
                Some(&segments),
            )?;
            for (id, size) in waymark.segment_sizes()? {
                writeln!(out, "{id}\t{size}")?;
            }
        }
        Command::Timers {
            command: TimersCommand::List { due_before },
        } => {
            let waymark = open_store(cli.store.as_deref(), WorkspaceConfig::default(), None)?;
            let before = due_before.unwrap_or(Timestamp::MAX_UTC);
            for timer in waymark.timers_due_before(before)? {
                writeln!(out, "{}", serde_json::to_string(&timer)?)?;
            }
        }
        Command::Outbox { command } => {
            let waymark = open_store(cli.store.as_deref(), WorkspaceConfig::default(), None)?;
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
            command:
                JourneyCommand::Validate {
                    files,
                    templates,
                    segments,
                },
        } => {
            let Some(loaded) = load(&files, templates.as_deref(), segments.as_deref())? else {
                return Ok(ExitCode::FAILURE);
            };
            for journey in loaded.journeys {
                writeln!(out, "ok {} ({} nodes)", journey.id, journey.nodes.len())?;
            }
            for segment in loaded.segments.iter() {
                writeln!(out, "ok segment {}", segment.id)?;
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
                let outcome = deploy::deploy(
                    store.as_ref(),
                    file,
                    templates.as_deref(),
                    chrono::Utc::now(),
                )?;
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
                store_only(cli.store.as_deref())?.as_ref(),
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
                store_only(cli.store.as_deref())?.as_ref(),
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
                store_only(cli.store.as_deref())?.as_ref(),
                &id,
                JourneyStatus::Archived,
                false,
            )?;
            writeln!(out, "archived {} v{}", d.id, d.version)?;
        }
        Command::Journey {
            command: JourneyCommand::List { all },
        } => {
            let deployed = deploy::list(store_only(cli.store.as_deref())?.as_ref())?;
            for (d, latest) in deploy::with_latest(deployed) {
                if all || (latest && d.status != JourneyStatus::Archived) {
                    let shown = d.status_name(latest);
                    let at = waymark_core::format_timestamp(d.deployed_at);
                    writeln!(out, "{}\tv{}\t{shown}\t{at}\t{}", d.id, d.version, d.file)?;
                }
            }
        }
        Command::Journey {
            command:
                JourneyCommand::Enter {
                    journey,
                    id,
                    user,
                    anonymous,
                    email,
                    phone,
                    data,
                    config,
                    segments,
                    kafka,
                    topic,
                },
        } => {
            let call_id = id.unwrap_or_else(new_call_id);
            let traits = [("email", email), ("phone", phone)]
                .into_iter()
                .filter_map(|(k, v)| Some((k.to_owned(), serde_json::Value::from(v?))))
                .collect();
            let request = EnterRequest {
                journey,
                call_id: call_id.clone(),
                user_id: user,
                anonymous_id: anonymous,
                traits,
                data: data.unwrap_or_default(),
            };
            if let Some(brokers) = kafka {
                let kafka = waymark_kafka::KafkaConfig {
                    brokers,
                    topics: waymark_kafka::TopicsConfig {
                        enter: topic,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                waymark_kafka::publish_enter(&kafka, &request).map_err(|e| anyhow::anyhow!(e))?;
                let answer = serde_json::json!({"id": call_id, "published": kafka.topics.enter});
                writeln!(out, "{answer}")?;
                return Ok(ExitCode::SUCCESS);
            }
            let config = workspace_config(config.as_deref())?;
            let waymark = open_store(cli.store.as_deref(), config, segments.as_deref())?;
            let answer = match waymark.enter(&request)? {
                Entered::Decided { entered, sends } => {
                    serde_json::json!({"id": call_id, "entered": entered, "sends": sends})
                }
                Entered::Repeated => {
                    serde_json::json!({"id": call_id, "entered": false, "repeated": true})
                }
            };
            writeln!(out, "{answer}")?;
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

/// A call id for an entry made without `--id`: unique per call (time and
/// process), printed so that the call can be repeated safely.
fn new_call_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("admin-{nanos:x}-{}", std::process::id())
}

/// A simulation's outcome, and the journey versions it ran.
pub(crate) struct Simulated {
    pub run: waymark::SimulationRun,
    pub journeys: Vec<(String, u32)>,
}

/// Runs a simulation as `simulate` does; `None` when the inputs were
/// refused (the problems are on stderr).
pub(crate) fn simulate(args: &SimulateArgs) -> anyhow::Result<Option<Simulated>> {
    let config = workspace_config(args.config.as_deref())?;
    let Some(loaded) = load(
        &args.journeys,
        args.templates.as_deref(),
        args.segments.as_deref(),
    )?
    else {
        return Ok(None);
    };
    let text = read(&args.events)?;
    let engine_config = EngineConfig {
        seed: args.seed.unwrap_or(config.engine.seed),
        ..config.engine
    };
    let problems = waymark::check_topics(&loaded.journeys, &config.policies);
    if !problems.is_empty() {
        writeln!(std::io::stderr().lock(), "{}", problems.join("\n"))?;
        return Ok(None);
    }
    let mut engine = Engine::new(loaded.journeys, engine_config);
    engine.set_segments(loaded.segments);
    engine.set_policies(config.policies);
    for path in &args.model {
        model::apply(&mut engine, path)?;
    }
    let journeys = engine
        .journeys()
        .iter()
        .map(|j| (j.id.to_string(), j.version))
        .collect();
    let options = SimulationOptions {
        until: args.until,
        identity: config.identity,
    };
    let run = Simulation::new(engine, options).run_all(&text);
    Ok(Some(Simulated { run, journeys }))
}
