#!/usr/bin/env bash
# `make test`: every test orx has, on a fresh machine of this kind, installing what it needs.
#
# 1. The pinned agent CLIs for the conformance suite (conformance/install.sh: npm ci into a cache
#    outside the clone, reused while the lockfile is unchanged), unless ORX_CONFORMANCE_BIN is set.
# 2. cargo fmt --check, clippy -D warnings, then the unit tests and the one integration binary
#    (which includes the short fault campaigns, the disk faults, the serve and mcp tests).
# 3. The end-to-end suites against the binary step 2 built: the dashboard in headless Chromium
#    (e2e/browser), the official MCP client SDK (e2e/mcp) and schemathesis against the OpenAPI
#    document (e2e/contract). Each installs its own pinned tools (apt chromium, npm ci, a venv).
# The last line sums every suite. Any failure stops the script with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
orx="$target/debug/orx"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

# The property tests draw their cases from one fixed seed, so `make test` gives the same answer
# every time; exploring other seeds is `PROPTEST_RNG_SEED=<n> cargo test` (a failure found that
# way is fixed and kept, in proptest-regressions/ or as a unit test).
export PROPTEST_RNG_SEED="${PROPTEST_RNG_SEED:-421}"

step() { printf '\n== %s\n' "$*"; }

if [ -z "${ORX_CONFORMANCE_BIN:-}" ]; then
  step "installing the pinned agent CLIs (conformance/install.sh)"
  ORX_CONFORMANCE_BIN="$(conformance/install.sh)"
  export ORX_CONFORMANCE_BIN
fi
echo "conformance CLIs: $ORX_CONFORMANCE_BIN"

step "cargo fmt --check"
cargo fmt --check
step "cargo clippy --all-targets -- -D warnings"
cargo clippy --locked --all-targets -- -D warnings
step "cargo test (unit tests and the integration binary)"
cargo test --locked -- --test-threads=2 2>&1 | tee "$log"
cargo build --locked --quiet

step "dashboard in headless Chromium (e2e/browser)"
ORX_BIN="$orx" e2e/browser/run.sh 2>&1 | tee -a "$log"
step "MCP server through the official TypeScript SDK (e2e/mcp)"
e2e/mcp/run.sh "$orx" 2>&1 | tee -a "$log"
step "REST API against its OpenAPI document with schemathesis (e2e/contract)"
ORX_BIN="$orx" e2e/contract/run.sh 2>&1 | tee -a "$log"

passed=$(grep -o 'test result: ok\. [0-9]* passed' "$log" | awk '{s+=$4} END {print s+0}')
ignored=$(grep -o '[0-9]* ignored' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "make test: all suites passed: cargo tests $passed passed ($ignored ignored); browser, MCP SDK and contract suites passed"
