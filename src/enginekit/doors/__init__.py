"""Front doors: wire protocols as adapters over the runtime (encoding and streaming live here)."""

from .app import create_app

__all__ = ["create_app"]
