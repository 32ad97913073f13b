"""The status machine (engine-api.md §2 with the §10 corrections), observed over HTTP, and the
load-on-demand rule of the OpenAI and Wyoming doors, driven on the runtime they call.

Slow operations are test engines whose model methods wait at a gate the test opens, so every
assertion is about what was observed while an operation was held, never about wall-clock time.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from support.engines import Served, copy_engine, engine_module, live_server, make_server

from enginekit.doors.openai.models import SPEECH_ALIASES, use_model
from enginekit.doors.wyoming.programs import choose_model
from enginekit.engine import AudioChunk, EngineContext, SynthesisRequest
from enginekit.errors import InvalidInput
from enginekit.runtime import Runtime

DebugTTS = engine_module("tts/debug-tts").DebugTTS

GATE_TIMEOUT_S = 30.0
LOADING = "Model loading in progress. Retry after loading completes."
GPU_OOM = "[GPU_OOM]GPU out of memory. Try smaller input or restart engine."


class Gate:
    """Holds a model method until the test opens it; records that the method got there."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def pass_through(self) -> None:
        self.entered.set()
        if not self.opened.wait(GATE_TIMEOUT_S):
            raise RuntimeError("test gate was never opened")

    def reached(self) -> None:
        assert self.entered.wait(GATE_TIMEOUT_S), "the engine never reached the gate"


