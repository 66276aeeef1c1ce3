# Two entry points for a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
DAYS   ?= 2
PORT   ?= 3000
# where `make ui` serves the reports (Data Docs, charts): the demo's check links point there
REPORTS_PORT ?= $(shell echo $$(( $(PORT) + 1 )))

.PHONY: venv demo test ui check-defs bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## Run the main job end to end in sample mode (offline) and say where the outputs are.
demo: export ENERGY_PIPELINES_REPORTS_URL ?= http://127.0.0.1:$(REPORTS_PORT)/
demo: venv
	$(BIN)/energy-pipelines demo --days $(DAYS)

## Run the whole test suite (REQUIRE_SERVICES=1 turns service skips into failures).
test: venv
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The production stack on this machine (PostgreSQL instance, code server, daemon, UI) until Ctrl-C.
.PHONY: serve
serve: venv
	$(BIN)/energy-pipelines serve

## Open the Dagster UI on the data root's Dagster home (make ui PORT=3001; AUTOMATION=1 turns the publication sensor on).
ui: venv
	$(BIN)/energy-pipelines ui --port $(PORT) $(if $(AUTOMATION),--automation)

check-defs: venv
	$(BIN)/dg check defs

# one table of every benchmark against plain DuckDB; `make bench BENCH_ARGS=--quick` for short windows
BENCH_ARGS ?=
bench: venv
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
