# make run   : set up and materialize the 2023-24 season (every phase, every check) on the embedded default
# make test  : set up and run the tests
# make dev   : dg dev (webserver + daemon) on the same DuckDB warehouse and DAGSTER_HOME
# make deploy-up / deploy-down : the production deployment in containers (deploy/up; docs/deployment.md)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/dagster_home
export NBA_PIPELINE_WAREHOUSE := $(CURDIR)/data/warehouse.duckdb
SEASON_START ?= 2023-10-24
SEASON_END ?= 2024-04-14

.PHONY: setup lock run dev test test-fast benchmark benchmark-model benchmark-events upgrade-check clean deploy-up deploy-down

# the exact tested set: constraints.txt pins every package (make lock refreshes it); pip check: no broken requirement.
# The installed packages are compiled on both cores (compileall -j 0) rather than by pip, one file after another:
# 16 s instead of 24 s of a 42 s install here (this machine sets PYTHONDONTWRITEBYTECODE, so nothing else would);
# not the packages' own test suites (`tests/` folders: 2,300 of 11,400 files the suite does not import): 14.4 -> 11.5 s
$(BIN)/dagster: setup.py pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile -c constraints.txt -e '.[dev]'
	$(BIN)/python -m compileall -q -j 0 -x '/tests/' $$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
	$(BIN)/pip check
	touch $@

setup: $(BIN)/dagster

# constraints.txt anew: a fresh venv from setup.py's ranges (dev + production extras: what the tests and the production
# image install), pip check, then its exact versions (the project itself left out)
lock:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/pip" install --quiet --upgrade pip; \
	"$$tmp/venv/bin/pip" install --quiet -e '.[dev,production]'; \
	"$$tmp/venv/bin/pip" check; \
	{ echo "# the exact tested set (pip install -c constraints.txt -e '.[dev]'); refresh: make lock"; \
	  "$$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^nba.pipeline'; } > constraints.txt; \
	echo "constraints.txt: $$(grep -vc '^#' constraints.txt) packages"

run: setup
ifeq ($(NBA_PIPELINE_SOURCE),season_2023_24)
	$(BIN)/nba-pipeline replay-season
else
	$(BIN)/nba-pipeline materialize --select '*' --partition-range $(SEASON_START)...$(SEASON_END)
endif
	@echo "Warehouse (DuckDB): $(NBA_PIPELINE_WAREHOUSE)  (written by the pipeline only)"
	@echo "Read copy (Parquet): $(dir $(NBA_PIPELINE_WAREHOUSE))published/  (read these; quarantine/ and pipeline/publish_log too)"
	@echo "Dagster instance:   $(DAGSTER_HOME)"
	@echo "UI: make dev  ->  http://127.0.0.1:3000  (assets, partitions, checks)"

dev: setup
	$(BIN)/dg dev --host 127.0.0.1 --port 3000

# the machine's PostgreSQL server and headless chromium, started / installed if missing (.ci/prerequisites)
# four workers (pytest-xdist) on two cores, each taking whole test files: module fixtures are built once, and while
# stories wait on a real daemon, a container or an emulator, other workers still have CPU work (two workers left the
# CPU 82 % busy, three 89-99 %, four 99 %: docs/performance.md, "The test suite")
# compileall first: with PYTHONDONTWRITEBYTECODE set (as on this machine) every CLI run, code server and daemon the
# stories start would compile the package again (~0.2 s each, ~150 processes a run)
test: setup
	./.ci/prerequisites
	$(BIN)/python -m compileall -q -j 0 nba_pipeline nba_pipeline_tests
	$(BIN)/pytest -q -n 4 --dist loadfile --no-loadscope-reorder

# the inner loop: every test not marked `slow` (no dagster dev, browser, emulator, PostgreSQL or container; the rule
# is nba_pipeline_tests/tiers.py), on both cores; no prerequisites needed
test-fast: setup
	$(BIN)/python -m compileall -q -j 0 nba_pipeline nba_pipeline_tests
	$(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m "not slow"

# the full four-season backfill against its floors; BENCH_PG=postgresql+psycopg2://postgres@127.0.0.1:5432/test adds
# the same backfill on the production (PostgreSQL) instance
benchmark: setup
	$(BIN)/python benchmarks/backfill_benchmark.py $(if $(BENCH_PG),--postgres $(BENCH_PG))

# the points model on the real 2023-24 replay and the simulated season, out of sample: MAE against the simple
# averages and the line, calibration of P(OVER), OVER/UNDER picks (a few minutes per season)
benchmark-model: setup
	$(BIN)/python benchmarks/model_benchmark.py

# ms per stored Dagster event (check evaluations, planned, materializations): stock SQLite vs shipped vs PostgreSQL
benchmark-events: setup
	$(BIN)/python benchmarks/event_cost.py
	$(BIN)/python benchmarks/instance_compare.py

# code server, webserver and daemon as containers (podman), configured from the environment: DAGSTER_PG_URL,
# GCP_PROJECT, GCS_BUCKET, ... (deploy/pod.yaml). Builds the image from cached layers first.
deploy-up:
	deploy/up

deploy-down:
	deploy/down

# another Dagster release against the private-API tests (dagster_private.py, instance_storage.py): is an upgrade safe?
upgrade-check:
	@test -n "$(DAGSTER)" || { echo "usage: make upgrade-check DAGSTER=x.y.z" >&2; exit 2; }
	PYTHON=$(PYTHON) ./scripts/upgrade-check $(DAGSTER)

clean:
	rm -rf data dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
