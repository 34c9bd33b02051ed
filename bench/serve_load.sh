#!/usr/bin/env bash
# Load check for `orx serve` with 10,000 runs on disk: seeds a temporary repository
# with bench/seed_runs.py, starts a release `orx serve --port 0`, and runs `wrk --latency`
# for ~10 s each against the run list API (/api/runs?limit=50), a filtered and paginated list,
# and the dashboard's list page (/). Prints wrk's latency percentiles. A benchmark, not a
# test: nothing is asserted, and the figures depend on the machine.
#   usage: bench/serve_load.sh [RUNS] [SECONDS]     (ORX_BIN=... to use another binary)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
runs="${1:-10000}"
secs="${2:-10}"
if ! command -v wrk >/dev/null; then
  echo "serve_load: installing wrk" >&2
  if [[ "$(id -u)" == 0 ]]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
orx="${ORX_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/orx}"
if [[ -z "${ORX_BIN:-}" ]]; then
  (cd "$root" && cargo build --release --locked >&2)
fi

work="$(mktemp -d)"
server=""
cleanup() {
  set +e
  [[ -n "$server" ]] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
repo="$work/repo"
mkdir -p "$repo" && cd "$repo"
git init -q -b main
git -c user.email=b@example.invalid -c user.name=bench commit -q --allow-empty -m init
python3 "$root/bench/seed_runs.py" "$repo" "$runs" >&2

"$orx" serve --port 0 > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
base="$(sed -n 's/^orx serve: listening on //p' "$work/serve.out")"
[[ -n "$base" ]] || { echo "serve_load: orx serve did not start" >&2; cat "$work/serve.err" >&2; exit 1; }

# One cold request (fills the meta index), timed with curl.
cold="$(curl -s -o /dev/null -w '%{time_total}' "$base/api/runs?limit=50")"
total="$(curl -s "$base/api/runs?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
echo "serve_load: $total runs on disk; first (cold) /api/runs?limit=50 took ${cold}s"

for target in "/api/runs?limit=50" "/api/runs?status=failed&q=command%2042&offset=20&limit=50" "/"; do
  echo
  echo "=== wrk -t2 -c8 -d${secs}s --latency $base$target"
  wrk -t2 -c8 -d"${secs}s" --latency "$base$target" | sed -n '/Latency Distribution/,/Transfer/p;/Requests\/sec/p;/Non-2xx/p'
done
