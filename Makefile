# orx — the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo
ORX := target/debug/orx

.PHONY: build demo test conformance torture lint fmt schema clean-demo

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

## The long fault campaigns of docs/RELIABILITY.md (200 crash/resume runs, 50 trials per
## supervision fault, 20 concurrency rounds); `make test` runs the short ones. Replay a campaign
## with ORX_TORTURE_SEED=<seed printed in the report>.
TORTURE_REPORT = $${CARGO_TARGET_DIR:-target}/torture-report.txt
torture:
	mkdir -p "$${CARGO_TARGET_DIR:-target}" && rm -f "$(TORTURE_REPORT)"
	ORX_TORTURE=long ORX_TORTURE_REPORT="$(TORTURE_REPORT)" \
	  $(CARGO) test --locked --test it torture -- --nocapture --test-threads=1
	@echo "== fault campaign report ($(TORTURE_REPORT))" && cat "$(TORTURE_REPORT)"

lint:
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

## Regenerate orx.schema.json from the config types.
schema:
	ORX_BLESS=1 $(CARGO) test --locked --lib config -- schema

clean-demo:
	rm -rf demo
