#!/usr/bin/env bash
# Memory per person: the worker reads N sign-ups from a JSONL file into the
# fjall store (examples/journeys/welcome.yaml: an email, then a one-day wait,
# so every person stays in the journey) and reports its resident memory
# once all N emails are out. Run it for two sizes; the difference divided by
# the difference in people is the memory one more person takes
# (docs/benchmarks.md records the results).
#
#   scripts/bench-memory.sh [N...]     (default: 50000 150000)
#   WORKER=path/to/waymark-worker scripts/bench-memory.sh ...
set -euo pipefail
cd "$(dirname "$0")/.."
worker="${WORKER:-target/release/waymark-worker}"
if [ -z "${WORKER:-}" ]; then
  cargo build --release --locked -p waymark-worker
fi
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
[ $# -gt 0 ] || set -- 50000 150000
for n in "$@"; do
  python3 - "$n" "$dir/events-$n.jsonl" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    for i in range(n):
        f.write('{"type":"track","messageId":"m%d","userId":"user-%d","event":"Signed Up",'
                '"timestamp":"2026-11-27T10:00:00.000Z","context":{"traits":{"email":"user-%d@example.com"}}}\n'
                % (i, i, i))
EOF
  cat >"$dir/worker-$n.toml" <<EOF
journeys = ["$PWD/examples/journeys/welcome.yaml"]
templates = "$PWD/examples/journeys/templates"
[source]
kind = "file"
path = "$dir/events-$n.jsonl"
rejects = "$dir/rejects-$n.jsonl"
[store]
path = "$dir/store-$n"
[channels.log]
path = "$dir/deliveries-$n.jsonl"
EOF
  "$worker" --config "$dir/worker-$n.toml" --quiet &
  pid=$!
  started=$(date +%s%N)
  until [ -f "$dir/deliveries-$n.jsonl" ] && [ "$(wc -l <"$dir/deliveries-$n.jsonl")" -ge "$n" ]; do
    kill -0 "$pid" 2>/dev/null || { echo "the worker exited early" >&2; exit 1; }
    sleep 0.1
  done
  took=$(( ($(date +%s%N) - started) / 1000000 ))
  sleep 1
  rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
  stopping=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$n people: ${took} ms to deliver all, RSS $((rss / 1024)) MiB ($((rss * 1024 / n)) bytes a person, all in), stopped in $(( ($(date +%s%N) - stopping) / 1000000 )) ms"
done
