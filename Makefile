# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: install browser run test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The web server and a django-q2 worker run together; Ctrl-C stops both. The trap stops the
# worker by its pid: a `kill 0` there would signal the shell itself, re-enter the trap and
# crash /bin/sh.
# The browser tests drive Debian's Chromium; install it where it is missing (as root, or
# through sudo).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

run: export DEBUG ?= 1
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo "API docs:  http://$(HOST):$(PORT)/api/docs/"
	@echo "Workspace: http://$(HOST):$(PORT)/workspace/"
	@echo "Admin:     http://$(HOST):$(PORT)/admin/"
	@echo "Schema:    http://$(HOST):$(PORT)/api/schema/?format=json"
	@$(BIN)/python manage.py qcluster & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' INT TERM EXIT; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: export SECRET_KEY ?= test-only-secret-key-not-for-production-use-0123456789
test: install browser
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

# The benchmarks also need the bench extra: crowd-kit, to compare our aggregation with.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: export SECRET_KEY ?= bench-only-secret-key-not-for-production-use-0123456789
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var staticfiles
