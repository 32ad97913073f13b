"""The runtime: an engine with its store, manifest, status machine and worker; no HTTP."""

from .catalog import Catalog, ModelListing
from .runtime import HealthSnapshot, Runtime
from .state import EngineState, EngineStatus, LoadProgress

__all__ = [
    "Catalog",
    "EngineState",
    "EngineStatus",
    "HealthSnapshot",
    "LoadProgress",
    "ModelListing",
    "Runtime",
]
