//! The command line: every command and its arguments (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use waymark_core::{Timestamp, parse_timestamp};

#[derive(Parser)]
#[command(
    name = "waymark-admin",
    version,
    about = "Validate, draw and simulate Waymark journeys"
)]
pub(crate) struct Cli {
    /// The worker's store (a fjall folder), for commands over live state.
    /// Stop the worker first: a store is opened by one process at a time.
    #[arg(long, global = true, conflicts_with = "url")]
    pub(crate) store: Option<PathBuf>,
    /// A running worker's base URL (`http://127.0.0.1:8088`): journey,
    /// profile, report, timers, outbox and segments commands go to its
    /// admin API instead of a stopped worker's `--store`.
    #[arg(long, global = true, env = "WAYMARK_URL")]
    pub(crate) url: Option<String>,
    /// The admin API token (`read` to look, `admin` to change), with `--url`.
    #[arg(
        long,
        global = true,
        env = "WAYMARK_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: Option<String>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// What `simulate` (and `report` over a simulation) runs.
#[derive(Args)]
pub(crate) struct SimulateArgs {
    /// A journey file (YAML or JSON); repeat for several.
    #[arg(long = "journey", required = true)]
    pub(crate) journeys: Vec<PathBuf>,
    /// Segment events, one JSON object per line.
    #[arg(long)]
    pub(crate) events: PathBuf,
    /// Template folder [default: templates/ beside the first journey].
    #[arg(long)]
    pub(crate) templates: Option<PathBuf>,
    /// Segment folder [default: segments/ beside the first journey].
    #[arg(long)]
    pub(crate) segments: Option<PathBuf>,
    /// Stop the virtual clock at this instant (RFC 3339).
    #[arg(long, value_parser = parse_until)]
    pub(crate) until: Option<Timestamp>,
    /// Workspace configuration (TOML: [engine], [identity], [policies]).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    /// Seed for splits and holdouts [default: the config's, else 0].
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// A model as `model fit` or `model engagement` printed it (JSON), as
    /// a worker with the model saved uses it; repeat for both.
    #[arg(long)]
    pub(crate) model: Vec<PathBuf>,
}

/// What `report` covers and how it prints it.
#[derive(Args)]
pub(crate) struct ReportArgs {
    /// Only this journey [default: every journey].
    pub(crate) journey: Option<String>,
    /// Only this version of JOURNEY [default: every version, merged].
    #[arg(long, requires = "journey")]
    pub(crate) version: Option<u32>,
    /// Only days (UTC) from this one on: YYYY-MM-DD.
    #[arg(long, value_parser = parse_day)]
    pub(crate) since: Option<chrono::NaiveDate>,
    /// Journey records as the worker writes them (`[analytics] path`),
    /// instead of the store or a simulation.
    #[arg(long, conflicts_with_all = ["journeys", "events"])]
    pub(crate) records: Option<PathBuf>,
    /// A journey file to simulate (as in `simulate`); repeat for several.
    #[arg(long = "journey")]
    pub(crate) journeys: Vec<PathBuf>,
    /// Segment events to simulate, one JSON object per line.
    #[arg(long)]
    pub(crate) events: Option<PathBuf>,
    /// Template folder [default: templates/ beside the first journey].
    #[arg(long)]
    pub(crate) templates: Option<PathBuf>,
    /// Segment folder [default: segments/ beside the first journey].
    #[arg(long)]
    pub(crate) segments: Option<PathBuf>,
    /// Workspace configuration (TOML: [engine], [identity], [policies]).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub(crate) format: ReportFormat,
    /// Also draw each journey's charts as SVG files in this folder: the
    /// graph with its flows, conversions per day, variant allocation.
    #[arg(long, value_name = "DIR")]
    pub(crate) svg: Option<PathBuf>,
}

fn parse_day(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| format!("`{text}` is not a day (YYYY-MM-DD): {e}"))
}

