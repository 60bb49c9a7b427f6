#!/usr/bin/env bash
# The whole test suite: setup, formatting, lints, docs, and every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Real container runtimes for tests/containers.rs: podman (Docker-compatible API) and
# containerd (CRI), state under /var/tmp/sysflow-ct.
./scripts/containers.sh up
eval "$(./scripts/containers.sh env)"
export SYSFLOW_REQUIRE_ALL=1   # tests fail, rather than skip, when a prerequisite is missing
cargo fmt --check
cargo clippy --all-targets -- -D warnings
# the build without the default `cri` feature (no protoc, no gRPC) must stay clean too
cargo clippy --no-default-features --lib -- -D warnings
RUSTDOCFLAGS=-Dwarnings cargo doc --no-deps
# --no-fail-fast: one failing test binary must not hide the results of the others
cargo test --release --all-targets --no-fail-fast
# every fuzz target for a bounded time, seeded with the reference data (scripts/fuzz.sh)
./scripts/fuzz.sh
echo "test.sh: all passed"
