"""The engine.yaml group: the JSON schema, plus the cross-checks of the reference's
validate_engines.py (name, engine_type, default_model, python_version) and max_text_length.

Schema errors come from `jsonschema` against `enginekit schema`'s own output, one finding per
error with its field and line; what the schema cannot express (download source schemes, digests)
comes from the typed loader once the schema is satisfied, so both views of engine.yaml agree.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from pydantic import ValidationError

from ..manifest import EngineManifest, json_schema
from .catalog import failed, passed, skipped
from .dockerfile_model import python_version
from .engine_dir import TYPE_DIRS, EngineDir
from .findings import Finding

__all__ = ["MANIFEST_RULES", "check_manifest"]

SCHEMA, NAME, TYPE, DEFAULT, MAX_TEXT, PYTHON = MANIFEST_RULES = (
    "manifest.schema",
    "manifest.name",
    "manifest.engine-type",
    "manifest.default-model",
    "manifest.max-text-length",
    "manifest.python-version",
)


@cache
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads(json_schema()))


class _Yaml:
    """The parsed data plus its node tree, so any field can be turned into a line number."""

    def __init__(self, path: Path, data: dict[str, Any], root: yaml.Node) -> None:
        self.path = path
        self.data = data
        self.root = root

    def line(self, field: Sequence[str | int]) -> int | None:
        node, line = self.root, self.root.start_mark.line + 1
        for part in field:
            if isinstance(node, yaml.MappingNode):
                pair = next((kv for kv in node.value if kv[0].value == part), None)
                if pair is None:
                    break
                line, node = pair[0].start_mark.line + 1, pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    break
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def get(self, *field: str) -> Any:
        value: Any = self.data
        for part in field:
            value = value.get(part) if isinstance(value, dict) else None
        return value


def check_manifest(engine: EngineDir) -> list[Finding]:
    path = engine.manifest
    loaded = _load(path)
    if isinstance(loaded, Finding):
        return [
            loaded,
            *(skipped(rule, path, "engine.yaml not analysed") for rule in MANIFEST_RULES[1:]),
        ]
    return [
        *_schema(loaded),
        _name(loaded, engine),
        _engine_type(loaded, engine),
        _default_model(loaded),
        _max_text_length(loaded),
        _python_version(loaded, engine),
    ]


def _load(path: Path) -> _Yaml | Finding:
    if not path.is_file():
        return failed(
            SCHEMA, path, "engine.yaml not found", fix="Add engine.yaml (schema_version 2)."
        )
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        return failed(SCHEMA, path, f"engine.yaml cannot be read: {exc}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        return failed(SCHEMA, path, f"not valid YAML: {getattr(exc, 'problem', exc)}", line)
    if not isinstance(data, dict) or root is None:
        return failed(SCHEMA, path, "engine.yaml must be a mapping at the top level", 1)
    return _Yaml(path, data, root)


def _leaf(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """Inside `anyOf: [X, null]` the useful error is X's, not "is not of type 'null'"."""
    useful = [e for e in error.context or [] if e.validator_value != "null"]
    return _leaf(max(useful, key=lambda e: len(e.absolute_path))) if useful else error


def _schema(doc: _Yaml) -> list[Finding]:
    errors = sorted(
        _validator().iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path))
    )
    problems = [(list(leaf.absolute_path), leaf.message) for leaf in map(_leaf, errors)]
    if not problems:
        problems = _typed_problems(doc.data)
    if not problems:
        return [passed(SCHEMA, doc.path, "valid against the engine.yaml schema")]
    return [
        failed(
            SCHEMA,
            doc.path,
            f"{'.'.join(map(str, field)) or '(top level)'}: {message}",
            doc.line(field),
        )
        for field, message in problems
    ]


def _typed_problems(data: dict[str, Any]) -> list[tuple[list[str | int], str]]:
    """What the typed loader adds (source URL schemes, sha256 digests); default_model membership
    is left to its own rule."""
    checked = {k: v for k, v in data.items() if not (k == "default_model" and isinstance(v, str))}
    try:
        EngineManifest.model_validate(checked)
    except ValidationError as exc:
        return [(list(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
    return []


def _name(doc: _Yaml, engine: EngineDir) -> Finding:
    name = doc.get("name")
    if not isinstance(name, str):
        return skipped(NAME, doc.path, "no name (reported by the schema rule)")
    if name != engine.name:
        message = f"name {name!r} differs from the directory name {engine.name!r}"
        return failed(NAME, doc.path, message, doc.line(["name"]))
    return passed(NAME, doc.path, f"name matches the directory ({name})", doc.line(["name"]))


def _engine_type(doc: _Yaml, engine: EngineDir) -> Finding:
    declared = doc.get("engine_type")
    expected = TYPE_DIRS.get(engine.type_dir)
    if expected is None:
        known = ", ".join(f"{d}/" for d in TYPE_DIRS)
        return skipped(TYPE, doc.path, f"parent directory {engine.type_dir}/ is none of {known}")
    if not isinstance(declared, str):
        return skipped(TYPE, doc.path, "no engine_type (reported by the schema rule)")
    line = doc.line(["engine_type"])
    if declared != expected:
        message = (
            f"engine_type {declared!r}, but the engine lives in {engine.type_dir}/ ({expected})"
        )
        return failed(TYPE, doc.path, message, line)
    return passed(TYPE, doc.path, f"engine_type {declared} matches {engine.type_dir}/", line)


def _default_model(doc: _Yaml) -> Finding:
    default = doc.get("default_model")
    if default is None:
        return skipped(DEFAULT, doc.path, "no default_model")
    models = doc.get("models")
    names = (
        [m.get("name") for m in models if isinstance(m, dict)] if isinstance(models, list) else []
    )
    line = doc.line(["default_model"])
    if default not in names:
        listing = ", ".join(map(str, names)) or "(none)"
        message = f"default_model {default!r} is not among models: {listing}"
        return failed(DEFAULT, doc.path, message, line)
    return passed(DEFAULT, doc.path, f"default_model {default!r} is in models", line)


def _max_text_length(doc: _Yaml) -> Finding:
    if doc.get("engine_type") != "tts":
        return skipped(MAX_TEXT, doc.path, "not a TTS engine")
    if doc.get("constraints", "max_text_length") is None:
        line = doc.line(["constraints"]) if doc.get("constraints") is not None else None
        return failed(MAX_TEXT, doc.path, "TTS engine without constraints.max_text_length", line)
    line = doc.line(["constraints", "max_text_length"])
    return passed(MAX_TEXT, doc.path, "constraints.max_text_length declared", line)


def _python_version(doc: _Yaml, engine: EngineDir) -> Finding:
    declared = doc.get("installation", "python_version")
    if not isinstance(declared, str):
        return skipped(PYTHON, doc.path, "engine.yaml declares no installation.python_version")
    if not engine.dockerfile.is_file():
        return skipped(PYTHON, doc.path, "no Dockerfile to compare with")
    try:
        base = python_version(engine.parsed_dockerfile)
    except (OSError, UnicodeDecodeError):
        return skipped(PYTHON, doc.path, "Dockerfile not readable")
    if base is None:
        return skipped(PYTHON, doc.path, "the Dockerfile's base image is not python:X.Y")
    image_version, from_line = base
    line = doc.line(["installation", "python_version"])
    if image_version != declared:
        message = (
            f"python_version {declared} but the Dockerfile (line {from_line}) builds on "
            f"python:{image_version}"
        )
        return failed(PYTHON, doc.path, message, line)
    return passed(PYTHON, doc.path, f"python {declared} in engine.yaml and the Dockerfile", line)
