#!/usr/bin/env bash
# Installs what building and testing sysflow needs on Debian 12, idempotently:
# Debian packages (apt-get), the official SysFlow Python tools (pip, in .venv), and the
# Rust components (rustup). Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_pkgs=(
  # C toolchain and the libraries libbpf links against
  gcc make pkg-config clang libelf-dev zlib1g-dev
  # bpftool regenerates bpf/vmlinux.h (not needed for a plain build)
  bpftool
  # C ABI tests: the header as C++17, and rpm to inspect the .rpm package
  g++ rpm
  # the capture-conversion benchmark compares with `sysdig -r`
  sysdig
  # the CRI client (k8s-cri) compiles its protos at build time
  protobuf-compiler
  # tests/live_differential.rs: ground truth from strace, curl against python3's http.server
  strace curl python3
  # tests/live_coverage.rs builds a 32-bit (-m32) workload
  gcc-multilib
  # benches/export.rs measures redis-benchmark with and without the collector
  redis-server redis-tools
  # tests/k8s.rs: the stand-in API server's TLS certificates
  openssl
)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# tests/k8s.rs checks the stand-in API server with kubectl; Debian's is kubernetes-client
# (an image may already have one).
if ! command -v kubectl >/dev/null 2>&1; then
  echo "setup: installing Debian packages: kubernetes-client"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends kubernetes-client
fi

if command -v rustup >/dev/null 2>&1; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

# The fuzz targets (scripts/fuzz.sh) build with cargo-fuzz on the nightly toolchain.
if command -v rustup >/dev/null 2>&1; then
  rustc +nightly --version >/dev/null 2>&1 || rustup toolchain install nightly --profile minimal
fi

# Packaging tools for the C development packages (tests/packaging.rs) and cargo-fuzz,
# pinned.
cargo_tools=(cargo-deb@3.8.0 cargo-generate-rpm@0.21.1 cargo-fuzz@0.13.2)
for t in "${cargo_tools[@]}"; do
  bin="${t%@*}"
  if ! command -v "$bin" >/dev/null 2>&1; then
    echo "setup: cargo install --locked $t"
    cargo install --locked --quiet "$t"
  fi
done

# Official SysFlow tools (sysprint, fastavro) for interop tests and benchmarks.
if [ ! -x .venv/bin/sysprint ]; then
  echo "setup: creating .venv with sysflow-tools from PyPI"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check sysflow-tools
fi
echo "setup: done"
