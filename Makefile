# The two commands README.md opens with: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PG_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/test)
SQLITE_URL := sqlite:///$(CURDIR)/.sqlite-tests/db.sqlite3

.PHONY: venv demo test test-pg test-sqlite lint docs package bench chaos clean

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	@test -x $(BIN)/python || $$(scripts/find-python) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --group dev --group docs --group package -e .
	@touch $@

# Set up and run the demo site's jobs end to end (SQLite unless DATABASE_URL is set).
demo: venv
	$(BIN)/python manage.py migrate --verbosity 0
	$(BIN)/python manage.py demo

lint: venv
	@mkdir -p .sqlite-tests
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy django_jobs
	$(BIN)/lint-imports
	DATABASE_URL=$(SQLITE_URL) $(BIN)/python manage.py check --fail-level WARNING
	DATABASE_URL=$(SQLITE_URL) $(BIN)/python -m django makemigrations --check --dry-run --settings=tests.settings

# The suites run in TEST_PROCESSES processes (pytest-xdist, each with its own test database),
# then, on PostgreSQL, the tests marked serial (they restart the server or cut a network) alone.
# Exit status 5 (no test selected, e.g. PYTEST_ARGS naming only serial tests) is not a failure.
TEST_PROCESSES ?= 2
PYTEST_PARALLEL := $(BIN)/pytest -n $(TEST_PROCESSES) --dist worksteal
ok_if_none = status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

test-pg: venv
	DATABASE_URL=$(PG_URL) $(PYTEST_PARALLEL) -m "not serial" $(PYTEST_ARGS); $(ok_if_none)
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -m serial $(PYTEST_ARGS); $(ok_if_none)

test-sqlite: venv
	@mkdir -p .sqlite-tests
	DATABASE_URL=$(SQLITE_URL) SQLITE_TEST_NAME=$(CURDIR)/.sqlite-tests/test.sqlite3 $(PYTEST_PARALLEL) $(PYTEST_ARGS); $(ok_if_none)

# The documentation site, into docs/_build/html; a warning (a broken link or anchor, a page left out
# of the table of contents, a bad include) fails the build.
docs: venv
	$(BIN)/sphinx-build --fail-on-warning --keep-going --quiet --builder html docs docs/_build/html

# Build the sdist and wheel, check them, install the wheel (from PyPI's packages only) into a fresh
# virtualenv and run a throwaway project against it from outside the source tree.
package: venv
	$(BIN)/python scripts/check_package.py

# The whole suite: lint, the docs and the package, then PostgreSQL (DATABASE_URL, default the local
# server), then SQLite.
test: lint docs package test-pg test-sqlite

# django-jobs beside pgqueuer, Procrastinate, django-tasks-db, pg-boss and BullMQ
# (benchmarks/README.md); BENCH_ARGS=--quick for a smaller run, "--only NAME" for one figure.
# DATABASE_URL picks the database.
# The Node peers' pinned packages are installed with npm ci when node and npm are present (again
# when package-lock.json changes); without them compare.py skips those two peers and says so.
NODE_PEERS := benchmarks/peers/node
bench: venv
	@$(BIN)/python -c "import django_tasks_db, pgqueuer, procrastinate, asyncpg, uvloop" 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet --group bench
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		test $(NODE_PEERS)/node_modules/.package-lock.json -nt $(NODE_PEERS)/package-lock.json \
		|| (cd $(NODE_PEERS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
		|| echo "npm ci failed in $(NODE_PEERS): pg-boss and BullMQ will be skipped"; \
	else echo "node or npm not found: pg-boss and BullMQ will be skipped"; fi
	$(BIN)/python benchmarks/compare.py $(BENCH_ARGS)

# The whole chaos suite CHAOS_RUNS times in a row (default 5) beside a CPU
# hog, one busy process per core; prints each run's figures, stops at the first failure.
chaos: venv
	DATABASE_URL=$(PG_URL) PYTEST=$(BIN)/pytest scripts/chaos-under-load $(or $(CHAOS_RUNS),5)

clean:
	rm -rf $(VENV) .sqlite-tests testproject/db.sqlite3 docs/_build dist build
