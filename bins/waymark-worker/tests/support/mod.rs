//! Test support for the Kafka tests: a real broker on loopback (started by
//! `scripts/kafka-dev.sh`, installed once), topics, producing, reading
//! topics back, and running the worker binary.
#![allow(clippy::unwrap_used, dead_code)] // test support: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::BaseConsumer;
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use waymark_kafka::read_to_end;

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The brokers of the test broker: `WAYMARK_KAFKA_BROKERS`, or one started
/// (and installed if missing) by `scripts/kafka-dev.sh`.
pub fn brokers() -> String {
    static BROKERS: OnceLock<String> = OnceLock::new();
    BROKERS
        .get_or_init(|| {
            if let Ok(brokers) = std::env::var("WAYMARK_KAFKA_BROKERS") {
                return brokers;
            }
            let out = Command::new(workspace().join("scripts/kafka-dev.sh"))
                .arg("start")
                .stderr(Stdio::inherit())
                .output()
                .unwrap();
            assert!(out.status.success(), "scripts/kafka-dev.sh start failed");
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .last()
                .unwrap()
                .trim()
                .to_owned()
        })
        .clone()
}

/// A topic name no other test (or run) uses.
pub fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

fn client() -> ClientConfig {
    client_of(&brokers())
}

fn client_of(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    config
}

pub fn create_topics(names: &[&str], partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = client().create().unwrap();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = runtime
        .block_on(admin.create_topics(&topics, &AdminOptions::new()))
        .unwrap();
    for result in results {
        result.unwrap();
    }
}

pub fn producer() -> ThreadedProducer<DefaultProducerContext> {
    client()
        .set("message.max.bytes", "16777216")
        .set("linger.ms", "5")
        .create()
        .unwrap()
}

/// Produces (key, payload) messages in order and waits for them.
pub fn produce(topic: &str, messages: &[(String, Vec<u8>)]) {
    produce_with(producer(), topic, messages);
}

/// [`produce`] to another broker than the shared one.
pub fn produce_to(brokers: &str, topic: &str, messages: &[(String, Vec<u8>)]) {
    produce_with(client_of(brokers).create().unwrap(), topic, messages);
}

/// [`produce`], each message in a record batch of its own: tansu 0.6
/// returns nothing to a fetch that starts inside a batch, so a consumer
/// group resuming mid-batch (after a SIGKILL) would stall there
/// (docs/kafka.md, "Known limits of tansu 0.6").
pub fn produce_one_per_batch(topic: &str, messages: &[(String, Vec<u8>)]) {
    let mut config = client();
    config
        .set("message.max.bytes", "16777216")
        .set("batch.num.messages", "1");
    produce_with(config.create().unwrap(), topic, messages);
}

fn produce_with(
    producer: ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    messages: &[(String, Vec<u8>)],
) {
    for (key, payload) in messages {
        let mut record = BaseRecord::to(topic).key(key.as_bytes()).payload(payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
}

/// One message read back.
#[derive(Debug, Clone)]
pub struct Read {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp_ms: i64,
}

impl Read {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap()
    }
}

/// Every message of `topic` (all partitions, from the beginning to the
/// current end).
pub fn read_all(topic: &str) -> Vec<Read> {
    let consumer: BaseConsumer = client()
        .set("group.id", unique("test-reader"))
        .set("enable.auto.commit", "false")
        .set("fetch.message.max.bytes", "16777216")
        .create()
        .unwrap();
    let mut out = Vec::new();
    read_to_end(
        &consumer,
        topic,
        |low, _| low,
        (Duration::from_millis(500), Duration::from_secs(120)),
        |m| {
            out.push(Read {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().unwrap_or_default().to_vec(),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_owned(), h.value.unwrap_or_default().to_vec()))
                            .collect()
                    })
                    .unwrap_or_default(),
                timestamp_ms: m.timestamp().to_millis().unwrap_or_default(),
            });
        },
    )
    .unwrap();
    out
}

/// The topics one worker uses, unique to a test.
#[derive(Debug, Clone)]
pub struct Topics {
    pub input: String,
    pub deliveries: String,
    pub analytics: String,
    pub dlq: String,
    pub journeys: String,
    pub enter: String,
    pub group: String,
}

impl Topics {
    pub fn new(test: &str) -> Self {
        let base = unique(test);
        Topics {
            input: format!("{base}.events"),
            deliveries: format!("{base}.deliveries"),
            analytics: format!("{base}.analytics"),
            dlq: format!("{base}.dlq"),
            journeys: format!("{base}.journeys"),
            enter: format!("{base}.enter"),
            group: format!("{base}.group"),
        }
    }
}

