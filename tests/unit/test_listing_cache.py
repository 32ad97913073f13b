"""The model listing is cached while the directories are unchanged: every change a user makes to
models/ or external_models/ (a model added, removed, relinked, a file added, replaced or removed,
at any depth) shows in the next listing, with the right size."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from support.engines import engine_layout

from enginekit.runtime import ModelListing, listing_cache
from enginekit.runtime.catalog import Catalog
from enginekit.runtime.listing_cache import DirectoryCache
from enginekit.settings import StoreSettings
from enginekit.store import ModelStore


def make_catalog(tmp_path: Path) -> tuple[Catalog, ModelStore]:
    store = ModelStore(engine_layout(tmp_path), StoreSettings())
    return Catalog(store, None), store


def sizes(catalog: Catalog) -> dict[str, int | None]:
    return {model.name: model.size_bytes for model in catalog.listing()}


def model(directory: Path, files: dict[str, int]) -> Path:
    for relpath, size in files.items():
        path = directory / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"w" * size)
    return directory


def test_an_unchanged_directory_lists_the_same_models(tmp_path: Path) -> None:
    catalog, store = make_catalog(tmp_path)
    model(store.models_dir / "a", {"a.bin": 3})
    first: list[ModelListing] = catalog.listing()
    assert catalog.listing() == first
    assert sizes(catalog) == {"a": 3}


def test_a_model_added_or_removed_shows_in_the_next_listing(tmp_path: Path) -> None:
    catalog, store = make_catalog(tmp_path)
    model(store.models_dir / "a", {"a.bin": 3})
    assert sizes(catalog) == {"a": 3}
    model(store.models_dir / "b", {"b.bin": 5})
    assert sizes(catalog) == {"a": 3, "b": 5}
    shutil.rmtree(store.models_dir / "a")
    assert sizes(catalog) == {"b": 5}


def test_files_added_replaced_or_removed_change_the_size(tmp_path: Path) -> None:
    catalog, store = make_catalog(tmp_path)
    directory = model(store.models_dir / "a", {"a.bin": 3})
    assert sizes(catalog) == {"a": 3}
    model(directory, {"config.json": 7})
    assert sizes(catalog) == {"a": 10}
    replacement = model(tmp_path / "new", {"a.bin": 100}) / "a.bin"
    os.replace(replacement, directory / "a.bin")  # how downloads and editors land a file
    assert sizes(catalog) == {"a": 107}
    (directory / "config.json").unlink()
    assert sizes(catalog) == {"a": 100}


def test_changes_in_nested_directories_change_the_size(tmp_path: Path) -> None:
    catalog, store = make_catalog(tmp_path)
    directory = model(store.models_dir / "a", {"onnx/model.onnx": 4})
    assert sizes(catalog) == {"a": 4}
    model(directory, {"onnx/extra.bin": 6})
    assert sizes(catalog) == {"a": 10}
    model(directory, {"onnx/deep/more.bin": 1})  # a new directory inside a known one
    assert sizes(catalog) == {"a": 11}
    model(directory, {"onnx/deep/most.bin": 2})
    assert sizes(catalog) == {"a": 13}


def test_a_linked_external_model_follows_its_target(tmp_path: Path) -> None:
    catalog, store = make_catalog(tmp_path)
    target = model(store.external_dir / "ext", {"e.bin": 8})
    assert sizes(catalog) == {}
    store.link_external()
    assert sizes(catalog) == {"ext": 8}
    model(target, {"f.bin": 2})
    assert sizes(catalog) == {"ext": 10}
    shutil.rmtree(target)  # a dangling link is not listed
    assert sizes(catalog) == {}


def test_a_listing_taken_just_after_a_change_is_not_reused_until_the_change_has_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Directory timestamps as coarse as a clock tick cannot show a second change made in the
    tick of the first, so a listing built that close to a change is built again next time."""
    models = tmp_path / "models"
    model(models / "a", {"a.bin": 1})
    cache: DirectoryCache[int] = DirectoryCache(models, tmp_path / "external_models")
    builds: list[int] = []

    def build() -> int:
        builds.append(len(builds) + 1)
        return builds[-1]

    monkeypatch.setattr(listing_cache, "RACY_WINDOW_NS", 3600 * 10**9)  # every change is recent
    assert cache.get(build) == 1
    assert cache.get(build) == 2  # models/a changed too recently: not trusted
    monkeypatch.setattr(listing_cache, "RACY_WINDOW_NS", 50 * 10**6)
    time.sleep(0.1)
    assert cache.get(build) == 3  # the last listing was still taken too close to the change
    assert cache.get(build) == 3  # now it is reused
