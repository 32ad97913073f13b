"""`enginekit models`: outputs, exit codes and error lines as a user sees them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from enginekit.cli import main


@pytest.fixture
def engine(tmp_path: Path) -> Path:
    base = tmp_path / "engine"
    (base / "models" / "default").mkdir(parents=True)
    (base / "models" / "default" / "model.json").write_text("{}")
    (base / "external_models" / "custom").mkdir(parents=True)
    (base / "external_models" / "custom" / "model.bin").write_bytes(b"custom")
    return base


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_options_work_before_and_after_the_action(
    engine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run(capsys, "models", "--engine-dir", str(engine), "--json", "link")
    after = run(capsys, "models", "list", "--engine-dir", str(engine), "--json")
    assert before[0] == after[0] == 0
    assert [a["action"] for a in json.loads(before[1])] == ["linked"]
    listed = {m["name"]: m["kind"] for m in json.loads(after[1])}
    assert listed == {"custom": "external", "default": "baked-in"}


def test_pull_verify_rm_round_trip(
    engine: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"w" * 1000)
    args = ("--engine-dir", str(engine), "--json")

    code, out, _ = run(capsys, "models", "pull", "w", "--source", str(weights), *args)
    assert code == 0
    assert json.loads(out)["files"][0]["status"] == "ok"

    code, out, _ = run(capsys, "models", "verify", "w", *args)
    assert (code, json.loads(out)[0]["ok"]) == (0, True)

    (engine / "models" / "w" / "weights.bin").write_bytes(b"corrupted")
    code, out, _ = run(capsys, "models", "verify", *args)
    assert code == 1
    assert [f["status"] for r in json.loads(out) for f in r["files"]] == ["mismatch"]

    code, _, _ = run(capsys, "models", "rm", "w", *args)
    assert code == 0
    assert not (engine / "external_models" / "w").exists()


def test_removing_a_baked_in_model_fails_with_one_line(
    engine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "models", "rm", "default", "--engine-dir", str(engine))
    assert code == 1
    assert err.startswith("error: Model default is baked into")
    assert err.count("\n") == 1
    assert (engine / "models" / "default").is_dir()


@pytest.mark.parametrize(
    "argv",
    [
        ("models", "rm", "../etc"),
        ("models", "pull", "x", "--source", "ftp://host/x"),
        ("models", "pull", "x", "--source", "https://h/x", "--sha256", "zz"),
        ("models", "pull", "x", "--source", "https://h/", "--file", "../escape"),
    ],
)
def test_bad_input_is_a_usage_error(
    engine: Path, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, _, err = run(capsys, *argv, "--engine-dir", str(engine))
    assert code == 2
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_missing_engine_dir_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "models", "list", "--engine-dir", str(tmp_path / "typo"))
    assert code == 2
    assert "Engine directory not found" in err
    assert not (tmp_path / "typo").exists()


def test_unknown_action_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["models", "explode"])
    assert caught.value.code == 2


def test_invalid_log_level_is_one_clear_line(
    engine: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "loud")
    code, _, err = run(capsys, "models", "list", "--engine-dir", str(engine))
    assert code == 2
    assert (
        err
        == "error: Invalid LOG_LEVEL 'loud'; valid levels: DEBUG, INFO, WARNING, ERROR, CRITICAL\n"
    )


@pytest.mark.parametrize("action", ["list", "link", "pull", "verify", "rm", "prune"])
def test_every_action_is_documented(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["models", "--help"])
    overview = capsys.readouterr().out
    assert action in overview
    with pytest.raises(SystemExit):
        main(["models", action, "--help"])
    assert "--engine-dir" in capsys.readouterr().out


def test_listing_models_starts_without_the_download_and_validation_stacks(engine: Path) -> None:
    """`models list` is run by hand and by scripts: it stays quick by not importing httpx,
    pydantic or PyYAML (about half its start-up when it did); a pull still has them."""
    heavy = ("httpx", "pydantic", "yaml")
    probe = (
        "import sys; from enginekit.cli import main; code = main(sys.argv[1:]); "
        f"print(sorted(m for m in {heavy!r} if m in sys.modules), code, file=sys.stderr)"
    )
    listing = subprocess.run(
        [sys.executable, "-c", probe, "models", "list", "--engine-dir", str(engine), "--json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert [m["name"] for m in json.loads(listing.stdout)] == ["default"]
    assert listing.stderr.splitlines()[-1] == "[] 0"
    weights = engine / "weights.bin"
    weights.write_bytes(b"w")
    pull = subprocess.run(
        [sys.executable, "-c", probe, "models", "pull", "w", "--source", str(weights),
         "--engine-dir", str(engine), "--json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert pull.stderr.splitlines()[-1] == "['httpx', 'pydantic'] 0"
