# orx — the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo
ORX := target/debug/orx

.PHONY: build demo test check e2e conformance browser mcp-test contract contract-explore torture fuzz bench lint fmt schema clean-demo

build:
	$(CARGO) build --locked

## Create a sample repository under demo/ and run the whole FSM on the fake engine (fix loop included).
demo: build
	scripts/demo.sh $(ORX)

## Every test, installing what the tests need on a fresh machine (scripts/test.sh): the pinned
## agent CLIs, fmt, clippy, unit + integration tests (short fault campaigns included), then the
## browser, MCP-SDK and contract suites. This is what CI (.ci/run) runs.
test:
	scripts/test.sh

## The quick loop: formatting, clippy and the cargo tests only (no installs, no e2e suites).
check:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	PROPTEST_RNG_SEED=$${PROPTEST_RNG_SEED:-421} $(CARGO) test --locked -- --test-threads=2

## The three end-to-end suites against target/debug/orx.
e2e: browser mcp-test contract

## The conformance suite: install the pinned agent CLIs (cached outside the clone), then run the
## tests that drive them against the mock model server.
conformance:
	ORX_CONFORMANCE_BIN="$$(conformance/install.sh)" && export ORX_CONFORMANCE_BIN && \
	  $(CARGO) test --locked --test it conformance -- --test-threads=2

## The dashboard's browser test: a real `orx serve` driven by headless Chromium (installs Debian's
## chromium if missing and the pinned playwright-core); screenshots in target/e2e-artifacts.
browser: build
	ORX_BIN="$${CARGO_TARGET_DIR:-target}/debug/orx" e2e/browser/run.sh

## The MCP client test: the official TypeScript MCP SDK (pinned in e2e/mcp/package-lock.json)
## drives `orx mcp` through a whole fake-engine run. Needs node 20+.
mcp-test: build
	e2e/mcp/run.sh $(ORX)

## The long fault campaigns of docs/RELIABILITY.md (200 crash/resume runs, 50 trials per
## supervision fault, 20 concurrency rounds); `make test` runs the short ones. Replay a campaign
## with ORX_TORTURE_SEED=<seed printed in the report>.
TORTURE_REPORT = $${CARGO_TARGET_DIR:-target}/torture-report.txt
torture:
	mkdir -p "$${CARGO_TARGET_DIR:-target}" && rm -f "$(TORTURE_REPORT)"
	ORX_TORTURE=long ORX_TORTURE_REPORT="$(TORTURE_REPORT)" \
	  $(CARGO) test --locked --test it torture -- --nocapture --test-threads=1
	@echo "== fault campaign report ($(TORTURE_REPORT))" && cat "$(TORTURE_REPORT)"

## Fuzz the config, scenario and backlog loaders and the agent stream parsers with cargo-fuzz
## (installed on first use), FUZZ_SECONDS (default 60) per target; see docs/RELIABILITY.md.
fuzz:
	fuzz/run.sh

## The REST API against its own OpenAPI document with schemathesis (pinned, installed into a
## venv cached outside the clone): deterministic generation, a fixed number of cases and the
## replay of every timing-dependent sequence found so far; leaves no process behind.
contract: build
	e2e/contract/run.sh

## The randomized search behind `make contract`: every schemathesis phase including the
## stateful one, bounded in time, with a random seed it prints (ORX_CONTRACT_SEED replays one).
## Not part of `make test`; what it finds is fixed and added to e2e/contract/replay.py.
contract-explore: build
	e2e/contract/run.sh explore

lint:
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

## Regenerate orx.schema.json from the config types.
schema:
	ORX_BLESS=1 $(CARGO) test --locked --lib config -- schema

clean-demo:
	rm -rf demo

## The benchmark suite: release build, ten benchmarks with ratios against baselines,
## docs/BENCHMARKS.md rewritten. One alone: `make bench BENCH=status`. Not run in CI.
bench:
	bench/run.sh $(BENCH)
