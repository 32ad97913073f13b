"""The Wyoming protocol door (Home Assistant's voice services) over the engine's runtime."""

from .listener import WyomingListener, serve_wyoming

__all__ = ["WyomingListener", "serve_wyoming"]
