"""`enginekit serve`: one HTTP front for every configured engine. The OpenAI audio API routes by
model; the engines' own contract stays reachable under /engines/{name}/...; engines start on
first use and stop when idle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from .. import __version__
from ..checkout import EngineDir
from ..doors.app import MULTIPART_PATHS, door_error, require_token
from ..doors.guards import RequestGuard
from ..doors.openai import error_response
from ..errors import EnginekitError, InvalidInput, NotFound
from ..settings import Settings
from .config import GatewayConfig
from .console import CONSOLE_PATHS, add_console
from .models_api import ModelDesk, add_model_routes
from .proxy import forward
from .remote import RemoteEngine, RemoteRunner
from .routing import Route, Router
from .runners import DockerRunner, Runner, SubprocessRunner
from .supervisor import EngineHandle

__all__ = ["Gateway", "create_gateway_app"]

logger = logging.getLogger(__name__)

IDLE_CHECK_S = 1.0
OPEN_PATHS = frozenset({"/health"}) | CONSOLE_PATHS


class Gateway:
    """The engines of one configuration, each with its handle."""

    def __init__(self, config: GatewayConfig, engines: list[EngineDir], settings: Settings) -> None:
        self.config = config
        self.router = Router(config, engines, settings.store)
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None))
        self.handles = {e.name: self._handle(e) for e in engines}
        guarded = sorted(name for name, h in self.handles.items() if h.credentials)
        if guarded and not settings.server.api_token:
            logger.warning(
                "The gateway sends %s a token but asks its own callers for none "
                "(ENGINE_API_TOKEN unset): whoever reaches the gateway reaches them",
                ", ".join(guarded),
            )

    def _handle(self, engine: EngineDir) -> EngineHandle:
        own = self.config.engines[engine.name]
        data_dir = self.config.data_dir_of(engine.name)
        runner: Runner
        if own.runner == "remote":
            return RemoteEngine(engine, RemoteRunner(own.urls, self.client), self.client, own.token)
        if own.runner == "docker":
            image = own.image or f"enginekit/{engine.name}"
            runner = DockerRunner(engine, data_dir, image, own.gpu)
        else:
            runner = SubprocessRunner(engine, data_dir)
        return EngineHandle(
            engine, runner, self.client, idle_timeout=self.config.idle_timeout_of(engine.name),
            keep_running=own.keep_running, start_timeout=self.config.start_timeout,
        )  # fmt: skip

    def handle(self, name: str) -> EngineHandle:
        if name not in self.handles:
            raise NotFound(f"No engine {name}; configured: {', '.join(sorted(self.handles))}")
        return self.handles[name]

    async def stop_idle_engines(self) -> None:
        while True:
            await asyncio.sleep(IDLE_CHECK_S)
            for handle in self.handles.values():
                try:
                    await handle.stop_if_idle()
                except Exception:
                    logger.exception("Stopping idle %s failed", handle.name)

    async def stop_all(self) -> None:
        await asyncio.gather(*(h.stop() for h in self.handles.values()), return_exceptions=True)
        await self.client.aclose()


def create_gateway_app(gateway: Gateway, settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        idle = asyncio.create_task(gateway.stop_idle_engines())
        yield
        idle.cancel()
        await gateway.stop_all()

    app = FastAPI(title="enginekit gateway", version=__version__, lifespan=lifespan)

    @app.exception_handler(EnginekitError)
    async def enginekit_error(request: Request, exc: EnginekitError) -> JSONResponse:
        if request.url.path.startswith("/v1/"):
            code = "model_not_found" if isinstance(exc, NotFound) else None
            return error_response(exc.status_code, exc.detail, code=code)
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail})

    if settings.server.api_token:
        require_token(app, settings.server.api_token, OPEN_PATHS)
    app.add_middleware(
        RequestGuard, settings=settings.server, error=door_error, multipart_paths=MULTIPART_PATHS
    )
    _add_routes(app, gateway)
    add_model_routes(
        app, ModelDesk(gateway.config, gateway.handles, settings.store, gateway.client)
    )
    add_console(app)
    return app


def _add_routes(app: FastAPI, gateway: Gateway) -> None:  # noqa: C901 - one route table
    router = gateway.router

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        routes = await asyncio.to_thread(router.models)
        names = [r.model for r in routes]
        data = [
            {"id": r.model if names.count(r.model) == 1 else r.qualified, "object": "model",
             "created": 0, "owned_by": r.engine}
            for r in routes
        ]  # fmt: skip
        return {"object": "list", "data": data}

    @app.get("/v1/audio/models")
    async def audio_models() -> dict[str, Any]:
        routes = await asyncio.to_thread(router.models, "tts")
        return {"models": [{"id": r.model} for r in routes]}

    @app.get("/v1/audio/voices")
    async def voices(model: str | None = None) -> StreamingResponse:
        route = await _route(router, model or "tts-1", "tts")
        params = {"model": route.model} if not route.alias else None
        return await forward(gateway.client, gateway.handle(route.engine), "GET",
                             "/v1/audio/voices", params=params)  # fmt: skip

    @app.post("/v1/audio/speech")
    async def speech(request: Request) -> StreamingResponse:
        body = await request.body()
        try:
            payload = json.loads(body)
            model = str(payload["model"])
        except (ValueError, KeyError, TypeError):
            raise InvalidInput("The body must be JSON with a 'model'") from None
        route = await _route(router, model, "tts")
        payload["model"] = route.model
        return await forward(
            gateway.client, gateway.handle(route.engine), "POST", "/v1/audio/speech",
            headers=request.headers, content=json.dumps(payload).encode(),
            model=None if route.alias else route.model,
        )  # fmt: skip

    async def transcription(request: Request, path: str) -> StreamingResponse:
        form = await request.form()
        model = form.get("model")
        if not isinstance(model, str):
            raise InvalidInput("The form must name a 'model'")
        route = await _route(router, model, "stt")
        fields: dict[str, list[str]] = {}
        files = []
        for key, value in form.multi_items():
            if isinstance(value, str):
                fields.setdefault(key, []).append(route.model if key == "model" else value)
            else:
                files.append((key, (value.filename, await value.read(), value.content_type)))
        return await forward(
            gateway.client, gateway.handle(route.engine), "POST", path,
            data=fields, files=files, model=None if route.alias else route.model,
        )  # fmt: skip

    @app.post("/v1/audio/transcriptions")
    async def transcriptions(request: Request) -> StreamingResponse:
        return await transcription(request, "/v1/audio/transcriptions")

    @app.post("/v1/audio/translations")
    async def translations(request: Request) -> StreamingResponse:
        return await transcription(request, "/v1/audio/translations")

    @app.get("/engines")
    async def engines() -> dict[str, Any]:
        described = [await asyncio.to_thread(h.describe) for h in gateway.handles.values()]
        return {"engines": described}

    @app.get("/engines/{name}/logs")
    async def logs(name: str) -> dict[str, Any]:
        return {"name": name, "lines": gateway.handle(name).runner.logs()}

    @app.post("/engines/{name}/start")
    async def start(name: str) -> dict[str, Any]:
        handle = gateway.handle(name)
        await handle.ensure_running()
        return handle.describe()

    @app.post("/engines/{name}/stop")
    async def stop(name: str) -> dict[str, Any]:
        handle = gateway.handle(name)
        await handle.stop()
        return handle.describe()

    @app.api_route("/engines/{name}/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def engine_contract(name: str, path: str, request: Request) -> Response:
        handle = gateway.handle(name)
        return await forward(
            gateway.client, handle, request.method, f"/{path}", headers=request.headers,
            content=await request.body(), params=request.query_params,
        )  # fmt: skip


async def _route(router: Router, model: str, engine_type: str) -> Route:
    return await asyncio.to_thread(router.resolve, model, engine_type)
