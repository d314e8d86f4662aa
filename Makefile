# Two commands for a fresh clone (see README.md):
#   make book   set up .venv and build the HTML book into _build/html
#   make test   set up .venv and .venv-colab, then run every test: unit tests, every
#               notebook (nbval), the book build, the browser tests, Colab's versions
# Both create what they need on first use (Debian packages too, when run as root:
# npm, and chromium for the tests) and reuse it afterwards.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A second environment with Colab's package versions (ipywidgets 7.7.1), for tests.
COLAB_VENV := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed
NOTEBOOKS := $(wildcard chapters/*.ipynb exercises/*.ipynb solutions/*.ipynb)

.PHONY: setup book test lint strip exercises clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), \
	    f"Python 3.10 or newer is needed, found {sys.version.split()[0]}"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(COLAB_STAMP): requirements-colab.txt pyproject.toml
	test -x $(COLAB_VENV)/bin/python || $(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(COLAB_VENV)/bin/python -m pip install --quiet -r requirements-colab.txt
	touch $(COLAB_STAMP)

book: $(STAMP)
	bash scripts/system_deps.sh
	$(PY) scripts/build_book.py

test: $(STAMP) $(COLAB_STAMP)
	bash scripts/system_deps.sh --test
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Remove outputs, execution counts and widget state from every notebook.
strip: $(STAMP)
	$(VENV)/bin/nbstripout $(NOTEBOOKS)

# Regenerate exercises/ from the solution notebooks (the single source of truth).
exercises: $(STAMP)
	$(PY) scripts/make_exercises.py

clean:
	rm -rf _build .pytest_cache .hypothesis .ruff_cache test-artifacts
