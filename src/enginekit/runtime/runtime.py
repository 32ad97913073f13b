"""The runtime: one engine object with its layout, store, manifest, state machine and worker.

Front doors call it; it knows nothing of HTTP. Loads follow engine-api.md §2 with §10: the name is
checked and the model fetched while the old one stays loaded, then the old one is unloaded and the
new one loaded. Processing requests pass through `processing()`, which holds the contract's status
rules for refusals.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ..engine import (
    AnalysisRequest,
    AnalysisResult,
    AudioChunk,
    Engine,
    EngineContext,
    QualityEngine,
    STTEngine,
    SynthesisRequest,
    Transcript,
    TranscriptionRequest,
    TranscriptSegment,
    TTSEngine,
)
from ..errors import (
    EngineFailure,
    EnginekitError,
    InvalidInput,
    ModelLoading,
    ModelNotLoaded,
    ShuttingDown,
)
from ..layout import EngineLayout
from ..manifest import EngineManifest, ManifestError, load_manifest
from ..settings import Settings
from ..store import ModelStore, ProgressEvent
from .catalog import Catalog
from .device import DeviceInfo, free_accelerator_memory, is_gpu_out_of_memory, resolve_device
from .jobs import JobRunner
from .requests import RequestRules
from .state import EngineState, LoadProgress

__all__ = ["HealthSnapshot", "Runtime"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
E = TypeVar("E", bound=Engine)

DRAIN_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HealthSnapshot:
    """Everything /health reports, read without touching the engine's worker."""

    state: EngineState
    device: DeviceInfo | None
    package_version: str | None
    error: str | None


