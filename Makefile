# A fresh clone (Python 3.11+): make sandbox (try it in a browser), make test; make run serves Slack
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install sandbox run test lint migrations-check

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

sandbox: install
	$(BIN)/python app.py sandbox

run: install
	$(BIN)/python app.py

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
