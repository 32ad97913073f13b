"""ModelStore: discovery, the linking rule, resolve, ensure (local), remove, prune and verify."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.engines import engine_layout

from enginekit.errors import BakedInModelError, InvalidModelName, ModelNotFound
from enginekit.settings import StoreSettings
from enginekit.store import ModelSource, ModelStore


def make_store(tmp_path: Path, link_mode: str = "auto") -> ModelStore:
    return ModelStore(engine_layout(tmp_path / "engine"), StoreSettings(link_mode=link_mode))


def add_external(store: ModelStore, name: str, payload: bytes = b"weights") -> Path:
    target = store.external_dir / name
    target.mkdir(parents=True)
    (target / "model.bin").write_bytes(payload)
    return target


def add_baked(store: ModelStore, name: str, payload: bytes = b"baked") -> Path:
    path = store.models_dir / name
    path.mkdir()
    (path / "model.json").write_bytes(payload)
    return path


def test_discover_classifies_baked_external_and_dangling(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default", b"12345")
    add_external(store, "custom", b"1234567")
    (store.models_dir / "gone").symlink_to("../external_models/gone")
    store.link_external()

    entries = {e.name: e for e in store.discover()}

    assert [e.name for e in store.discover()] == ["custom", "default", "gone"]
    assert (entries["default"].kind, entries["default"].size_bytes) == ("baked-in", 5)
    assert (entries["custom"].kind, entries["custom"].size_bytes) == ("external", 7)
    assert entries["custom"].target == store.external_dir / "custom"
    assert entries["gone"].kind == "dangling"
    assert store.names() == ["custom", "default"]


def test_discover_skips_hidden_and_temporary_entries(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default")
    (store.models_dir / ".cache").mkdir()
    (store.models_dir / ".half.abc.enginekit-tmp").mkdir()
    assert [e.name for e in store.discover()] == ["default"]


def test_external_entries_are_linked_relatively(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_external(store, "custom")
    (store.external_dir / "single.pt").write_bytes(b"pt")

    actions = store.link_external()

    assert [(a.name, a.action) for a in actions] == [("custom", "linked"), ("single.pt", "linked")]
    assert os.readlink(store.models_dir / "custom") == "../external_models/custom"
    assert (store.models_dir / "single.pt").read_bytes() == b"pt"


def test_baked_in_model_wins_over_external_of_same_name(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default", b"baked")
    add_external(store, "default", b"external")

    actions = store.link_external()

    assert [(a.name, a.action) for a in actions] == [("default", "kept-baked-in")]
    assert (store.resolve("default") / "model.json").read_bytes() == b"baked"
    assert not (store.models_dir / "default").is_symlink()


def test_linking_is_idempotent(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_external(store, "custom")
    store.link_external()
    again = store.link_external()
    assert [(a.name, a.action) for a in again] == [("custom", "already-linked")]
    assert os.readlink(store.models_dir / "custom") == "../external_models/custom"


def test_dangling_link_is_replaced_when_the_model_returns(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    (store.models_dir / "custom").symlink_to("/nowhere/custom")
    add_external(store, "custom")

    actions = store.link_external()

    assert [(a.name, a.action) for a in actions] == [("custom", "replaced-dangling")]
    assert os.readlink(store.models_dir / "custom") == "../external_models/custom"


def test_missing_external_dir_links_nothing_and_is_not_created(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    assert store.link_external() == []
    assert not store.external_dir.exists()


def test_hidden_and_lost_and_found_external_entries_are_not_models(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_external(store, ".enginekit")
    add_external(store, "lost+found")
    assert store.link_external() == []
    assert store.discover() == []


def test_mirror_fallback_serves_external_models_without_symlinks(tmp_path: Path) -> None:
    store = make_store(tmp_path, link_mode="mirror")
    add_external(store, "custom", b"external-bytes")
    (store.external_dir / "single.pt").write_bytes(b"pt")

    actions = store.link_external()

    assert [a.action for a in actions] == ["linked", "linked"]
    entry = {e.name: e for e in store.discover()}
    assert not (store.models_dir / "custom").is_symlink()
    assert entry["custom"].kind == "external"
    assert entry["custom"].target == store.external_dir / "custom"
    assert (store.resolve("custom") / "model.bin").read_bytes() == b"external-bytes"
    assert store.resolve("single.pt").read_bytes() == b"pt"
    assert [a.action for a in store.link_external()] == ["already-linked", "already-linked"]


def test_mirror_fallback_keeps_baked_in_and_removes_cleanly(tmp_path: Path) -> None:
    store = make_store(tmp_path, link_mode="mirror")
    add_baked(store, "default")
    add_external(store, "default")
    add_external(store, "custom")
    store.link_external()

    assert {e.name: e.kind for e in store.discover()} == {
        "custom": "external",
        "default": "baked-in",
    }
    store.remove("custom")
    assert store.names() == ["default"]
    assert sorted(p.name for p in store.models_dir.iterdir()) == ["default"]


def test_mirror_of_a_vanished_target_is_dangling_and_pruned(tmp_path: Path) -> None:
    store = make_store(tmp_path, link_mode="mirror")
    target = add_external(store, "custom")
    store.link_external()
    for child in target.iterdir():
        child.unlink()
    target.rmdir()

    assert [e.kind for e in store.discover()] == ["dangling"]
    assert [a.reason for a in store.prune()] == ["dangling link"]
    assert list(store.models_dir.iterdir()) == []


def test_resolve_lists_available_models_when_missing(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default")
    add_baked(store, "v2.0.2")
    with pytest.raises(ModelNotFound, match=r"Unknown model: nope\. Available: default, v2\.0\.2"):
        store.resolve("nope")


@pytest.mark.parametrize("name", ["..", "../models", "a/b", ".hidden", "x\x00", ""])
def test_every_operation_validates_names(tmp_path: Path, name: str) -> None:
    store = make_store(tmp_path)
    for operation in (store.resolve, store.remove, store.ensure, store.verify):
        with pytest.raises(InvalidModelName):
            operation(name)


def test_ensure_prefers_models_then_links_external(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default")
    add_external(store, "custom")
    source = ModelSource.from_spec(str(tmp_path / "does-not-matter.bin"))

    assert store.ensure("default", source) == store.models_dir / "default"
    assert store.ensure("custom", source) == store.models_dir / "custom"
    assert (store.models_dir / "custom").is_symlink()


def test_ensure_without_source_names_the_available_models(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default")
    with pytest.raises(ModelNotFound, match="Available: default"):
        store.ensure("whisper-tiny")


def test_ensure_imports_a_local_directory(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    origin = tmp_path / "voice"
    origin.mkdir()
    (origin / "voice.onnx").write_bytes(b"onnx")
    (origin / "voice.onnx.json").write_text("{}")
    (origin / ".DS_Store").write_text("junk")

    path = store.ensure("voice", ModelSource.from_spec(origin.as_uri()))

    assert sorted(p.name for p in path.iterdir()) == ["voice.onnx", "voice.onnx.json"]
    assert store.verify("voice").ok


def test_remove_deletes_link_target_and_record(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    origin = tmp_path / "m.bin"
    origin.write_bytes(b"m")
    store.ensure("m", ModelSource.from_spec(str(origin)))
    record = store.external_dir / ".enginekit" / "m.json"
    assert record.is_file()

    store.remove("m")

    assert not os.path.lexists(store.models_dir / "m")
    assert not (store.external_dir / "m").exists()
    assert not record.exists()
    assert list((store.external_dir / ".enginekit" / "trash").iterdir()) == []


def test_remove_refuses_baked_in_models_and_keeps_them(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default")
    with pytest.raises(BakedInModelError, match="baked into"):
        store.remove("default")
    assert store.names() == ["default"]


def test_remove_of_unlinked_external_and_of_unknown(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_external(store, "custom")
    store.remove("custom", delete_files=True)
    assert not (store.external_dir / "custom").exists()
    with pytest.raises(ModelNotFound):
        store.remove("custom")


def test_prune_removes_dangling_links_and_only_old_temporaries(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default")
    (store.models_dir / "gone").symlink_to("../external_models/gone")
    staging = store.external_dir / ".enginekit" / "staging"
    old, fresh = staging / "old-model", staging / "fresh-model"
    for path in (old, fresh):
        path.mkdir(parents=True)
        (path / "model.bin.part").write_bytes(b"partial")
    long_ago = time.time() - 3 * 24 * 3600
    os.utime(old, (long_ago, long_ago))

    reasons = sorted(a.reason for a in store.prune())

    assert reasons == ["abandoned download", "dangling link"]
    assert not old.exists()
    assert fresh.exists()
    assert store.names() == ["default"]


def test_verify_reports_mismatch_and_missing_files(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    origin = tmp_path / "model"
    origin.mkdir()
    (origin / "a.bin").write_bytes(b"a")
    (origin / "b.bin").write_bytes(b"b")
    path = store.ensure("model", ModelSource.from_spec(str(origin)))
    (path / "a.bin").write_bytes(b"tampered")
    (path / "b.bin").unlink()

    report = store.verify("model")

    assert not report.ok
    assert {c.path: c.status for c in report.files} == {"a.bin": "mismatch", "b.bin": "missing"}


def test_verify_of_baked_in_model_without_record_is_unrecorded(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    add_baked(store, "default")
    report = store.verify("default")
    assert (report.recorded, report.files) == (False, [])
