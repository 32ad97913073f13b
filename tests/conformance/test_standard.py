"""The standard's own snippets, extracted from the seed document at test time, pass or fail exactly
as the standard says: its entrypoint, Dockerfile pattern, .dockerignore and conforming example
pass; without the .dockerignore exception an engine with baked-in models fails with the standard's
error and is told the standard's fix."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from conformance.template import ENGINE_YAML, NAME, check, failing_rules
from enginekit.conformance import EngineReport, Status

REPO = Path(__file__).resolve().parents[2]
STANDARD = REPO.parent / "shared" / "seeds" / "model-management-standard.md"

pytestmark = pytest.mark.skipif(
    not STANDARD.is_file(), reason=f"the standard is not at {STANDARD} (../shared missing)"
)


def snippet(heading: str) -> str:
    """The first fenced code block after a heading of the standard."""
    text = STANDARD.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    block = re.search(r"```[^\n]*\n(.*?)```", text[start:], re.DOTALL)
    assert block, f"no code block after {heading!r}"
    return block.group(1)


def conforming_server(extra: str = "") -> str:
    """The checklist's "Example: Conforming Engine" as a class (its `...` placeholders dropped)."""
    body = snippet("### Example: Conforming Engine (debug-tts)").replace(", ...)", ")")
    return "class DebugTTSServer(BaseEngineServer):\n" + textwrap.indent(extra + body, "    ")


def standard_tree(
    root: Path,
    engine_name: str,
    dockerignore: str | None = None,
    entrypoint: str | None = None,
    server: str | None = None,
) -> Path:
    """The standard's layout: the build context holds tts/<engine>/ and scripts/."""
    engine = root / "tts" / engine_name
    (engine / "models" / "default").mkdir(parents=True)
    (engine / "models" / "default" / "model.json").write_text("{}\n")
    (engine / "server.py").write_text(server or conforming_server())
    (engine / "engine.yaml").write_text(
        ENGINE_YAML.replace(f"name: {NAME}", f"name: {engine_name}")
    )
    dockerfile = snippet("## Dockerfile Pattern").replace("engine-name", engine_name)
    (engine / "Dockerfile").write_text(dockerfile)
    (root / "scripts").mkdir()
    (root / "scripts" / "docker-entrypoint.sh").write_text(
        entrypoint or snippet("## Docker Entrypoint Script")
    )
    (root / ".dockerignore").write_text(dockerignore or snippet("## .dockerignore Configuration"))
    return engine


def status(report: EngineReport, rule: str) -> Status:
    [finding] = [f for f in report.findings if f.rule == rule]
    return finding.status


def test_the_standards_snippets_conform_together(tmp_path: Path) -> None:
    report = check(standard_tree(tmp_path, "debug-tts"))
    assert report.passed, [f"{f.rule}: {f.message}" for f in report.failures]
    applied = [f.rule for f in report.findings if f.status is Status.PASS]
    assert {r for r in applied if r.startswith(("dockerfile.", "dockerignore.", "server."))} == {
        "dockerfile.copy-models",
        "dockerfile.copy-entrypoint",
        "dockerfile.entrypoint-executable",
        "dockerfile.standard-dirs",
        "dockerfile.entrypoint",
        "dockerfile.cmd",
        "dockerignore.models-in-context",
        "server.reads-models-dir",
        "server.downloads-to-external",
        "server.symlink-after-download",
        "server.baked-in-precedence",
        "server.discovery-scans-models-dir",
        "server.models-dir-read-only",
    }


def test_without_the_exception_baked_in_models_fail(tmp_path: Path) -> None:
    ignore = snippet("## .dockerignore Configuration")
    without = "\n".join(line for line in ignore.splitlines() if not line.startswith("!"))
    report = check(standard_tree(tmp_path, "debug-tts", dockerignore=without))
    assert failing_rules(report) == {"dockerignore.models-in-context"}
    [finding] = report.failures
    assert "`!tts/debug-tts/models/`" in finding.fix
    assert finding.line == without.splitlines().index("**/models/") + 1


def test_the_troubleshooting_error_and_fix_are_the_standards(tmp_path: Path) -> None:
    """The Dockerfile pattern for `engine-name` without its exception: the standard's own error,
    and its own fix, which makes the check pass."""
    engine = standard_tree(tmp_path, "engine-name")
    report = check(engine)
    assert failing_rules(report) == {"dockerignore.models-in-context"}
    [finding] = report.failures
    troubleshooting = STANDARD.read_text(encoding="utf-8")
    error = re.search(r"ERROR: (failed to compute cache key: .*not found)", troubleshooting)
    advice = re.search(r"Add `(![^`]+)` to `\.dockerignore`", troubleshooting)
    assert error and advice
    assert error.group(1) in finding.message
    assert f"`{advice.group(1)}`" in finding.fix
    with (tmp_path / ".dockerignore").open("a") as ignore:
        ignore.write(f"\n{advice.group(1)}\n")
    assert check(engine).passed


def test_an_entrypoint_that_never_execs_the_command_fails(tmp_path: Path) -> None:
    entrypoint = snippet("## Docker Entrypoint Script")
    assert 'exec "$@"' in entrypoint
    broken = entrypoint.replace('exec "$@"', 'echo "[entrypoint] done"')
    report = check(standard_tree(tmp_path, "debug-tts", entrypoint=broken))
    assert failing_rules(report) == {"dockerfile.entrypoint"}


@pytest.mark.parametrize(
    ("directory", "conforms"), [("external_models_dir", True), ("models_dir", False)]
)
def test_scenario_4_cache_variable_must_point_at_external_models(
    tmp_path: Path, directory: str, conforms: bool
) -> None:
    """ "Downloads must go to external_models/ for persistence!" (Scenario 4)."""
    scenario = snippet("### Scenario 4: On-Demand Download (Whisper, etc.)")
    assert "self.external_models_dir" in scenario
    setup = scenario.replace("self.external_models_dir", f"self.{directory}")
    init = "def __init__(self):\n" + textwrap.indent(setup, "    ") + "\n"
    report = check(standard_tree(tmp_path, "debug-tts", server=conforming_server(init)))
    assert report.passed is conforms
    assert failing_rules(report) == (set() if conforms else {"server.downloads-to-external"})
