# The two commands a new user needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
DATA ?= secondhand-data
DEMO_OWNER ?= owner@example.com
DEMO_OWNER_PASSWORD ?= owner-demo-2026
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-unit test-e2e venv browser lint bench clean

## run: install, create the demo owner and demo data, and serve on http://127.0.0.1:8000/
run: $(VENV)/.installed
	$(VENV)/bin/secondhand --data-dir $(DATA) create-owner --email $(DEMO_OWNER) --password $(DEMO_OWNER_PASSWORD)
	$(VENV)/bin/secondhand --data-dir $(DATA) seed
	@echo "Demo owner: $(DEMO_OWNER) / $(DEMO_OWNER_PASSWORD)"
	$(VENV)/bin/secondhand --data-dir $(DATA) serve --port $(PORT)

## test: install, make a browser available, and run every test (unit and browser)
test: $(VENV)/.installed browser
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-e2e: $(VENV)/.installed browser
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@PYTHON=$$(sh scripts/find-python.sh) || exit 1; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
		echo "Creating $(VENV) with $$PYTHON"; rm -rf $(VENV); "$$PYTHON" -m venv $(VENV) || exit 1; \
	fi
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test,postgres,s3]"
	@touch $@

browser: $(VENV)/.installed
	@sh scripts/ensure-browser.sh $(PY)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench

bench: $(VENV)/.installed
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
