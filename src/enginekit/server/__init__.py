"""An engine process: `run(EngineClass)` at the bottom of an engine's server.py."""

from .run import run

__all__ = ["run"]
