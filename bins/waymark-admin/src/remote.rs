//! `--url URL --token T`: the same commands against a running worker's
//! admin API (docs/http.md), printed as the `--store` commands print them.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use reqwest::Method;
use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

use crate::cli::{
    Command, JourneyCommand, OutboxCommand, OutboxFilter, ProfileCommand, ReportArgs, ReportFormat,
    TimersCommand,
};

/// A refusal of the API (a 4xx): bad input, exit code 2 as `report` uses.
const BAD_INPUT: u8 = 2;

struct Remote {
    base: String,
    token: Option<String>,
    client: Client,
}

/// Why a call did not give an answer.
enum Failure {
    /// The API refused (4xx): its reason.
    Refused(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Other(error)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Other(error.into())
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        Failure::Other(error.into())
    }
}

impl Remote {
    fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Response, Failure> {
        let url = format!("{}{path}", self.base);
        let mut request = self.client.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .with_context(|| format!("cannot reach {url}"))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().unwrap_or_default();
        let reason = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or(text);
        let reason = format!("{reason} ({status} from {url})");
        if status.is_client_error() {
            Err(Failure::Refused(reason))
        } else {
            Err(Failure::Other(anyhow::anyhow!(reason)))
        }
    }

    fn json(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, Failure> {
        let response = self.call(method, path, body)?;
        Ok(response
            .json()
            .context("the answer is not JSON: is --url a Waymark worker?")?)
    }
}

fn escape(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Runs `command` against the worker at `url`.
pub(crate) fn run(
    url: &str,
    token: Option<String>,
    command: Command,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let remote = Remote {
        base: url.trim_end_matches('/').to_owned(),
        token,
        client: Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()?,
    };
    match dispatch(&remote, command, out) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(Failure::Refused(reason)) => {
            writeln!(std::io::stderr().lock(), "error: {reason}")?;
            Ok(ExitCode::from(BAD_INPUT))
        }
        Err(Failure::Other(error)) => Err(error),
    }
}

fn dispatch(remote: &Remote, command: Command, out: &mut impl Write) -> Result<(), Failure> {
    match command {
        Command::Journey { command } => journey(remote, command, out),
        Command::Profile { command } => {
            let (args, method, suffix) = match &command {
                ProfileCommand::Show(a) => (a, Method::GET, ""),
                ProfileCommand::Export(a) => (a, Method::GET, "/export"),
                ProfileCommand::Forget(a) => (a, Method::DELETE, ""),
            };
            if args.events.is_some() {
                return Err(anyhow::anyhow!("--events does not go with --url").into());
            }
            let path = format!("/admin/v1/profiles/{}{suffix}", escape(&args.identifier));
            let shown = remote.json(method, &path, None)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&shown)?)?;
            Ok(())
        }
        Command::Report(args) => report(remote, args, out),
        Command::Timers {
            command: TimersCommand::List { due_before },
        } => {
            let mut path = "/admin/v1/timers".to_owned();
            if let Some(before) = due_before {
                path += &format!(
                    "?due_before={}",
                    escape(&waymark_core::format_timestamp(before))
                );
            }
            lines(&remote.json(Method::GET, &path, None)?["timers"], out)
        }
        Command::Outbox {
            command: OutboxCommand::List { status },
        } => {
            let status = match status {
                OutboxFilter::Pending => "pending",
                OutboxFilter::Failed => "failed",
            };
            let path = format!("/admin/v1/outbox?status={status}");
            lines(&remote.json(Method::GET, &path, None)?["entries"], out)
        }
        Command::Outbox {
            command: OutboxCommand::Retry,
        } => {
            let answer = remote.json(Method::POST, "/admin/v1/outbox/retry", None)?;
            writeln!(
                out,
                "{} failed deliveries put back in line",
                answer["retried"]
            )?;
            Ok(())
        }
        Command::Segments { .. } => {
            let answer = remote.json(Method::GET, "/admin/v1/segments", None)?;
            for segment in answer["segments"].as_array().into_iter().flatten() {
                let id = segment["id"].as_str().unwrap_or_default();
                writeln!(out, "{id}\t{}", segment["size"])?;
            }
            Ok(())
        }
        _ => Err(anyhow::anyhow!(
            "this command does not use --url (it works on files, --store or --kafka)"
        )
        .into()),
    }
}

/// Each item of a JSON array on its own line.
fn lines(items: &Value, out: &mut impl Write) -> Result<(), Failure> {
    for item in items.as_array().into_iter().flatten() {
        writeln!(out, "{item}")?;
    }
    Ok(())
}

