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
	# the project with every extra ([build], [claude], [leaderboard]) and the test tools
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q -e examples/localizer-plugin
	# headless Chromium for the leaderboard page's browser test (Debian package), where this
	# user may install it; elsewhere the test fails until RML_LAMA_SKIP_BROWSER=1 (CI installs it)
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null \
	    || command -v google-chrome >/dev/null || [ -n "$$RML_LAMA_CHROMIUM" ]; then \
	  echo "chromium: found"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null && echo "chromium: installed"; \
	elif command -v apt-get >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null && echo "chromium: installed"; \
	else \
	  echo "chromium: NOT installed (needs root or sudo, and apt-get). The leaderboard's browser"; \
	  echo "  test fails without it: install chromium, point RML_LAMA_CHROMIUM at a browser, or"; \
	  echo "  run the tests with RML_LAMA_SKIP_BROWSER=1 to skip that one test."; \
	fi
	touch $@

dataset: $(VENV)/.installed
	$(VENV)/bin/rml-build build --sources "$(RML_LAMA_SOURCES)"

# The main job: build the dataset if missing, train or load tiny-gpt, localize, evaluate,
# write the leaderboard.
demo: $(VENV)/.installed
	$(VENV)/bin/rml-eval demo --sources "$(RML_LAMA_SOURCES)"

# the dataset's home: $$RML_LAMA_DATA, else this checkout's rml_lama/ (rml_lama/home.py)
BUILT := $(PY) -c "import rml_lama, sys; sys.exit(not (rml_lama.DATASET_DIR / 'manifest.json').exists())"

test: $(VENV)/.installed
	$(BUILT) || $(VENV)/bin/rml-build build --quiet --sources "$(RML_LAMA_SOURCES)"
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
