//! The worker's configuration: a TOML file, every key overridable by a
//! `WAYMARK_<SECTION>__<KEY>` environment variable, and the effective result
//! printable (`--dump-config`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use waymark::ConfigError;
use waymark_kafka::KafkaConfig;

/// `[analytics]`: journey records to a JSONL file (without Kafka; on Kafka
/// they go to the analytics topic).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

/// Everything the worker reads from its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Journey files (YAML or JSON).
    pub journeys: Vec<PathBuf>,
    /// Template folder [default: `templates/` beside the first journey].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<PathBuf>,
    /// Segment folder [default: `segments/` beside the first journey].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments: Option<PathBuf>,
    #[serde(default)]
    pub source: SourceConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub channels: ChannelsConfig,
    #[serde(default)]
    pub runtime: LoopConfig,
    #[serde(default)]
    pub engine: EngineSection,
    /// Caps, quiet hours, suppression windows, topics (`docs/policies.md`).
    #[serde(default)]
    pub policies: waymark_engine::PoliciesSection,
    /// Where journey records go without Kafka (docs/analytics.md).
    #[serde(default)]
    pub analytics: AnalyticsConfig,
    #[serde(default)]
    pub identity: waymark_identity::IdentityConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<UnsubscribeConfig>,
    #[serde(default)]
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub ops: OpsConfig,
    /// The HTTP front door (docs/http.md): Segment's tracking API and the
    /// callbacks, with the ops endpoints beside them; none to serve none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<waymark_http::HttpConfig>,
}

/// Where events come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// `file` (resumes where it stopped), `stdin`, or `kafka` (the
    /// `[kafka]` section's input topics).
    pub kind: SourceKind,
    /// The JSONL file, for `kind = "file"`.
    pub path: Option<PathBuf>,
    /// Where refused lines go, with their line number and reason.
    pub rejects: PathBuf,
    /// Events per commit at most.
    pub batch_size: usize,
    /// How long a batch waits for more lines after its first, in
    /// milliseconds, before it is committed anyway.
    pub batch_wait_ms: u64,
    /// How far ahead of its receive time an event may be dated (`10m`);
    /// one dated later is placed at its receive time and marked
    /// `context.waymark.timestamp_corrected`.
    pub max_clock_skew: String,
}

impl SourceConfig {
    /// `max_clock_skew` as a time span, or what is wrong with it.
    pub fn max_clock_skew(&self) -> Result<chrono::TimeDelta, String> {
        self.max_clock_skew
            .parse::<waymark_core::Duration>()
            .map(waymark_core::Duration::to_delta)
            .map_err(|e| {
                format!(
                    "source.max_clock_skew: {:?} is not a duration (e.g. \"10m\"): {e}",
                    self.max_clock_skew
                )
            })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    File,
    Stdin,
    Kafka,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: SourceKind::File,
            path: None,
            rejects: PathBuf::from("waymark-data/rejects.jsonl"),
            batch_size: 1000,
            batch_wait_ms: 5,
            max_clock_skew: "10m".to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// `fjall` (embedded, the default) or `postgres`.
    pub kind: StoreKind,
    /// The fjall store's folder.
    pub path: PathBuf,
    /// With `postgres`: `postgres://user:password@host:port/database`
    /// (printed without its password).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "without_password"
    )]
    pub url: Option<String>,
    /// With `postgres`: the schema of Waymark's tables (created when missing).
    pub schema: String,
    /// With `postgres`: connections in the pool.
    pub pool_size: usize,
    /// Memory for people held between events (profiles, identifiers,
    /// journey instances), in MiB; beyond it the least recently used are
    /// let go and read from the store again when needed.
    pub cache_mb: usize,
    /// With `postgres` and a Kafka source: several workers share the store
    /// and the consumer group, each deciding for the partitions it is
    /// assigned (docs/scale.md, "Many workers").
    pub shared: bool,
}

/// Where the worker keeps its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreKind {
    Fjall,
    Postgres,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: StoreKind::Fjall,
            path: PathBuf::from("waymark-data/store"),
            url: None,
            schema: "waymark".to_owned(),
            pool_size: 8,
            cache_mb: 512,
            shared: false,
        }
    }
}

fn without_password<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(url) => s.serialize_str(&waymark_store::redact_url(url)),
        None => s.serialize_none(),
    }
}

