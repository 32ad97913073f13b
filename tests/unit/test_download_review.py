"""Findings of the first review: stray staging files, shutdown during a download, rate limits,
records that point outside a model."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from support.fileserver import FileServer
from test_download import make_store, payload, sha, staged_parts

from enginekit.errors import DownloadCancelled, DownloadError, InvalidModelName
from enginekit.store import ModelSource


def test_a_failed_pull_of_another_source_leaves_nothing_in_the_next_model(
    tmp_path: Path, file_server: FileServer
) -> None:
    file_server.add("/a/old.bin", b"old")
    file_server.add("/b/model.bin", b"model")
    store = make_store(tmp_path)
    with pytest.raises(DownloadError):
        store.ensure("voice", ModelSource.from_spec(f"{file_server.url}/a", ["old.bin", "gone"]))

    path = store.ensure("voice", ModelSource.from_spec(f"{file_server.url}/b", ["model.bin"]))

    assert sorted(p.name for p in path.iterdir()) == ["model.bin"]
    assert [f.path for f in store.verify("voice").files] == ["model.bin"]


def test_interrupted_partials_of_files_no_longer_listed_do_not_go_live(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(300_000)
    file_server.add("/m/a.bin", data)
    file_server.add("/m/b.bin", b"b")
    file_server.behaviour("/m/a.bin").truncate_at = 1000
    store = make_store(tmp_path)
    with pytest.raises(DownloadError):
        store.ensure("m", ModelSource.from_spec(f"{file_server.url}/m", ["a.bin"]))
    assert staged_parts(store, "m")

    path = store.ensure("m", ModelSource.from_spec(f"{file_server.url}/m", ["b.bin"]))

    assert sorted(p.name for p in path.rglob("*")) == ["b.bin"]


def test_shutdown_stops_a_running_download_and_keeps_the_partial(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(2_000_000)
    url = file_server.add("/slow.bin", data)
    file_server.behaviour("/slow.bin").bytes_per_second = 200_000
    store = make_store(tmp_path)
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            store.ensure("slow", ModelSource.from_spec(url, sha256=sha(data)))
        except BaseException as exc:
            errors.append(exc)

    puller = threading.Thread(target=pull)
    puller.start()
    deadline = time.monotonic() + 10
    while not any(p.stat().st_size for p in staged_parts(store, "slow")):
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.02)
    store.cancel_downloads()
    puller.join(timeout=10)

    assert not puller.is_alive(), "the download did not stop"
    assert isinstance(errors[0], DownloadCancelled)
    assert "shutting down" in errors[0].detail
    assert not (store.models_dir / "slow").exists()
    (part,) = staged_parts(store, "slow")
    kept = part.stat().st_size
    assert 0 < kept < len(data)

    file_server.behaviour("/slow.bin").bytes_per_second = None
    resumed = make_store(tmp_path)
    path = resumed.ensure("slow", ModelSource.from_spec(url, sha256=sha(data)))
    assert (path / "slow.bin").read_bytes() == data
    assert file_server.requests("/slow.bin")[-1].range == f"bytes={kept}-"


@pytest.mark.parametrize("status", [429, 408])
def test_rate_limits_and_request_timeouts_are_retried(
    tmp_path: Path, file_server: FileServer, status: int
) -> None:
    url = file_server.add("/limited.bin", b"weights")
    behaviour = file_server.behaviour("/limited.bin")
    behaviour.status = status
    store = make_store(tmp_path, retries=2)
    with pytest.raises(DownloadError, match=f"3 attempt.*HTTP {status}"):
        store.ensure("limited", ModelSource.from_spec(url))
    assert len(file_server.requests("/limited.bin")) == 3


def test_a_record_pointing_outside_its_model_is_ignored_by_verify(
    tmp_path: Path, file_server: FileServer
) -> None:
    url = file_server.add("/m.bin", b"m")
    store = make_store(tmp_path)
    store.ensure("m", ModelSource.from_spec(url))
    record_path = store.state.record_path("m")
    record = json.loads(record_path.read_text())
    record["files"][0]["path"] = "../../../../etc/hostname"
    record_path.write_text(json.dumps(record))

    report = store.verify("m")

    assert (report.recorded, report.files) == (False, [])
    with pytest.raises(InvalidModelName):
        store.record("../m")
