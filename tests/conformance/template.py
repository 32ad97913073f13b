"""A known-good engine tree for conformance tests: every rule passes until a test breaks one.

The tree mirrors enginekit's layout (build context = repository root):

    <root>/.dockerignore                     **/models/ plus the engine's exception
    <root>/scripts/docker-entrypoint.sh
    <root>/engines/tts/good-tts/{server.py, engine.yaml, Dockerfile, models/default/model.json}
"""

from __future__ import annotations

from pathlib import Path

from enginekit.conformance import EngineDir, EngineReport, check_engine

NAME = "good-tts"

REFERENCE_SERVER = '''\
"""good-tts: a standalone server in the standard's reference style (docstring: /app/models)."""

from __future__ import annotations

import sys
from pathlib import Path

from model_hub import download_model, read_model


class GoodTTSServer:
    def __init__(self) -> None:
        if Path("/app").exists() and Path("/app/server.py").exists():
            self.base_path = Path("/app")
        else:
            self.base_path = Path(sys.argv[0]).parent.resolve()
        self.models_dir = self.base_path / "models"
        self.external_models_dir = self.base_path / "external_models"
        self.catalog = {"default": "https://example.com/default.bin"}
        self.model = None

    def load_model(self, model_name: str) -> None:
        model_path = self.models_dir / model_name
        if not model_path.exists():
            external_path = self.external_models_dir / model_name
            download_model(self.catalog[model_name], external_path)
            model_path.symlink_to(external_path)
        self.model = read_model(model_path)

    def get_available_models(self) -> list[str]:
        return sorted(path.name for path in self.models_dir.iterdir())
'''

ENGINEKIT_SERVER = '''\
"""good-tts on enginekit's base class."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator

from enginekit.engine import AudioChunk, SynthesisRequest, TTSEngine
from enginekit.server import run


class GoodTTS(TTSEngine):
    def load(self, model_name: str) -> None:
        model_path = self.models_dir / model_name
        self.config = json.loads((model_path / "model.json").read_text(encoding="utf-8"))

    def unload(self) -> None:
        self.config = {}

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        yield from ()


if __name__ == "__main__":
    run(GoodTTS)
'''

# The line a server test inserts code after (present in both servers' load_model).
LOAD_LINE = "        model_path = self.models_dir / model_name\n"

ENGINE_YAML = f"""\
schema_version: 2
name: {NAME}
display_name: Good TTS
engine_type: tts
upstream:
  name: Example
  url: https://example.com
  license: MIT
variants:
  - tag: latest
    platforms: [linux/amd64]
    requires_gpu: false
models:
  - name: default
    display_name: Default
default_model: default
constraints:
  max_text_length: 1000
installation:
  python_version: "3.11"
  requires_gpu: false
"""

DOCKERFILE = f"""\
ARG BASE_IMAGE=python:3.11-slim
FROM ${{BASE_IMAGE}}
WORKDIR /app
COPY engines/tts/{NAME}/models/ ./models/
COPY engines/tts/{NAME}/server.py engines/tts/{NAME}/engine.yaml ./
COPY scripts/docker-entrypoint.sh ./
RUN chmod +x /app/docker-entrypoint.sh
RUN mkdir -p /app/models /app/external_models /app/samples
ENTRYPOINT ["/app/docker-entrypoint.sh"]
CMD ["sh", "-c", "python server.py --port ${{PORT:-8766}} --host 0.0.0.0"]
"""

DOCKERIGNORE = f"""\
# build context: the repository root
**/models/
!engines/tts/{NAME}/models/
"""

ENTRYPOINT = """\
#!/bin/sh
mkdir -p /app/models
exec "$@"
"""


def make_repo(root: Path, server: str = REFERENCE_SERVER) -> Path:
    """Write the good tree under `root`; returns the engine directory."""
    engine = root / "engines" / "tts" / NAME
    (engine / "models" / "default").mkdir(parents=True)
    (engine / "models" / "default" / "model.json").write_text("{}\n")
    (engine / "server.py").write_text(server)
    (engine / "engine.yaml").write_text(ENGINE_YAML)
    (engine / "Dockerfile").write_text(DOCKERFILE)
    (root / "scripts").mkdir()
    (root / "scripts" / "docker-entrypoint.sh").write_text(ENTRYPOINT)
    (root / ".dockerignore").write_text(DOCKERIGNORE)
    return engine


def edit(path: Path, old: str, new: str) -> None:
    """Replace one occurrence, failing loudly when the template changed under the test."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def line_of(path: Path, marker: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"{marker!r} not in {path}")


def check(engine: Path) -> EngineReport:
    return check_engine(EngineDir.at(engine))


def failing_rules(report: EngineReport) -> set[str]:
    return {f.rule for f in report.failures}
