# The two commands of the README: `make demo` and `make test`. Both create .venv on first use (with the test,
# notebook and compat extras: the suite executes the notebooks and runs other NEPSE clients against the simulator). For contributors: `make fmt` rewrites the code in the house
# style, `make check` lints and type-checks without tests, `make test-fast` runs the tests that need no Ray cluster.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

export RAY_USAGE_STATS_ENABLED := 0

.PHONY: demo test check fmt test-fast bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "nepse-ray needs Python 3.10 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,notebook,compat]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nepse-ray demo

SOURCES := nepse_ray tests benchmarks examples

check: $(STAMP)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)
	$(BIN)/mypy

test: check
	$(BIN)/pytest -n 2 --dist loadscope

fmt: $(STAMP)
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

test-fast: $(STAMP)
	$(BIN)/pytest -m "not ray"

# Every benchmark scenario, full size; the README's results table (between the bench markers) is regenerated.
bench: $(STAMP)
	$(BIN)/nepse-ray bench --json benchmarks/results.json --readme README.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
