"""engine.yaml: typed loading, errors that name file, field and problem, and the schema file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from enginekit.manifest import ManifestError, json_schema, load_manifest

REPO = Path(__file__).resolve().parents[2]
ENGINE_YAMLS = sorted(REPO.glob("engines/*/*/engine.yaml"))


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "engine.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def valid() -> dict[str, object]:
    return yaml.safe_load((REPO / "engines/tts/debug-tts/engine.yaml").read_text())


@pytest.mark.parametrize("path", ENGINE_YAMLS, ids=lambda p: p.parent.name)
def test_every_engine_manifest_is_valid(path: Path) -> None:
    manifest = load_manifest(path)
    assert manifest.name == path.parent.name


def test_checked_in_schema_is_current() -> None:
    assert (REPO / "schemas/engine.schema.json").read_text() == json_schema(), (
        "run: enginekit schema --output schemas/engine.schema.json"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 1}, "schema_version: Input should be 2"),
        ({"name": "Debug_TTS"}, "name: String should match pattern"),
        ({"engine_type": "video"}, "engine_type: Input should be 'tts', 'stt', 'text' or 'audio'"),
        ({"variants": []}, "variants: List should have at least 1 item"),
        ({"supported_languages": ["english"]}, "supported_languages.0: String should match"),
        ({"default_model": "missing"}, "default_model 'missing' is not among models"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"constraints": {"max_text_length": 0}}, "constraints.max_text_length: Input should be"),
        ({"parameters": {"speed": {"type": "float"}}}, "parameters.speed.default: Field required"),
    ],
)
def test_invalid_manifest_errors_name_file_field_and_problem(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    path = write(tmp_path, valid() | change)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert caught.value.detail.startswith(f"{path}: ")
    assert message in caught.value.detail


def test_model_metadata_keeps_extra_keys_verbatim(tmp_path: Path) -> None:
    data = valid()
    data["models"] = [{"name": "default", "display_name": "D", "size_mb": 39, "speed": "~10x"}]
    manifest = load_manifest(write(tmp_path, data))
    assert manifest.models[0].metadata() == {"size_mb": 39, "speed": "~10x"}


def test_catalog_source_is_a_store_source(tmp_path: Path) -> None:
    data = valid()
    data["models"].append(
        {
            "name": "remote",
            "display_name": "R",
            "source": {"url": "hf://org/repo", "files": [{"path": "model.json", "size": 10}]},
        }
    )
    manifest = load_manifest(write(tmp_path, data))
    source = manifest.catalog_model("remote").source
    assert source is not None and source.files[0].size == 10


def test_unreadable_and_non_mapping_yaml(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        load_manifest(tmp_path / "missing.yaml")
    (tmp_path / "engine.yaml").write_text("- a list\n")
    with pytest.raises(ManifestError, match="expected a mapping"):
        load_manifest(tmp_path / "engine.yaml")
    (tmp_path / "engine.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ManifestError, match="not valid YAML"):
        load_manifest(tmp_path / "engine.yaml")
