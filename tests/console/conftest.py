"""The console in a real browser: Debian's chromium driven by Playwright, against a real gateway
(uvicorn on loopback) over private copies of debug-tts and debug-stt run as real subprocesses.
debug-tts's catalog gets one downloadable model served by the loopback file server, throttled
so a pull takes long enough to watch."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from gateway.helpers import ENGINES, gateway_app, make_checkout, write_config
from support.engines import serve_app
from support.fileserver import FileServer

CHROMIUM = Path("/usr/bin/chromium")
#: Chromium as root needs --no-sandbox; the rest keep it from calling out on a closed network.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--autoplay-policy=no-user-gesture-required", "--mute-audio",
    # A microphone that plays a beep, allowed without asking: the console's Record button.
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "console-screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

REMOTE = "remote-voice"
#: Two files, so the page has per-file progress to show; ~4 s at the throttled rate.
REMOTE_FILES = {
    "model.json": json.dumps(
        {"base_frequency": 330.0, "sample_rate": 16000, "char_duration": 0.01,
         "padding": "x" * 300_000}
    ).encode(),
    "voice.bin": bytes(range(256)) * 1200,
}  # fmt: skip
BYTES_PER_SECOND = 160_000


@dataclass
class Console:
    """A running gateway and where its engines keep their files."""

    url: str
    checkout: Path
    data_dir: Path
    mirror: FileServer
    engines: dict[str, Path] = field(default_factory=dict)


def add_remote_model(engine_dir: Path, mirror: FileServer) -> None:
    for name, data in REMOTE_FILES.items():
        path = f"/voices/{name}"
        mirror.add(path, data)
        mirror.behaviour(path).bytes_per_second = BYTES_PER_SECOND
    manifest_path = engine_dir / "engine.yaml"
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    files = [
        {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        for name, data in REMOTE_FILES.items()
    ]
    manifest["models"].append(
        {"name": REMOTE, "display_name": "Remote Voice",
         "source": {"url": f"{mirror.url}/voices", "files": files}}
    )  # fmt: skip
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")


@pytest.fixture(scope="module")
def mirror() -> Iterator[FileServer]:
    with FileServer() as server:
        yield server


@pytest.fixture(scope="module")
def start_console(
    tmp_path_factory: pytest.TempPathFactory, mirror: FileServer
) -> Iterator[Callable[..., Console]]:
    """Start a gateway (optionally with a token); every one started is stopped at the end."""
    with contextlib.ExitStack() as servers:

        def start(token: str | None = None) -> Console:
            root = tmp_path_factory.mktemp("console")
            checkout = make_checkout(root / "checkout")
            engines = {name: checkout / "engines" / rel for name, rel in ENGINES.items()}
            add_remote_model(engines["debug-tts"], mirror)
            data_dir = root / "data"
            config_path = write_config(root / "gateway.yaml", data_dir, {n: {} for n in ENGINES})
            url = servers.enter_context(serve_app(gateway_app(config_path, checkout, token)))
            return Console(url, checkout, data_dir, mirror, engines)

        yield start


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM} (apt-get install chromium chromium-driver)")
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415 - only with a chromium

    expect.set_options(timeout=60_000)  # assertions too, not only actions, on a busy machine
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Tab:
    """A browser tab with everything its console reported as an error."""

    page: Any
    errors: list[str]

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def open_tab(browser: Any) -> Iterator[Callable[..., Tab]]:
    contexts: list[Any] = []

    def open_(url: str, viewport: dict[str, int] = DESKTOP) -> Tab:
        context = browser.new_context(viewport=viewport, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        return Tab(page, errors)

    yield open_
    for context in contexts:
        context.close()
