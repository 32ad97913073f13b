"""The shared shape of every processing endpoint: readiness, refusals, the job and its errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from fastapi import HTTPException

from ..errors import EnginekitError
from .device import free_accelerator_memory, is_gpu_out_of_memory

if TYPE_CHECKING:
    from .base import BaseEngineServer

__all__ = ["check_ready", "refuse", "refusing", "run_job"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOADING_DETAIL = "Model loading in progress. Retry after loading completes."
GPU_OOM_DETAIL = "[GPU_OOM]GPU out of memory. Try smaller input or restart engine."


def refuse(server: BaseEngineServer, status_code: int, detail: str) -> NoReturn:
    """An HTTP error of a processing request: the status becomes "ready" (reference rule)."""
    server.state.request_refused()
    raise HTTPException(status_code=status_code, detail=detail)


def refusing(server: BaseEngineServer, check: Callable[..., Any], *args: Any) -> None:
    """Run a validation that raises EnginekitError, refusing the request the contract's way."""
    try:
        check(*args)
    except EnginekitError as exc:
        refuse(server, exc.status_code, exc.detail)


def check_ready(server: BaseEngineServer) -> None:
    """503 while loading (status untouched, §10.3), 400 when no model is loaded."""
    if server.state.loading:
        raise HTTPException(status_code=503, detail=LOADING_DETAIL)
    if not server.state.model_loaded:
        refuse(server, 400, "Model not loaded")


async def run_job(server: BaseEngineServer, function: Callable[..., T], *args: Any) -> T:
    """Run the engine's method on the worker and map its failures onto the status machine."""
    state = server.state
    state.job_started()
    try:
        result = await server.run_in_worker(function, *args)
    except (HTTPException, EnginekitError) as exc:
        status = exc.status_code
        if status < 500:
            state.job_refused()
        else:
            state.job_failed(exc.detail if isinstance(exc.detail, str) else str(exc.detail))
        raise
    except Exception as exc:
        if is_gpu_out_of_memory(exc):
            state.job_failed("GPU out of memory")
            free_accelerator_memory()
            raise HTTPException(status_code=503, detail=GPU_OOM_DETAIL) from exc
        logger.exception("%s failed", getattr(function, "__name__", "job"))
        state.job_failed(str(exc))
        raise HTTPException(status_code=500, detail=str(exc)) from exc
    state.job_finished()
    return result
