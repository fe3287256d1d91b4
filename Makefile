# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup bench backup restore lint format clean

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

# Production is the default (DEBUG off unless set); these two are development, and say so.
run test: export DEBUG := True

## Serve the app on SQLite at http://127.0.0.1:8000 with the default content and demo accounts,
## and run the task worker that sends its email (printed in this terminal) next to it.
## Ctrl-C stops both. `make run PORT=8001` serves on another port (RUN_ADDRESS=0.0.0.0:8001
## on another address); the demo accounts' links and the emails' links use it.
PORT ?= 8000
RUN_ADDRESS ?= 127.0.0.1:$(PORT)
SITE_URL ?= http://$(RUN_ADDRESS)
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_default_content
	$(BIN)/python manage.py create_demo_accounts --base-url $(SITE_URL)
	RUN_ADDRESS=$(RUN_ADDRESS) SITE_URL=$(SITE_URL) bash scripts/run_dev.sh

## The whole suite: SQLite by default, PostgreSQL when DATABASE_URL is set. In
## TEST_WORKERS processes (pytest-xdist, one test database each; CI has 2 CPUs);
## `make test TEST_WORKERS=0` runs it in one process; PYTEST_ARGS adds options (--durations=30).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## Benchmarks: engine, queue and HTTP (gunicorn + wrk) in one table of figures beside their
## targets, on PostgreSQL (BENCH_DATABASE_URL; the screening_bench database is created if
## missing). A few minutes; needs wrk (apt-get install wrk), else the HTTP rows are skipped.
bench: $(STAMP)
	$(BIN)/python -m bench

## Back up the PostgreSQL database in DATABASE_URL to backups/ (or to BACKUP_FILE).
backup:
	bash scripts/backup.sh

## Restore BACKUP_FILE into the PostgreSQL database in DATABASE_URL (replaces its contents).
restore:
	bash scripts/restore.sh

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache screenshots
