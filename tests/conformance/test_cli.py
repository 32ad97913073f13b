"""`enginekit check`: exit codes 0/1/2, the table, --json, and discovery from the working
directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.template import NAME, edit, make_repo
from enginekit.cli import main
from enginekit.conformance import RULES


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_conforming_engine_is_one_line_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, str(make_repo(tmp_path)))
    assert code == 0
    assert out == f"tts/{NAME}: conforms (19 rules)\n"


def test_a_failing_engine_shows_only_its_failures_with_place_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_repo(tmp_path)
    edit(engine / "engine.yaml", f"name: {NAME}", "name: other-tts")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, str(engine))
    assert code == 1
    head, failure, fix = out.splitlines()
    assert head == f"tts/{NAME}: fails 1 of 19 rules"
    assert failure.startswith(
        f"  engines/tts/{NAME}/engine.yaml:2: manifest.name: name 'other-tts'"
    )
    assert fix.startswith("    fix: Set `name:`")


def test_verbose_prints_every_rule_as_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--verbose", str(make_repo(tmp_path)))
    assert code == 0
    assert all(rule in out for rule in RULES)
    assert "PASS" in out
    assert "all conform" in out


def test_json_lists_every_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = make_repo(tmp_path)
    edit(engine / "Dockerfile", " --host 0.0.0.0", "")
    code, out, _ = run(capsys, "--json", str(engine))
    assert code == 1
    data = json.loads(out)
    assert data["passed"] is False
    [report] = data["engines"]
    assert report["engine"] == f"tts/{NAME}"
    assert report["passed"] is False
    [failure] = [f for f in report["findings"] if not f["passed"]]
    assert failure["rule"] == "dockerfile.cmd"
    assert failure["group"] == "Dockerfile"
    assert failure["status"] == "fail"
    assert failure["file"].endswith("Dockerfile")
    assert failure["line"] == 10
    assert failure["fix"]
    assert {"rule", "group", "status", "passed", "file", "line", "message", "fix"} == set(failure)


@pytest.mark.parametrize("target", ["not-an-engine", "missing"])
def test_a_path_that_is_not_an_engine_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    (tmp_path / "not-an-engine").mkdir()
    engine = make_repo(tmp_path / "repo")
    code, out, err = run(capsys, str(engine), str(tmp_path / target))
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert target in err


def test_without_paths_every_engine_of_the_repository_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path)
    (tmp_path / "engines" / "stt" / "half").mkdir(parents=True)  # neither yaml nor server.py
    monkeypatch.chdir(tmp_path / "engines" / "tts")
    code, out, _ = run(capsys, "--json")
    assert code == 0
    assert [r["engine"] for r in json.loads(out)["engines"]] == [f"tts/{NAME}"]


def test_without_an_engines_directory_it_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys)
    assert code == 2
    assert "engines/" in err


def test_unknown_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--bogus"])
    assert exit_info.value.code == 2
