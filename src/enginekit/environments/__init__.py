"""Engine environments: one `<engine dir>/.venv` per engine, because the engines' libraries pin
clashing versions (transformers, numpy, torch). Each holds this checkout's enginekit (editable)
and the engine's requirements.txt."""

from .environment import Environment, UnknownEngine, environment_of, environments
from .install import EnvironmentFailed, RequirementUnavailable, install

__all__ = [
    "Environment",
    "EnvironmentFailed",
    "RequirementUnavailable",
    "UnknownEngine",
    "environment_of",
    "environments",
    "install",
]
