#!/usr/bin/env bash
# The whole test suite, as CI runs it, from a fresh clone:
# formatting, lints, unit + integration + property tests, and the shared
# acceptance scenarios (when ../shared/acceptance is present).
#
# Needs only a Rust toolchain with rustfmt and clippy (and python3 for the
# acceptance runner). Later issues add a Kafka-protocol broker and mail/HTTP
# servers; this script installs those itself when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    step "installing $component"
    rustup component add "$component"
  fi
done

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

acceptance=../shared/acceptance/run.py
if [ -f "$acceptance" ]; then
  step "acceptance scenarios ($acceptance)"
  python3 "$acceptance" .
else
  step "acceptance scenarios: $acceptance not found, skipped"
fi
