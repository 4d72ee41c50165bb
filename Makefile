# neuroattack: the two commands of the README are `make demo` and `make test`.
# Both create the virtual environment on first use (Python 3.10: lava-nc 0.10 needs it).
#
# Python 3.10 is found as a plain `python3.10`, or through pyenv (`PYENV_VERSION=3.10
# python3.10`, as on machines where pyenv's 3.10 is not the default). `make PYTHON=/path/to/python3.10`
# overrides the search.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.neuroattack-installed
PYTHON ?=

.PHONY: setup test lint format demo bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@set -e; \
	if [ -x "$(PY)" ] && ! "$(PY)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	  echo "$(VENV) is not Python 3.10: recreating it"; rm -rf "$(VENV)"; \
	fi; \
	if [ ! -x "$(PY)" ]; then \
	  py="$(PYTHON)"; \
	  if [ -z "$$py" ]; then \
	    if python3.10 -c 'import sys' >/dev/null 2>&1; then py="python3.10"; \
	    elif PYENV_VERSION=3.10 python3.10 -c 'import sys' >/dev/null 2>&1; then py="env PYENV_VERSION=3.10 python3.10"; \
	    else \
	      echo "error: Python 3.10 not found (lava-nc 0.10 requires exactly 3.10)." >&2; \
	      echo "Install it (e.g. 'pyenv install 3.10', or your OS package python3.10 with venv)," >&2; \
	      echo "or point to one: make PYTHON=/path/to/python3.10 setup" >&2; \
	      exit 1; \
	    fi; \
	  fi; \
	  echo "creating $(VENV) with $$py"; \
	  $$py -m venv "$(VENV)"; \
	fi; \
	"$(PY)" -m pip install --quiet --disable-pip-version-check -e '.[test,distributed,interop]'; \
	touch "$(STAMP)"

# two workers (pytest-xdist), then the tests that watch machine-wide state, alone
test: setup lint
	$(PY) -m pytest -q -n 2 --dist worksteal -m "not serial"
	$(PY) -m pytest -q -m serial

# ruff (configured in pyproject.toml): the linter, and the formatter in check mode
lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

demo: setup
	$(VENV)/bin/neuroattack demo

bench: setup
	$(VENV)/bin/neuroattack bench attacks --out runs/bench/attacks.json

clean-venv:
	rm -rf $(VENV)
