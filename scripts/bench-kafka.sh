#!/usr/bin/env bash
# The Kafka benchmark: consume-only rate, the worker's end-to-end rate and
# event->delivery latency at half the consume-only rate, in one run on one
# broker (docs/benchmarks.md records the results).
#
#   scripts/bench-kafka.sh [--people 20000] [--latency-events 20000] [--batch-size 2000]
#                          [--mix journeys|browsing] [--latency-rate N]
#                          [--latency-mix signups|browsing|journeys]  (the latency phase's stream;
#                                                    signups: every event makes an email, the worst case)
#                          [--latency-only RATE]      (the latency phase alone, at RATE)
#                          [--properties k=v,k=v]     (librdkafka settings for the worker)
#                          [--warmup 500]             (sign-ups sent and delivered before latency is measured)
#                          [--relay [--relay-records 3]]  (a bare Kafka relay in the worker's place: the floor)
#                          [--batch-wait-ms 2]        (the worker's source.batch_wait_ms)
#                          [--load-linger-ms 1]       (the load generator's linger.ms)
#                          [--broker-pid PID]         (whose CPU to report; default: the pid kafka-dev.sh wrote)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p waymark-worker
cargo build --release --locked -p waymark-benches --bin kafka-bench
brokers="$(scripts/kafka-dev.sh start)"
exec target/release/kafka-bench --brokers "$brokers" --worker target/release/waymark-worker "$@"
