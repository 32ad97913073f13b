"""The analyses under the rules: where a path in server.py points, how a Dockerfile is read, and
how .dockerignore patterns decide (the Docker SDK's matching)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from conformance.template import check, make_repo
from enginekit.conformance.dockerfile import Dockerfile, expand, shell_commands
from enginekit.conformance.dockerignore_rules import excluded, left_out
from enginekit.conformance.engine_dir import EngineDir
from enginekit.conformance.python_rules import check_server
from enginekit.engine import ENGINE_BASE_CLASSES

BASE = """\
import os
import shutil
from pathlib import Path

from enginekit.engine import TTSEngine


class Server(TTSEngine):
    def load_model(self, model_name):
        model_path = self.models_dir / model_name
{body}
"""


def failing(tmp_path: Path, body: str, template: str = BASE) -> dict[str, list[int | None]]:
    path = tmp_path / "server.py"
    path.write_text(template.format(body=textwrap.indent(textwrap.dedent(body), " " * 8)))
    found: dict[str, list[int | None]] = {}
    for finding in check_server(path):
        if not finding.passed:
            found.setdefault(finding.rule, []).append(finding.line)
    return found


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        # through names, os.path.join, f-strings, augmented assignment and attributes
        ('root = self.models_dir\ntarget = os.path.join(root, "x")\nopen(target, "wb")',
         "server.models-dir-read-only"),
        ('open(f"{self.models_dir}/{model_name}/state", mode="a")', "server.models-dir-read-only"),
        ('p = self.models_dir / model_name\np /= "sub"\np.write_bytes(b"")',
         "server.models-dir-read-only"),
        ('self.cache_dir = self.models_dir / "cache"\nself.cache_dir.mkdir()',
         "server.models-dir-read-only"),
        ("os.makedirs(str(model_path))", "server.models-dir-read-only"),
        ("tmp.rename(model_path)", "server.models-dir-read-only"),
        ('os.environ.setdefault("TORCH_HOME", str(self.models_dir))',
         "server.downloads-to-external"),
        ("os.environ.update(HF_HUB_CACHE=str(model_path))", "server.downloads-to-external"),
        ('snapshot_download("org/repo", local_dir=model_path)', "server.downloads-to-external"),
        ("for entry in sorted(self.external_models_dir.iterdir()):\n    print(entry)",
         "server.discovery-scans-models-dir"),
        ('glob.glob(f"{self.external_models_dir}/*")', "server.discovery-scans-models-dir"),
        ('x = f"/app/models/{model_name}"', "server.reads-models-dir"),
    ],
)  # fmt: skip
def test_violations_are_followed_through_the_code(tmp_path: Path, body: str, rule: str) -> None:
    found = failing(tmp_path, body)
    assert set(found) == {rule}
    assert all(line is not None and line > 10 for line in found[rule])


@pytest.mark.parametrize(
    "body",
    [
        '"""/app/models"""',  # not a docstring here (not first), so a hard-coded path
        'open(model_path / "config.json")',  # reading is the point
        "self.models_dir.mkdir(parents=True, exist_ok=True)",  # models/ itself, not into it
        "os.makedirs(self.models_dir, exist_ok=True)",
        "if not model_path.exists():\n"
        "    external = self.external_models_dir / model_path.name\n"
        "    external.mkdir(parents=True)\n"
        "    model_path.symlink_to(external)",
        'voices = sorted(model_path.glob("*.onnx"))',  # a model's own files, not discovery
        'for f in (self.external_models_dir / model_name).glob("*.bin"):\n    print(f)',
        'os.environ["XDG_CACHE_HOME"] = str(self.external_models_dir)',
        'os.environ["ENGINE_HOME"] = str(self.models_dir)',  # not a library cache
        "model_path.unlink()",  # removing a dangling link is allowed
    ],
)
def test_what_the_standard_allows_passes(tmp_path: Path, body: str) -> None:
    found = failing(tmp_path, body)
    if body.startswith('"""'):
        assert set(found) == {"server.reads-models-dir"}  # a string expression is code
    else:
        assert found == {}


