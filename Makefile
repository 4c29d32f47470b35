# Two commands for a fresh clone (Python 3.11+):  make run  and  make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint migrations-check

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

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
