#!/usr/bin/env bash
# The dashboard's browser test: a real `orx serve --port 0` on a temp git repository whose
# orx.yaml uses the fake engine (e2e/browser/orx.yaml + scenario.yaml), driven by headless
# Chromium through playwright-core (test.mjs). Installs what it needs: Debian's chromium when it
# is missing (as root), and the pinned playwright-core with `npm ci` into e2e/browser/node_modules
# (gitignored). Builds nothing: it uses ORX_BIN, else $CARGO_TARGET_DIR/debug/orx, else
# target/debug/orx (`make browser` builds it first). Screenshots go to
# ${ORX_E2E_ARTIFACTS:-target/e2e-artifacts}. Every process it started is ended on exit,
# including the runs the server launched (they live in their own sessions on purpose).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orx="${ORX_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/orx}"
artifacts="${ORX_E2E_ARTIFACTS:-$root/target/e2e-artifacts}"
[ -x "$orx" ] || { echo "browser test: no orx binary at $orx (run cargo build first)" >&2; exit 2; }
orx="$(cd "$(dirname "$orx")" && pwd)/$(basename "$orx")"   # the test cds into its repository

if ! command -v chromium >/dev/null 2>&1; then
  echo "browser test: installing Debian's chromium" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi
CHROMIUM="$(command -v chromium)"
export CHROMIUM

# npm ci only when the lock file changed since the last install.
stamp="$here/node_modules/.orx-lock-stamp"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$here/package-lock.json" "$stamp"
fi

work="$(mktemp -d)"
server=""
cleanup() {
  set +e
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  # Runs the server launched are detached (setsid): end each lock holder that is still an orx.
  for lock in "$work"/repo/runs/*/lock; do
    [ -f "$lock" ] || continue
    pid="$(cut -d' ' -f1 < "$lock")"
    if [ -n "$pid" ] && grep -qa orx "/proc/$pid/cmdline" 2>/dev/null; then
      kill -INT "$pid" 2>/dev/null
      for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

repo="$work/repo"
mkdir -p "$repo"
(
  cd "$repo"
  git init -q -b main
  git config user.email e2e@example.invalid
  git config user.name "orx e2e"
  printf '# sample\n' > README.md
  git add -A && git commit -q -m init
  cp "$here/orx.yaml" "$here/scenario.yaml" .
)
mkdir -p "$artifacts"
# The hold file of orx.yaml's hook: inherited by the server and the runs it launches.
export ORX_E2E_HOLD="$work/hold"
# The approval step starts a run with `orx run --approve` in the same repository.
export ORX_E2E_BIN="$orx" ORX_E2E_REPO="$repo"
(cd "$repo" && exec "$orx" serve --port 0) >"$work/serve.out" 2>"$artifacts/serve.log" &
server=$!
url=""
# Wait for the address line (or the server's death); the bound only turns a hang into a failure.
for _ in $(seq 1 1200); do
  url="$(sed -n 's/^orx serve: listening on \(http:[^ ]*\)$/\1/p' "$work/serve.out")"
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { echo "browser test: orx serve exited" >&2; cat "$artifacts/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "browser test: orx serve did not print its address" >&2; exit 1; }
echo "browser test: $url, screenshots in $artifacts"
timeout 330 node "$here/test.mjs" "$url" "$artifacts"
