#!/usr/bin/env bash
# Fuzz orx's parsers of hostile input with cargo-fuzz (libFuzzer), each target for a bounded
# time, and print one summary line per target (runs, coverage, crashes).
#
#   fuzz/run.sh                  # every target, FUZZ_SECONDS (default 60) each
#   FUZZ_SECONDS=600 fuzz/run.sh config backlog
#
# Only a stable toolchain exists here; cargo-fuzz needs nightly-only flags
# (-Zsanitizer=address, -Cpasses=sancov-module), which RUSTC_BOOTSTRAP=1 unlocks on stable.
# cargo-fuzz itself is installed (pinned, --locked) on first use. Corpora grow in
# fuzz/corpus/<target> (seeded from the repository's fixtures), crashes land in
# fuzz/artifacts/<target>; both are git-ignored. Exit status 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")"
CARGO_FUZZ_VERSION=0.13.2
SECONDS_EACH="${FUZZ_SECONDS:-60}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(cargo fuzz list)
fi

# Seeds: the repository's own fixtures for each input kind.
seed() { # target, files...
  local dir="corpus/$1"; shift
  mkdir -p "$dir"
  local f
  for f in "$@"; do [ -f "$f" ] && cp -f "$f" "$dir/seed-$(sha1sum <"$f" | cut -c1-16)"; done
  return 0
}
seed config ../orx.yaml.example ../examples/*/orx.yaml
seed scenario ../examples/*/scenario.yaml
mkdir -p corpus/backlog
printf 'Here is the backlog.\n\n```yaml\nitems:\n  - id: W001\n    title: Add\n    objective: Add add()\n    acceptance: [it adds]\n    files_hint: [calc.py]\n    depends_on: []\n  - id: W002\n    title: Mul\n    objective: Add mul()\n    acceptance: it multiplies\n    depends_on: W001\n```\n' >corpus/backlog/seed-two-items
# Every stream_<cli> target is seeded with that CLI's fixtures and recordings.
for t in $(cargo fuzz list | grep '^stream_'); do
  cli="${t#stream_}"
  seed "$t" ../tests/recordings/"$cli"/written/*.jsonl ../tests/recordings/"$cli"/*.jsonl
done
mkdir -p corpus/stream_fake

cargo fuzz build --release

failed=0
printf '%-16s %10s %8s %8s %7s %s\n' target runs cov features corpus crashes
for t in "${TARGETS[@]}"; do
  log="artifacts/$t.log"
  mkdir -p "artifacts/$t"
  set +e
  cargo fuzz run --release "$t" "corpus/$t" -- \
    -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1 \
    >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "artifacts/$t" -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' | wc -l)
  printf '%-16s %10s %8s %8s %7s %s\n' "$t" "${runs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "  $t failed (exit $rc): see fuzz/$log" >&2
  fi
done
exit $failed
