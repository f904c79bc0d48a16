# fanlib's verbs. `make report` and `make test` work from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FANLIB := $(VENV)/bin/fanlib
DEMO := data/demo.duckdb
DEMO_FANS ?= 20000
DEMO_SEED ?= 7
JOBS ?= 2
DATE ?= $(shell TZ=Asia/Shanghai date +%F)
# `make report` renders the demo with its own settings; PARAMS=params/default.yaml (or yours) for your data
PARAMS ?= params/demo.yaml
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: help setup system-deps fonts browser demo models report test test-fast lint format bench lab env clean clean-reports test-spark

help: ## list the verbs
	@grep -E '^[a-zA-Z_.-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m ipykernel install --sys-prefix --name fanlib --display-name "Python (fanlib)" >/dev/null
	@touch $@

setup: $(VENV)/.installed fonts ## create .venv, install fanlib and the CJK font

# Chinese chart labels need a CJK font; without one they render as boxes.
fonts:
	@if fc-list 2>/dev/null | grep -q "Noto Sans CJK SC"; then :; \
	elif [ "$(IS_ROOT)" = yes ]; then \
	  echo "installing Debian's fonts-noto-cjk (Chinese chart labels)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; \
	else \
	  echo "Chinese chart labels need a CJK font. Install it, then re-run make:"; \
	  echo "  Debian/Ubuntu: sudo apt-get install fonts-noto-cjk"; \
	  echo "  Fedora: sudo dnf install google-noto-sans-cjk-fonts   macOS/Windows: nothing to do"; \
	  exit 1; \
	fi

# Headless Chromium and PostgreSQL, for the browser and warehouse tests.
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$(IS_ROOT)" = yes ]; then \
	  echo "installing Debian's chromium (browser checks of the reports)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "browser tests will be skipped: install Debian's chromium to run them"; fi

system-deps: fonts browser

$(DEMO): | $(VENV)/.installed
	$(FANLIB) demo --fans $(DEMO_FANS) --seed $(DEMO_SEED) --out $(DEMO)

demo: $(VENV)/.installed $(DEMO) ## build the demo data set if it is missing

models: $(VENV)/.installed ## (re)build the offline sentiment model in the user cache (otherwise built on first use)
	$(FANLIB) sentiment train

report: setup demo ## render the full report suite on the demo data into reports/<date>/
	$(FANLIB) run all --params $(PARAMS) --date $(DATE) --jobs $(JOBS)
	@echo "open reports/$(DATE)/index.html"

test: setup system-deps ## set up, then run the whole test suite as CI does
	@set -euo pipefail; \
	pg_env=$$(mktemp); \
	if bash .ci/postgres.sh start "$$pg_env"; then source "$$pg_env"; export FANLIB_TEST_PG_URL; \
	  trap 'bash .ci/postgres.sh stop "$$pg_env" >/dev/null 2>&1 || true; rm -f "$$pg_env"' EXIT; \
	else echo "PostgreSQL could not be started: its tests will be skipped"; fi; \
	$(VENV)/bin/pytest -n $(JOBS) --dist loadgroup -p no:cacheprovider --durations=15

test-fast: $(VENV)/.installed ## the inner loop (< 3 min on 2 cores): every test not marked slow
	$(VENV)/bin/pytest -n $(JOBS) --dist loadgroup -m "not slow" -p no:cacheprovider

# The same checks as the pre-commit hook and CI: lint rules and formatting, over the whole repository.
lint: $(VENV)/.installed ## ruff: lint rules and formatting (changes nothing; `make format` fixes)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed ## ruff: format the code, then fix what the lint rules can fix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Spark is a separate target: PySpark is a large download and each kernel starts a JVM.
test-spark: setup ## the suite on Spark in local mode (installs PySpark; needs Java 17)
	@command -v java >/dev/null 2>&1 || { echo "Spark needs Java 17: apt-get install openjdk-17-jre-headless"; exit 1; }
	$(PY) -m pip install --quiet -e '.[dev,spark]'
	FANLIB_TEST_SPARK=1 $(VENV)/bin/pytest -p no:cacheprovider -s --durations=0 tests/test_engines.py tests/test_spark.py

bench: setup ## run the speed and memory benchmarks (benchmarks/results/)
	@# bench_suite_compare.py compares two checkouts: it runs on its own (see its docstring)
	@for b in benchmarks/bench_*.py; do [ "$$b" = benchmarks/bench_suite_compare.py ] && continue; \
	  echo "== $$b"; $(PY) $$b || exit 1; done
	$(PY) benchmarks/report.py

lab: setup demo ## open JupyterLab on the notebooks
	$(VENV)/bin/jupyter lab notebooks/

environment.yml: pyproject.toml ## regenerate environment.yml from pyproject.toml
	$(PY) scripts/sync_environment.py

env: environment.yml

clean-reports: ## delete rendered reports
	rm -rf reports/*/ reports/index.html

clean: ## delete the venv, generated data and reports
	rm -rf $(VENV) data/*.duckdb data/*.json reports/*/ reports/index.html benchmarks/results