fn journey(remote: &Remote, command: JourneyCommand, out: &mut impl Write) -> Result<(), Failure> {
    let status = |id: &str, action: &str, query: &str| -> Result<Value, Failure> {
        let path = format!("/admin/v1/journeys/{}/{action}{query}", escape(id));
        remote.json(Method::POST, &path, None)
    };
    match command {
        JourneyCommand::List { all } => {
            let path = format!("/admin/v1/journeys?all={all}");
            let answer = remote.json(Method::GET, &path, None)?;
            for j in answer["journeys"].as_array().into_iter().flatten() {
                let text = |k: &str| j[k].as_str().unwrap_or_default().to_owned();
                writeln!(
                    out,
                    "{}\tv{}\t{}\t{}\t{}",
                    text("id"),
                    j["version"],
                    text("status"),
                    text("deployed_at"),
                    text("file")
                )?;
            }
        }
        JourneyCommand::Deploy {
            files, kafka: None, ..
        } => {
            for file in &files {
                let source = std::fs::read_to_string(file)
                    .with_context(|| format!("{}: cannot read", file.display()))?;
                let body = json!({"file": file.display().to_string(), "source": source});
                let answer = remote.json(Method::POST, "/admin/v1/journeys", Some(body))?;
                let what = if answer["new_version"] == true {
                    "deployed"
                } else {
                    "unchanged"
                };
                let id = answer["id"].as_str().unwrap_or_default();
                writeln!(out, "{what} {id} v{}", answer["version"])?;
            }
        }
        JourneyCommand::Pause { id, hold } => {
            let d = status(&id, "pause", &format!("?hold={hold}"))?;
            let how = if d["hold"] == true {
                " (people in it held)"
            } else {
                ""
            };
            writeln!(out, "paused {id} v{}{how}", d["version"])?;
        }
        JourneyCommand::Resume { id } => {
            let d = status(&id, "resume", "")?;
            writeln!(out, "resumed {id} v{}", d["version"])?;
        }
        JourneyCommand::Archive { id } => {
            let d = status(&id, "archive", "")?;
            writeln!(out, "archived {id} v{}", d["version"])?;
        }
        _ => {
            return Err(anyhow::anyhow!(
                "this journey command does not use --url (validate, graph and enter work on files, --store or --kafka)"
            )
            .into());
        }
    }
    Ok(())
}

fn report(remote: &Remote, args: ReportArgs, out: &mut impl Write) -> Result<(), Failure> {
    if args.records.is_some() || !args.journeys.is_empty() || args.events.is_some() {
        return Err(anyhow::anyhow!(
            "--url reports on the worker's store: no --records, --journey or --events"
        )
        .into());
    }
    let mut query = Vec::new();
    if let Some(journey) = &args.journey {
        query.push(format!("journey={}", escape(journey)));
    }
    if let Some(version) = args.version {
        query.push(format!("version={version}"));
    }
    if let Some(since) = args.since {
        query.push(format!("since={since}"));
    }
    let path = |format: &str| {
        let mut all = query.clone();
        all.push(format!("format={format}"));
        format!("/admin/v1/reports?{}", all.join("&"))
    };
    let json = remote.json(Method::GET, &path("json"), None)?;
    if let Some(dir) = &args.svg {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        for journey in json["journeys"].as_array().into_iter().flatten() {
            let id = journey["journey"].as_str().unwrap_or_default();
            let mut charts = vec!["graph", "daily"];
            if journey["variants"]
                .as_array()
                .is_some_and(|v| !v.is_empty())
            {
                charts.push("variants");
            }
            for chart in charts {
                let url = format!("/admin/v1/reports/{}/charts/{chart}.svg", escape(id));
                let svg = remote
                    .call(Method::GET, &url, None)?
                    .text()
                    .context("reading a chart")?;
                let file = dir.join(format!("{}-{chart}.svg", crate::charts::file_stem(id)));
                std::fs::write(&file, svg)
                    .with_context(|| format!("cannot write {}", file.display()))?;
            }
        }
    }
    match args.format {
        ReportFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?,
        ReportFormat::Table => write!(
            out,
            "{}",
            remote
                .call(Method::GET, &path("table"), None)?
                .text()
                .context("reading the report")?
        )?,
        ReportFormat::Csv => write!(
            out,
            "{}",
            remote
                .call(Method::GET, &path("csv"), None)?
                .text()
                .context("reading the report")?
        )?,
    }
    Ok(())
}
