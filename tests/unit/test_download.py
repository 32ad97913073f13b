"""Downloads through ModelStore.ensure against a real loopback HTTP server, real temp dirs and (as
root) real tmpfs / read-only bind mounts: atomic, verified, resumable, retried, locked, offline."""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import random
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from support.engines import engine_layout
from support.fileserver import FileServer

from enginekit.errors import (
    ChecksumMismatch,
    DownloadError,
    InsufficientSpace,
    LockTimeout,
    OfflineError,
    StoreNotWritable,
)
from enginekit.settings import StoreSettings
from enginekit.store import ModelSource, ModelStore, ProgressEvent, SourceFile

MiB = 1 << 20
CHUNK = MiB

needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root to mount a small tmpfs or a read-only bind mount (without root the space "
    "check is covered by test_store_integrity.py's free-space probe)",
)


# -- helpers -----------------------------------------------------------------------------------


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_store(tmp_path: Path, **settings: object) -> ModelStore:
    settings.setdefault("backoff_s", 0.01)
    settings.setdefault("retries", 0)
    return ModelStore(
        engine_layout(tmp_path / "engine"),
        StoreSettings(**settings),  # type: ignore[arg-type]
    )


def files_under(directory: Path) -> list[Path]:
    """Every regular file below directory (state files included)."""
    if not directory.exists():
        return []
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


def assert_nothing_visible(store: ModelStore, name: str) -> None:
    assert not os.path.lexists(store.models_dir / name)
    assert os.listdir(store.models_dir) == []
    assert store.discover() == []
    assert not os.path.lexists(store.external_dir / name)
    assert not store.state.record_path(name).exists()


def staged_parts(store: ModelStore, name: str) -> list[Path]:
    return [p for p in files_under(store.state.staging_dir(name)) if p.suffix == ".part"]


@pytest.fixture
def mounts() -> Iterator[Callable[..., None]]:
    """mount(*args, target): run mount(8), skip when the kernel refuses; unmount afterwards."""
    mounted: list[Path] = []

    def mount(*args: str, target: Path) -> None:
        done = subprocess.run(
            ["mount", *args, str(target)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount here: {done.stderr.strip()}")
        if not any(arg.startswith("remount") for arg in args):
            mounted.append(target)

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], check=False)


# -- the happy paths ---------------------------------------------------------------------------


