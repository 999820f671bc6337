#!/usr/bin/env bash
# The HTTP front door under load: single-event POST /v1/track and
# 100-event POST /v1/batch over keep-alive connections, each answered once
# durable, against the worker on the embedded default (fjall, stdin held
# open, [http]); docs/benchmarks.md records the results.
#
#   scripts/bench-http.sh [--connections 128] [--seconds 10] [--mode single|batch|both]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p waymark-worker
cargo build --release --locked -p waymark-benches --bin http-bench
exec target/release/http-bench --worker target/release/waymark-worker "$@"
