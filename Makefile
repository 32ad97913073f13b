# Two commands on a fresh machine: `make run` and `make test`. Each bootstraps .venv by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test bench lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) engines/tts/piper/bake_default_voice.py
	$(PY) engines/tts/piper/server.py --host 127.0.0.1 --port 8766 --load default

demo: $(STAMP)
	bash scripts/demo-store.sh

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/enginekit check
	$(PY) -m pytest

# Benchmarks against baselines measured in the same run (docs/benchmarks.md); not part of test.
bench: $(STAMP)
	$(PY) bench/download.py
	$(PY) bench/entrypoint.py
	$(PY) bench/debug_tts.py
	$(PY) bench/responsiveness.py
	$(PY) bench/overhead.py
	$(PY) bench/discovery.py
	$(PY) bench/containers.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	shellcheck scripts/*.sh .ci/run

format: $(STAMP)
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache
