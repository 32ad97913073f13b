"""Every engine of this repository passes `enginekit check`, in the repository's state at run time:
an engine without a Dockerfile yet has its Dockerfile group skipped, never failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from enginekit.conformance import RULES, EngineDir, Group, Status, check_engine, discover_engines

REPO = Path(__file__).resolve().parents[2]
ENGINES = discover_engines(REPO)


def test_the_known_engines_are_discovered() -> None:
    labels = {engine.label for engine in ENGINES}
    assert {"tts/debug-tts", "stt/debug-stt", "tts/piper", "stt/whisper"} <= labels


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.label)
def test_repository_engine_conforms(engine: EngineDir) -> None:
    report = check_engine(engine)
    assert report.passed, [f"{f.rule} {f.location(REPO)}: {f.message}" for f in report.failures]
    dockerfile = [f for f in report.findings if f.group is Group.DOCKERFILE]
    if not engine.dockerfile.is_file():
        assert all(f.status is Status.SKIP for f in dockerfile)
    else:
        assert any(f.status is Status.PASS for f in dockerfile)


def test_the_docs_describe_every_rule() -> None:
    text = (REPO / "docs" / "conformance.md").read_text(encoding="utf-8")
    missing = [rule for rule in RULES if f"`{rule}`" not in text]
    assert not missing, f"docs/conformance.md lacks {missing}"
