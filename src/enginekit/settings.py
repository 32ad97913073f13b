"""Every environment variable enginekit reads, read in one place and passed in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ServerSettings", "StoreSettings"]

_TRUE = {"1", "true", "yes", "on"}


def _flag(env: Mapping[str, str], key: str) -> bool:
    return env.get(key, "").strip().lower() in _TRUE


@dataclass(frozen=True)
class StoreSettings:
    """Knobs of the model store; defaults suit a user with no configuration at all."""

    offline: bool = False
    hf_endpoint: str = "https://huggingface.co"
    hf_token: str | None = None
    link_mode: str = "auto"
    lock_timeout_s: float = 600.0
    retries: int = 4
    backoff_s: float = 0.5
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    prune_grace_s: float = 24 * 3600.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StoreSettings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            offline=_flag(env, "ENGINEKIT_OFFLINE"),
            hf_endpoint=env.get("HF_ENDPOINT", defaults.hf_endpoint).rstrip("/"),
            hf_token=env.get("HF_TOKEN") or None,
            link_mode=env.get("ENGINEKIT_LINK_MODE", defaults.link_mode),
            lock_timeout_s=float(env.get("ENGINEKIT_LOCK_TIMEOUT", defaults.lock_timeout_s)),
            retries=int(env.get("ENGINEKIT_RETRIES", defaults.retries)),
            backoff_s=float(env.get("ENGINEKIT_BACKOFF", defaults.backoff_s)),
        )


@dataclass(frozen=True)
class ServerSettings:
    """Knobs of the HTTP side of an engine."""

    api_token: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        env = os.environ if environ is None else environ
        upload_mb = float(env.get("ENGINE_MAX_UPLOAD_MB", "50"))
        return cls(
            api_token=env.get("ENGINE_API_TOKEN") or None,
            max_upload_bytes=int(upload_mb * 1024 * 1024),
        )
