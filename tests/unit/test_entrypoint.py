"""scripts/docker-entrypoint.sh: the linking rule in shell, identical to link_external()."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.engines import engine_layout

from enginekit.settings import StoreSettings
from enginekit.store import ModelStore
from enginekit.store.names import RESERVED_NAMES

ENTRYPOINT = Path(__file__).resolve().parents[2] / "scripts" / "docker-entrypoint.sh"

KINDS_EXTERNAL = ("dir", "file", "dangling")
KINDS_MODELS = ("baked-dir", "baked-file", "dangling", "live-link")

# Names neither side may link (reserved ones such as an ext4 root's lost+found, hidden entries
# such as the store's .enginekit) come up as often as ordinary ones.
names = st.one_of(
    st.sampled_from([*sorted(RESERVED_NAMES), ".hidden", ".enginekit", "lost+found2"]),
    st.text(alphabet="abcXYZ019 -_.é+", min_size=1, max_size=8).filter(
        lambda n: n not in (".", "..")
    ),
)


@st.composite
def trees(draw: st.DrawFn) -> tuple[dict[str, str], dict[str, str]]:
    """external_models/ and models/ entries; models/ often reuses an external name, so a
    dangling link that the entrypoint must replace is common, not a rare collision."""
    external = draw(st.dictionaries(names, st.sampled_from(KINDS_EXTERNAL), max_size=6))
    model_names = st.one_of(names, st.sampled_from(sorted(external))) if external else names
    models = draw(st.dictionaries(model_names, st.sampled_from(KINDS_MODELS), max_size=4))
    return external, models


def run_entrypoint(base: Path, *command: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "MODELS_DIR": str(base / "models"),
        "EXTERNAL_DIR": str(base / "external_models"),
        **env,
    }
    return subprocess.run(
        ["bash", str(ENTRYPOINT), *command],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def build_tree(base: Path, external: dict[str, str], models: dict[str, str]) -> None:
    (base / "external_models").mkdir(parents=True)
    (base / "models").mkdir()
    for name, kind in external.items():
        path = base / "external_models" / name
        if kind == "dir":
            path.mkdir()
            (path / "model.bin").write_text(name)
        elif kind == "file":
            path.write_text(name)
        else:
            path.symlink_to("/nonexistent/target")
    for name, kind in models.items():
        path = base / "models" / name
        if kind == "baked-dir":
            path.mkdir()
        elif kind == "baked-file":
            path.write_text("baked")
        elif kind == "dangling":
            path.symlink_to(f"../external_models/{name}.old")
        else:
            path.symlink_to("../external_models")


def snapshot(models_dir: Path) -> dict[str, str]:
    """Each entry of models/ as 'link:<text>' or 'dir' / 'file'."""
    result = {}
    for entry in os.scandir(models_dir):
        if entry.is_symlink():
            result[entry.name] = f"link:{os.readlink(entry.path)}"
        else:
            result[entry.name] = "dir" if entry.is_dir() else "file"
    return result


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=trees())
@example(tree=({"lost+found": "dir", ".hidden": "dir", "m": "dir"}, {"m": "dangling"}))
def test_shell_and_python_link_identical_trees(tree: tuple[dict[str, str], dict[str, str]]) -> None:
    external, models = tree
    with tempfile.TemporaryDirectory() as tmp:
        shell_base, python_base = Path(tmp) / "shell", Path(tmp) / "python"
        build_tree(shell_base, external, models)
        build_tree(python_base, external, models)

        result = run_entrypoint(shell_base)
        ModelStore(engine_layout(python_base), StoreSettings()).link_external()

        assert result.returncode == 0, result.stderr
        assert snapshot(shell_base / "models") == snapshot(python_base / "models")


def test_links_are_relative_and_baked_in_wins(tmp_path: Path) -> None:
    build_tree(tmp_path, {"custom": "dir", "default": "dir"}, {"default": "baked-dir"})
    result = run_entrypoint(tmp_path)
    assert result.returncode == 0
    assert os.readlink(tmp_path / "models" / "custom") == "../external_models/custom"
    assert not (tmp_path / "models" / "default").is_symlink()
    assert "Kept baked-in: default" in result.stdout
    assert "2 models available" in result.stdout


def test_lost_and_found_of_an_ext4_volume_root_is_never_linked(tmp_path: Path) -> None:
    """external_models/ mounted from the root of an ext4 volume holds lost+found: neither the
    entrypoint nor link_external() may turn it, or a hidden entry, into a model."""
    build_tree(tmp_path, {"lost+found": "dir", ".enginekit": "dir", "voice": "dir"}, {})
    result = run_entrypoint(tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "models")) == ["voice"]
    assert "1 models available" in result.stdout

    python_base = tmp_path / "python"
    build_tree(python_base, {"lost+found": "dir", ".enginekit": "dir", "voice": "dir"}, {})
    ModelStore(engine_layout(python_base), StoreSettings()).link_external()
    assert snapshot(python_base / "models") == snapshot(tmp_path / "models")


def test_dangling_link_is_replaced_not_fatal(tmp_path: Path) -> None:
    build_tree(tmp_path, {"custom": "dir"}, {})
    (tmp_path / "models" / "custom").symlink_to("/gone/custom")
    result = run_entrypoint(tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "models" / "custom" / "model.bin").read_text() == "custom"
    assert "Replaced dangling link: custom" in result.stdout


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    build_tree(tmp_path, {"a": "dir", "b": "file"}, {"default": "baked-dir"})
    run_entrypoint(tmp_path)
    first = snapshot(tmp_path / "models")
    result = run_entrypoint(tmp_path)
    assert result.returncode == 0
    assert snapshot(tmp_path / "models") == first
    assert "Linked" not in result.stdout


def test_missing_external_dir_still_runs_the_command(tmp_path: Path) -> None:
    result = run_entrypoint(tmp_path, "sh", "-c", "echo served; exit 7")
    assert result.returncode == 7
    assert "served" in result.stdout
    assert (tmp_path / "models").is_dir()
    assert not (tmp_path / "external_models").exists()


def test_exec_passes_arguments_through_unchanged(tmp_path: Path) -> None:
    build_tree(tmp_path, {}, {})
    result = run_entrypoint(tmp_path, "printf", "%s|", "a b", "--port", "")
    assert result.stdout.endswith("a b|--port||")


def test_quiet_below_warning(tmp_path: Path) -> None:
    build_tree(tmp_path, {"custom": "dir"}, {})
    result = run_entrypoint(tmp_path, LOG_LEVEL="warning")
    assert result.stdout == ""
    assert (tmp_path / "models" / "custom").is_symlink()


def test_entrypoint_is_clean_under_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (.ci/run installs it)")
    result = subprocess.run(
        ["shellcheck", str(ENTRYPOINT)], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
