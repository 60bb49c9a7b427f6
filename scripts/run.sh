#!/usr/bin/env bash
# The main job: build sysflow, capture live for a few seconds with the CO-RE probe into a
# SysFlow file, then print it with the Rust sysprint.
#   ./scripts/run.sh [SECONDS]          live capture (needs root and a kernel with BTF)
#   ./scripts/run.sh --trace FILE.sf    print an existing SysFlow file instead
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --quiet --example sysporter --example sysprint
bin=target/release/examples

if [ "${1:-}" = "--trace" ]; then
  exec "$bin/sysprint" "${2:?usage: run.sh --trace FILE.sf}"
fi

secs="${1:-5}"
case "$secs" in
  ''|*[!0-9]*) echo "run.sh: SECONDS must be a whole number of seconds, not '$secs'" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: live capture needs root (CAP_BPF and CAP_PERFMON); try: sudo $0" >&2
  exit 1
fi
out="$(mktemp -d /tmp/sysflow-run.XXXXXX)"
log="$out.stderr"
echo "run.sh: capturing for ${secs}s into $out/ ..."
"$bin/sysporter" -w "$out/" -e "$(hostname)" 2> >(tee "$log" >&2) &
pid=$!
# However this script ends, the capture does not outlive it.
trap 'kill -INT "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
# The demo starts once the capture takes events in (sysporter says so on stderr).
for _ in $(seq 600); do
  grep -q '^sysporter: capturing' "$log" 2>/dev/null && break
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" || true
    echo "run.sh: sysporter ended before capturing" >&2
    exit 1
  fi
  sleep 0.1
done
# Some activity to see: a process tree, file I/O, a directory, a rename.
sh -c "mkdir -p $out/demo && echo hello > $out/demo/a.txt && cat $out/demo/a.txt >/dev/null && mv $out/demo/a.txt $out/demo/b.txt && rm -r $out/demo" || true
sleep "$secs"
kill -INT "$pid"
wait "$pid"
for f in "$out"/[0-9]*; do
  echo "run.sh: $f"
  "$bin/sysprint" "$f"
done
