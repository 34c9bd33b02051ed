#!/usr/bin/env bash
# The MCP client test: installs the pinned official TypeScript SDK (npm ci, from the committed
# package-lock.json) and drives `orx mcp` with it (client.mjs). Time-bounded; exits non-zero
# on failure; every process it leaves (a detached run of a killed session) is ended by the
# folder it runs in, which is this script's own temporary folder.
# Usage: e2e/mcp/run.sh [PATH/TO/orx]   (default target/debug/orx)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
orx="${1:-$root/target/debug/orx}"
[ -x "$orx" ] || { echo "error: $orx is not built; run cargo build first" >&2; exit 2; }
orx="$(cd "$(dirname "$orx")" && pwd)/$(basename "$orx")"
command -v node >/dev/null || { echo "error: node (20 or later) is needed for the MCP client test" >&2; exit 2; }

work="$(mktemp -d)"
cleanup() {
  for p in /proc/[0-9]*; do
    cwd="$(readlink "$p/cwd" 2>/dev/null)" || continue
    case "$cwd" in "$work"|"$work"/*) kill -9 "${p#/proc/}" 2>/dev/null || true ;; esac
  done
  rm -rf "$work"
}
trap cleanup EXIT

cd "$here"
timeout 300 npm ci --no-audit --no-fund --loglevel=error
TMPDIR="$work" timeout --kill-after=10 300 node client.mjs "$orx"
