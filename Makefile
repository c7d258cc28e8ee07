# deconfliction: set-up, demo, tests, lint and benchmarks.
# `make demo` and `make test` work from a fresh clone on Debian with Python 3.11+ and npm.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NPM ?= npm
CHROMIUM ?= /usr/bin/chromium
STAMP := $(VENV)/.installed
WEB_STAMP := web/node_modules/.installed

.PHONY: demo timeline test lint bench venv web chromium clean

## venv: the virtual environment with the package (editable) and its development tools
venv: $(STAMP)

$(STAMP): pyproject.toml
	@if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update && apt-get install -y python3-venv; \
		else \
			echo "make: $(PYTHON) cannot create a venv; install python3-venv" >&2; exit 1; \
		fi; \
	fi
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## web: the map's assets (Leaflet, milsymbol, world-atlas, topojson-client) from npm
web: $(WEB_STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json web/build.mjs
	cd web && $(NPM) ci --no-audit --no-fund
	touch $@

## chromium: Debian's chromium for the browser tests (installed when missing and root)
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update && apt-get install -y chromium; \
		else \
			echo "make: $(CHROMIUM) is missing; install chromium (as root: apt-get install -y chromium)" >&2; \
			exit 1; \
		fi; \
	fi

## demo: serve the map at http://127.0.0.1:8000 and replay the built-in scenario into it
demo: venv web
	$(BIN)/deconfliction demo

## timeline: replay the built-in scenario and print its alert timeline
timeline: venv
	$(BIN)/deconfliction scenario run deir-ez-zor-2018 --format table

## test: everything the tests need, then lint and the whole test suite
test: venv web chromium
	$(MAKE) lint
	$(BIN)/pytest

## lint: ruff check, ruff format --check, mypy (strict on the core)
LINTED := src tests benchmarks scripts

lint: venv
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

## bench: every benchmarks/*.py that has a main, one `name value unit` line per figure
bench: venv
	@for script in benchmarks/*.py; do \
		if grep -q '^if __name__ == "__main__":' $$script; then \
			echo "# $$script" >&2; \
			$(BIN)/python $$script || exit 1; \
		fi; \
	done

clean:
	rm -rf var/bench .pytest_cache .mypy_cache .ruff_cache