class GatedTTS(DebugTTS):
    """debug-tts whose load/unload/synthesize can be held at a gate keyed by operation."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        self.gates: dict[str, Gate] = {}
        self.unload_threads: list[str] = []
        self.loads: list[str] = []

    def hold(self, key: str) -> Gate:
        self.gates[key] = Gate()
        return self.gates[key]

    def open_all(self) -> None:
        for gate in self.gates.values():
            gate.opened.set()

    def _pass(self, key: str) -> None:
        gate = self.gates.get(key)
        if gate is not None:
            gate.pass_through()

    def load(self, name: str) -> None:
        self._pass(f"load:{name}")
        super().load(name)
        self.loads.append(name)

    def unload(self) -> None:
        self.unload_threads.append(threading.current_thread().name)
        self._pass("unload")
        super().unload()

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        self._pass(f"generate:{request.text}")
        yield from super().synthesize(request)


class FailingTTS(DebugTTS):
    """debug-tts whose next synthesis raises what the test sets; model "broken" fails to load."""

    fail_with: BaseException | None = None

    def load(self, name: str) -> None:
        if name == "broken":
            raise RuntimeError("weights are corrupt")
        super().load(name)

    def synthesize(self, request: SynthesisRequest) -> Iterator[AudioChunk]:
        if self.fail_with is not None:
            raise self.fail_with
        yield from super().synthesize(request)


class OutOfMemoryError(RuntimeError):
    """Stands in for torch.cuda.OutOfMemoryError, recognised by its type (§10.8)."""


def body(text: str = "Hello") -> dict[str, Any]:
    return {"text": text, "language": "en", "ttsSpeakerWav": ""}


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + GATE_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never observed: {what}")
        time.sleep(0.005)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return copy_engine("tts/debug-tts", tmp_path)


@pytest.fixture
def gated(base: Path) -> Iterator[tuple[Served, str, ThreadPoolExecutor]]:
    """A gated engine on a real uvicorn, plus threads to send requests that will block."""
    served = make_server(GatedTTS, base)
    assert isinstance(served.engine, GatedTTS)
    with live_server(served) as url, ThreadPoolExecutor(4) as pool:
        try:
            yield served, url, pool
        finally:
            served.engine.open_all()


@pytest.fixture
def failing(base: Path) -> Iterator[tuple[FailingTTS, TestClient]]:
    served = make_server(FailingTTS, base)
    assert isinstance(served.engine, FailingTTS)
    with TestClient(served.app) as client:
        assert client.post("/load", json={"engineModelName": "default"}).status_code == 200
        yield served.engine, client


def health(url: str) -> dict[str, Any]:
    response = httpx.get(f"{url}/health", timeout=5)
    assert response.status_code == 200
    return response.json()


def post(pool: ThreadPoolExecutor, url: str, path: str, payload: Any) -> Future[httpx.Response]:
    return pool.submit(httpx.post, f"{url}{path}", json=payload, timeout=30)


def load_default(url: str) -> None:
    response = httpx.post(f"{url}/load", json={"engineModelName": "default"}, timeout=30)
    assert response.status_code == 200


# -- loading (§2.1, §2.4, §10.3) ---------------------------------------------------------------


def test_generate_during_a_load_is_503_and_status_stays_loading(gated: Any) -> None:
    served, url, pool = gated
    gate = served.engine.hold("load:default")
    load = post(pool, url, "/load", {"engineModelName": "default"})
    gate.reached()
    during = health(url)  # /health answers while the load runs
    assert (during["status"], during["engineModelLoaded"]) == ("loading", False)
    refused = httpx.post(f"{url}/generate", json=body(), timeout=5)
    assert (refused.status_code, refused.json()) == (503, {"detail": LOADING})
    assert health(url)["status"] == "loading"  # §10.3: a 503 does not flip it to "ready"
    gate.opened.set()
    assert load.result().json() == {"status": "loaded", "engineModelName": "default", "error": None}
    after = health(url)
    assert (after["status"], after["currentEngineModel"]) == ("ready", "default")
    assert httpx.post(f"{url}/generate", json=body(), timeout=30).status_code == 200


def test_hotswap_shows_loading_with_no_model_while_the_new_one_loads(gated: Any) -> None:
    served, url, pool = gated
    load_default(url)
    gate = served.engine.hold("load:default")
    swap = post(pool, url, "/load", {"engineModelName": "default"})
    gate.reached()
    during = health(url)
    assert (during["status"], during["engineModelLoaded"], during["currentEngineModel"]) == (
        "loading", False, None,
    )  # fmt: skip
    gate.opened.set()
    assert swap.result().status_code == 200
    assert health(url)["currentEngineModel"] == "default"


# -- the doors' load on demand (OpenAI, Wyoming) ---------------------------------------------


@pytest.fixture
def unserved(base: Path) -> Iterator[Served]:
    """The gated engine's runtime with no server: each test drives it in an event loop of its
    own, the way the doors call it."""
    served = make_server(GatedTTS, base)
    yield served
    served.engine.open_all()
    served.runtime.jobs.shutdown()


async def samples_spoken(runtime: Runtime, text: str) -> int:
    request = SynthesisRequest(text=text, language="en")
    return sum([len(chunk.samples) async for chunk in runtime.synthesize(request)])


async def speak_through_a_door(runtime: Runtime, text: str) -> int:
    """What the OpenAI and Wyoming doors do for one request: load on demand, then one job."""
    await runtime.ensure_loaded("default")
    async with runtime.processing():
        return await samples_spoken(runtime, text)


def test_concurrent_door_requests_load_the_model_once_and_all_get_audio(unserved: Served) -> None:
    runtime, engine = unserved.runtime, unserved.engine
    gate = engine.hold("load:default")

    async def three_at_once() -> list[int]:
        requests = [asyncio.create_task(speak_through_a_door(runtime, t)) for t in "ABC"]
        await asyncio.to_thread(gate.reached)  # the first one's load is held, the others wait
        gate.opened.set()
        return await asyncio.gather(*requests)

    assert all(samples > 0 for samples in asyncio.run(three_at_once()))
    assert engine.loads == ["default"]


def test_a_door_request_during_a_reload_waits_for_it_instead_of_a_503(unserved: Served) -> None:
    runtime, engine = unserved.runtime, unserved.engine

    async def reload_then_speak() -> int:
        await runtime.switch_model("default")
        unload = engine.hold("unload")
        reload = asyncio.create_task(runtime.switch_model("default"))  # POST /load, say
        await asyncio.to_thread(unload.reached)  # the loaded model is being unloaded
        request = asyncio.create_task(speak_through_a_door(runtime, "Hello."))
        await asyncio.sleep(0)  # the request has come in during the reload
        unload.opened.set()
        await reload
        return await request

    assert asyncio.run(reload_then_speak()) > 0
    assert engine.loads == ["default", "default"]


def chosen_during_a_swap(
    served: Served, choose: Callable[[Runtime], Awaitable[str]]
) -> tuple[str, list[str]]:
    """`choose` comes in while a swap from default to other is held at its load: what it
    chose, and the loads the engine did."""
    runtime, engine = served.runtime, served.engine
    models = runtime.layout.models_dir
    shutil.copytree(models / "default", models / "other")

    async def during_a_swap() -> str:
        await runtime.switch_model("default")
        gate = engine.hold("load:other")
        swap = asyncio.create_task(runtime.switch_model("other"))
        await asyncio.to_thread(gate.reached)
        chosen = asyncio.create_task(choose(runtime))
        await asyncio.sleep(0)  # the request has come in during the swap
        gate.opened.set()
        await swap
        return await chosen

    return asyncio.run(during_a_swap()), engine.loads


def test_an_openai_name_during_a_load_waits_for_it_and_means_the_model_it_loads(
    unserved: Served,
) -> None:
    def alias(runtime: Runtime) -> Awaitable[str]:
        return use_model(runtime, "tts-1", SPEECH_ALIASES)

    assert chosen_during_a_swap(unserved, alias) == ("other", ["default", "other"])


def test_a_wyoming_request_naming_no_model_during_a_swap_means_the_model_it_loads(
    unserved: Served,
) -> None:
    def unnamed(runtime: Runtime) -> Awaitable[str]:
        return choose_model(runtime, None, None)

    assert chosen_during_a_swap(unserved, unnamed) == ("other", ["default", "other"])


def test_a_load_whose_caller_is_cancelled_does_not_leave_the_engine_loading(
    unserved: Served,
) -> None:
    runtime, engine = unserved.runtime, unserved.engine

    async def cancel_a_load() -> None:
        gate = engine.hold("load:default")
        load = asyncio.create_task(runtime.switch_model("default"))
        await asyncio.to_thread(gate.reached)
        load.cancel()
        with pytest.raises(asyncio.CancelledError):
            await load

    asyncio.run(cancel_a_load())
    state = runtime.state
    assert (state.status, state.error) == ("error", "Loading default was cancelled")


def test_a_load_waits_for_a_request_admitted_before_it_to_reach_its_job(
    unserved: Served,
) -> None:
    """A request admitted by processing() may still be decoding its upload; a load that comes
    meanwhile must not unload the model the request was admitted for."""
    runtime, engine = unserved.runtime, unserved.engine

    async def decode_then_speak(decoded: asyncio.Event) -> int:
        async with runtime.processing():
            await decoded.wait()  # decoding the upload, say
            return await samples_spoken(runtime, "Hello.")

    async def load_during_a_decode() -> tuple[bool, int]:
        await runtime.switch_model("default")
        unload = engine.hold("unload")
        unload.opened.set()  # never held: `entered` tells whether the unload began
        decoded = asyncio.Event()
        request = asyncio.create_task(decode_then_speak(decoded))
        await asyncio.sleep(0)  # admitted, now decoding
        reload = asyncio.create_task(runtime.switch_model("default"))
        # Without the wait the reload unloads within milliseconds; a second is ample.
        unloaded_meanwhile = await asyncio.to_thread(unload.entered.wait, 1.0)
        decoded.set()
        samples, _ = await asyncio.gather(request, reload)
        return unloaded_meanwhile, samples

    unloaded_meanwhile, samples = asyncio.run(load_during_a_decode())
    assert not unloaded_meanwhile and samples > 0
    assert engine.loads == ["default", "default"]


# -- processing (§2.2, §2.5) -------------------------------------------------------------------


def test_health_reports_processing_and_answers_while_a_job_runs(gated: Any) -> None:
    served, url, pool = gated
    load_default(url)
    gate = served.engine.hold("generate:slow")
    job = post(pool, url, "/generate", body("slow"))
    gate.reached()
    during = health(url)
    assert (during["status"], during["currentEngineModel"]) == ("processing", "default")
    assert httpx.get(f"{url}/models", timeout=5).status_code == 200
    assert httpx.get(f"{url}/info", timeout=5).status_code == 200
    gate.opened.set()
    response = job.result()
    assert response.status_code == 200
    assert response.content[:4] == b"RIFF"
    assert health(url)["status"] == "ready"


def test_status_stays_processing_until_every_queued_job_is_done(gated: Any) -> None:
    # Our improvement: the reference reports "ready" when the first of two queued jobs ends.
    served, url, pool = gated
    load_default(url)
    first, second = served.engine.hold("generate:first"), served.engine.hold("generate:second")
    job1 = post(pool, url, "/generate", body("first"))
    first.reached()
    job2 = post(pool, url, "/generate", body("second"))
    eventually(lambda: served.runtime.state.active_jobs == 2, "the second job queued")
    first.opened.set()
    assert job1.result().status_code == 200
    assert health(url)["status"] == "processing"
    second.opened.set()
    assert job2.result().status_code == 200
    assert health(url)["status"] == "ready"


def test_a_load_queued_behind_a_job_shows_loading_until_it_has_loaded(gated: Any) -> None:
    # Our improvement on §2.5: the job finishing does not report "ready" under a pending load.
    served, url, pool = gated
    load_default(url)
    job_gate = served.engine.hold("generate:slow")
    job = post(pool, url, "/generate", body("slow"))
    job_gate.reached()
    load_gate = served.engine.hold("load:default")
    load = post(pool, url, "/load", {"engineModelName": "default"})
    eventually(lambda: health(url)["status"] == "loading", "status loading behind the job")
    job_gate.opened.set()
    assert job.result().status_code == 200
    load_gate.reached()
    assert health(url)["status"] == "loading"
    load_gate.opened.set()
    assert load.result().status_code == 200
    assert health(url)["status"] == "ready"


# -- engine failures (§2.2, §2.3, §10.5, §10.8) ------------------------------------------------


def test_an_engine_error_is_500_sets_error_and_the_next_generate_clears_it(failing: Any) -> None:
    engine, client = failing
    engine.fail_with = RuntimeError("boom")
    response = client.post("/generate", json=body())
    assert (response.status_code, response.json()) == (500, {"detail": "boom"})
    broken = client.get("/health").json()
    assert (broken["status"], broken["error"]) == ("error", "boom")
    assert broken["engineModelLoaded"] is True  # "error" blocks nothing
    engine.fail_with = None
    assert client.post("/generate", json=body()).status_code == 200
    healed = client.get("/health").json()
    assert (healed["status"], healed["error"]) == ("ready", None)


def test_a_refused_request_after_an_error_reports_ready_and_keeps_the_message(
    failing: Any,
) -> None:
    # §2.2: an HTTP error of a processing call sets "ready"; `error` keeps its old value.
    engine, client = failing
    engine.fail_with = RuntimeError("boom")
    assert client.post("/generate", json=body()).status_code == 500
    assert client.post("/generate", json=body(" ")).status_code == 400
    after = client.get("/health").json()
    assert (after["status"], after["error"]) == ("ready", "boom")


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("Out Of Memory while allocating the cache"),
        OutOfMemoryError("CUDA allocator gave up"),
    ],
    ids=["cuda-message", "any-case-message", "by-type"],
)
def test_gpu_out_of_memory_is_503_gpu_oom(failing: Any, exc: BaseException) -> None:
    engine, client = failing
    engine.fail_with = exc
    response = client.post("/generate", json=body())
    assert (response.status_code, response.json()) == (503, {"detail": GPU_OOM})
    after = client.get("/health").json()
    assert (after["status"], after["error"]) == ("error", "GPU out of memory")


def test_a_cuda_error_that_is_not_out_of_memory_is_a_plain_500(failing: Any) -> None:
    # §10.8: the reference maps any message containing "cuda" to GPU_OOM; we do not.
    engine, client = failing
    engine.fail_with = RuntimeError("CUDA error: device-side assert triggered")
    response = client.post("/generate", json=body())
    assert response.status_code == 500
    assert response.json() == {"detail": "CUDA error: device-side assert triggered"}
    after = client.get("/health").json()
    assert (after["status"], after["error"]) == (
        "error", "CUDA error: device-side assert triggered",
    )  # fmt: skip


def test_an_http_error_from_the_engine_passes_through_and_sets_ready(failing: Any) -> None:
    engine, client = failing
    engine.fail_with = InvalidInput("Language xx is not supported by this voice")
    response = client.post("/generate", json=body())
    assert response.status_code == 400
    assert response.json() == {"detail": "Language xx is not supported by this voice"}
    after = client.get("/health").json()
    assert (after["status"], after["error"]) == ("ready", None)


def test_a_load_model_crash_is_500_and_sets_error(base: Path) -> None:
    (base / "models" / "broken").mkdir(parents=True)
    served = make_server(FailingTTS, base)
    with TestClient(served.app) as client:
        response = client.post("/load", json={"engineModelName": "broken"})
        after = client.get("/health").json()
        retry = client.post("/load", json={"engineModelName": "default"})
        healed = client.get("/health").json()
    assert (response.status_code, response.json()) == (500, {"detail": "weights are corrupt"})
    assert (after["status"], after["error"]) == ("error", "weights are corrupt")
    assert (after["engineModelLoaded"], after["currentEngineModel"]) == (False, None)
    assert retry.status_code == 200
    assert (healed["status"], healed["error"], healed["engineModelLoaded"]) == ("ready", None, True)


# -- /shutdown (§3.5, §10.7) -------------------------------------------------------------------


def test_shutdown_unloads_in_the_worker_while_health_keeps_answering(gated: Any) -> None:
    served, url, pool = gated
    load_default(url)
    gate = served.engine.hold("unload")
    shutdown = post(pool, url, "/shutdown", {})
    gate.reached()
    assert health(url)["engineModelLoaded"] is True  # answered during the slow unload
    response = shutdown.result(timeout=10)  # answered at once, before the unload ends
    assert (response.status_code, response.json()) == (200, {"status": "shutting_down"})
    gate.opened.set()
    eventually(lambda: bool(served.engine.unload_threads), "the unload to finish")
    assert len(served.engine.unload_threads) == 1
    assert served.engine.unload_threads[0].startswith("debug-tts-worker")
    assert served.engine.unload_threads[0] != threading.main_thread().name


def test_after_shutdown_the_port_stops_answering(gated: Any) -> None:
    _, url, _ = gated
    load_default(url)
    response = httpx.post(f"{url}/shutdown", json={}, timeout=10)
    assert response.json() == {"status": "shutting_down"}

    def refused() -> bool:
        try:
            httpx.get(f"{url}/health", timeout=1)
        except httpx.TransportError:
            return True
        return False

    eventually(refused, "the listener closing after /shutdown")
