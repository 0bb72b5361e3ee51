# Two commands for a newcomer: `make demo` and `make test`. Both create .venv on first use,
# installing the exact versions in constraints.txt (the ones the suite was last run with).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-postgresql lint bench lock clean readme-check ui

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/twinbridge demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

# Rebuilds the dashboard (ui/ → server/ui/static, committed) with esbuild; needs Node.js + npm, `make demo` does not.
ui:
	cd ui && npm ci --no-audit --no-fund && node build.mjs

# The whole suite with every store on PostgreSQL (127.0.0.1:5432, database test; tests/conftest.py).
# Not in CI: it takes ~28 min on the shared 2-core machine at load 7-9 (a schema per twin, a round trip
# per write); the tests of the SQLite file itself are skipped there (tests/conftest.py SQLITE_ITSELF).
test-postgresql: $(STAMP)
	TWINBRIDGE_TEST_STORE=postgresql $(BIN)/python -m pytest -q -p no:cacheprovider

# Runs the README's commands as written against a demo (tests/test_readme.py).
readme-check: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_readme.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# After a deliberate upgrade (pip install -U ... in the venv, suite green): record what was tested.
lock: $(STAMP)
	@{ sed -n '1,2p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^twinbridge'; } > constraints.new
	mv constraints.new constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
