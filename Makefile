PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
N ?= 100000
export DJANGO_SETTINGS_MODULE := config.settings

.PHONY: run test lint format serve bench install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install  ## Migrate, load the demo data and serve it, readable without signing in, on :8000
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	EXECBOARD_PUBLIC_READ=$${EXECBOARD_PUBLIC_READ:-True} $(BIN)/python manage.py runserver 127.0.0.1:8000

test: install  ## The whole suite (on PostgreSQL when DATABASE_URL is set, else SQLite)
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

serve: install  ## Production server: gunicorn, static files by whitenoise
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createcachetable
	$(BIN)/gunicorn config.wsgi --bind $${BIND:-127.0.0.1:8000} --workers $${WORKERS:-3}

bench: install  ## Load N executions (default 100000) into PostgreSQL and measure; see BENCHMARKS.md
	$(BIN)/python -m bench.run $(N)

.PHONY: bench-http
bench-http: install  ## The list page and bulk labels over HTTP against gunicorn, on the loaded N
	$(BIN)/python -m bench.run $(N) --only-http