/// A worker configuration over `topics`, with `extra` TOML appended.
pub fn write_config(
    dir: &Path,
    journeys: &[PathBuf],
    templates: &Path,
    topics: &Topics,
    extra: &str,
) -> PathBuf {
    let list = journeys
        .iter()
        .map(|p| format!("\"{}\"", p.display()))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"journeys = [{list}]
templates = "{templates}"
[source]
kind = "kafka"
batch_size = 500
batch_wait_ms = 5
[store]
path = "{d}/store"
[channels]
default = "kafka"
[runtime]
drain_timeout_ms = 20000
[kafka]
brokers = "{brokers}"
group_id = "{group}"
create_topics = true
partitions = 3
readback = 1000000
[kafka.properties]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
[kafka.topics]
input = ["{input}"]
deliveries = "{deliveries}"
analytics = "{analytics}"
dead_letters = "{dlq}"
journeys = "{journeys}"
enter = "{enter}"
{extra}
"#,
        templates = templates.display(),
        d = dir.display(),
        brokers = brokers(),
        group = topics.group,
        input = topics.input,
        deliveries = topics.deliveries,
        analytics = topics.analytics,
        dlq = topics.dlq,
        journeys = topics.journeys,
        enter = topics.enter,
    );
    let path = dir.join("worker.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A worker process, killed when dropped (a failing test leaves none behind).
#[derive(Debug)]
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Running {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// Starts the worker on `config`; its log goes to `worker.log` beside it
/// (appended across restarts).
pub fn start_worker(config: &Path) -> Running {
    worker_command(config).spawn().map(Running).unwrap()
}

/// Starts the worker on `config` with its stdin piped (a `stdin` source
/// waits for input while the stdin is held open).
pub fn start_stdin_worker(config: &Path) -> (Running, ChildStdin) {
    let mut worker = worker_command(config)
        .stdin(Stdio::piped())
        .spawn()
        .map(Running)
        .unwrap();
    let stdin = worker.0.stdin.take().unwrap();
    (worker, stdin)
}

fn worker_command(config: &Path) -> Command {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(config.with_file_name("worker.log"))
        .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_waymark-worker"));
    command
        .arg("--config")
        .arg(config)
        .arg("--quiet")
        .env("WAYMARK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log);
    command
}

/// One HTTP/1.1 request with extra header lines (each ending in CRLF),
/// on its own connection: the status and the body.
pub fn request(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A loopback port free when asked.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `check` until it holds, up to `limit`; on timeout, shows the end
/// of the worker log beside `config`.
pub fn eventually(limit: Duration, what: &str, config: &Path, check: impl FnMut() -> bool) {
    eventually_showing(limit, what, &[config], check);
}

/// [`eventually`] for several workers: on timeout, shows the end of each
/// one's log.
pub fn eventually_showing(
    limit: Duration,
    what: &str,
    configs: &[&Path],
    mut check: impl FnMut() -> bool,
) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "timed out waiting for {what}; {}",
            {
                let logs: Vec<String> = configs
                    .iter()
                    .map(|c| format!("the worker log of {} ends:\n{}", c.display(), log_of(c)))
                    .collect();
                logs.join("\n")
            }
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The end of the worker log beside `config`.
pub fn log_of(config: &Path) -> String {
    let text = std::fs::read_to_string(config.with_file_name("worker.log")).unwrap_or_default();
    let start = text.len().saturating_sub(6000);
    text.get(start..).unwrap_or(&text).to_owned()
}

/// The admin binary beside the worker's, built when missing (this test
/// runs alone with `cargo test -p waymark-worker`).
pub fn admin_bin() -> PathBuf {
    let path = PathBuf::from(
        env!("CARGO_BIN_EXE_waymark-worker").replace("waymark-worker", "waymark-admin"),
    );
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "waymark-admin"])
            .status()
            .unwrap();
        assert!(status.success(), "cannot build waymark-admin");
    }
    path
}

/// A journey whose second email (node `again`) waits `wait` after the
/// first (`hello`): timers that must fire across restarts and rebalances.
/// Returns the journey file and the template folder.
pub fn write_timer_journey(dir: &Path, wait: &str) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir.join("templates")).unwrap();
    let journey = dir.join("timers.yaml");
    std::fs::write(
        &journey,
        format!(
            r#"
id: timers
entry: {{ event: Signed Up }}
nodes:
  - {{ id: hello, type: send, channel: email, template: hello, next: pause }}
  - {{ id: pause, type: wait, duration: {wait}, next: again }}
  - {{ id: again, type: send, channel: email, template: again }}
"#
        ),
    )
    .unwrap();
    for name in ["hello", "again"] {
        std::fs::write(
            dir.join(format!("templates/{name}.yaml")),
            "channel: email\nsubject: Hi\ntext: Hello\n",
        )
        .unwrap();
    }
    (journey, dir.join("templates"))
}

/// `people` sign-ups (`Signed Up`, with an email) timestamped now, keyed
/// by user id: messages for a worker's input topic.
pub fn sign_ups_now(people: usize) -> Vec<(String, Vec<u8>)> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    (0..people)
        .map(|u| {
            let line = format!(
                r#"{{"type":"track","messageId":"s{u}","userId":"user-{u}","event":"Signed Up","context":{{"traits":{{"email":"user-{u}@example.com"}}}},"timestamp":"{now}"}}"#
            );
            (format!("user-{u}"), line.into_bytes())
        })
        .collect()
}

/// The local PostgreSQL the store tests use (`WAYMARK_POSTGRES_URL`).
pub fn postgres_url() -> String {
    std::env::var("WAYMARK_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of a test's own on the local PostgreSQL, dropped with the guard.
pub struct PgSchema(pub String);

impl PgSchema {
    pub fn new(test: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        PgSchema(format!("{test}_{}_{nanos}", std::process::id()))
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &postgres_url(),
                "-qc",
                &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.0),
            ])
            .output();
    }
}
