#!/usr/bin/env bash
# The whole test suite, as CI runs it, from a fresh clone:
# formatting, lints, unit + integration + property tests, and the shared
# acceptance scenarios (when ../shared/acceptance is present).
#
# Needs a Rust toolchain (rustfmt and clippy are added when missing) and
# python3. Installs the rest when missing: the C build tools and OpenSSL
# headers librdkafka compiles with and chromium with chromedriver for the
# dashboard's browser test (Debian packages), aiosmtpd and the
# Segment and RudderStack Python SDKs (PyPI), and tansu, the
# Kafka-protocol broker the Kafka tests run against on loopback
# (scripts/kafka-dev.sh: `cargo install` once, reused after).
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

# System packages the build needs: librdkafka is compiled from source (make,
# a C compiler, perl) with TLS support (OpenSSL headers, pkg-config).
missing=()
command -v make >/dev/null || missing+=(make)
command -v cc >/dev/null || missing+=(gcc)
command -v perl >/dev/null || missing+=(perl)
command -v pkg-config >/dev/null || missing+=(pkg-config)
pkg-config --exists openssl 2>/dev/null || missing+=(libssl-dev)
# The dashboard's browser test: Debian's chromium and its WebDriver.
command -v chromedriver >/dev/null || missing+=(chromium chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  step "installing system packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

# The email tests talk to a real SMTP server: aiosmtpd, from PyPI.
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  step "installing aiosmtpd (PyPI) for the SMTP tests"
  python3 -m pip install --quiet aiosmtpd
fi

# The front door is tested with the official Python SDKs, from PyPI.
if ! python3 -c 'import segment.analytics, rudderstack.analytics' 2>/dev/null; then
  step "installing segment-analytics-python and rudder-sdk-python (PyPI) for the SDK tests"
  python3 -m pip install --quiet segment-analytics-python rudder-sdk-python
fi

step "Kafka-protocol broker for the Kafka tests (scripts/kafka-dev.sh)"
WAYMARK_KAFKA_BROKERS="$(scripts/kafka-dev.sh start)"
export WAYMARK_KAFKA_BROKERS
trap 'scripts/kafka-dev.sh stop' EXIT
echo "broker on $WAYMARK_KAFKA_BROKERS"

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
