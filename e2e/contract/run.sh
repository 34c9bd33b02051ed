#!/usr/bin/env bash
# Contract test: checks the REST API of `orx serve` against its own OpenAPI document with
# schemathesis (pinned in requirements.txt + constraints.txt, installed into a venv in a cache
# folder outside the clone, keyed by the pins' hash). It seeds a temporary repository with a
# few fake-engine runs, starts `target/debug/orx serve --port 0` there, and always stops the
# server and every run it started.
#
# Two modes, because a randomized search and a test that must give the same answer every time
# are different things:
#   e2e/contract/run.sh          the deterministic suite (`make contract`, part of `make test`):
#                                the examples, coverage and fuzzing phases with deterministic
#                                generation and a fixed number of cases (no time budget, so a
#                                slow machine runs the same cases, only slower), then replay.py,
#                                which replays the timing-dependent sequences the exploration
#                                found, several times each, checking every answer.
#   e2e/contract/run.sh explore  the exploration (`make contract-explore`): every phase including
#                                the stateful one, bounded in time, seeded at random unless
#                                ORX_CONTRACT_SEED is set; the seed is printed. What it finds
#                                is fixed, then added to replay.py.
# ORX_BIN=path/to/orx tests another binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${ORX_E2E_CACHE:-${HOME:-/tmp}/.cache/orx-e2e}"
hash="$(cat "$here/requirements.txt" "$here/constraints.txt" | sha256sum | cut -c1-16)"
venv="$cache/contract-$hash"
if [[ ! -f "$venv/.installed" ]]; then
  echo "contract: installing schemathesis into $venv" >&2
  mkdir -p "$cache"
  rm -rf "$venv.tmp"
  python3 -m venv "$venv.tmp"
  "$venv.tmp/bin/pip" install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt" -c "$here/constraints.txt"
  touch "$venv.tmp/.installed"
  rm -rf "$venv"
  mv "$venv.tmp" "$venv"
  # A venv records its own path in its scripts; recreate them for the final location.
  python3 -m venv --upgrade "$venv" >/dev/null
  sed -i "1s|.*|#!$venv/bin/python3|" "$venv/bin/schemathesis"
fi
orx="${ORX_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orx}"
if [[ ! -x "$orx" ]]; then
  (cd "$root" && cargo build --locked)
fi
orx="$(cd "$(dirname "$orx")" && pwd)/$(basename "$orx")"   # the test cds into its repository

work="$(mktemp -d)"
server=""
cleanup() {
  set +e
  [[ -n "$server" ]] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
  # Stop every run still driven by a process (schemathesis may have started some).
  for lock in "$work"/repo/runs/*/lock; do
    [[ -f "$lock" ]] || continue
    pid="$(cut -d' ' -f1 "$lock")"
    start="$(cut -d' ' -f2 "$lock")"
    if [[ -r "/proc/$pid/stat" ]] && [[ "$(awk '{print $22}' "/proc/$pid/stat")" == "$start" ]]; then
      kill -INT "$pid" 2>/dev/null
      for _ in $(seq 50); do [[ -e "/proc/$pid" ]] || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT

repo="$work/repo"
mkdir -p "$repo"
cd "$repo"
git init -q -b main
git config user.email contract@example.invalid
git config user.name "orx contract"
echo "# contract" > README.md
git add -A && git commit -q -m init
cat > orx.yaml <<'YAML'
version: "1"
engine:
  type: fake
git:
  base_branch: main
gates:
  - name: ok
    command: "true"
YAML
"$orx" run "seed run one" --no-progress >/dev/null
"$orx" run "seed run two" --no-progress --pipeline plan-only >/dev/null

mode="${1:-replay}"
"$orx" serve --port 0 > "$work/serve.out" 2> "$work/serve.err" &
server=$!
# Wait for the server's own "listening on" line, or for it to die; the bound only turns a hang
# into a failure, it never decides a pass on a slow machine.
for _ in $(seq 1200); do
  grep -q "listening on" "$work/serve.out" 2>/dev/null && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
base="$(sed -n 's/^orx serve: listening on //p' "$work/serve.out")"
[[ -n "$base" ]] || { echo "contract: orx serve did not start" >&2; cat "$work/serve.err" >&2; exit 1; }
echo "contract: orx serve at $base" >&2

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,unsupported_method
common=(--checks "$checks" --workers 1 --request-timeout 120 --suppress-health-check all --no-color)
if [[ "$mode" == explore ]]; then
  seed="${ORX_CONTRACT_SEED:-$RANDOM$RANDOM}"
  echo "contract: exploring with seed $seed (replay with ORX_CONTRACT_SEED=$seed make contract-explore)" >&2
  timeout "${ORX_CONTRACT_TIMEOUT:-900}" "$venv/bin/schemathesis" run "$base/api/openapi.json" \
    "${common[@]}" --generation-database none \
    --max-examples "${ORX_CONTRACT_EXAMPLES:-50}" \
    --max-time "${ORX_CONTRACT_MAX_TIME:-300}" \
    --seed "$seed"
  exit
fi
timeout "${ORX_CONTRACT_TIMEOUT:-1200}" "$venv/bin/schemathesis" run "$base/api/openapi.json" \
  "${common[@]}" \
  --phases examples,coverage,fuzzing \
  --generation-deterministic \
  --max-examples "${ORX_CONTRACT_EXAMPLES:-25}" \
  --seed 421
"$venv/bin/python3" "$here/replay.py" "$base" "$root/src/serve/openapi.json"
