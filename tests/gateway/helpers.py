"""Private copies of the repository's engines laid out as a checkout, and gateway configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from support.engines import copy_engine

from enginekit.gateway.app import Gateway, create_gateway_app
from enginekit.gateway.config import load_config
from enginekit.settings import ServerSettings, Settings

ENGINES = {"debug-tts": "tts/debug-tts", "debug-stt": "stt/debug-stt"}


def make_checkout(root: Path, engines: dict[str, str] = ENGINES) -> Path:
    for relative in engines.values():
        copy_engine(relative, root / "engines" / relative.split("/")[0])
    return root


def write_config(path: Path, data_dir: Path, engines: dict[str, Any], **top: Any) -> Path:
    path.write_text(yaml.safe_dump({"data_dir": str(data_dir), "engines": engines, **top}))
    return path


def gateway_app(config_path: Path, checkout: Path, token: str | None = None) -> FastAPI:
    """The gateway `enginekit serve --config config_path` builds, over `checkout`'s engines."""
    config, found = load_config(config_path, checkout)
    settings = Settings(server=ServerSettings(api_token=token))
    return create_gateway_app(Gateway(config, found, settings), settings)
