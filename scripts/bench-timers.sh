#!/usr/bin/env bash
# Timers on time: first-wait lag (sent_at - due) of a 4 s wait through the
# worker on the embedded default (fjall, stdin, log channel) at several
# entry rates, and the CPU of an idle worker with timers pending far ahead
# (docs/benchmarks.md records the results).
#
#   scripts/bench-timers.sh [--rates 250,1000,2500] [--seconds 20] [--wait 4s]
#   scripts/bench-timers.sh --idle 100000 [--idle-seconds 10]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p waymark-worker
cargo build --release --locked -p waymark-benches --bin timer-lag
exec target/release/timer-lag --worker target/release/waymark-worker "$@"
