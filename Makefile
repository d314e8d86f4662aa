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
# A second environment for the tests, Colab's: Python 3.13 and Colab's versions of
# every package (requirements-colab.txt). The registry's torch 2.11.0 for Linux is a
# CUDA build, about 3 GB with its NVIDIA libraries: its wheels are kept outside the
# clone in COLAB_WHEELS, so a fresh clone (or a new .venv-colab) installs offline.
COLAB_VENV := .venv-colab
COLAB_STAMP := $(COLAB_VENV)/.installed
COLAB_WHEELS ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mha-course/colab-wheels
# Python 3.13 from pyenv (newest 3.13.x), else python3.13 on PATH.
COLAB_PYTHON ?= $(firstword \
    $(wildcard $(shell pyenv prefix 3.13 2>/dev/null)/bin/python3.13) \
    $(lastword $(sort $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.13.*/bin/python3.13))) \
    $(shell command -v python3.13 2>/dev/null))
COLAB_PIP := $(COLAB_VENV)/bin/python -m pip
COLAB_INSTALL := $(COLAB_PIP) install --quiet --no-index --find-links $(COLAB_WHEELS) \
    -r requirements-colab.txt
IS_313 := -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))'
NOTEBOOKS := $(wildcard chapters/*.ipynb exercises/*.ipynb solutions/*.ipynb)

.PHONY: setup book test test-fast lint strip exercises clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), \
	    f"Python 3.11 or newer is needed, found {sys.version.split()[0]}"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The tests install the book's package into it themselves, as Colab's setup cell does.
$(COLAB_STAMP): requirements-colab.txt
	@"$(COLAB_PYTHON)" $(IS_313) 2>/dev/null || { echo "Python 3.13 (Colab's) was \
	not found for $(COLAB_VENV): install it (pyenv install 3.13) or pass \
	COLAB_PYTHON=/path/to/python3.13." >&2; exit 1; }
	$(COLAB_VENV)/bin/python $(IS_313) 2>/dev/null || \
	    { rm -rf $(COLAB_VENV) && "$(COLAB_PYTHON)" -m venv $(COLAB_VENV); }
	$(COLAB_INSTALL) >/dev/null 2>&1 || { \
	    echo "Downloading Colab's wheels into $(COLAB_WHEELS) (about 3 GB, once)"; \
	    $(COLAB_PIP) download --quiet --no-cache-dir -d $(COLAB_WHEELS) \
	        -r requirements-colab.txt && $(COLAB_INSTALL); }
	touch $(COLAB_STAMP)

book: $(STAMP)
	bash scripts/system_deps.sh
	$(PY) scripts/build_book.py

# Every test, in three runs, each the fastest way for its kind: the unit tests and
# every notebook (nbval) two at a time, each kernel on one thread; the book build
# (which itself executes two notebooks at a time) and the browser tests; every
# notebook again in Colab's environment. All three run; the target fails if any did.
test: $(STAMP) $(COLAB_STAMP)
	bash scripts/system_deps.sh --test
	@status=0; \
	OMP_NUM_THREADS=1 $(PY) -m pytest -m "unit or notebook" -n 2 --dist loadscope \
	    || status=1; \
	$(PY) -m pytest -m book || status=1; \
	$(PY) -m pytest -m colab || status=1; \
	exit $$status

# The quick loop while you work: the unit tests and lint, no notebook, no book.
test-fast: $(STAMP)
	$(PY) -m pytest -m unit -n 2 -q

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
