# Set-up, the main job and the tests. Each target installs what it needs first.
VENV    ?= .venv
PY      := $(VENV)/bin/python
SOURCES ?= $(abspath ../shared/data)
export RML_LAMA_SOURCES ?= $(SOURCES)

.PHONY: setup dataset demo test lint

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU wheel first: a bare torch requirement would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q -e examples/localizer-plugin
	# headless Chromium for the leaderboard page's browser test (Debian package)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	touch $@

dataset: $(VENV)/.installed
	$(VENV)/bin/rml-build build --sources "$(RML_LAMA_SOURCES)"

# The main job: build the dataset if missing, train or load tiny-gpt, localize, evaluate,
# write the leaderboard.
demo: $(VENV)/.installed
	$(VENV)/bin/rml-eval demo --sources "$(RML_LAMA_SOURCES)"

test: $(VENV)/.installed
	test -f rml_lama/manifest.json || $(VENV)/bin/rml-build build --quiet --sources "$(RML_LAMA_SOURCES)"
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