/// How a report is printed.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ReportFormat {
    /// What a marketer reads.
    Table,
    /// The documented JSON (`{"journeys": [...]}`).
    Json,
    /// One number per row: journey, section, key, value.
    Csv,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run journeys over an event file on a virtual clock and print the trace (JSONL).
    Simulate(SimulateArgs),
    /// Journey metrics: the funnel by node, channels, the goal, treatment
    /// against control with uplift (docs/analytics.md), over the worker's
    /// store (`--store PATH`), a simulation, or a records file.
    Report(ReportArgs),
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
    /// Prediction models: fit BG/NBD (repeat buying) on purchase histories.
    Model {
        #[command(subcommand)]
        command: ModelCommand,
    },
    /// Segment sizes: members of each segment now.
    Segments {
        /// The segment folder the worker was started with (with `--store`).
        #[arg(long, default_value = "segments")]
        segments: PathBuf,
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
pub(crate) enum TemplateCommand {
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
pub(crate) enum KafkaCommand {
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
#[allow(clippy::large_enum_variant)] // parsed once per run: size does not matter
pub(crate) enum JourneyCommand {
    /// Check journey files; lists every problem and exits 1 if any.
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Template folder [default: templates/ beside the first journey].
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Segment folder [default: segments/ beside the first journey].
        #[arg(long)]
        segments: Option<PathBuf>,
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
    /// Enter a person into a journey entered by API (`entry: { api: true }`)
    /// in `--store`, once per `--id`: a repeated call changes nothing.
    Enter {
        /// The journey's id.
        journey: String,
        /// The call's id (repeat it to retry safely) [default: a new one].
        #[arg(long)]
        id: Option<String>,
        /// The person's user id.
        #[arg(long, required_unless_present = "anonymous")]
        user: Option<String>,
        /// The person's anonymous id.
        #[arg(long)]
        anonymous: Option<String>,
        /// Their email address (set as the `email` trait).
        #[arg(long)]
        email: Option<String>,
        /// Their phone number (set as the `phone` trait).
        #[arg(long)]
        phone: Option<String>,
        /// The call's data, a JSON object: `event.properties` in the journey.
        #[arg(long, value_parser = parse_object)]
        data: Option<serde_json::Map<String, serde_json::Value>>,
        /// The workspace config (`[engine]`, `[identity]`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Segment folder of the journeys in `--store` (what the person's
        /// traits may make them join).
        #[arg(long, conflicts_with = "kafka")]
        segments: Option<PathBuf>,
        /// Publish the call to the enter topic of these brokers (running
        /// workers apply it) instead of deciding it over `--store`.
        #[arg(long, value_name = "BROKERS")]
        kafka: Option<String>,
        /// The enter topic, with `--kafka`.
        #[arg(long, default_value = "waymark.enter", requires = "kafka")]
        topic: String,
    },
    /// Draw a journey as Graphviz DOT or Mermaid.
    Graph {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
}

#[derive(Subcommand)]
pub(crate) enum ProfileCommand {
    /// Print the unified profile of the person an identifier belongs to.
    Show(ProfileArgs),
    /// Print everything held about the person: profile, identifiers, merges.
    Export(ProfileArgs),
    /// Delete the person and suppress their identifiers; prints what was removed.
    Forget(ProfileArgs),
}

#[derive(Subcommand)]
pub(crate) enum ModelCommand {
    /// Fit BG/NBD on each person's history of one event (count, first and
    /// last time), in days, over the store (`--store`; the fitted model is
    /// saved there) or an event file (`--events`); prints the model as
    /// JSON (docs/intelligence.md).
    Fit {
        /// The purchase event.
        #[arg(long, default_value = "Order Completed")]
        event: String,
        /// An event file to fit on instead of the store.
        #[arg(long)]
        events: Option<PathBuf>,
        /// The end of the observation (default: now with `--store`, the
        /// file's last event with `--events`).
        #[arg(long, value_parser = parse_until)]
        at: Option<Timestamp>,
    },
    /// Add up everyone's engagement (opens and clicks per local hour; per
    /// channel, messages sent and engaged with): the priors of `best_time`
    /// waits and `channel: best` sends. Over the store (saved there; the
    /// worker reads it at start) or an event file; prints it as JSON.
    Engagement {
        /// An event file to count instead of the store.
        #[arg(long)]
        events: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum TimersCommand {
    /// Timers due before an instant (default: all), in due order, as JSON lines.
    List {
        #[arg(long, value_parser = parse_until)]
        due_before: Option<Timestamp>,
    },
}

#[derive(Subcommand)]
pub(crate) enum OutboxCommand {
    /// Outbox entries with a status, as JSON lines.
    List {
        #[arg(long, value_enum, default_value_t = OutboxFilter::Failed)]
        status: OutboxFilter,
    },
    /// Put every failed delivery back in line.
    Retry,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum OutboxFilter {
    Pending,
    Failed,
}

#[derive(clap::Args)]
pub(crate) struct ProfileArgs {
    /// `kind=value` (user_id=u1, email=ada@example.com, anonymous_id=..., external:crm_id=42);
    /// a bare value is a user_id.
    pub(crate) identifier: String,
    /// Build profiles from these events (JSONL) instead of reading `--store`.
    #[arg(long)]
    pub(crate) events: Option<PathBuf>,
    /// Workspace configuration (TOML: [identity]).
    #[arg(long)]
    pub(crate) config: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum GraphFormat {
    Dot,
    Mermaid,
}

pub(crate) fn parse_object(
    text: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("must be a JSON object".to_owned()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

pub(crate) fn parse_until(text: &str) -> Result<Timestamp, String> {
    parse_timestamp(text).map_err(|e| format!("{text:?} is not an RFC 3339 timestamp: {e}"))
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
