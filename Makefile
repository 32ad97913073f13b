# Two commands on a fresh machine: `make run` and `make test`. Each bootstraps .venv by itself.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run demo test environments bench lint format clean

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
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	shellcheck scripts/*.sh .ci/run tools/*.sh
	$(VENV)/bin/enginekit check
	$(PY) -m pytest

# The engine environments the test suite runs engines in (docs/engines.md); tests of an engine
# whose environment is missing skip. Piper and whisper also run from .venv (the dev extras).
environments: $(STAMP)
	$(VENV)/bin/enginekit engines install xtts
	$(VENV)/bin/enginekit engines install chatterbox
	$(VENV)/bin/enginekit engines install vibevoice

# Benchmarks against baselines measured in the same run (docs/benchmarks.md); not part of test.
bench: $(STAMP)
	$(PY) bench/download.py
	$(PY) bench/entrypoint.py
	$(PY) bench/debug_tts.py
	$(PY) bench/responsiveness.py
	$(PY) bench/overhead.py
	$(PY) bench/discovery.py
	$(PY) bench/containers.py
	$(PY) bench/first_audio.py
	$(PY) bench/concurrency.py
	$(PY) bench/long_audio.py
	$(PY) bench/startup.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	shellcheck scripts/*.sh .ci/run

format: $(STAMP)
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache engines/*/*/.venv engines/*/*/.venv.lock
