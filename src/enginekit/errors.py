"""One exception tree for everything enginekit refuses or fails to do.

Each class carries the HTTP status a server answers with and whether the CLI treats it as a usage
error (exit 2) rather than a failed operation (exit 1), so callers map errors in one place and never
branch on message text.
"""

from __future__ import annotations

__all__ = [
    "BakedInModelError",
    "ChecksumMismatch",
    "DownloadCancelled",
    "DownloadError",
    "EngineFailure",
    "EnginekitError",
    "GpuOutOfMemory",
    "InsufficientSpace",
    "InvalidInput",
    "InvalidModelName",
    "InvalidSetting",
    "InvalidSource",
    "LockTimeout",
    "MissingExtra",
    "ModelLoading",
    "ModelNotFound",
    "ModelNotLoaded",
    "NotFound",
    "OfflineError",
    "PayloadTooLarge",
    "ShuttingDown",
    "SourceMissing",
    "StoreNotWritable",
    "UserModelError",
    "shown",
    "shown_names",
]


SHOWN_CHARS = 120
SHOWN_NAMES = 50


def shown(text: str) -> str:
    """A client's string as an error quotes it: a short prefix, never the whole input."""
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def shown_names(names: list[str]) -> str:
    """A listing in an error: the first names, and how many more there are."""
    listed = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{listed}, ... ({more} more)" if more > 0 else listed


class EnginekitError(Exception):
    """Root of every error enginekit raises on purpose; `detail` is the user-facing sentence."""

    status_code: int = 500
    usage_error: bool = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(EnginekitError):
    """Input that cannot be served (e.g. a language the voice lacks); engines raise it too."""

    status_code = 400


class NotFound(EnginekitError):
    """A named thing (a speaker sample, an audio file) does not exist."""

    status_code = 404


class PayloadTooLarge(EnginekitError):
    """A request body or upload above the configured limit."""

    status_code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"Upload too large: the limit is {limit} bytes")
        self.limit = limit


class ModelNotLoaded(EnginekitError):
    """A processing request before any model was loaded."""

    status_code = 400

    def __init__(self) -> None:
        super().__init__("Model not loaded")


class ModelLoading(EnginekitError):
    """A processing request while a model loads; the client retries (engine-api.md §2.4)."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__("Model loading in progress. Retry after loading completes.")


class GpuOutOfMemory(EnginekitError):
    """The accelerator ran out of memory during a job (the contract's [GPU_OOM] reply)."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__("[GPU_OOM]GPU out of memory. Try smaller input or restart engine.")


class EngineFailure(EnginekitError):
    """An unexpected exception inside the engine; `detail` is its message (the contract's 500)."""


class ShuttingDown(EnginekitError):
    """The engine is stopping and takes no new work."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__("Engine is shutting down")


class InvalidSetting(EnginekitError):
    """An environment variable or option with a value that cannot be used."""

    usage_error = True


class InvalidModelName(EnginekitError):
    """A model name that could escape `models/` or is not a plain file name."""

    status_code = 400
    usage_error = True


class MissingExtra(EnginekitError):
    """A command needs an optional dependency group that is not installed."""

    usage_error = True


class InvalidSource(EnginekitError):
    """A download spec that cannot be understood."""

    status_code = 400
    usage_error = True


class ModelNotFound(EnginekitError):
    """The name is valid but no such model is servable; the message lists what is."""

    status_code = 400

    def __init__(self, name: str, available: list[str]) -> None:
        listing = shown_names(available) if available else "(none)"
        super().__init__(f"Unknown model: {shown(name)}. Available: {listing}")
        self.name = name
        self.available = available


class BakedInModelError(EnginekitError):
    """Baked-in models belong to the image; deleting them would break the engine."""

    status_code = 409


class UserModelError(EnginekitError):
    """A model the user placed in external_models/ (no download record) is theirs: the store
    does not overwrite or delete it unless told to."""

    status_code = 409


class DownloadError(EnginekitError):
    """A transfer failed after its retries; nothing was made visible."""

    status_code = 502


class DownloadCancelled(DownloadError):
    """The engine is shutting down; the partial download is kept and resumes next time."""

    status_code = 503


class SourceMissing(DownloadError):
    """The model has a source, but the server says the file is gone (404/410)."""

    status_code = 404


class ChecksumMismatch(DownloadError):
    """Bytes arrived whole but are not the declared ones; they were deleted."""

    def __init__(self, path: str, expected: str, actual: str) -> None:
        super().__init__(f"Checksum mismatch for {path}: expected sha256 {expected}, got {actual}")
        self.path = path
        self.expected = expected
        self.actual = actual


class InsufficientSpace(EnginekitError):
    """Checked before the first byte so a full disk never holds a half model."""

    status_code = 507

    def __init__(self, needed: int, free: int, where: str) -> None:
        super().__init__(
            f"Not enough disk space in {where}: need {needed} bytes, {free} bytes free"
        )
        self.needed = needed
        self.free = free
        self.where = where


class OfflineError(EnginekitError):
    """ENGINEKIT_OFFLINE forbids the network; fail at once instead of timing out."""

    status_code = 503


class StoreNotWritable(EnginekitError):
    """external_models/ (or models/) is read-only, e.g. a `:ro` mount."""

    status_code = 507


class LockTimeout(EnginekitError):
    """Another process held a model's lock for longer than we were willing to wait."""

    status_code = 503
