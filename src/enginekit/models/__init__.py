"""Model management: where models live, how they arrive, and how they are checked."""

from .names import validate_model_name
from .progress import ProgressEvent
from .sources import ModelSource, SourceFile
from .store import LinkAction, ModelEntry, ModelStore, PruneAction
from .verification import FileCheck, VerifyReport

__all__ = [
    "FileCheck",
    "LinkAction",
    "ModelEntry",
    "ModelSource",
    "ModelStore",
    "ProgressEvent",
    "PruneAction",
    "SourceFile",
    "VerifyReport",
    "validate_model_name",
]
