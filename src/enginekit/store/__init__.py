"""Model management: where models live, how they arrive, and how they are checked.

The names below are imported on first use (PEP 562), not with the package: listing models/
needs neither pydantic (the sources and records) nor httpx (downloads), which are most of
`enginekit models list`'s start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .names import validate_model_name
    from .progress import ProgressEvent
    from .sources import ModelSource, SourceFile
    from .store import LinkAction, ModelEntry, ModelStore, PruneAction, Pulled, Removed
    from .verification import FileCheck, VerifyReport

__all__ = [
    "FileCheck",
    "LinkAction",
    "ModelEntry",
    "ModelSource",
    "ModelStore",
    "ProgressEvent",
    "PruneAction",
    "Pulled",
    "Removed",
    "SourceFile",
    "VerifyReport",
    "validate_model_name",
]

_HOME = {
    "FileCheck": "verification",
    "LinkAction": "store",
    "ModelEntry": "store",
    "ModelSource": "sources",
    "ModelStore": "store",
    "ProgressEvent": "progress",
    "PruneAction": "store",
    "Pulled": "store",
    "Removed": "store",
    "SourceFile": "sources",
    "VerifyReport": "verification",
    "validate_model_name": "names",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value
