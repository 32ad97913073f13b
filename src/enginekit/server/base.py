"""BaseEngineServer: what every engine shares, so an engine author writes only the model methods.

The author implements `load_model(name)` (reading `self.models_dir / name`), `unload_model()`, and
the type's processing method. Everything else (paths, the model store, the status machine, the
single worker thread, HTTP) lives here and in the route modules.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from fastapi import APIRouter, FastAPI, HTTPException

from ..errors import EnginekitError, ModelNotFound
from ..layout import EngineLayout
from ..manifest import EngineManifest, ManifestError, load_manifest
from ..models import ModelEntry, ModelSource, ModelStore, ProgressEvent, validate_model_name
from ..settings import ServerSettings, StoreSettings
from .app import create_app
from .device import free_accelerator_memory
from .routes_common import common_router
from .state import EngineState
from .wire import LoadProgress, ModelField, ModelInfo

__all__ = ["BaseEngineServer"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_REQUIRED: Any = object()


class BaseEngineServer:
    """One engine process: its layout, store, manifest, state and worker."""

    engine_type: ClassVar[str] = "unknown"

    def __init__(
        self,
        engine_name: str | None = None,
        display_name: str | None = None,
        *,
        layout: EngineLayout | None = None,
        config_path: Path | None = None,
        store_settings: StoreSettings | None = None,
        server_settings: ServerSettings | None = None,
    ) -> None:
        self.layout = layout or EngineLayout.detect()
        self.base_path = self.layout.base_path
        self.models_dir = self.layout.models_dir
        self.external_models_dir = self.layout.external_models_dir
        self.samples_dir = self.layout.samples_dir
        self.manifest = _manifest_or_none(config_path or self.base_path / "engine.yaml")
        self.engine_name = engine_name or _from_manifest(self.manifest, "name", self.base_path.name)
        self.display_name = display_name or _from_manifest(
            self.manifest, "display_name", self.engine_name
        )
        self.store = ModelStore(self.layout, store_settings)
        self.settings = server_settings or ServerSettings.from_env()
        self.state = EngineState()
        self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"{self.engine_name}-worker")
        self.model_lock = asyncio.Lock()
        self.request_exit: Callable[[], None] = lambda: None
        self.startup_model: str | None = None
        self._app: FastAPI | None = None

    # -- the engine author's surface ---------------------------------------------------------

    def load_model(self, model_name: str) -> None:
        """Load `self.models_dir / model_name`; runs in the worker thread."""
        raise NotImplementedError

    def unload_model(self) -> None:
        """Release the loaded model; runs in the worker thread."""

    def package_version(self) -> str | None:
        """The inference library's version for /health."""
        return None

    def parameter(self, parameters: dict[str, Any], name: str, fallback: Any = _REQUIRED) -> Any:
        """A request parameter, else its default from engine.yaml, else `fallback`."""
        if name in parameters:
            return parameters[name]
        spec = self.manifest.parameters.get(name) if self.manifest else None
        if spec is not None:
            return spec.default
        if fallback is _REQUIRED:
            raise KeyError(f"Parameter {name} is neither in the request nor in engine.yaml")
        return fallback

    @property
    def default_model(self) -> str | None:
        """The yaml's default_model when it can be served, else the first servable model."""
        return self.pick_default(self.servable_model_names())

    def pick_default(self, names: list[str]) -> str | None:
        """The default among `names` (so /models decides it from the listing it already has)."""
        declared = self.manifest.default_model if self.manifest else None
        if declared in names:
            return declared
        return min(names) if names else None

    def get_available_models(self) -> list[ModelInfo]:
        """models/ (baked-in and linked) plus catalog models that can be downloaded."""
        present = {e.name: e for e in self.store.discover() if e.kind != "dangling"}
        infos = [self.describe_model(name, entry) for name, entry in present.items()]
        infos += [self.describe_model(name, None) for name in self._downloadable_names(present)]
        return sorted(infos, key=lambda info: info.name)

    def describe_model(self, name: str, entry: ModelEntry | None) -> ModelInfo:
        """One /models entry; display name and languages come from the yaml catalog if listed."""
        catalog = self.manifest.catalog_model(name) if self.manifest else None
        size = entry.size_bytes if entry else _declared_size(catalog)
        size_mb = round(size / 2**20, 1) if size is not None else _catalog_size_mb(catalog)
        fields = [ModelField(key="size_mb", value=size_mb, field_type="number")]
        return ModelInfo(
            name=name,
            display_name=catalog.display_name if catalog else name,
            languages=self._languages_of(catalog),
            fields=fields,
            source=entry.kind if entry else "downloadable",  # callers drop dangling entries
            size_bytes=size,
        )

    def _languages_of(self, catalog: Any) -> list[str]:
        """The catalog entry's languages, else the engine's supported languages."""
        if catalog is not None and catalog.languages:
            return list(catalog.languages)
        return list(self.manifest.supported_languages) if self.manifest else []

    # -- models through the store ------------------------------------------------------------

    def model_source(self, name: str) -> ModelSource | None:
        catalog = self.manifest.catalog_model(name) if self.manifest else None
        return catalog.source if catalog else None

    def servable_model_names(self) -> list[str]:
        """In models/, in external_models/, or downloadable from the catalog."""
        names = set(self.store.names())
        names.update(self.store.external_names())
        names.update(self._downloadable_names({}))
        return sorted(names)

    def _downloadable_names(self, present: dict[str, Any]) -> list[str]:
        if self.manifest is None:
            return []
        return [m.name for m in self.manifest.models if m.source and m.name not in present]

    def check_servable(self, name: str) -> None:
        """Refuse unknown names before anything (such as unloading) happens."""
        validate_model_name(name)
        names = self.servable_model_names()
        if name not in names:
            raise ModelNotFound(name, names)

    def prepare_model(self, name: str) -> Path:
        """Make models/<name> exist (link or download) while /health shows the progress."""

        def on_progress(event: ProgressEvent) -> None:
            self.state.progress = LoadProgress(
                phase=event.phase, model=name, bytes_done=event.done, bytes_total=event.total
            )

        return self.store.ensure(name, self.model_source(name), on_progress)

    # -- the worker -------------------------------------------------------------------------

    async def run_in_worker(self, function: Callable[..., T], *args: Any) -> T:
        """All model work is serialised on one thread; the event loop stays free for /health."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, function, *args)

    async def switch_model(self, name: str) -> None:
        """The status machine of a load (§2.1 with §10.2): check the name and fetch the
        model while the old one stays loaded, then unload it and load the new one. Loads are
        serialised by the model lock."""
        async with self.model_lock:
            self.state.load_started()
            try:
                await self.run_in_worker(self.check_servable, name)
                await self.run_in_worker(self.prepare_model, name)
                await self.unload_current()
                self.state.progress = LoadProgress(phase="loading", model=name)
                await self.run_in_worker(self.load_model, name)
            except (HTTPException, EnginekitError) as exc:
                if exc.status_code < 500:
                    self.state.load_refused()
                else:
                    self.state.load_failed(str(exc.detail))
                raise
            except Exception as exc:
                logger.exception("Loading %s failed", name)
                self.state.load_failed(str(exc))
                raise HTTPException(status_code=500, detail=str(exc)) from exc
            self.state.load_succeeded(name)
        logger.info("Loaded model %s", name)

    async def load_at_startup(self, name: str) -> None:
        """`--load NAME`: load in the background so /health answers ("loading") meanwhile."""
        try:
            await self.switch_model(name)
        except (HTTPException, EnginekitError) as exc:
            logger.error("Could not load %s at start-up: %s", name, exc.detail)

    async def unload_current(self) -> None:
        if self.state.model_loaded:
            await self.run_in_worker(self.unload_model)
        self.state.model_unloaded()
        free_accelerator_memory()

    async def shutdown_worker(self) -> None:
        """Orderly end (/shutdown, SIGTERM): stop downloads, unload in the worker, then stop
        the worker."""
        self.store.cancel_downloads()
        async with self.model_lock:
            try:
                await self.unload_current()
            except Exception:
                logger.exception("Unloading %s at shutdown failed", self.state.current_model)
        self._worker.shutdown(wait=False)

    # -- HTTP -------------------------------------------------------------------------------

    def routers(self) -> list[APIRouter]:
        return [common_router(self)]

    @property
    def app(self) -> FastAPI:
        if self._app is None:
            self._app = create_app(self)
        return self._app


def _manifest_or_none(path: Path) -> EngineManifest | None:
    """A missing or broken engine.yaml must not stop the engine; /info falls back to defaults."""
    if not path.is_file():
        logger.warning("No engine.yaml at %s; /info uses defaults", path)
        return None
    try:
        return load_manifest(path)
    except ManifestError as exc:
        logger.error("Ignoring engine.yaml: %s", exc.detail)
        return None


def _from_manifest(manifest: EngineManifest | None, key: str, fallback: str) -> str:
    return str(getattr(manifest, key)) if manifest is not None else fallback


def _catalog_size_mb(catalog: Any) -> float:
    """The catalog's informational size_mb for a model not downloaded yet, else 0."""
    value = catalog.metadata().get("size_mb") if catalog is not None else None
    return float(value) if isinstance(value, int | float) else 0.0


def _declared_size(catalog: Any) -> int | None:
    source = getattr(catalog, "source", None)
    if source is None:
        return None
    sizes = [f.size for f in source.files] if source.files else [source.size]
    return None if None in sizes else sum(s for s in sizes if s is not None)
