"""EngineLayout: the standard's base-path rule."""

from __future__ import annotations

from pathlib import Path

from enginekit.layout import EngineLayout


def test_engine_home_wins_over_everything(tmp_path: Path) -> None:
    container = tmp_path / "app"
    container.mkdir()
    (container / "server.py").write_text("")
    layout = EngineLayout.detect(
        engine_home=tmp_path / "home",
        script=tmp_path / "elsewhere" / "server.py",
        container_root=container,
    )
    assert layout.base_path == tmp_path / "home"


def test_container_root_used_when_its_server_py_exists(tmp_path: Path) -> None:
    container = tmp_path / "app"
    container.mkdir()
    (container / "server.py").write_text("")
    layout = EngineLayout.detect(script=tmp_path / "x" / "server.py", container_root=container)
    assert layout.models_dir == container / "models"
    assert layout.external_models_dir == container / "external_models"


def test_container_root_without_server_py_falls_back_to_script_dir(tmp_path: Path) -> None:
    container = tmp_path / "app"
    container.mkdir()
    engine = tmp_path / "engines" / "tts" / "debug"
    layout = EngineLayout.detect(script=engine / "server.py", container_root=container)
    assert layout.base_path == engine
    assert layout.samples_dir == engine / "samples"


def test_finding_a_layout_writes_nothing(tmp_path: Path) -> None:
    """`enginekit models list` on an engine directory must not create anything in it."""
    layout = EngineLayout.at(tmp_path / "engine")
    assert not (tmp_path / "engine").exists()
    assert EngineLayout.detect(script=tmp_path / "other" / "server.py").base_path == (
        tmp_path / "other"
    )
    assert not (tmp_path / "other").exists()
    assert layout.models_dir == tmp_path / "engine" / "models"


def test_models_and_samples_created_but_never_external_models(tmp_path: Path) -> None:
    layout = EngineLayout.at(tmp_path / "engine")
    layout.create_directories()
    assert layout.models_dir.is_dir()
    assert layout.samples_dir.is_dir()
    assert not layout.external_models_dir.exists()