def test_a_docstring_may_mention_app_models(tmp_path: Path) -> None:
    signature = "    def load_model(self, model_name):\n"
    docstring = '        """/app/models/<name> in a container."""\n'
    template = BASE.replace(signature, signature + docstring)
    assert failing(tmp_path, "pass", template) == {}


@pytest.mark.parametrize(
    ("imports", "base"),
    [
        ("import enginekit.engine as ee", "ee.STTEngine"),
        ("import enginekit.engine", "enginekit.engine.QualityEngine"),
        ("from enginekit.engine.base import TTSEngine as Tts", "Tts"),
        ("from enginekit.engine import TTSEngine", "TTSEngine"),
    ],
)
def test_enginekit_bases_are_recognised_however_imported(
    tmp_path: Path, imports: str, base: str
) -> None:
    path = tmp_path / "server.py"
    path.write_text(f"{imports}\n\nclass Mine({base}):\n    pass\n\nclass Child(Mine):\n    pass\n")
    assert all(f.passed and "base class Mine" in f.message for f in check_server(path)[:5])


@pytest.mark.parametrize("base", ENGINE_BASE_CLASSES, ids=lambda cls: cls.__name__)
def test_every_engine_base_class_of_the_code_is_trusted(tmp_path: Path, base: type) -> None:
    """The checker's trusted names come from enginekit.engine: a new base class that engines
    subclass passes the store-backed rules without a second list to update."""
    path = tmp_path / "server.py"
    path.write_text(
        f"from {base.__module__} import {base.__name__}\n\nclass Mine({base.__name__}):\n    pass\n"
    )
    findings = check_server(path)
    assert findings and all(f.passed for f in findings)
    assert all("base class Mine" in f.message for f in findings[:5])


def test_a_local_class_named_like_a_base_is_the_reference_style(tmp_path: Path) -> None:
    path = tmp_path / "server.py"
    path.write_text("class TTSEngine:\n    pass\n\nclass Mine(TTSEngine):\n    pass\n")
    failed = {f.rule for f in check_server(path) if not f.passed}
    assert failed == {"server.reads-models-dir", "server.discovery-scans-models-dir"}


def test_a_download_in_a_helper_checked_in_the_caller_passes(tmp_path: Path) -> None:
    path = tmp_path / "server.py"
    path.write_text(
        textwrap.dedent(
            """\
            class Server:
                def load_model(self, name):
                    model_path = self.models_dir / name
                    if not model_path.exists():
                        self.fetch(name)
                        model_path.symlink_to(self.external_models_dir / name)

                def fetch(self, name):
                    hf_hub_download("org/repo", local_dir=self.external_models_dir / name)

                def get_available_models(self):
                    return [p.name for p in self.models_dir.iterdir()]
            """
        )
    )
    assert all(f.passed for f in check_server(path))


def test_a_server_that_does_not_parse_fails_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "server.py"
    path.write_text("def broken(:\n")
    first, *rest = check_server(path)
    assert (first.rule, first.passed, first.line) == ("server.reads-models-dir", False, 1)
    assert all(f.status.value == "skip" for f in rest)


def test_shell_commands_are_split_like_sh_does() -> None:
    assert shell_commands("set -eux; mkdir -p /a && chmod +x '/b c' || true") == [
        ["set", "-eux"],
        ["mkdir", "-p", "/a"],
        ["chmod", "+x", "/b c"],
        ["true"],
    ]
    assert shell_commands('["sh", "-c", "python server.py --port ${PORT}"]') == [
        ["python", "server.py", "--port", "${PORT}"]
    ]
    assert shell_commands('["python", "server.py"]') == [["python", "server.py"]]


