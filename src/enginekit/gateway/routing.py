"""Which engine serves a model, read from the engine directories and their data dirs without
starting any engine (a model name, or ENGINE/MODEL where two engines share a name)."""

from __future__ import annotations

from dataclasses import dataclass

from ..checkout import EngineDir
from ..errors import NotFound
from ..layout import EngineLayout
from ..runtime import Catalog
from ..settings import StoreSettings
from ..store import ModelStore
from .config import GatewayConfig

__all__ = ["ALIASES", "Route", "Router"]

#: OpenAI's model names, each meaning "the first engine of this type, its loaded or default model".
ALIASES = {"tts-1": "tts", "tts-1-hd": "tts", "gpt-4o-mini-tts": "tts", "whisper-1": "stt"}


@dataclass(frozen=True)
class Route:
    engine: str
    model: str
    alias: bool = False

    @property
    def qualified(self) -> str:
        return f"{self.engine}/{self.model}"


class Router:
    def __init__(
        self, config: GatewayConfig, engines: list[EngineDir], store_settings: StoreSettings
    ) -> None:
        self._config = config
        self._engines = engines
        self._store_settings = store_settings

    def engines_of_type(self, engine_type: str) -> list[EngineDir]:
        return [e for e in self._engines if e.engine_type == engine_type]

    def models(self, engine_type: str | None = None) -> list[Route]:
        """Every servable model of every engine (of one type), local ones first per engine."""
        routes = []
        for engine in self._engines:
            if engine_type is None or engine.engine_type == engine_type:
                routes += [Route(engine.name, name) for name in self._names(engine)]
        return routes

    def resolve(self, model: str, engine_type: str) -> Route:
        """The engine for `model` among engines of `engine_type`; NotFound names the model."""
        candidates = self.engines_of_type(engine_type)
        if model in ALIASES and ALIASES[model] == engine_type and candidates:
            return Route(candidates[0].name, model, alias=True)
        engine_name, _, bare = model.rpartition("/")
        for engine in candidates:
            if engine_name and engine.name != engine_name:
                continue
            if bare in self._names(engine):
                return Route(engine.name, bare)
        raise NotFound(f"The model '{model}' does not exist on this gateway")

    def _names(self, engine: EngineDir) -> list[str]:
        layout = EngineLayout.at(engine.path, self._config.data_dir_of(engine.name))
        store = ModelStore(layout, self._store_settings)
        catalog = Catalog(store, engine.manifest)
        listed = [m.name for m in catalog.listing()]
        return listed + sorted(set(store.external_names()) - set(listed))
