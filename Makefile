# Two commands do all the set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# libtpu and the CUDA plugin for the compile-check tests only (tests/aot_site.py).
AOT_SITE := $(VENV)/aot-site
AOT_STAMP := $(AOT_SITE)/.installed-stamp
PYTEST_WORKERS ?= 2

.PHONY: venv demo test lint format bench clean

venv: $(STAMP)

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m instructrec_jax.demo $(DEMO_FLAGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

$(AOT_STAMP): $(STAMP)
	$(PY) tests/aot_site.py $(AOT_SITE)
	touch $(AOT_STAMP)

test: lint $(AOT_STAMP)
	INSTRUCTREC_AOT_SITE=$(abspath $(AOT_SITE)) $(PY) -m pytest -q -n $(PYTEST_WORKERS) tests

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