def test_the_final_stage_decides(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text(
        "ARG PY=3.10\n"
        "FROM python:${PY}-slim AS build\n"
        'ENTRYPOINT ["/app/docker-entrypoint.sh"]\n'
        "FROM build AS runtime\n"
        "CMD python server.py\n"
        "FROM python:3.12 AS other\n"
    )
    dockerfile = Dockerfile.parse(path)
    assert dockerfile.python_version() == ("3.12", 6)
    assert dockerfile.final("ENTRYPOINT") == []
    path.write_text(path.read_text().rsplit("FROM python:3.12", 1)[0])
    dockerfile = Dockerfile.parse(path)
    assert dockerfile.python_version() == ("3.10", 2)
    assert [i.line for i in dockerfile.final("ENTRYPOINT")] == [3]


@pytest.mark.parametrize(
    ("written", "expanded"),
    [
        ("${APP}/models", "/app/models"),
        ("$APP/models", "/app/models"),
        ("${APP:-/srv}/models", "/app/models"),
        ("${NOPE:-/srv}/models", "/srv/models"),
        ("${EMPTY:-/srv}/models", "/srv/models"),
        ("${APP:+/opt}/models", "/opt/models"),  # set: the word, not the value
        ("${NOPE:+/opt}/models", "/models"),  # unset: nothing
        ("$NOPE/models", "$NOPE/models"),  # unknown: as written
    ],
)
def test_variables_expand_as_docker_expands_them(written: str, expanded: str) -> None:
    assert expand(written, {"APP": "/app", "EMPTY": ""}) == expanded


def test_copy_chmod_counts_as_executable(tmp_path: Path) -> None:
    engine = make_repo(tmp_path)
    dockerfile = engine / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text()
        .replace("COPY scripts/", "COPY --chmod=0755 scripts/")
        .replace("RUN chmod +x /app/docker-entrypoint.sh\n", "")
    )
    assert check(engine).passed


@pytest.mark.parametrize(
    ("patterns", "is_excluded"),
    [
        (["**/models/"], True),
        (["**/models/", "!tts/x/models/"], False),
        (["!tts/x/models/", "**/models/"], True),  # the exception must come after
        (["tts/"], True),  # a parent directory
        (["tts/", "!tts/x/models/"], False),
        (["**/*.onnx"], False),  # files below, not the directory
        (["# comment-like pattern"], False),
        ([], False),
    ],
)
def test_dockerignore_decisions_are_the_sdks(patterns: list[str], is_excluded: bool) -> None:
    assert excluded(patterns, "tts/x/models") is is_excluded


def test_files_left_out_below_a_sent_directory_are_counted() -> None:
    files = ["v/voice.onnx", "v/voice.onnx.json"]
    assert left_out(["**/*.onnx"], "tts/x/models", files) == ["v/voice.onnx"]


def test_git_ignored_models_are_not_baked_in(tmp_path: Path) -> None:
    engine = tmp_path / "engines" / "tts" / "e"
    (engine / "models" / "kept").mkdir(parents=True)
    (engine / "models" / "placed").mkdir()
    (engine / "models" / "kept" / "m.bin").write_bytes(b"1")
    (engine / "models" / "placed" / "m.bin").write_bytes(b"2")
    (engine / "models" / ".tmp").write_bytes(b"3")
    (engine / "server.py").write_text("")
    (tmp_path / ".gitignore").write_text("engines/tts/e/models/placed/\n")
    walked = EngineDir.at(engine).baked_in_files
    assert [p.name for p in walked] == ["m.bin", "m.bin"]  # no git: every visible file
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert EngineDir.at(engine).baked_in_files == [engine / "models" / "kept" / "m.bin"]


@pytest.mark.parametrize(
    ("script", "hands_over"),
    [
        ('#!/bin/sh\nexec "$@"\n', True),
        ('#!/bin/sh\n[ $# -gt 0 ] && exec "$@"\n', True),
        ('#!/bin/sh\nexec "${@}"\n', True),
        ('#!/bin/sh\n# ends with exec "$@"\n', False),
        ('#!/bin/sh\n"$@"\n', False),  # runs CMD, but as a child: signals never reach it
    ],
)
def test_the_entrypoint_must_exec_the_command(
    tmp_path: Path, script: str, hands_over: bool
) -> None:
    engine = make_repo(tmp_path)
    (tmp_path / "scripts" / "docker-entrypoint.sh").write_text(script)
    failed = {f.rule for f in check(engine).failures}
    assert failed == (set() if hands_over else {"dockerfile.entrypoint"})
