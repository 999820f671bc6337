//! Criterion benchmarks for Waymark live in `benches/benches/`; the load
//! generators in `src/bin/` (`kafka-bench`, `timer-lag`) drive a real
//! worker process. This library holds what the load generators share.
//! Run the benchmarks with `cargo bench -p waymark-benches`.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The value after `name` on the command line, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// The `p` quantile (0..=1) of sorted values (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// User + system CPU seconds a process has used (Linux `/proc`; `None`
/// elsewhere or once it is gone).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces), from field 3
    // (state): utime and stime are fields 14 and 15, in clock ticks (100/s).
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// The value of the metric `name` (without labels) a worker's `/metrics`
/// at `ops` shows, if it answers.
pub fn metric(ops: &str, name: &str) -> Option<f64> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(ops).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

/// A worker process, stopped (SIGTERM, then waited for) when dropped, so
/// a failed run leaves no worker behind.
#[derive(Debug)]
pub struct Worker(pub Child);

impl Worker {
    /// Starts `bin --config config --quiet`, its stdin piped when `stdin`.
    pub fn start(bin: &Path, config: &Path, stdin: bool) -> Worker {
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("--quiet")
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Worker(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !matches!(self.0.try_wait(), Ok(None)) {
            return; // exited already
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}
