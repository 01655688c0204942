# Two commands matter: `make run` (embedded default: SQLite, in-process jobs, demo data) and
# `make test` (real PostgreSQL, Redis, RQ worker, SMTP sink, Chromium; then SQLite too).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
HOST ?= 127.0.0.1
PORT ?= 5000
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/crm_test
PYTEST_ARGS ?=
RELIABILITY_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/crm_test_reliability

.PHONY: run test test-pg test-sqlite test-reliability lint install translations worker bench bench-demo db-upgrade init seed clean

$(BIN)/.installed: requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.lock
	touch $@

install: $(BIN)/.installed

translations: install
	$(BIN)/python scripts/i18n.py
	$(BIN)/pybabel -q compile -f -d translations

db-upgrade: install
	$(FLASK) db upgrade

init: db-upgrade
	$(FLASK) crm init

seed: init
	$(FLASK) crm seed-demo --if-empty

run: translations seed
	@$(FLASK) crm demo-logins
	$(FLASK) crm serve --host $(HOST) --port $(PORT)

test: translations
	bash scripts/ensure-services.sh
	$(MAKE) lint
	$(MAKE) test-pg
	$(MAKE) test-sqlite

test-pg: install
	TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/pytest -q $(PYTEST_ARGS) tests

# tests/reliability run on PostgreSQL only (the production backend): quick in test-pg, full in test-reliability.
test-sqlite: install
	$(BIN)/pytest -q $(PYTEST_ARGS) --ignore=tests/reliability tests

# Load, Redis outage, worker kill, PostgreSQL restart with full durations (docs/reliability.md).
test-reliability: translations
	bash scripts/ensure-services.sh
	RELIABILITY_SECONDS=60 TEST_DATABASE_URL=$(RELIABILITY_PG_URL) $(BIN)/pytest -q -s $(PYTEST_ARGS) tests/reliability

lint: install
	$(BIN)/ruff check .

worker: translations
	@test -n "$$REDIS_URL" || (echo "Set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to use the RQ worker" && exit 1)
	$(BIN)/python -m workflows.worker --cron & cron=$$!; trap 'kill $$cron 2>/dev/null; wait $$cron' EXIT INT TERM; \
	$(BIN)/python -m workflows.worker

# `make bench`: every figure of the performance issue with its target (bench/all.py; ARGS="--quick" for a
# plumbing check, ARGS="--only appeals peer" for some steps). `make bench-demo`: every page on the demo data.
bench: translations
	$(BIN)/python -m bench.all $(ARGS)

bench-demo: translations
	$(BIN)/python -m bench.pages $(ARGS)

clean:
	rm -rf $(VENV) instance translations/*/LC_MESSAGES/*.mo
