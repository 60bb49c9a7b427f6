#!/usr/bin/env bash
# The main job: build sysflow and print a reference SysFlow trace with the Rust sysprint.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
trace="${1:-../shared/reference/sf-collector-tests/setuid/setuid.sf}"
cargo run --release --quiet --example sysprint -- "$trace"
