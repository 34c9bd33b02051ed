#!/usr/bin/env bash
# The orx benchmark suite. Usage:
#   bench/run.sh                   build orx (release) and run all ten, then refresh docs/BENCHMARKS.md
#   bench/run.sh status ingest     only these (names: overhead ingest status large_repo idle concurrency lanes candidates percall python_orx)
#   bench/run.sh --smoke           every benchmark at a tiny size (< 1 min); the doc is left alone
# ORX_BIN=path skips the build and measures that binary. Needs git, python3 and a Rust toolchain.
# ORX_PYTHON_ORX=path (an interpreter that can import the Python orx) enables python_orx.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"
if [[ -z "${ORX_BIN:-}" ]]; then
  cargo build --release --locked --quiet
  ORX_BIN="${CARGO_TARGET_DIR:-$root/target}/release/orx"
fi
export ORX_BIN
exec python3 "$here/bench.py" "$@"
