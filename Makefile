# Two commands: `make run` (the product on SQLite with the demo network; HOST=, PORT=, DATA= to move it)
# and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[postgres,redis,test]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/concord demo --data-dir $(DATA)
	$(BIN)/concord serve --data-dir $(DATA) --host $(HOST) --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/units.py
	$(BIN)/python bench/signaling.py
	$(BIN)/python bench/join.py
	$(BIN)/python bench/recording.py
	$(BIN)/python bench/agreements.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/councils.py

lint: $(VENV)/.installed
	$(BIN)/ruff check server tests bench
	$(BIN)/mypy server
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache
