# lactobiome: `make run` and `make test` set up .venv on a fresh machine (Python 3.11).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fuzz clean chromium compile

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "make: need $(PYTHON) on PATH (or PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	$(VENV)/bin/lactobiome compile
	@touch $(STAMP)

# Numba's kernel cache, filled at install (above) so that the first simulate and track do not
# compile; rerun after editing the kernels (or let the first run compile them, it says so)
compile: $(STAMP)
	$(VENV)/bin/lactobiome compile

run: $(STAMP)
	$(VENV)/bin/lactobiome simulate --design pannaraj2017 --out results/default.nc
	$(VENV)/bin/lactobiome report results/default.nc --out results/default.html

test: $(STAMP) chromium
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -q

# property-based fuzzing of every reader: 12 properties x 1,300 generated inputs (15,600)
fuzz: $(STAMP)
	LACTOBIOME_FUZZ_EXAMPLES=1300 $(PY) -m pytest -q tests/test_fuzz.py

# the browser tests drive Debian's Chromium (never `playwright install`); installed when missing
chromium:
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "make: could not install Chromium; the browser tests will be skipped" >&2

bench: $(STAMP)
	$(PY) benchmarks/simulate.py
	NUMBA_NUM_THREADS=1 $(PY) benchmarks/kernel_floor.py --chunk 64 --chunks 4
	$(PY) benchmarks/track.py

clean:
	rm -rf $(VENV) results .pytest_cache
