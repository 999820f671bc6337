#!/usr/bin/env bash
# A real Kafka-protocol broker on loopback, for development and tests: tansu
# (from crates.io), installed once and reused.
#
#   scripts/kafka-dev.sh start [TOPIC...]   install if missing, start, create topics; prints the brokers
#   scripts/kafka-dev.sh stop
#   scripts/kafka-dev.sh status
#
# Environment: WAYMARK_KAFKA_PORT (default 19092), WAYMARK_KAFKA_DIR (pid
# and log files; default target/kafka-dev). Storage is in memory: a restart
# of the broker starts empty.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${WAYMARK_KAFKA_PORT:-19092}"
dir="${WAYMARK_KAFKA_DIR:-target/kafka-dev}"
brokers="127.0.0.1:${port}"
mkdir -p "$dir"

install_tansu() {
  if command -v tansu >/dev/null 2>&1; then
    return
  fi
  echo "installing tansu from crates.io (once; several minutes on 2 cores)..." >&2
  # --locked matters: without it the postgres feature does not compile.
  cargo install tansu --locked --features dynostore,postgres >&2
}

listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null
}

start() {
  install_tansu
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "already running (pid $(cat "$dir/pid"))" >&2
  else
    tansu broker \
      --listener-url "tcp://${brokers}" \
      --advertised-listener-url "tcp://${brokers}" \
      --storage-engine "memory://tansu/" \
      >"$dir/broker.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 1 100); do
      listening && break
      if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
        echo "the broker exited; its log:" >&2
        cat "$dir/broker.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    listening || { echo "the broker did not listen on ${brokers}" >&2; exit 1; }
  fi
  # tansu does not create topics on first use: create the ones asked for.
  for topic in "$@"; do
    tansu topic create "$topic" --broker "tcp://${brokers}" --partitions 3 >>"$dir/broker.log" 2>&1 \
      || echo "topic ${topic}: not created (it may exist already); see $dir/broker.log" >&2
  done
  echo "$brokers"
}

stop() {
  if [ -f "$dir/pid" ]; then
    local pid
    pid="$(cat "$dir/pid")"
    kill "$pid" 2>/dev/null || true
    # Wait for it to exit: a start right after must not find the old
    # broker still listening (and then see it vanish).
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    rm -f "$dir/pid"
  fi
}

case "${1:-start}" in
  start) shift || true; start "$@" ;;
  stop) stop ;;
  status) if listening; then echo "listening on ${brokers}"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 start [TOPIC...] | stop | status" >&2; exit 2 ;;
esac
