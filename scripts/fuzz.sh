#!/usr/bin/env bash
# Runs every fuzz target of fuzz/ for a bounded time (default 45 s each; FUZZ_SECONDS to
# change), seeded with the reference captures, the .sf files and ../shared/cases where
# present. A crash fails the run; its input is left in fuzz/artifacts/<target>/ (turn it
# into a regression test). Needs the nightly toolchain and cargo-fuzz (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-45}"
shared="$(cd .. && pwd)/shared"
shared_seeds() { # <pattern> <dir>: the shared files named so, each under its own path
  # (several traces share a file name: alpine/x.sf and nginx/x.sf both stay)
  # (a missing shared directory gives fewer seeds, not a failure)
  find "$shared/reference" "$shared/cases" -name "$1" -size -1100k -print0 2>/dev/null |
    while IFS= read -r -d '' f; do
      local rel="${f#"$shared"/}"
      cp "$f" "$2/${rel//\//_}"
    done || true
}
seeds() { # <target> -> seed directories (each holds files of that target's input kind)
  local d="fuzz/seeds/$1"
  rm -rf "$d" && mkdir -p "$d"
  case "$1" in
    scap_pipeline) shared_seeds '*.scap' "$d" ;;
    sf_reader) shared_seeds '*.sf' "$d" ;;
    probe_pipeline | probe_record) # records as the probe writes them (a unit test)
      local all; all="$(mktemp -d)"
      SYSFLOW_FUZZ_SEED_DIR="$all" cargo test --release --lib -q probe_pipeline_fuzz_seed \
        >/dev/null 2>&1 || true
      if [ "$1" = probe_pipeline ]; then cp "$all"/records "$d/" 2>/dev/null || true
      else cp "$all"/record[0-9]* "$d/" 2>/dev/null || true; fi
      rm -rf "$all" ;;
    filter) # the filters of tests/filter.rs, one per file
      grep -E '^    "' tests/filter.rs | sed -E 's/^    "(.*)",$/\1/; s/\\"/"/g' |
        split -l 1 - "$d/f" ;;
  esac
  echo "$d"
}
cd fuzz
cargo +nightly fuzz build --release
for t in scap_pipeline sf_reader probe_record probe_pipeline c_config filter; do
  corpus="corpus/$t"
  mkdir -p "$corpus"
  seed="$(cd .. && seeds "$t")"
  echo "fuzz: $t for ${secs}s (seeds: $(ls "../$seed" | wc -l) files)"
  rm -rf "artifacts/$t"
  log="$(mktemp)"
  rc=0
  cargo +nightly fuzz run --release "$t" "$corpus" "../$seed" -- \
    -max_total_time="$secs" -max_len=1200000 -rss_limit_mb=2048 -timeout=20 \
    -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done" "$log" || true
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $t failed (exit $rc):"
    grep -E -A30 "^==|panicked|ERROR" "$log" | head -60 || true
    ls -l "artifacts/$t" 2>/dev/null || true
    exit 1
  fi
  rm -f "$log"
done
echo "fuzz: no crash"
