"""One exception tree for everything enginekit refuses or fails to do.

Each class carries the HTTP status a server answers with and whether the CLI treats it as a usage
error (exit 2) rather than a failed operation (exit 1), so callers map errors in one place and never
branch on message text.
"""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "BakedInModelError",
    "ChecksumMismatch",
    "DownloadCancelled",
    "DownloadError",
    "EnginekitError",
    "InsufficientSpace",
    "InvalidModelName",
    "InvalidSource",
    "LockTimeout",
    "MissingExtra",
    "ModelNotFound",
    "OfflineError",
    "SourceMissing",
    "StoreNotWritable",
]


class EnginekitError(Exception):
    """Root of every error enginekit raises on purpose; `detail` is the user-facing sentence."""

    status_code: int = 500
    usage_error: bool = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(EnginekitError):
    """What an engine raises for input it cannot serve (e.g. a language its voice lacks)."""

    status_code = 400

    def __init__(self, detail: str, status_code: int = 400) -> None:
        super().__init__(detail)
        self.status_code = status_code


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
        listing = ", ".join(available) if available else "(none)"
        super().__init__(f"Unknown model: {name}. Available: {listing}")
        self.name = name
        self.available = available


class BakedInModelError(EnginekitError):
    """Baked-in models belong to the image; deleting them would break the engine."""

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
