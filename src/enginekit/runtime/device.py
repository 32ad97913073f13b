"""What the engine runs on and how GPU trouble is recognised, without importing torch needlessly."""

from __future__ import annotations

import functools
import gc
import importlib.util
import sys
from typing import Any

__all__ = [
    "DeviceInfo",
    "device_name",
    "free_accelerator_memory",
    "is_gpu_out_of_memory",
    "resolve_device",
]


def _torch() -> Any | None:
    """torch if the engine already uses it or it is installed; None on CPU-only installs."""
    if "torch" in sys.modules:
        return sys.modules["torch"]
    if importlib.util.find_spec("torch") is None:
        return None
    return importlib.import_module("torch")


def resolve_device(setting: str) -> str:
    """The one device rule: ENGINE_DEVICE (cpu, cuda) when set, else cuda when torch sees it."""
    return device_name() if setting == "auto" else setting


@functools.lru_cache(maxsize=1)
def device_name() -> str:
    torch = _torch()
    try:
        return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    except Exception:  # a broken CUDA install must not take /health down
        return "cpu"


class DeviceInfo:
    """The /health device fields: memory only on cuda, as numbers (clients reject null there)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.gpu_memory_used_mb: int | None = None
        self.gpu_memory_total_mb: int | None = None
        if self.device == "cuda":
            torch = _torch()
            assert torch is not None
            self.gpu_memory_used_mb = int(torch.cuda.memory_allocated() // 2**20)
            self.gpu_memory_total_mb = int(
                torch.cuda.get_device_properties(0).total_memory // 2**20
            )


def is_gpu_out_of_memory(exc: BaseException) -> bool:
    """By type (torch.cuda.OutOfMemoryError) or an "out of memory" message; never just "cuda"."""
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    return "out of memory" in str(exc).lower()


def free_accelerator_memory(device: str) -> None:
    gc.collect()
    if device == "cuda":
        torch = _torch()
        if torch is not None:
            torch.cuda.empty_cache()
