"""The gateway's configuration file (YAML), and the default that serves every engine of the
checkout as a subprocess when no file is given."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ..checkout import EngineDir, find_engines
from ..errors import InvalidSetting
from ..settings import DEFAULT_DATA_DIR, read_secret

__all__ = ["EngineConfig", "GatewayConfig", "load_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EngineConfig(_Strict):
    runner: Literal["subprocess", "docker", "remote"] = "subprocess"
    image: str | None = None
    gpu: Literal["auto", "yes", "no"] = "auto"
    keep_running: bool = False
    idle_timeout: float | None = Field(default=None, ge=0)
    urls: list[str] = Field(default_factory=list)
    load: str | None = None
    #: A file holding the bearer token a remote engine asks for (its ENGINE_API_TOKEN);
    #: a relative path is relative to the configuration file.
    token_file: Path | None = None
    _token: str | None = PrivateAttr(default=None)

    @property
    def token(self) -> str | None:
        """What `token_file` held when the configuration was loaded."""
        return self._token

    def read_token(self, config_path: Path, name: str) -> None:
        """Read `token_file` (relative to `config_path`'s directory) once, at load."""
        if self.token_file is not None:
            self.token_file = config_path.parent / self.token_file.expanduser()
            self._token = read_secret(self.token_file, f"{config_path}: engines.{name}.token_file")


class GatewayConfig(_Strict):
    data_dir: Path = DEFAULT_DATA_DIR
    idle_timeout: float = Field(default=300.0, ge=0)
    start_timeout: float = Field(default=120.0, gt=0)
    engines: dict[str, EngineConfig] = Field(default_factory=dict)

    def idle_timeout_of(self, name: str) -> float:
        own = self.engines[name].idle_timeout
        return self.idle_timeout if own is None else own

    def data_dir_of(self, name: str) -> Path:
        """<data_dir>/<engine>: that engine's external_models/, in either runner."""
        return self.data_dir.expanduser().absolute() / name


def load_config(
    path: Path | None, checkout: Path | None = None
) -> tuple[GatewayConfig, list[EngineDir]]:
    """The configuration and the checkout's engines it names (all of them when no file)."""
    engines = {engine.name: engine for engine in find_engines(checkout)}
    if path is None:
        config = GatewayConfig(engines={name: EngineConfig() for name in engines})
    else:
        config = _read(path)
    unknown = sorted(set(config.engines) - set(engines))
    if unknown:
        raise InvalidSetting(
            f"{path}: unknown engine(s) {', '.join(unknown)}; "
            f"this checkout has {', '.join(sorted(engines))}"
        )
    for name, engine in config.engines.items():
        if engine.runner == "remote" and not engine.urls:
            raise InvalidSetting(f"{path}: engine {name} has runner remote but no urls")
        if engine.token_file is None:
            continue
        if engine.runner != "remote":
            raise InvalidSetting(
                f"{path}: engine {name} has a token_file but runner {engine.runner}; the gateway "
                "starts its own engines without a token, on loopback"
            )
        assert path is not None  # the default configuration has no token_file
        engine.read_token(path, name)
    return config, [engines[name] for name in config.engines]


def _read(path: Path) -> GatewayConfig:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise InvalidSetting(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InvalidSetting(f"{path}: not valid YAML: {exc}") from exc
    try:
        return GatewayConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidSetting(f"{path}: {problems}") from None
