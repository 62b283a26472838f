# callops: `make run` to try it, `make test` to check it. See README.md.
PY := .venv/bin/python
ARGS ?=

BENCHES := bench bench-api bench-sync bench-webhooks bench-extraction bench-pages bench-batches bench-rules reliability

.PHONY: run test lint types bootstrap $(BENCHES)

bootstrap:
	@sh scripts/bootstrap.sh

run: bootstrap
	@$(PY) scripts/run.py

test: bootstrap
	@sh scripts/chromium.sh
	@$(PY) scripts/test.py $(ARGS)

lint: bootstrap
	@$(PY) -m ruff check .

# mypy over callops, configured by [tool.mypy] in pyproject.toml (what CI checks).
types: bootstrap
	@.venv/bin/mypy

# Benchmarks: `make bench-api` runs bench/api.py, `make bench` runs bench/all.py, `make reliability`
# runs bench/reliability.py. Each prints its figures beside a baseline measured in the same run.
bench: bootstrap
	@$(call run_bench,all)

reliability: bootstrap
	@$(call run_bench,reliability)

# Explicit rules: make never applies a pattern rule to a .PHONY target.
bench-api bench-sync bench-webhooks bench-extraction bench-pages bench-batches bench-rules: bootstrap
	@$(call run_bench,$(@:bench-%=%))

define run_bench
if [ -f bench/$(1).py ]; then $(PY) bench/$(1).py $(ARGS); \
else echo "bench/$(1).py does not exist yet: nothing to run for 'make $@'" >&2; exit 2; fi
endef
