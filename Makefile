# A fresh clone (Python 3.11+): make sandbox (try it in a browser), make test; make run serves Slack
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --custom-compile-command "make lock"

.PHONY: install lock sandbox run test lint migrations-check

# Exactly the locked set, every hash checked; then the project itself (no dependencies of its
# own left to resolve), which puts the `zoombot` command in $(BIN).
$(BIN)/.installed: requirements-dev.lock requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

install: $(BIN)/.installed

# After editing the dependencies in pyproject.toml: re-resolve both locks (pins already in a
# lock are kept unless pyproject.toml asks otherwise), then `make install`.
lock:
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra sandbox --extra dev $(LOCK_FLAGS) \
		-o requirements-dev.lock

sandbox: install
	$(BIN)/zoombot sandbox

# The Procfile as a platform runs it: the release step once, then `web` and `worker` (honcho
# reads .env; `web` gets $PORT, 3000 by default, like the bot).
run: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile release
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -p $${PORT:-3000} web worker

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

# Models and migrations must not drift (on SQLite here; .ci/run also checks PostgreSQL).
migrations-check: install
	rm -f /tmp/zoombot-alembic-check.db
	DATABASE_URL=sqlite:////tmp/zoombot-alembic-check.db $(BIN)/alembic upgrade head
	DATABASE_URL=sqlite:////tmp/zoombot-alembic-check.db $(BIN)/alembic check
