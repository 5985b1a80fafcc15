# Sorriso: `make run` serves the app, `make test` runs the whole suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Server settings live in gunicorn.conf.py (threaded workers that resist slow clients); WORKERS=n and
# THREADS=n override its counts.
WORKERS ?=
THREADS ?=
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test bench lint migrate venv-runtime venv-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv-runtime: $(VENV)/.runtime-installed
venv-dev: $(VENV)/.dev-installed

# A clinic's keys live in .env (ignored by git); the first `make run` creates random ones.
.env:
	@$(PYTHON) -c "import secrets; print('SORRISO_ENV=production'); print('SECRET_KEY=' + secrets.token_hex(32)); print('AUDIT_HMAC_KEY=' + secrets.token_hex(32))" > .env
	@chmod 600 .env
	@echo "Created .env with new random SECRET_KEY and AUDIT_HMAC_KEY. Keep a copy of it somewhere safe."

migrate: venv-runtime .env
	$(FLASK) db upgrade

run: migrate
	$(BIN)/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:$(PORT) $(if $(WORKERS),--workers $(WORKERS)) $(if $(THREADS),--threads $(THREADS))

test: venv-dev
	$(BIN)/pytest -n auto

bench: venv-dev
	rm -rf bench/results
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.search
	$(BIN)/python -m bench.pages
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.report

lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