def test_http_download_lands_in_external_models_behind_a_relative_link(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(150_000)
    url = file_server.add("/voices/en.onnx", data)
    store = make_store(tmp_path)

    path = store.ensure("en", ModelSource.from_spec(url))

    assert path == store.models_dir / "en"
    assert (store.external_dir / "en" / "en.onnx").read_bytes() == data
    assert os.readlink(store.models_dir / "en") == "../external_models/en"
    assert (path / "en.onnx").read_bytes() == data
    assert [(e.name, e.kind) for e in store.discover()] == [("en", "external")]
    assert file_server.body_bytes_sent("/voices/en.onnx") == len(data)


def test_download_record_holds_size_and_sha256_so_verify_passes(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(70_000, seed=1)
    url = file_server.add("/m/weights.bin", data)
    store = make_store(tmp_path)

    store.ensure("m", ModelSource.from_spec(url))

    record = json.loads((store.external_dir / ".enginekit" / "m.json").read_text())
    assert record["name"] == "m"
    assert record["source"] == url
    assert [(f["path"], f["size"], f["sha256"]) for f in record["files"]] == [
        ("weights.bin", len(data), sha(data))
    ]
    report = store.verify("m")
    assert report.recorded and report.ok
    assert [(c.path, c.status) for c in report.files] == [("weights.bin", "ok")]


def test_hf_multi_file_model_is_assembled_from_the_file_list(
    tmp_path: Path, file_server: FileServer
) -> None:
    files = {
        "config.json": b'{"sample_rate": 22050}',
        "onnx/model.onnx": payload(90_000, seed=2),
        "tokenizer.txt": b"a b c",
    }
    file_server.add_hf("org/voice", files, revision="v1")
    store = make_store(tmp_path, hf_endpoint=file_server.url)
    source = ModelSource.from_spec("hf://org/voice@v1", files=list(files))

    path = store.ensure("voice", source)

    for relpath, data in files.items():
        assert (path / relpath).read_bytes() == data
    assert sorted(r.path for r in file_server.requests()) == sorted(
        f"/org/voice/resolve/v1/{p}" for p in files
    )
    assert store.verify("voice").ok
    assert len(store.verify("voice").files) == 3


def test_hf_single_file_path_names_the_file_and_defaults_to_main(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(30_000, seed=3)
    file_server.add_hf("org/repo", {"sub/file.bin": data})
    store = make_store(tmp_path, hf_endpoint=file_server.url)

    path = store.ensure("single", ModelSource.from_spec("hf://org/repo/sub/file.bin"))

    assert os.listdir(path) == ["file.bin"]
    assert (path / "file.bin").read_bytes() == data
    assert [r.path for r in file_server.requests()] == ["/org/repo/resolve/main/sub/file.bin"]


def test_hf_token_is_sent_as_bearer_to_hf_urls_only(
    tmp_path: Path, file_server: FileServer
) -> None:
    file_server.add_hf("org/repo", {"a.bin": b"hf bytes"})
    plain = file_server.add("/plain/b.bin", b"plain bytes")
    store = make_store(tmp_path, hf_endpoint=file_server.url, hf_token="hf_secret")

    store.ensure("from-hf", ModelSource.from_spec("hf://org/repo@main/a.bin"))
    store.ensure("from-http", ModelSource.from_spec(plain))

    (hf_request,) = file_server.requests("/org/repo/resolve/main/a.bin")
    (plain_request,) = file_server.requests("/plain/b.bin")
    assert hf_request.authorization == "Bearer hf_secret"
    assert plain_request.authorization is None


# -- verification failures ---------------------------------------------------------------------


def test_wrong_sha256_deletes_the_bytes_and_names_expected_and_actual(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(40_000, seed=4)
    wrong = sha(b"something else")
    url = file_server.add("/bad.bin", data)
    store = make_store(tmp_path)

    with pytest.raises(ChecksumMismatch) as caught:
        store.ensure("bad", ModelSource.from_spec(url, sha256=wrong))

    assert wrong in str(caught.value) and sha(data) in str(caught.value)
    assert (caught.value.expected, caught.value.actual) == (wrong, sha(data))
    assert_nothing_visible(store, "bad")
    assert files_under(store.state.staging_dir("bad")) == []


def test_declared_size_mismatch_fails_and_leaves_nothing_visible(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(20_000, seed=5)
    url = file_server.add("/sized.bin", data)
    store = make_store(tmp_path)

    with pytest.raises(DownloadError, match="Size mismatch") as caught:
        store.ensure("sized", ModelSource.from_spec(url, size=len(data) - 1))

    assert not isinstance(caught.value, ChecksumMismatch)
    assert_nothing_visible(store, "sized")
    assert staged_parts(store, "sized") == []


# -- interrupted transfers ---------------------------------------------------------------------


def test_short_body_without_retries_fails_and_leaves_nothing_visible(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(50_000, seed=6)
    url = file_server.add("/short.bin", data)
    file_server.behaviour("/short.bin").truncate_at = 20_000
    store = make_store(tmp_path, retries=0)

    with pytest.raises(DownloadError, match="1 attempt"):
        store.ensure("short", ModelSource.from_spec(url))

    assert_nothing_visible(store, "short")
    assert len(file_server.requests("/short.bin")) == 1


def test_short_body_is_resumed_with_range_to_identical_bytes(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(2 * MiB + 12_345, seed=7)
    url = file_server.add("/resume.bin", data)
    # Cut the 200 after 1.5 MiB; the 206 for the rest is shorter than that, so it completes.
    cut = CHUNK + CHUNK // 2
    file_server.behaviour("/resume.bin").truncate_at = cut
    store = make_store(tmp_path, retries=2)

    path = store.ensure("resume", ModelSource.from_spec(url, sha256=sha(data)))

    first, second = file_server.requests("/resume.bin")
    assert (first.range, first.status) == (None, 200)
    # Every byte that arrived before the cut is kept: the resume starts exactly at the cut.
    assert (second.range, second.status) == (f"bytes={cut}-", 206)
    assert second.if_range is not None
    assert (path / "resume.bin").read_bytes() == data
    assert file_server.body_bytes_sent("/resume.bin") == len(data)


def _interrupted_first_attempt(
    store: ModelStore, server: FileServer, path: str, data: bytes, cut: int
) -> int:
    """One truncated attempt (retries=0) leaving a resumable partial; returns its size."""
    url = server.add(path, data)
    server.behaviour(path).truncate_at = cut
    with pytest.raises(DownloadError):
        store.ensure("model", ModelSource.from_spec(url))
    server.behaviour(path).truncate_at = None
    (part,) = staged_parts(store, "model")
    assert part.stat().st_size > 0
    assert_nothing_visible(store, "model")
    return part.stat().st_size


def test_server_ignoring_range_restarts_from_zero_without_corruption(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(2 * MiB, seed=8)
    store = make_store(tmp_path, retries=0)
    partial = _interrupted_first_attempt(store, file_server, "/norange.bin", data, CHUNK + 1000)
    file_server.behaviour("/norange.bin").ignore_range = True

    path = store.ensure("model", ModelSource.from_spec(file_server.url + "/norange.bin"))

    second = file_server.requests("/norange.bin")[-1]
    assert (second.range, second.status) == (f"bytes={partial}-", 200)
    assert (path / "norange.bin").read_bytes() == data
    assert store.verify("model").ok
    assert staged_parts(store, "model") == []


def test_upstream_change_between_attempts_fetches_the_new_file_whole(
    tmp_path: Path, file_server: FileServer
) -> None:
    old, new = payload(2 * MiB, seed=9), payload(2 * MiB, seed=10)
    store = make_store(tmp_path, retries=0)
    partial = _interrupted_first_attempt(store, file_server, "/moving.bin", old, CHUNK + 1000)
    file_server.replace("/moving.bin", new)

    source = ModelSource.from_spec(file_server.url + "/moving.bin", sha256=sha(new))
    path = store.ensure("model", source)

    second = file_server.requests("/moving.bin")[-1]
    assert second.range == f"bytes={partial}-"
    assert second.if_range is not None
    assert second.status == 200
    assert (path / "moving.bin").read_bytes() == new
    record = json.loads(store.state.record_path("model").read_text())
    assert record["files"][0]["sha256"] == sha(new)


def test_server_errors_are_retried_until_success(tmp_path: Path, file_server: FileServer) -> None:
    data = payload(10_000, seed=11)
    url = file_server.add("/flaky.bin", data)
    file_server.behaviour("/flaky.bin").fail_times = 2
    store = make_store(tmp_path, retries=3)

    path = store.ensure("flaky", ModelSource.from_spec(url))

    assert [r.status for r in file_server.requests("/flaky.bin")] == [503, 503, 200]
    assert (path / "flaky.bin").read_bytes() == data


def test_server_errors_exhaust_retries_and_leave_nothing_visible(
    tmp_path: Path, file_server: FileServer
) -> None:
    url = file_server.add("/down.bin", b"never served")
    file_server.behaviour("/down.bin").status = 502
    store = make_store(tmp_path, retries=2)

    with pytest.raises(DownloadError, match="3 attempt"):
        store.ensure("down", ModelSource.from_spec(url))

    assert len(file_server.requests("/down.bin")) == 3
    assert_nothing_visible(store, "down")


def test_client_errors_are_not_retried(tmp_path: Path, file_server: FileServer) -> None:
    url = file_server.add("/gone.bin", b"x")
    file_server.behaviour("/gone.bin").status = 404
    store = make_store(tmp_path, retries=4)

    with pytest.raises(DownloadError, match="404"):
        store.ensure("gone", ModelSource.from_spec(url))

    assert len(file_server.requests("/gone.bin")) == 1
    assert_nothing_visible(store, "gone")


def test_stalled_server_times_out_and_is_retried_instead_of_hanging(
    tmp_path: Path, file_server: FileServer
) -> None:
    url = file_server.add("/stall.bin", payload(1000, seed=21))
    file_server.behaviour("/stall.bin").bytes_per_second = 2  # one byte every half second
    store = make_store(tmp_path, retries=1, read_timeout_s=0.2)

    with pytest.raises(DownloadError, match="2 attempt"):
        store.ensure("stall", ModelSource.from_spec(url))

    assert len(file_server.requests("/stall.bin")) == 2
    assert_nothing_visible(store, "stall")


def test_multi_file_model_failing_late_shows_nothing_and_keeps_finished_files(
    tmp_path: Path, file_server: FileServer
) -> None:
    files = {"a.bin": payload(60_000, seed=22), "b.bin": payload(50_000, seed=23)}
    file_server.add_hf("org/late", files)
    file_server.behaviour("/org/late/resolve/main/b.bin").status = 503
    store = make_store(tmp_path, hf_endpoint=file_server.url, retries=0)
    source = ModelSource(
        url="hf://org/late", files=[SourceFile(path=p, sha256=sha(d)) for p, d in files.items()]
    )

    with pytest.raises(DownloadError, match="503"):
        store.ensure("late", source)
    assert_nothing_visible(store, "late")

    file_server.behaviour("/org/late/resolve/main/b.bin").status = None
    path = store.ensure("late", source)

    assert len(file_server.requests("/org/late/resolve/main/a.bin")) == 1  # not fetched again
    assert len(file_server.requests("/org/late/resolve/main/b.bin")) == 2
    assert {p: (path / p).read_bytes() for p in files} == files
    assert store.verify("late").ok


# -- offline -----------------------------------------------------------------------------------


def test_offline_mode_fails_at_once_without_any_request(
    tmp_path: Path, file_server: FileServer
) -> None:
    url = file_server.add("/net.bin", b"network bytes")
    file_server.add_hf("org/repo", {"w.bin": b"hf"})
    store = make_store(tmp_path, offline=True, hf_endpoint=file_server.url)

    with pytest.raises(OfflineError, match="offline"):
        store.ensure("net", ModelSource.from_spec(url))
    with pytest.raises(OfflineError):
        store.ensure("hf", ModelSource.from_spec("hf://org/repo/w.bin"))

    assert file_server.requests() == []
    assert store.discover() == []


def test_offline_mode_still_imports_local_files(tmp_path: Path) -> None:
    local = tmp_path / "local.bin"
    local.write_bytes(b"local weights")
    store = make_store(tmp_path, offline=True)

    path = store.ensure("local", ModelSource.from_spec(local.as_uri()))

    assert (path / "local.bin").read_bytes() == b"local weights"
    assert store.verify("local").ok


def test_offline_mode_resolves_models_already_present(
    tmp_path: Path, file_server: FileServer
) -> None:
    url = file_server.add("/present.bin", b"already here")
    make_store(tmp_path).ensure("present", ModelSource.from_spec(url))
    file_server.reset_counts()
    offline = make_store(tmp_path, offline=True)

    assert offline.resolve("present") == offline.models_dir / "present"
    assert offline.ensure("present", ModelSource.from_spec(url)) == offline.resolve("present")
    assert file_server.requests() == []


# -- read-only and full disks (root) -----------------------------------------------------------


def _populate_external(store: ModelStore, name: str) -> None:
    (store.external_dir / name).mkdir(parents=True)
    (store.external_dir / name / "model.bin").write_bytes(b"mounted weights")


@pytest.mark.root
@needs_root
def test_read_only_external_models_links_but_refuses_downloads(
    tmp_path: Path, file_server: FileServer, mounts: Callable[..., None]
) -> None:
    store = make_store(tmp_path)
    _populate_external(store, "mounted")
    mounts("--bind", str(store.external_dir), target=store.external_dir)
    mounts("-o", "remount,ro,bind", target=store.external_dir)
    url = file_server.add("/new.bin", b"new weights")

    assert [a.action for a in store.link_external()] == ["linked"]
    with pytest.raises(StoreNotWritable) as caught:
        store.ensure("new", ModelSource.from_spec(url))

    assert str(store.external_dir) in str(caught.value)
    assert sorted(os.listdir(store.models_dir)) == ["mounted"]
    assert (store.resolve("mounted") / "model.bin").read_bytes() == b"mounted weights"
    assert file_server.requests() == []


@pytest.mark.root
@needs_root
def test_read_only_volume_with_earlier_download_state_refuses_downloads_clearly(
    tmp_path: Path, file_server: FileServer, mounts: Callable[..., None]
) -> None:
    """A volume filled by an earlier run (state dir, lock files, an abandoned partial), then
    mounted read-only: the download must fail with StoreNotWritable, not hang or crash."""
    data = payload(2 * MiB, seed=12)
    store = make_store(tmp_path, retries=0, lock_timeout_s=5)
    _interrupted_first_attempt(store, file_server, "/again.bin", data, CHUNK + 1000)
    mounts("--bind", str(store.external_dir), target=store.external_dir)
    mounts("-o", "remount,ro,bind", target=store.external_dir)
    before = os.listdir(store.models_dir)

    with pytest.raises(StoreNotWritable) as caught:
        store.ensure("model", ModelSource.from_spec(file_server.url + "/again.bin"))

    assert str(store.external_dir) in str(caught.value)
    assert os.listdir(store.models_dir) == before == []


@pytest.mark.root
@needs_root
def test_declared_size_beyond_free_space_fails_before_any_request(
    tmp_path: Path, file_server: FileServer, mounts: Callable[..., None]
) -> None:
    store = make_store(tmp_path)
    store.external_dir.mkdir()
    mounts("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=store.external_dir)
    data = payload(2 * MiB, seed=13)
    url = file_server.add("/big.bin", data)

    with pytest.raises(InsufficientSpace) as caught:
        store.ensure("big", ModelSource.from_spec(url, size=len(data)))

    message = str(caught.value)
    assert str(len(data)) in message
    assert str(store.external_dir) in message
    assert caught.value.needed == len(data) and caught.value.free < len(data)
    assert file_server.requests() == []
    assert_nothing_visible(store, "big")


@pytest.mark.root
@needs_root
def test_undeclared_download_larger_than_disk_fails_and_leaves_the_disk_empty(
    tmp_path: Path, file_server: FileServer, mounts: Callable[..., None]
) -> None:
    store = make_store(tmp_path)
    store.external_dir.mkdir()
    mounts("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=store.external_dir)
    url = file_server.add("/big.bin", payload(2 * MiB, seed=14))

    with pytest.raises(InsufficientSpace) as caught:
        store.ensure("big", ModelSource.from_spec(url))

    assert str(store.external_dir) in str(caught.value)
    assert_nothing_visible(store, "big")
    assert staged_parts(store, "big") == []
    assert sum(p.stat().st_size for p in files_under(store.external_dir)) < 4096


@pytest.mark.root
@needs_root
def test_disk_filling_up_mid_write_discards_the_partial(
    tmp_path: Path, file_server: FileServer, mounts: Callable[..., None]
) -> None:
    """Two downloads each pass the free-space check, then the second write hits ENOSPC."""
    store = make_store(tmp_path)
    store.external_dir.mkdir()
    mounts("-t", "tmpfs", "-o", "size=1m", "tmpfs", target=store.external_dir)
    blobs = {name: payload(700 * 1024, seed=i) for i, name in enumerate(["a", "b"])}
    urls = {name: file_server.add(f"/{name}.bin", data) for name, data in blobs.items()}
    both_asked = threading.Barrier(len(blobs), timeout=30)
    for name in blobs:  # both are answered at once, so both pass the free-space check before
        file_server.behaviour(f"/{name}.bin").bytes_per_second = MiB  # either body is written
        file_server.behaviour(f"/{name}.bin").on_request = lambda _: both_asked.wait()
    outcomes: dict[str, BaseException | None] = {}

    def pull(name: str) -> None:
        try:
            store.ensure(name, ModelSource.from_spec(urls[name]))
            outcomes[name] = None
        except BaseException as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=pull, args=(name,)) for name in blobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()

    failed = {name: exc for name, exc in outcomes.items() if exc is not None}
    assert len(failed) == 1, outcomes
    ((loser, error),) = failed.items()
    (winner,) = set(blobs) - {loser}
    assert isinstance(error, InsufficientSpace), repr(error)
    assert isinstance(error.__cause__, OSError) and error.__cause__.errno == errno.ENOSPC
    assert (store.resolve(winner) / f"{winner}.bin").read_bytes() == blobs[winner]
    assert not os.path.lexists(store.models_dir / loser)
    assert not os.path.lexists(store.external_dir / loser)
    assert staged_parts(store, loser) == []


# -- concurrency, progress, prune --------------------------------------------------------------


def in_threads(count: int, call: Callable[[], object]) -> list[object]:
    """Run call in count threads released at once; their results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        try:
            results.append(call())
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results


def test_concurrent_ensure_in_one_process_transfers_once(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(300_000, seed=15)
    url = file_server.add("/shared.bin", data)
    file_server.behaviour("/shared.bin").bytes_per_second = 1 * MiB
    store = make_store(tmp_path)
    source = ModelSource.from_spec(url, sha256=sha(data))

    results = in_threads(8, lambda: store.ensure("shared", source))

    assert results == [store.models_dir / "shared"] * 8
    assert len(file_server.requests("/shared.bin")) == 1
    assert file_server.body_bytes_sent("/shared.bin") == len(data)
    assert (store.resolve("shared") / "shared.bin").read_bytes() == data


def test_concurrent_linking_of_a_finished_download_never_fails(tmp_path: Path) -> None:
    """Callers that all find external_models/<name> present link it together; none may crash.
    The race is narrow, so it is run many times over."""
    for attempt in range(40):
        store = make_store(tmp_path / str(attempt))
        _populate_external(store, "ready")

        results = in_threads(8, lambda store=store: store.ensure("ready"))

        assert results == [store.models_dir / "ready"] * 8, f"attempt {attempt}"
        assert os.readlink(store.models_dir / "ready") == "../external_models/ready"


def _monotonic(events: list[ProgressEvent]) -> bool:
    return all(a.done <= b.done for a, b in itertools.pairwise(events))


def test_progress_is_monotonic_and_ends_at_the_total(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(2 * MiB + 500_000, seed=16)
    url = file_server.add("/progress.bin", data)
    store = make_store(tmp_path)
    events: list[ProgressEvent] = []

    store.ensure("p", ModelSource.from_spec(url), progress=events.append)

    assert len(events) >= 3
    assert {e.phase for e in events} == {"downloading"}
    assert {e.model for e in events} == {"p"}
    assert _monotonic(events)
    assert (events[-1].done, events[-1].total) == (len(data), len(data))
    assert (events[-1].file_done, events[-1].file_total) == (len(data), len(data))


def test_progress_of_a_multi_file_model_counts_the_whole_model(
    tmp_path: Path, file_server: FileServer
) -> None:
    files = {"a.bin": payload(1_500_000, seed=17), "b.bin": payload(600_000, seed=18)}
    file_server.add_hf("org/two", files)
    store = make_store(tmp_path, hf_endpoint=file_server.url)
    source = ModelSource(
        url="hf://org/two",
        files=[SourceFile(path=p, size=len(d), sha256=sha(d)) for p, d in files.items()],
    )
    events: list[ProgressEvent] = []

    store.ensure("two", source, progress=events.append)

    total = sum(len(d) for d in files.values())
    assert {e.total for e in events} == {total}
    assert {e.file for e in events} == set(files)
    assert _monotonic(events)
    assert events[-1].done == total
    assert [e.file_done for e in events if e.file == "a.bin"][-1] == len(files["a.bin"])


def test_progress_stays_monotonic_across_a_resumed_attempt(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(2 * MiB + 1000, seed=19)
    url = file_server.add("/resumed.bin", data)
    file_server.behaviour("/resumed.bin").truncate_at = CHUNK + CHUNK // 2
    store = make_store(tmp_path, retries=1)
    events: list[ProgressEvent] = []

    store.ensure("r", ModelSource.from_spec(url), progress=events.append)

    assert [r.status for r in file_server.requests("/resumed.bin")] == [200, 206]
    assert _monotonic(events)
    assert (events[-1].done, events[-1].total) == (len(data), len(data))


def test_prune_removes_an_abandoned_partial_only_when_its_lock_is_free(
    tmp_path: Path, file_server: FileServer
) -> None:
    store = make_store(tmp_path, retries=0)
    _interrupted_first_attempt(store, file_server, "/left.bin", payload(2 * MiB), CHUNK + 1)
    staging = store.state.staging_dir("model")

    with FileLock(str(store.state.lock_path("model")), timeout=1):
        assert store.prune(grace_s=0) == []
        assert staged_parts(store, "model") != []
    actions = store.prune(grace_s=0)

    assert [(a.path, a.reason) for a in actions] == [
        (staging, "abandoned download"),
        (store.state.lock_path("model"), "unused lock"),
    ]
    assert not staging.exists()
    assert store.prune(grace_s=0) == []


def test_prune_keeps_a_young_partial_within_the_grace_period(
    tmp_path: Path, file_server: FileServer
) -> None:
    store = make_store(tmp_path, retries=0)
    _interrupted_first_attempt(store, file_server, "/young.bin", payload(2 * MiB), CHUNK + 1)

    assert store.prune(grace_s=3600) == []
    assert staged_parts(store, "model") != []


def test_lock_held_too_long_gives_up_with_lock_timeout(
    tmp_path: Path, file_server: FileServer
) -> None:
    url = file_server.add("/locked.bin", b"locked bytes")
    store = make_store(tmp_path, lock_timeout_s=0.3)
    lock_path = store.state.lock_path("locked")
    lock_path.parent.mkdir(parents=True)

    with FileLock(str(lock_path), timeout=1), pytest.raises(LockTimeout, match="locked"):
        store.ensure("locked", ModelSource.from_spec(url))

    assert file_server.requests() == []
    assert_nothing_visible(store, "locked")


# -- the CLI -----------------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGINEKIT_", "HF_"))}
    env.pop("LOG_LEVEL", None)
    env.update(ENGINEKIT_RETRIES="0", ENGINEKIT_BACKOFF="0.01", **extra_env)
    return subprocess.run(
        [sys.executable, "-m", "enginekit", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("json_output", [True, False], ids=["json", "human"])
def test_cli_failed_pull_is_one_error_line_and_exit_1(
    tmp_path: Path, file_server: FileServer, json_output: bool
) -> None:
    url = file_server.add("/cli.bin", b"cli bytes")
    engine = tmp_path / "engine"
    engine.mkdir()
    extra = ["--json"] if json_output else []
    wrong = sha(b"other")

    done = run_cli(
        "models", "pull", "cli", "--source", url, "--sha256", wrong,
        "--engine-dir", str(engine), *extra,
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and wrong in errors[0], done.stderr
    assert lines[-1] == errors[0]
    if json_output:  # no progress bar: the error is all there is
        assert lines == errors
    assert "Traceback" not in done.stderr
    models = engine / "models"
    assert not models.exists() or os.listdir(models) == []


def test_cli_debug_shows_the_traceback(tmp_path: Path, file_server: FileServer) -> None:
    url = file_server.add("/cli.bin", b"cli bytes")
    engine = tmp_path / "engine"
    engine.mkdir()

    done = run_cli(
        "models", "pull", "cli", "--source", url, "--sha256", sha(b"other"),
        "--engine-dir", str(engine), "--json", "--debug",
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 1
    assert "Traceback" in done.stderr and "ChecksumMismatch" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: ")


def test_cli_pull_of_an_invalid_name_is_a_usage_error(
    tmp_path: Path, file_server: FileServer
) -> None:
    url = file_server.add("/cli.bin", b"cli bytes")
    engine = tmp_path / "engine"
    engine.mkdir()

    done = run_cli(
        "models", "pull", "../x", "--source", url, "--engine-dir", str(engine), "--json",
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: ")
    assert "Traceback" not in done.stderr
    assert file_server.requests() == []
    assert not (tmp_path / "x").exists()


def test_cli_successful_pull_reports_json(tmp_path: Path, file_server: FileServer) -> None:
    data = payload(5000, seed=20)
    url = file_server.add("/ok.bin", data)
    engine = tmp_path / "engine"
    engine.mkdir()

    done = run_cli(
        "models", "pull", "ok", "--source", url, "--sha256", sha(data),
        "--engine-dir", str(engine), "--json",
        cwd=tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["name"] == "ok"
    assert [(f["path"], f["status"]) for f in report["files"]] == [("ok.bin", "ok")]
    assert (engine / "models" / "ok" / "ok.bin").read_bytes() == data


def test_cli_offline_environment_refuses_network_pulls(
    tmp_path: Path, file_server: FileServer
) -> None:
    url = file_server.add("/cli.bin", b"cli bytes")
    engine = tmp_path / "engine"
    engine.mkdir()

    done = run_cli(
        "models", "pull", "cli", "--source", url, "--engine-dir", str(engine), "--json",
        cwd=tmp_path, ENGINEKIT_OFFLINE="1",
    )  # fmt: skip

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("error: ") and "offline" in done.stderr
    assert file_server.requests() == []
