"""Engines written without enginekit, in the reference style (standalone server.py, hand-written
Dockerfiles that fetch models at build time): the checker gives the checklist's verdict, not a
false alarm, whatever way the Dockerfile creates a directory or the server builds a path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from conformance.template import NAME, check, failing_rules, line_of, make_repo

DIRS = "dockerfile.standard-dirs"
MKDIR = "RUN mkdir -p /app/models /app/external_models /app/samples\n"
FROM = "ARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n"


def with_dockerfile(tmp_path: Path, replace: str, by: str) -> Path:
    engine = make_repo(tmp_path)
    dockerfile = engine / "Dockerfile"
    text = dockerfile.read_text()
    assert replace in text
    dockerfile.write_text(text.replace(replace, by, 1))
    return engine


# Each replaces the template's `RUN mkdir -p` line. /app/models also comes from the template's
# `COPY .../models/ ./models/`, so the cases below are about external_models/ and samples/.
CREATES = {
    "mkdir-of-a-child-then-a-later-run": "RUN mkdir -p /app/models/v2.0.2 && echo baked\n"
    "RUN mkdir -p /app/external_models/cache /app/samples\n",
    "install-d": "RUN install -d -m 0755 /app/external_models /app/samples\n",
    "workdir": "WORKDIR /app/external_models\nWORKDIR /app/samples\nWORKDIR /app\n",
    "cd-then-relative-mkdir": "RUN set -e; cd /app \\\n    && mkdir -p external_models samples\n",
    "relative-to-workdir": "RUN mkdir -p external_models samples\n",
    "arg-and-env-expansion": "ARG APP_DIR=/app\nENV DATA=${APP_DIR}\n"
    "RUN mkdir -p ${DATA}/external_models $DATA/samples\n",
    "volume-and-copy-into": 'VOLUME ["/app/external_models"]\n'
    "COPY scripts/docker-entrypoint.sh /app/samples/\n",
    "plain-mkdir-under-an-existing-parent": "RUN mkdir /app/external_models /app/samples\n",
}
MISSES = {
    "samples-missing": ("RUN mkdir -p /app/external_models\n", "/app/samples"),
    "elsewhere": ("RUN mkdir -p /opt/app/external_models /opt/app/samples\n", "/app/samples"),
    "mkdir-only-in-a-string": ('RUN echo "mkdir -p /app/external_models /app/samples"\n',
                               "/app/external_models"),
    "unset-variable": ("RUN mkdir -p $UNSET/external_models $UNSET/samples\n", "/app/samples"),
}  # fmt: skip


@pytest.mark.parametrize("instructions", CREATES.values(), ids=CREATES.keys())
def test_a_directory_any_instruction_creates_exists(tmp_path: Path, instructions: str) -> None:
    engine = with_dockerfile(tmp_path, MKDIR, instructions)
    report = check(engine)
    assert report.passed, [f.message for f in report.failures]


@pytest.mark.parametrize(("instructions", "missing"), MISSES.values(), ids=MISSES.keys())
def test_a_directory_no_instruction_creates_is_missing(
    tmp_path: Path, instructions: str, missing: str
) -> None:
    engine = with_dockerfile(tmp_path, MKDIR, instructions)
    report = check(engine)
    assert failing_rules(report) == {DIRS}
    [finding] = report.failures
    assert missing in finding.message


def test_only_the_final_stage_and_what_it_is_built_on_count(tmp_path: Path) -> None:
    builder = "FROM python:3.11-slim AS builder\nRUN mkdir -p /app/external_models /app/samples\n"
    engine = with_dockerfile(tmp_path, FROM, builder + FROM)
    # The directories of a stage the image is not built on are not in it.
    edit_out = (engine / "Dockerfile").read_text().replace(MKDIR, "")
    (engine / "Dockerfile").write_text(edit_out)
    assert failing_rules(check(engine)) == {DIRS}
    (engine / "Dockerfile").write_text(edit_out.replace(FROM, "FROM builder AS runtime\n"))
    assert failing_rules(check(engine)) == set()


def test_a_copy_from_another_stage_creates_its_destination(tmp_path: Path) -> None:
    builder = "FROM python:3.11-slim AS fetch\nRUN mkdir -p /out/samples\n"
    engine = with_dockerfile(tmp_path, FROM, builder + FROM)
    (engine / "Dockerfile").write_text(
        (engine / "Dockerfile")
        .read_text()
        .replace(
            MKDIR, "COPY --from=fetch /out/samples /app/samples\nVOLUME /app/external_models\n"
        )
    )
    assert check(engine).passed


def test_the_standards_dockerfile_written_by_hand_conforms(tmp_path: Path) -> None:
    """The issue's reference-style Dockerfile: models fetched at build time into a child of
    /app/models, the other directories made in a later RUN, and no COPY of models/."""
    engine = make_repo(tmp_path)
    for model in (engine / "models").rglob("*"):
        if model.is_file():
            model.unlink()
    (engine / "Dockerfile").write_text(
        textwrap.dedent(
            f"""\
            FROM python:3.11-slim
            ARG APP_DIR=/app
            WORKDIR ${{APP_DIR}}
            COPY engines/tts/{NAME}/server.py ./
            RUN mkdir -p /app/models/v2.0.2 \\
                && python -c "print('download v2.0.2 into /app/models/v2.0.2')"
            COPY scripts/docker-entrypoint.sh ./
            RUN chmod +x docker-entrypoint.sh
            RUN mkdir -p /app/external_models /app/samples
            ENTRYPOINT ["/app/docker-entrypoint.sh"]
            CMD ["sh", "-c", "python server.py --port ${{PORT:-8766}} --host 0.0.0.0"]
            """
        )
    )
    report = check(engine)
    assert report.passed, [f.message for f in report.failures]
    [dirs] = [f for f in report.findings if f.rule == DIRS]
    assert dirs.line == line_of(engine / "Dockerfile", "/app/external_models /app/samples")


STANDALONE = '''\
"""A standalone server that builds every path through helpers."""

import sys
from pathlib import Path

from model_hub import download_model, read_model


class HelperServer:
    def __init__(self):
        self.base_path = Path(sys.argv[0]).parent.resolve()
        self.models_dir = self.base_path / "models"
        self.external_models_dir = self.base_path / "external_models"

    @property
    def model_root(self):
        return self.models_dir

    def _model_path(self, name):
        return self.model_root / name

    def _external_path(self, name):
        return self.external_models_dir / name

    def load_model(self, model_name):
        model_path = self._model_path(model_name)
        if not model_path.exists():
            external_path = self._external_path(model_name)
            download_model("https://example.com/" + model_name, external_path)
            model_path.symlink_to(external_path)
        self.model = read_model(model_path)

    def get_available_models(self):
        return self._scan()

    def _scan(self):
        return sorted(path.name for path in self.model_root.iterdir())
'''
SCAN = "        return sorted(path.name for path in self.model_root.iterdir())\n"
LOADER = '''\
"""A standalone Whisper-style server: the library keeps its cache where it is told."""

import os
from pathlib import Path

from faster_whisper import WhisperModel


class Server:
    def __init__(self):
        self.models_dir = Path(os.environ.get("ENGINE_HOME", ".")) / "models"
        self.external_models_dir = self.models_dir.parent / "external_models"

    def cache_root(self):
        return {root}

    def load_model(self, model_name):
        self.model = WhisperModel(model_name, download_root=str(self.cache_root()))

    def get_available_models(self):
        return [path.name for path in self.models_dir.iterdir()]
'''


def server_findings(tmp_path: Path, code: str) -> dict[str, int | None]:
    engine = make_repo(tmp_path, code)
    return {f.rule: f.line for f in check(engine).failures}


def test_paths_derived_through_helpers_and_properties_pass(tmp_path: Path) -> None:
    assert server_findings(tmp_path, STANDALONE) == {}


@pytest.mark.parametrize(
    ("listing", "why"),
    [
        ('        return ["default", "large"]\n', "hard-coded"),
        ("        return sorted(self.config['models'])\n", "config-driven"),
        ("        return [m['name'] for m in json.load(open('models.json'))]\n", "a listing file"),
    ],
)
def test_discovery_that_does_not_scan_models_dir_fails(
    tmp_path: Path, listing: str, why: str
) -> None:
    """Even when the file scans models_dir elsewhere (here: to pick voices at start)."""
    elsewhere = "        self.voices = sorted(self.models_dir.glob('*.onnx'))\n"
    code = STANDALONE.replace(SCAN, listing).replace(
        '        self.external_models_dir = self.base_path / "external_models"\n',
        '        self.external_models_dir = self.base_path / "external_models"\n' + elsewhere,
    )
    path = make_repo(tmp_path, code) / "server.py"
    failures = {f.rule: f for f in check(path.parent).failures}
    assert set(failures) == {"server.discovery-scans-models-dir"}, why
    assert failures["server.discovery-scans-models-dir"].line == line_of(
        path, "def get_available_models"
    )


def test_a_loader_told_to_cache_in_models_dir_through_a_helper_fails(tmp_path: Path) -> None:
    code = LOADER.format(root="self.models_dir")
    engine = make_repo(tmp_path, code)
    failures = {f.rule: f.line for f in check(engine).failures}
    assert failures == {
        "server.downloads-to-external": line_of(engine / "server.py", "download_root")
    }


@pytest.mark.parametrize("root", ["str(self.cache_root())", "str(self.external_models_dir)"])
def test_a_loader_caching_in_external_models_needs_no_link_of_its_own(
    tmp_path: Path, root: str
) -> None:
    """The standard's Scenario 4 with a keyword instead of WHISPER_CACHE: the library keeps its
    cache in external_models/, and the entrypoint links it at the next start."""
    code = LOADER.format(root="self.external_models_dir").replace("str(self.cache_root())", root)
    assert server_findings(tmp_path, code) == {}
