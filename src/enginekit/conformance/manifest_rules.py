"""The engine.yaml group: validation, plus the cross-checks of the reference's validate_engines.py
(name, engine_type, default_model, python_version) and max_text_length.

engine.yaml is validated once, by the same pydantic models the server loads it with (and that
`enginekit schema` exports), so the check and the server never disagree; each error's field is
looked up in the YAML node tree for its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..manifest import EngineManifest
from .engine_dir import TYPE_DIRS, EngineDir
from .findings import Finding, Group, failed, group_rules, passed, skipped, unanalysed

MANIFEST_RULES = group_rules(Group.MANIFEST)
SCHEMA, NAME, TYPE, DEFAULT, MAX_TEXT, PYTHON = MANIFEST_RULES


@dataclass(frozen=True)
class _Yaml:
    """The parsed data plus its node tree, so any field can be turned into a line number."""

    path: Path
    data: dict[str, Any]
    root: yaml.Node

    def line(self, *field: str | int) -> int:
        """The line of the deepest part of `field` that the file has."""
        node, line = self.root, self.root.start_mark.line
        for part in field:
            if isinstance(node, yaml.MappingNode):
                pairs = [(k, v) for k, v in node.value if k.value == part]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                pairs = [(v, v) for v in node.value[part : part + 1]]
            else:
                break
            if not pairs:
                break
            line, node = pairs[0][0].start_mark.line, pairs[0][1]
        return line + 1

    def get(self, *field: str) -> Any:
        value: Any = self.data
        for part in field:
            value = value.get(part) if isinstance(value, dict) else None
        return value


def check_manifest(engine: EngineDir) -> list[Finding]:
    loaded = _load(engine.path / "engine.yaml")
    if isinstance(loaded, Finding):
        return unanalysed(MANIFEST_RULES, loaded, "engine.yaml not analysed")
    rules = (_name, _engine_type, _default_model, _max_text_length, _python_version)
    return [*_schema(loaded), *(rule(loaded, engine) for rule in rules)]


def _load(path: Path) -> _Yaml | Finding:
    if not path.is_file():
        return failed(
            SCHEMA, path, "engine.yaml not found", fix="Add engine.yaml (schema_version 2)."
        )
    try:
        text = path.read_text(encoding="utf-8")
        root, data = yaml.compose(text, Loader=yaml.SafeLoader), yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        return failed(SCHEMA, path, f"engine.yaml cannot be read: {exc}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        return failed(SCHEMA, path, f"not valid YAML: {getattr(exc, 'problem', exc)}", line)
    if not isinstance(data, dict) or root is None:
        return failed(SCHEMA, path, "engine.yaml must be a mapping at the top level", 1)
    return _Yaml(path, data, root)


def _schema(doc: _Yaml) -> list[Finding]:
    # default_model membership is left to its own rule, so it is reported once.
    data = {k: v for k, v in doc.data.items() if k != "default_model" or not isinstance(v, str)}
    try:
        EngineManifest.model_validate(data)
    except ValidationError as exc:
        errors = [(e["loc"], e["msg"].removeprefix("Value error, ")) for e in exc.errors()]
        return [
            failed(
                SCHEMA,
                doc.path,
                f"{'.'.join(map(str, loc)) or '(top level)'}: {msg}",
                doc.line(*loc),
            )
            for loc, msg in errors
        ]
    return [passed(SCHEMA, doc.path, "valid against the engine.yaml schema")]


def _name(doc: _Yaml, engine: EngineDir) -> Finding:
    name, directory, line = doc.get("name"), engine.path.name, doc.line("name")
    if not isinstance(name, str):
        return skipped(NAME, doc.path, "no name (reported by the schema rule)")
    if name != directory:
        message = f"name {name!r} differs from the directory name {directory!r}"
        return failed(NAME, doc.path, message, line)
    return passed(NAME, doc.path, f"name matches the directory ({name})", line)


def _engine_type(doc: _Yaml, engine: EngineDir) -> Finding:
    declared, parent, line = (
        doc.get("engine_type"),
        engine.path.parent.name,
        doc.line("engine_type"),
    )
    if (expected := TYPE_DIRS.get(parent)) is None:
        known = ", ".join(f"{d}/" for d in TYPE_DIRS)
        return skipped(TYPE, doc.path, f"parent directory {parent}/ is none of {known}")
    if not isinstance(declared, str):
        return skipped(TYPE, doc.path, "no engine_type (reported by the schema rule)")
    if declared != expected:
        message = f"engine_type {declared!r}, but the engine lives in {parent}/ ({expected})"
        return failed(TYPE, doc.path, message, line)
    return passed(TYPE, doc.path, f"engine_type {declared} matches {parent}/", line)


def _default_model(doc: _Yaml, _engine: EngineDir) -> Finding:
    default, models, line = doc.get("default_model"), doc.get("models"), doc.line("default_model")
    if default is None:
        return skipped(DEFAULT, doc.path, "no default_model")
    names = (
        [m.get("name") for m in models if isinstance(m, dict)] if isinstance(models, list) else []
    )
    if default not in names:
        listing = ", ".join(map(str, names)) or "(none)"
        message = f"default_model {default!r} is not among models: {listing}"
        return failed(DEFAULT, doc.path, message, line)
    return passed(DEFAULT, doc.path, f"default_model {default!r} is in models", line)


def _max_text_length(doc: _Yaml, _engine: EngineDir) -> Finding:
    if doc.get("engine_type") != "tts":
        return skipped(MAX_TEXT, doc.path, "not a TTS engine")
    if doc.get("constraints", "max_text_length") is None:
        line = doc.line("constraints") if doc.get("constraints") is not None else None
        return failed(MAX_TEXT, doc.path, "TTS engine without constraints.max_text_length", line)
    line = doc.line("constraints", "max_text_length")
    return passed(MAX_TEXT, doc.path, "constraints.max_text_length declared", line)


def _python_version(doc: _Yaml, engine: EngineDir) -> Finding:
    declared = doc.get("installation", "python_version")
    if not isinstance(declared, str):
        return skipped(PYTHON, doc.path, "engine.yaml declares no installation.python_version")
    if not engine.dockerfile.is_file():
        return skipped(PYTHON, doc.path, "no Dockerfile to compare with")
    try:
        base = engine.parsed_dockerfile.python_version()
    except (OSError, ValueError):
        return skipped(PYTHON, doc.path, "Dockerfile not readable")
    if base is None:
        return skipped(PYTHON, doc.path, "the Dockerfile's base image is not python:X.Y")
    (image, from_line), line = base, doc.line("installation", "python_version")
    if image != declared:
        message = f"python_version {declared} but the Dockerfile (line {from_line}) builds on "
        return failed(PYTHON, doc.path, message + f"python:{image}", line)
    return passed(PYTHON, doc.path, f"python {declared} in engine.yaml and the Dockerfile", line)
