"""Request `parameters` checked against engine.yaml's declarations before the engine sees them.

The reference lets a wrong type crash inside the engine (500); a clear 400 naming the parameter,
the expected type and range is what a user can act on. Undeclared keys pass through unchanged.
"""

from __future__ import annotations

from typing import Any, cast

from ..errors import InvalidInput
from ..manifest import EngineManifest, ParameterSpec

__all__ = ["check_parameters"]

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "float": (int, float),
    "int": (int,),
    "bool": (bool,),
    "string": (str,),
}


def check_parameters(manifest: EngineManifest | None, parameters: dict[str, Any]) -> None:
    if manifest is None:
        return
    for name, value in parameters.items():
        spec = manifest.parameters.get(name)
        if spec is not None:
            _check(name, value, spec)


def _check(name: str, value: Any, spec: ParameterSpec) -> None:
    wanted = _PYTHON_TYPES[spec.type]
    is_bool = isinstance(value, bool)
    if not isinstance(value, wanted) or (is_bool and spec.type != "bool"):
        raise InvalidInput(f"Invalid parameter {name}: expected {spec.type}, got {value!r}")
    if spec.type in ("float", "int"):
        low = spec.min if spec.min is not None else float("-inf")
        high = spec.max if spec.max is not None else float("inf")
        if not low <= cast(float, value) <= high:
            raise InvalidInput(
                f"Invalid parameter {name}: {value!r} is outside {spec.min}..{spec.max}"
            )
