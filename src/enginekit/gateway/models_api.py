"""The models of every engine as JSON endpoints of the gateway (the console's and any script's):
list, pull with live progress, verify, remove. They run on the store in the gateway process,
against the same directories the engine reads, so an engine need not be running.

Routes live under /store/{engine}/... because /engines/{engine}/... is the engine's own contract.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from datetime import datetime, timezone
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from ..checkout import EngineDir
from ..errors import EnginekitError, NotFound
from ..layout import EngineLayout
from ..runtime import Catalog, ModelListing
from ..settings import StoreSettings
from ..store import ModelSource, ModelStore, Pulled
from .config import GatewayConfig
from .pulls import Pulls
from .supervisor import EngineHandle

__all__ = ["ModelDesk", "add_model_routes"]

SSE_MEDIA_TYPE = "text/event-stream"


class ModelInUse(EnginekitError):
    """Removing the model a running engine has loaded would pull its files from under it."""

    status_code = 409


class NoSource(EnginekitError):
    status_code = 404


class ModelDesk:
    """One store and catalog per engine, the pulls under way and the last verify results."""

    def __init__(
        self,
        config: GatewayConfig,
        handles: Mapping[str, EngineHandle],
        settings: StoreSettings,
        client: httpx.AsyncClient,
    ) -> None:
        self._handles = handles
        self._client = client
        self._stores = {
            name: ModelStore(EngineLayout.at(h.engine.path, config.data_dir_of(name)), settings)
            for name, h in handles.items()
        }
        self.pulls = Pulls()
        self._verified: dict[tuple[str, str], dict[str, Any]] = {}

    def engine(self, name: str) -> EngineDir:
        if name not in self._handles:
            raise NotFound(f"No engine {name}; configured: {', '.join(sorted(self._handles))}")
        return self._handles[name].engine

    def store(self, name: str) -> ModelStore:
        self.engine(name)
        return self._stores[name]

    def catalog(self, name: str) -> Catalog:
        return Catalog(self.store(name), self.engine(name).manifest)

    async def loaded_model(self, name: str) -> str | None:
        """What the running engine reports loaded (it may have loaded a default by itself)."""
        handle = self._handles[name]
        if handle.state != "running" or handle.url is None:
            return None
        with contextlib.suppress(httpx.HTTPError, ValueError):
            reply = await self._client.get(f"{handle.url}/health", timeout=2.0)
            model = reply.json().get("currentEngineModel")
            return model if isinstance(model, str) else None
        return handle.model

    # -- reading (worker thread) ---------------------------------------------------------

    def describe(self, name: str) -> dict[str, Any]:
        engine = self.engine(name)
        store, catalog = self.store(name), self.catalog(name)
        listed = catalog.listing()
        known = {m.name for m in listed}
        rows = [self._row(name, store, catalog, m) for m in listed]
        rows += [
            self._row(name, store, catalog, ModelListing(extra, extra, "external"))
            for extra in sorted(set(store.external_names()) - known)
        ]
        capabilities = engine.manifest.capabilities
        return {
            "engine": name,
            "type": engine.engine_type,
            "speaker_cloning": bool(capabilities.supports_speaker_cloning),
            "default_model": catalog.default_model(),
            "models": rows,
        }

    def _row(
        self, engine: str, store: ModelStore, catalog: Catalog, listed: ModelListing
    ) -> dict[str, Any]:
        model, size = listed.name, listed.size_bytes
        record = store.record(model)
        kind = "downloaded" if listed.source == "external" and record else listed.source
        if record is not None:
            size = size or sum(f.size for f in record.files)
        job = self.pulls.get(engine, model)
        return {
            "name": model,
            "display_name": listed.display_name,
            "kind": kind,
            "size_bytes": size,
            "sha256": "recorded" if record else ("declared" if _declares(catalog, model) else None),
            "verified": self._verified.get((engine, model)),
            "loaded": False,
            "pull": job.snapshot() if job else None,
        }

    def verify(self, engine: str, model: str) -> dict[str, Any]:
        report = self.store(engine).verify(model, self.catalog(engine).source_of(model))
        result = {
            "name": model,
            "recorded": report.recorded,
            "ok": report.ok,
            "files": [
                {"path": c.path, "status": c.status, "expected": c.expected, "actual": c.actual}
                for c in report.files
            ],
        }
        if report.recorded:
            self._mark_verified(engine, model, report.ok)
        return result

    def _mark_verified(self, engine: str, model: str, ok: bool) -> None:
        checked = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self._verified[(engine, model)] = {"ok": ok, "checked_at": checked}

    def remove(self, engine: str, model: str, delete_files: bool) -> dict[str, Any]:
        removed = self.store(engine).remove(model, delete_files=delete_files)
        self._verified.pop((engine, model), None)
        return {
            "removed": model,
            "unlinked": removed.unlinked,
            "deleted": removed.deleted is not None,
            "kept": str(removed.kept) if removed.kept else None,
        }

    # -- pulling ---------------------------------------------------------------------------

    def pull_source(self, engine: str, model: str) -> tuple[ModelSource, bool]:
        """The catalog's source of `model`, and whether it declares every file's sha256."""
        catalog = self.catalog(engine)
        source = catalog.source_of(model)
        if source is None:
            downloadable = [m.name for m in self.engine(engine).manifest.models if m.source]
            raise NoSource(
                f"Engine {engine} has no downloadable model {model!r} in its engine.yaml; "
                f"downloadable: {', '.join(downloadable) or '(none)'}"
            )
        return source, _declares(catalog, model)

    def start_pull(
        self, engine: str, model: str, source: ModelSource, declared: bool
    ) -> tuple[dict[str, Any], bool]:
        """On the event loop, so two requests for one model share one pull."""

        def ready(pulled: Pulled) -> None:
            # The downloader hashed every byte; against a declared sha256 that is a check.
            if pulled.downloaded and declared:
                self._mark_verified(engine, model, True)

        job, started = self.pulls.start(self.store(engine), engine, model, source, ready)
        return job.snapshot(), started


def _declares(catalog: Catalog, model: str) -> bool:
    """Whether the catalog gives a sha256 for every file of `model`."""
    source = catalog.source_of(model)
    if source is None:
        return False
    if source.files:
        return all(f.sha256 for f in source.files)
    return source.sha256 is not None


def add_model_routes(app: FastAPI, desk: ModelDesk) -> None:  # noqa: C901 - one route table
    @app.get("/store/{engine}/models")
    async def models(engine: str) -> dict[str, Any]:
        listing = await asyncio.to_thread(desk.describe, engine)
        loaded = await desk.loaded_model(engine)
        for row in listing["models"]:
            row["loaded"] = row["name"] == loaded
        return listing

    @app.post("/store/{engine}/models/{model}/pull")
    async def pull(engine: str, model: str) -> JSONResponse:
        source, declared = await asyncio.to_thread(desk.pull_source, engine, model)
        snapshot, started = desk.start_pull(engine, model, source, declared)
        return JSONResponse(status_code=202 if started else 200, content=snapshot)

    @app.get("/store/{engine}/models/{model}/pull")
    async def pull_status(engine: str, model: str) -> dict[str, Any]:
        desk.engine(engine)
        job = desk.pulls.get(engine, model)
        if job is None:
            raise NotFound(f"No pull of {model} on {engine} since the gateway started")
        return job.snapshot()

    @app.get("/store/{engine}/models/{model}/pull/events")
    async def pull_events(engine: str, model: str) -> StreamingResponse:
        desk.engine(engine)
        job = desk.pulls.get(engine, model)
        if job is None:
            raise NotFound(f"No pull of {model} on {engine} since the gateway started")

        async def events() -> AsyncIterator[bytes]:
            async for snapshot in job.follow():
                yield f"event: progress\ndata: {json.dumps(snapshot)}\n\n".encode()

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type=SSE_MEDIA_TYPE, headers=headers)

    @app.post("/store/{engine}/models/{model}/verify")
    async def verify(engine: str, model: str) -> dict[str, Any]:
        return await asyncio.to_thread(desk.verify, engine, model)

    @app.delete("/store/{engine}/models/{model}")
    async def remove(engine: str, model: str, delete_files: bool = False) -> dict[str, Any]:
        desk.engine(engine)
        if await desk.loaded_model(engine) == model:
            raise ModelInUse(
                f"Model {model} is loaded in the running engine {engine}; "
                "stop the engine or load another model first"
            )
        if any(j.model == model for j in desk.pulls.running(engine)):
            raise ModelInUse(f"Model {model} is being pulled; wait for the pull to end")
        return await asyncio.to_thread(desk.remove, engine, model, delete_files)