class Runtime:
    """Holds an engine and serves its models; every door talks to this object."""

    def __init__(
        self,
        engine_class: Callable[[EngineContext], Engine],
        layout: EngineLayout,
        settings: Settings,
        manifest_path: Path | None = None,
    ) -> None:
        layout.create_directories()
        self.layout = layout
        self.settings = settings
        self.manifest = _manifest_or_none(manifest_path or layout.base_path / "engine.yaml")
        self.store = ModelStore(layout, settings.store)
        self.catalog = Catalog(self.store, self.manifest)
        self.device = resolve_device(settings.server.device)
        self.engine = engine_class(
            EngineContext(layout.models_dir, layout.samples_dir, self.manifest, self.device)
        )
        self.engine_name = self.manifest.name if self.manifest else layout.base_path.name
        self.display_name = self.manifest.display_name if self.manifest else self.engine_name
        self.engine_type = self.manifest.engine_type if self.manifest else self.engine.engine_type
        server = settings.server
        self.rules = RequestRules(
            self.manifest, self.display_name, layout.samples_dir,
            max_audio_bytes=server.max_request_bytes,
            confine_audio_paths=server.audio_paths == "samples"
            or (server.audio_paths == "auto" and not server.on_loopback),
        )  # fmt: skip
        self.state = EngineState()
        self.jobs = JobRunner(
            self.state, self.engine_name, self.device, type(self.engine).parallel_jobs,
            scrub=self.public_message,
        )  # fmt: skip
        self.stopping = False
        self._load_lock: asyncio.Lock | None = None

    # -- what the engine can do -------------------------------------------------------------

    def tts(self) -> TTSEngine:
        return _as(self.engine, TTSEngine)

    def quality(self) -> QualityEngine:
        return _as(self.engine, QualityEngine)

    def stt(self) -> STTEngine:
        return _as(self.engine, STTEngine)

    def public_message(self, message: str) -> str:
        """An error as clients see it: paths relative to the engine directory, so no reply
        (nor /health, which needs no token) tells where the engine lives."""
        base = str(self.layout.base_path)
        return message.replace(base + os.sep, "").replace(base, ".")

    # -- health -----------------------------------------------------------------------------

    def health(self) -> HealthSnapshot:
        """Never raises: a failure to read the device is reported in the snapshot (§3.1)."""
        try:
            return HealthSnapshot(
                self.state, DeviceInfo(self.device), self.engine.package_version(), None
            )
        except Exception as exc:
            return HealthSnapshot(self.state, None, None, str(exc))

    # -- loads ------------------------------------------------------------------------------

    @property
    def load_lock(self) -> asyncio.Lock:
        """Created on first use, inside the server's event loop."""
        if self._load_lock is None:
            self._load_lock = asyncio.Lock()
        return self._load_lock

    async def switch_model(self, name: str) -> None:
        """Loads are serialised; a client error leaves "ready", anything else "error"."""
        async with self.load_lock:
            await self._load_holding_lock(name)

    async def ensure_loaded(self, name: str) -> None:
        """Load `name` unless it is the loaded model (the OpenAI and Wyoming doors' rule). A
        request that comes during a load waits for it and looks again, so concurrent requests
        for one model load it once and none is refused for a load another one started."""
        if self._serving(name):
            return
        async with self.load_lock:
            if not self._serving(name):
                await self._load_holding_lock(name)

    async def loads_settled(self) -> None:
        """Returns once no load is running: at once when none is, else after it (and any
        queued behind it)."""
        if self.state.loading:
            async with self.load_lock:
                pass

    def _serving(self, name: str) -> bool:
        state = self.state
        return state.model_loaded and state.current_model == name and not state.loading

    async def _load_holding_lock(self, name: str) -> None:
        """The load itself; the caller holds load_lock."""
        if self.stopping:
            raise ShuttingDown()
        self.state.load_started()
        try:
            await self.jobs.on_worker(self.catalog.check_servable, name)
            await self.jobs.on_worker(self._fetch, name)
            await self.jobs.wait_idle()
            await self._unload_current()
            self.state.progress = LoadProgress(phase="loading", model=name)
            try:
                await self.jobs.on_worker(self.engine.load, name)
            except Exception as exc:  # bytes just downloaded that do not load go away
                if not is_gpu_out_of_memory(exc):  # a full GPU says nothing of the bytes
                    reason = self.public_message(str(exc))
                    await self.jobs.on_worker(self.store.discard_fresh, name, reason)
                raise
        except EnginekitError as exc:
            if exc.status_code < 500:
                self.state.load_refused()
            else:
                self.state.load_failed(self.public_message(exc.detail))
            raise
        except Exception as exc:
            logger.exception("Loading %s failed", name)
            message = self.public_message(str(exc))
            self.state.load_failed(message)
            raise EngineFailure(message) from exc
        except asyncio.CancelledError:  # its caller went (a connection closed at shutdown)
            self.state.load_failed(f"Loading {name} was cancelled")
            raise
        self.state.load_succeeded(name)
        logger.info("Loaded model %s", name)

    async def load_at_startup(self, name: str) -> None:
        """`--load NAME` / ENGINE_LOAD_MODEL: in the background, so /health answers meanwhile."""
        if name == "default":
            name = self.catalog.default_model() or name
        try:
            await self.switch_model(name)
        except EnginekitError as exc:
            logger.error("Could not load %s at start-up: %s", name, exc.detail)

    def _fetch(self, name: str) -> Path:
        """Make models/<name> exist (link or download) while /health shows the progress."""

        def on_progress(event: ProgressEvent) -> None:
            self.state.progress = LoadProgress(
                phase=event.phase, model=name, bytes_done=event.done, bytes_total=event.total
            )

        return self.store.ensure(name, self.catalog.source_of(name), on_progress)

    async def _unload_current(self) -> None:
        if self.state.model_loaded:
            await self.jobs.on_worker(self.engine.unload)
        self.state.model_unloaded()
        free_accelerator_memory(self.device)

    def begin_shutdown(self) -> None:
        """From now on new work is refused (503) and running downloads stop."""
        self.stopping = True
        self.store.cancel_downloads()

    async def shutdown(self) -> None:
        """Orderly end (/shutdown, SIGTERM): refuse new work, let the running job finish
        (bounded), unload on the worker, stop it."""
        self.begin_shutdown()
        try:
            await asyncio.wait_for(self.jobs.wait_idle(), DRAIN_TIMEOUT_S)
        except TimeoutError:
            logger.warning("A job still runs after %.0f s; stopping anyway", DRAIN_TIMEOUT_S)
        async with self.load_lock:
            try:
                await self._unload_current()
            except Exception:
                logger.exception("Unloading %s at shutdown failed", self.state.current_model)
        self.jobs.shutdown()

    # -- processing -------------------------------------------------------------------------

    @asynccontextmanager
    async def processing(self) -> AsyncIterator[None]:
        """One processing request, validation included (§2.2-2.4): 503 while loading with the
        status untouched (§10.3), 400 without a model; a refusal sets "ready", a failure
        outside a job "error". The request counts as admitted until the block ends, so a load
        waits for it: inside, never wait for a load (ensure_loaded first, then this)."""
        if self.state.loading:
            raise ModelLoading()
        try:
            if self.stopping:
                raise ShuttingDown()
            if not self.state.model_loaded:
                raise ModelNotLoaded()
            async with self.jobs.admitted():
                yield
        except EnginekitError as exc:
            if exc.status_code < 500:
                self.state.request_refused()
            elif not (isinstance(exc, ShuttingDown) or self.jobs.recorded(exc)):
                self.state.mark_failed(self.public_message(exc.detail))
            raise

    def synthesize(self, request: SynthesisRequest) -> AsyncIterator[AudioChunk]:
        """The engine's chunks as it yields them; at least one, or the request is refused."""
        engine = self.tts()

        def produce() -> Iterator[AudioChunk]:
            produced = False
            for chunk in engine.synthesize(request):
                if len(chunk.samples):
                    produced = True
                    yield chunk
            if not produced:
                raise InvalidInput(f"Nothing to speak in the text: {request.text[:80]!r}")

        produce.__name__ = "synthesize"
        return self.jobs.stream(produce)

    async def transcribe(self, request: TranscriptionRequest) -> Transcript:
        return await self.jobs.run(self.stt().transcribe, request)

    def transcribe_segments(
        self, request: TranscriptionRequest
    ) -> AsyncGenerator[TranscriptSegment, None]:
        """The engine's segments as it recognises them, in one job."""
        engine = self.stt()

        def transcribe_segments() -> Iterator[TranscriptSegment]:
            return engine.transcribe_segments(request)

        return self.jobs.stream(transcribe_segments)

    async def analyze(self, request: AnalysisRequest) -> AnalysisResult:
        return await self.jobs.run(self.quality().analyze, request)


def _as(engine: Engine, kind: type[E]) -> E:
    if not isinstance(engine, kind):
        raise InvalidInput(f"This engine is not a {kind.engine_type} engine")
    return engine


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
