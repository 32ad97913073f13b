"""Which models an engine can serve, and how each looks in a listing.

Servable means: in models/ (baked-in or linked), in external_models/ (linked at start), or
downloadable from engine.yaml's catalog. Local models come before downloadable ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import ModelNotFound
from ..manifest import EngineManifest, ManifestModel
from ..store import ModelEntry, ModelSource, ModelStore, validate_model_name
from .listing_cache import DirectoryCache

__all__ = ["Catalog", "ModelListing"]

Source = Literal["baked-in", "external", "downloadable"]


@dataclass(frozen=True)
class ModelListing:
    """One model as every front door lists it."""

    name: str
    display_name: str
    source: Source
    languages: list[str] = field(default_factory=list)
    size_bytes: int | None = None
    size_mb: float = 0.0


class Catalog:
    """The store's models plus engine.yaml's downloadable entries."""

    def __init__(self, store: ModelStore, manifest: EngineManifest | None) -> None:
        self._store = store
        self._manifest = manifest
        self._offline = store.settings.offline
        self._listed: DirectoryCache[tuple[ModelListing, ...]] = DirectoryCache(
            store.models_dir, store.external_dir
        )

    def source_of(self, name: str) -> ModelSource | None:
        entry = self._entry(name)
        return entry.source if entry else None

    def listing(self) -> tuple[ModelListing, ...]:
        """What can load now: offline, downloadable models are left out (a client that picks
        one for a hotswap would fail), though /load of one still explains why it cannot.
        Rebuilt only when the directories changed (listing_cache.py); an unchanged listing is
        the same object, so a door may keep what it made of it."""
        return self._listed.get(self._build_listing)

    def _build_listing(self) -> tuple[ModelListing, ...]:
        present = {e.name: e for e in self._store.discover() if e.kind != "dangling"}
        local = [self._describe(name, entry) for name, entry in sorted(present.items())]
        if self._offline:
            return tuple(local)
        remote = [self._describe(name, None) for name in self._downloadable(present)]
        return (*local, *sorted(remote, key=lambda model: model.name))

    def servable_names(self) -> list[str]:
        names = set(self._store.names())
        names.update(self._store.external_names())
        names.update(self._downloadable(set()))
        return sorted(names)

    def check_servable(self, name: str) -> None:
        """Refuse unknown names before anything (such as unloading) happens."""
        validate_model_name(name)
        names = self.servable_names()
        if name not in names:
            raise ModelNotFound(name, names)

    def pick_default(self, names: list[str]) -> str | None:
        """engine.yaml's default_model when it is among `names`, else the first name."""
        declared = self._manifest.default_model if self._manifest else None
        if declared in names:
            return declared
        return min(names) if names else None

    def default_model(self) -> str | None:
        return self.pick_default(self.servable_names())

    def _entry(self, name: str) -> ManifestModel | None:
        return self._manifest.catalog_model(name) if self._manifest else None

    def _downloadable(self, present: set[str] | dict[str, ModelEntry]) -> list[str]:
        if self._manifest is None:
            return []
        return [m.name for m in self._manifest.models if m.source and m.name not in present]

    def _describe(self, name: str, entry: ModelEntry | None) -> ModelListing:
        catalog = self._entry(name)
        size = entry.size_bytes if entry else _declared_size(catalog)
        size_mb = round(size / 2**20, 1) if size is not None else _catalog_size_mb(catalog)
        return ModelListing(
            name=name,
            display_name=catalog.display_name if catalog else name,
            source=entry.kind if entry and entry.kind != "dangling" else "downloadable",
            languages=self._languages_of(catalog),
            size_bytes=size,
            size_mb=size_mb,
        )

    def _languages_of(self, catalog: ManifestModel | None) -> list[str]:
        if catalog is not None and catalog.languages:
            return list(catalog.languages)
        return list(self._manifest.supported_languages) if self._manifest else []


def _catalog_size_mb(catalog: ManifestModel | None) -> float:
    """The catalog's informational size_mb for a model not downloaded yet, else 0."""
    value = catalog.metadata().get("size_mb") if catalog is not None else None
    return float(value) if isinstance(value, int | float) else 0.0


def _declared_size(catalog: ManifestModel | None) -> int | None:
    source = catalog.source if catalog is not None else None
    if source is None:
        return None
    sizes = [f.size for f in source.files] if source.files else [source.size]
    return None if None in sizes else sum(s for s in sizes if s is not None)
