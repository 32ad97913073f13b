"""Every environment variable enginekit reads, read in one place (`Settings.from_env`) at the
edge (an engine's `run()`, the CLI's `main()`) and passed in. A bad value is an InvalidSetting
naming the variable, which both edges turn into one line and exit code 2."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .errors import InvalidSetting

__all__ = [
    "DEFAULT_DATA_DIR",
    "LOG_LEVELS",
    "ServerSettings",
    "Settings",
    "StoreSettings",
    "read_secret",
    "wyoming_uri",
]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LINK_MODES = ("auto", "symlink", "mirror")
DEVICES = ("auto", "cpu", "cuda")
AUDIO_PATHS = ("auto", "any", "samples")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PORT = 8766
# The gateway's and `enginekit run`'s external_models/ of each engine: <this>/<engine>.
DEFAULT_DATA_DIR = Path("~/.local/share/enginekit")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


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


@dataclass(frozen=True)
class ServerSettings:
    """Knobs of an engine process and its HTTP side."""

    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    load_model: str | None = None
    api_token: str | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    device: str = "auto"
    wyoming_uri: str | None = None
    max_request_bytes: int = 100 * 1024 * 1024
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    audio_paths: str = "auto"

    @property
    def on_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS


@dataclass(frozen=True)
class Settings:
    """Everything configurable, as one value."""

    log_level: str = "INFO"
    engine_home: Path | None = None
    external_models: Path | None = None
    server: ServerSettings = field(default_factory=ServerSettings)
    store: StoreSettings = field(default_factory=StoreSettings)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, default_log_level: str = "INFO"
    ) -> Settings:
        env = _Environment(os.environ if environ is None else environ)
        store_defaults, server_defaults = StoreSettings(), ServerSettings()
        return cls(
            log_level=env.choice("LOG_LEVEL", LOG_LEVELS, default_log_level, noun="levels"),
            engine_home=env.path("ENGINE_HOME"),
            external_models=env.path("ENGINE_EXTERNAL_MODELS"),
            server=ServerSettings(
                port=env.number("PORT", int, server_defaults.port, low=1, high=65535),
                host=env.text("HOST") or server_defaults.host,
                load_model=env.text("ENGINE_LOAD_MODEL") or None,
                api_token=env.secret("ENGINE_API_TOKEN"),
                max_upload_bytes=int(
                    env.number("ENGINE_MAX_UPLOAD_MB", float, 50.0, low=0.001) * 1024 * 1024
                ),
                device=env.choice("ENGINE_DEVICE", DEVICES, server_defaults.device),
                wyoming_uri=wyoming_uri(env.text("ENGINE_WYOMING_URI"), "ENGINE_WYOMING_URI"),
                max_request_bytes=int(
                    env.number("ENGINE_MAX_REQUEST_MB", float, 100.0, low=0.001) * 1024 * 1024
                ),
                allowed_origins=env.items("ENGINE_ALLOWED_ORIGINS"),
                allowed_hosts=env.items("ENGINE_ALLOWED_HOSTS"),
                audio_paths=env.choice("ENGINE_AUDIO_PATHS", AUDIO_PATHS, "auto"),
            ),
            store=StoreSettings(
                offline=env.flag("ENGINEKIT_OFFLINE"),
                hf_endpoint=(env.text("HF_ENDPOINT") or store_defaults.hf_endpoint).rstrip("/"),
                hf_token=env.text("HF_TOKEN") or None,
                link_mode=env.choice("ENGINEKIT_LINK_MODE", LINK_MODES, store_defaults.link_mode),
                lock_timeout_s=env.number(
                    "ENGINEKIT_LOCK_TIMEOUT", float, store_defaults.lock_timeout_s, low=0
                ),
                retries=env.number("ENGINEKIT_RETRIES", int, store_defaults.retries, low=0),
                backoff_s=env.number("ENGINEKIT_BACKOFF", float, store_defaults.backoff_s, low=0),
                connect_timeout_s=env.number(
                    "ENGINEKIT_CONNECT_TIMEOUT", float, store_defaults.connect_timeout_s, low=0.1
                ),
                read_timeout_s=env.number(
                    "ENGINEKIT_READ_TIMEOUT", float, store_defaults.read_timeout_s, low=0.1
                ),
            ),
        )


def read_secret(path: Path, what: str) -> str:
    """A token kept in a file: its one line, without the newline an editor or `echo` adds.
    `what` begins each error: the setting that named the file."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InvalidSetting(f"{what} '{path}': cannot read it: {reason}") from exc
    if not value:
        raise InvalidSetting(f"{what} '{path}': the file is empty")
    if not value.isprintable() or any(c.isspace() for c in value):
        raise InvalidSetting(f"{what} '{path}': a token is one word, without spaces or line breaks")
    return value


def wyoming_uri(raw: str, name: str) -> str | None:
    """ENGINE_WYOMING_URI / --wyoming: tcp://HOST:PORT or unix://PATH (stdio would clash with
    the logs); empty means no Wyoming listener."""
    if not raw:
        return None
    parts = urllib.parse.urlsplit(raw)
    try:
        port = parts.port
    except ValueError:
        port = None
    if (parts.scheme == "tcp" and parts.hostname and port) or (
        parts.scheme == "unix" and parts.path
    ):
        return raw
    raise InvalidSetting(f"Invalid {name} {raw!r}: expected tcp://HOST:PORT or unix://PATH")


class _Environment:
    """Typed reads of one environment mapping, each failure naming the variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, key: str) -> str:
        return self._env.get(key, "").strip()

    def path(self, key: str) -> Path | None:
        return Path(self.text(key)).expanduser() if self.text(key) else None

    def secret(self, key: str) -> str | None:
        """`key`, or the contents of the file `key`_FILE names (a Docker or Kubernetes secret);
        both at once is refused, since either could be the stale one."""
        file_key = f"{key}_FILE"
        path = self.path(file_key)
        if path is None:
            return self.text(key) or None
        if self.text(key):
            raise InvalidSetting(f"Invalid {file_key}: {key} is set too; set one of them")
        return read_secret(path, f"Invalid {file_key}")

    def items(self, key: str) -> tuple[str, ...]:
        """A comma-separated list."""
        return tuple(item.strip() for item in self.text(key).split(",") if item.strip())

    def flag(self, key: str) -> bool:
        value = self.text(key).lower()
        if value not in _TRUE | _FALSE:
            raise InvalidSetting(f"Invalid {key}={self._env[key]!r}: expected 1 or 0")
        return value in _TRUE

    def choice(self, key: str, allowed: tuple[str, ...], default: str, noun: str = "values") -> str:
        raw = self.text(key)
        # Case-insensitive: compared in the case the allowed values are written in.
        value = (raw.upper() if allowed[0].isupper() else raw.lower()) or default
        if value not in allowed:
            raise InvalidSetting(
                f"Invalid {key} {self._env[key]!r}; valid {noun}: {', '.join(allowed)}"
            )
        return value

    def number(
        self,
        key: str,
        kind: Callable[[str], T],
        default: T,
        low: float | None = None,
        high: float | None = None,
    ) -> T:
        raw = self.text(key)
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise InvalidSetting(
                f"Invalid {key}={raw!r}: expected {'an integer' if kind is int else 'a number'}"
            ) from None
        number = float(value)  # type: ignore[arg-type]
        if (low is not None and number < low) or (high is not None and number > high):
            bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
            raise InvalidSetting(f"Invalid {key}={raw!r}: expected a value in {bounds}")
        return value
