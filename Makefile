# orx — the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo
ORX := target/debug/orx

.PHONY: build demo test conformance lint fmt schema clean-demo bench

build:
	$(CARGO) build --locked

## Create a sample repository under demo/ and run the whole FSM on the fake engine (fix loop included).
demo: build
	scripts/demo.sh $(ORX)

## Every test: unit tests, the integration suite, formatting and clippy.
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) test --locked -- --test-threads=2

## The conformance suite: install the pinned agent CLIs (cached outside the clone), then run the
## tests that drive them against the mock model server.
conformance:
	ORX_CONFORMANCE_BIN="$$(conformance/install.sh)" && export ORX_CONFORMANCE_BIN && \
	  $(CARGO) test --locked --test it conformance -- --test-threads=2

lint:
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

## Regenerate orx.schema.json from the config types.
schema:
	ORX_BLESS=1 $(CARGO) test --locked --lib config -- schema

clean-demo:
	rm -rf demo

## The benchmark suite (issue 6): release build, six benchmarks with ratios against baselines,
## docs/BENCHMARKS.md rewritten. One alone: `make bench BENCH=status`. Not run in CI.
bench:
	bench/run.sh $(BENCH)
