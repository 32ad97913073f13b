"""`enginekit engines`: per-engine environments built by real venv and pip runs.

Each test builds a small checkout (a project installable in editable mode plus one engine); pip
uses the machine's package index as configured (it fetches only setuptools to build the project).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.engines import ENGINES

from enginekit.environments import (
    EnvironmentFailed,
    RequirementUnavailable,
    environment_of,
    install,
)

# A real package at a version that was never released: pip's "no matching distribution".
MISSING = "six==0.0.1"
PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "checkout-fixture"
version = "0.1.0"
dependencies = []

[tool.setuptools]
py-modules = ["checkout_fixture"]
"""


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout with one engine, engines/tts/demo (debug-tts's engine.yaml, renamed)."""
    root = tmp_path / "checkout"
    engine = root / "engines" / "tts" / "demo"
    engine.mkdir(parents=True)
    (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    (root / "checkout_fixture.py").write_text("WHERE = __file__\n", encoding="utf-8")
    manifest = (ENGINES / "tts/debug-tts/engine.yaml").read_text(encoding="utf-8")
    (engine / "engine.yaml").write_text(manifest.replace("name: debug-tts", "name: demo", 1))
    (engine / "server.py").write_text("", encoding="utf-8")
    (engine / "requirements.txt").write_text("# nothing beyond enginekit\n", encoding="utf-8")
    return root


def cli(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "enginekit", "engines", "--root", str(root), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def test_install_builds_the_venv_with_the_checkout_editable_then_does_nothing(
    checkout: Path,
) -> None:
    environment = environment_of("demo", checkout)
    assert environment.status() == "missing"
    lines: list[str] = []
    assert install(environment, lines.append) is True
    assert environment.status() == "installed"
    where = subprocess.run(
        [str(environment.python), "-c", "import checkout_fixture; print(checkout_fixture.WHERE)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert Path(where) == checkout / "checkout_fixture.py"  # editable: the checkout's own file
    assert any("creating" in line for line in lines)
    again: list[str] = []
    assert install(environment, again.append) is False
    assert again == [f"environment up to date at {environment.venv}"]


def test_a_changed_requirements_file_makes_the_environment_outdated(checkout: Path) -> None:
    environment = environment_of("tts/demo", checkout)
    install(environment, lambda _: None)
    environment.requirements.write_text("# changed\n", encoding="utf-8")
    assert environment.status() == "outdated"
    assert install(environment, lambda _: None) is True
    assert environment.status() == "installed"


def test_an_unavailable_requirement_is_one_clear_line(checkout: Path) -> None:
    requirements = checkout / "engines/tts/demo/requirements.txt"
    requirements.write_text(MISSING + "\n", encoding="utf-8")
    with pytest.raises(RequirementUnavailable) as raised:
        install(environment_of("demo", checkout), lambda _: None)
    assert raised.value.detail == (
        f"demo: requirement {MISSING} cannot be installed: no version "
        "of it on the configured package indexes fits (pip install failed)"
    )
    result = cli(checkout, "install", "demo")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"error: {raised.value.detail}"
    assert environment_of("demo", checkout).status() == "outdated"  # never stamped


def test_post_install_runs_on_the_engine_interpreter_and_a_failure_is_retried(
    checkout: Path,
) -> None:
    environment = environment_of("demo", checkout)
    environment.post_install.write_text(
        "import pathlib, sys\npathlib.Path('prefix.txt').write_text(sys.prefix)\nsys.exit(3)\n",
        encoding="utf-8",
    )
    with pytest.raises(EnvironmentFailed, match=r"^demo: post_install\.py failed"):
        install(environment, lambda _: None)
    assert (environment.engine.path / "prefix.txt").read_text() == str(environment.venv)
    assert environment.status() == "outdated"
    environment.post_install.write_text("print('fixed')\n", encoding="utf-8")
    lines: list[str] = []
    assert install(environment, lines.append) is True
    assert "  fixed" in lines
    assert environment.status() == "installed"


def test_concurrent_installs_build_the_environment_once(checkout: Path) -> None:
    command = [sys.executable, "-m", "enginekit", "engines", "--root", str(checkout)]
    runs = [
        subprocess.Popen([*command, "install", "demo"], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600)[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum("environment ready" in output for output in outputs) == 1, outputs
    assert environment_of("demo", checkout).status() == "installed"


def test_list_names_every_engine_with_its_environment(checkout: Path) -> None:
    shutil.copytree(checkout / "engines/tts/demo", checkout / "engines/stt/other")
    other = checkout / "engines/stt/other/engine.yaml"
    text = (
        other.read_text()
        .replace("name: demo", "name: other")
        .replace("engine_type: tts", "engine_type: stt")
    )
    other.write_text(text)
    result = cli(checkout, "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows == [
        {"name": "demo", "type": "tts", "environment": "missing",
         "path": str(checkout / "engines/tts/demo/.venv")},
        {"name": "other", "type": "stt", "environment": "missing",
         "path": str(checkout / "engines/stt/other/.venv")},
    ]  # fmt: skip


def test_an_unknown_engine_is_a_usage_error(checkout: Path) -> None:
    result = cli(checkout, "install", "nope")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"error: No engine 'nope' in {checkout / 'engines'} (engines: demo)"
    )