impl StoreConfig {
    /// Opens the configured store.
    pub fn open(&self) -> Result<std::sync::Arc<dyn waymark_store::Store>, waymark_store::Error> {
        Ok(match self.kind {
            StoreKind::Fjall => std::sync::Arc::new(waymark_store::FjallStore::open(&self.path)?),
            StoreKind::Postgres => {
                let url = self.url.clone().ok_or_else(|| waymark_store::Error::Open {
                    path: "store.url".to_owned(),
                    reason: "store.kind = \"postgres\" needs store.url".to_owned(),
                })?;
                std::sync::Arc::new(waymark_store::PostgresStore::open(
                    &waymark_store::PostgresConfig {
                        url,
                        schema: self.schema.clone(),
                        pool_size: self.pool_size,
                    },
                )?)
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelsConfig {
    /// Where deliveries go when their channel has no provider below: `log`
    /// (a JSONL file) or `kafka` (the deliveries topic, for teams that send
    /// through their own services).
    pub default: DefaultChannel,
    pub log: LogChannelConfig,
    /// Email over SMTP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<waymark_channels::SmtpConfig>,
    /// SMS through Twilio (or a compatible gateway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms: Option<waymark_channels::TwilioConfig>,
    /// WhatsApp through Twilio.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<waymark_channels::TwilioConfig>,
    /// Push through FCM HTTP v1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<waymark_channels::FcmConfig>,
    /// Signed webhooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook: Option<waymark_channels::WebhookConfig>,
}

/// One-click unsubscribe links: `<base_url>?token=<signed token>`, in the
/// `List-Unsubscribe` header of every email and as `unsubscribe_url` in
/// templates. The Segment HTTP example serves `base_url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsubscribeConfig {
    pub base_url: String,
    /// The signing secret, shared with whatever serves `base_url`.
    pub secret: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DefaultChannel {
    #[default]
    Log,
    Kafka,
}

/// The `log` channel: every delivery as a JSON line (each idempotency key once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogChannelConfig {
    pub path: PathBuf,
}

impl Default for LogChannelConfig {
    fn default() -> Self {
        LogChannelConfig {
            path: PathBuf::from("waymark-data/deliveries.jsonl"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoopConfig {
    /// Ignored: timers and deliveries wake the runtime when they are due
    /// (there is no polling tick). Accepted so older configurations load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tick_ms: Option<u64>,
    /// Exit once the source is exhausted and no timer or delivery is pending
    /// (for batch runs and tests); otherwise keep running until a signal.
    pub exit_when_idle: bool,
    /// After SIGTERM, how long the worker may take to finish the batch in
    /// hand, commit and deliver what is due before it gives up.
    pub drain_timeout_ms: u64,
    /// Let logs show email addresses and phone numbers (for debugging);
    /// off, texts that may quote one are masked.
    pub log_identifiers: bool,
}

impl Default for LoopConfig {
    fn default() -> Self {
        LoopConfig {
            tick_ms: None,
            exit_when_idle: false,
            drain_timeout_ms: 30_000,
            log_identifiers: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    pub seed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
}

impl WorkerConfig {
    /// Reads `path`, then applies `WAYMARK_*` overrides from `env`
    /// (`WAYMARK_STORE__PATH=/data` sets `store.path`; top-level keys have no
    /// section: `WAYMARK_TEMPLATES=...`). Values are read as TOML when they
    /// parse as such (numbers, booleans, arrays), else as strings.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text, env)
    }

    pub fn parse(
        path: &Path,
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid(e.to_string().trim_end().to_owned()))?;
        for (name, raw) in env {
            let Some(rest) = name.strip_prefix("WAYMARK_") else {
                continue;
            };
            // Other WAYMARK_ variables (WAYMARK_LOG, the tests' own) are not
            // configuration: only sections and the top-level keys are.
            if !rest.contains("__") && !["JOURNEYS", "TEMPLATES"].contains(&rest) {
                continue;
            }
            let keys: Vec<String> = rest.split("__").map(str::to_lowercase).collect();
            let value = format!("v = {raw}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(raw.clone()));
            let (last, sections) = keys
                .split_last()
                .ok_or_else(|| invalid(format!("{name}: no key")))?;
            let mut at = &mut table;
            for section in sections {
                at = at
                    .entry(section.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                    .as_table_mut()
                    .ok_or_else(|| invalid(format!("{name}: `{section}` is not a section")))?;
            }
            at.insert(last.clone(), value);
        }
        let config: WorkerConfig = table
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.to_string().trim_end().to_owned()))?;
        if config.source.kind == SourceKind::File && config.source.path.is_none() {
            return Err(invalid(
                "source.path is required when source.kind = \"file\"".to_owned(),
            ));
        }
        let kafka_needed = config.source.kind == SourceKind::Kafka
            || config.channels.default == DefaultChannel::Kafka;
        if kafka_needed && config.kafka.brokers.trim().is_empty() {
            return Err(invalid(
                "kafka.brokers: list at least one broker".to_owned(),
            ));
        }
        if config.source.kind == SourceKind::Kafka && config.kafka.topics.input.is_empty() {
            return Err(invalid(
                "kafka.topics.input: list at least one input topic".to_owned(),
            ));
        }
        if config.store.shared
            && (config.store.kind != StoreKind::Postgres || config.source.kind != SourceKind::Kafka)
        {
            return Err(invalid(
                "store.shared: workers share a store only with store.kind = \"postgres\" and source.kind = \"kafka\"".to_owned(),
            ));
        }
        if config.journeys.is_empty() {
            return Err(invalid(
                "journeys: list at least one journey file".to_owned(),
            ));
        }
        Ok(config)
    }

    /// The effective configuration as TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The engine settings, checked.
    pub fn engine_config(&self) -> Result<waymark_engine::EngineConfig, String> {
        let mut engine = waymark_engine::EngineConfig {
            seed: self.engine.seed,
            ..Default::default()
        };
        if let Some(tz) = &self.engine.default_timezone {
            engine.default_timezone = tz
                .parse()
                .map_err(|_| format!("engine.default_timezone: unknown time zone {tz:?}"))?;
        }
        Ok(engine)
    }
}

/// The operations endpoint: `/healthz` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsConfig {
    /// `host:port` to serve on; none to serve nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `/healthz` answers ready only when partitions are assigned and the
    /// total lag is at most this many events.
    pub ready_max_lag: u64,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            listen: None,
            ready_max_lag: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str =
        "journeys = [\"j.yaml\"]\n[source]\npath = \"events.jsonl\"\n[store]\npath = \"data\"\n";

    fn parse(text: &str, env: &[(&str, &str)]) -> Result<WorkerConfig, String> {
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        WorkerConfig::parse(Path::new("worker.toml"), text, env).map_err(|e| e.to_string())
    }

    #[test]
    fn admin_tokens_come_from_the_environment_and_are_never_printed() {
        let c = parse(
            "journeys = [\"j.yaml\"]\n[source]\nkind = \"stdin\"\n[http]\nlisten = \"127.0.0.1:1\"\nread_tokens = [\"from-file\"]\n",
            &[("WAYMARK_HTTP__ADMIN_TOKENS", "[\"s3cret-admin\"]")],
        )
        .unwrap();
        let http = c.http.as_ref().unwrap();
        assert_eq!(http.admin_tokens, ["s3cret-admin"]);
        assert_eq!(http.read_tokens, ["from-file"]);
        let dumped = c.to_toml();
        assert!(
            !dumped.contains("s3cret") && !dumped.contains("from-file"),
            "{dumped}"
        );
        assert!(dumped.contains("<hidden>"), "{dumped}");
    }

    #[test]
    fn environment_overrides_file_values() {
        let c = parse(
            FILE,
            &[
                ("WAYMARK_STORE__PATH", "/var/lib/waymark"),
                ("WAYMARK_SOURCE__BATCH_SIZE", "50"),
                ("WAYMARK_RUNTIME__EXIT_WHEN_IDLE", "true"),
                ("WAYMARK_ENGINE__DEFAULT_TIMEZONE", "Europe/Paris"),
                ("HOME", "/root"),
                ("WAYMARK_LOG", "info"),
            ],
        )
        .unwrap();
        assert_eq!(c.store.path, PathBuf::from("/var/lib/waymark"));
        assert_eq!(c.source.batch_size, 50);
        assert!(c.runtime.exit_when_idle);
        assert_eq!(
            c.engine_config().unwrap().default_timezone,
            chrono_tz::Europe::Paris
        );
        assert_eq!(
            c.channels.log.path,
            PathBuf::from("waymark-data/deliveries.jsonl"),
            "defaults fill the rest"
        );
        let dumped = c.to_toml();
        assert!(dumped.contains("path = \"/var/lib/waymark\""), "{dumped}");
        assert_eq!(
            parse(&dumped, &[]).unwrap(),
            c,
            "the dump reads back as the same configuration"
        );
    }

    #[test]
    fn errors_name_the_file_and_key() {
        assert!(
            parse(
                "journeys = [\"j.yaml\"]\n[source]\npath = \"e\"\nbatch = 3\n",
                &[]
            )
            .unwrap_err()
            .contains("unknown field `batch`")
        );
        assert!(
            parse("journeys = [\"j.yaml\"]\n", &[])
                .unwrap_err()
                .contains("source.path is required")
        );
        assert!(
            parse(FILE, &[("WAYMARK_SOURCE__BATCH_SIZE", "lots")])
                .unwrap_err()
                .starts_with("worker.toml")
        );
    }
}
