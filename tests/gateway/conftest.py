"""A gateway over private copies of the repository's engines (nothing is written into the
checkout), served by a real uvicorn on loopback; its engines are real subprocesses."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.engines import serve_app

from gateway.helpers import ENGINES, gateway_app, make_checkout, write_config


@pytest.fixture
def gateway_at(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start a gateway over `engines` (runner options per engine); yields its base URL."""
    with contextlib.ExitStack() as servers:

        def start(
            engines: dict[str, Any] | None = None,
            token: str | None = None,
            checkout: Path | None = None,
            **top: Any,
        ) -> str:
            checkout = checkout or make_checkout(tmp_path / "checkout")
            config_path = write_config(
                tmp_path / "gateway.yaml", tmp_path / "data",
                engines or {name: {} for name in ENGINES}, **top,
            )  # fmt: skip
            return servers.enter_context(serve_app(gateway_app(config_path, checkout, token)))

        yield start
