"""The store's promises where a mutation audit found them unguarded: resumes hash what is on
disk, staged files are re-checked before they go live, short and mismatched 206s still give
byte-exact files, the order of fsyncs and renames survives a power cut, and the free-space check
works without root (a free-space probe the test controls instead of a tmpfs mount)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.fileserver import FileServer, RequestRecord
from test_download import (
    MiB,
    _interrupted_first_attempt,
    files_under,
    make_store,
    payload,
    sha,
    staged_parts,
)

from enginekit.errors import DownloadError, InsufficientSpace
from enginekit.settings import StoreSettings
from enginekit.store import ModelSource
from enginekit.store.sources import FileTask
from enginekit.store.transfer import FileTransfer

# -- resumes hash the file as written ----------------------------------------------------------


def test_a_partial_that_grew_under_a_resume_cannot_pass_the_sha_check(
    tmp_path: Path, file_server: FileServer
) -> None:
    """A byte appended to the partial while the resume request is in flight (a stray writer,
    or an offset computed one short) must not end up spliced into a model the sha256 vouches
    for: the bytes hashed are the bytes on disk, so the pull starts over instead."""
    data = payload(2 * MiB, seed=31)
    store = make_store(tmp_path, retries=0)
    _interrupted_first_attempt(store, file_server, "/grown.bin", data, MiB + 1000)
    (part,) = staged_parts(store, "model")

    def grow_the_partial(request: RequestRecord) -> None:
        if request.range is not None:
            with part.open("ab") as handle:
                handle.write(b"\0")

    file_server.behaviour("/grown.bin").on_request = grow_the_partial
    source = ModelSource.from_spec(file_server.url + "/grown.bin", sha256=sha(data))

    path = store.ensure("model", source)

    assert (path / "grown.bin").read_bytes() == data
    assert store.verify("model").ok
    assert file_server.requests("/grown.bin")[-1].range is None  # started over from byte 0


# -- staged files are checked again before they go live ----------------------------------------


def _half_pulled(file_server: FileServer) -> tuple[dict[str, bytes], ModelSource]:
    """A two-file model without declared hashes whose second file failed: a.bin is staged."""
    files = {"a.bin": payload(60_000, seed=32), "b.bin": payload(50_000, seed=33)}
    for name, data in files.items():
        file_server.add(f"/m/{name}", data)
    return files, ModelSource.from_spec(f"{file_server.url}/m", list(files))


def test_a_finished_staged_file_altered_between_pulls_is_fetched_again(
    tmp_path: Path, file_server: FileServer
) -> None:
    files, source = _half_pulled(file_server)
    file_server.behaviour("/m/b.bin").status = 503
    store = make_store(tmp_path, retries=0)
    with pytest.raises(DownloadError):
        store.ensure("m", source)
    staged = store.state.staging_dir("m") / "a.bin"
    assert staged.read_bytes() == files["a.bin"]
    staged.write_bytes(files["a.bin"][::-1])  # same size, other bytes: disk damage, a stray write
    file_server.behaviour("/m/b.bin").status = None

    path = store.ensure("m", source)

    assert {name: (path / name).read_bytes() for name in files} == files
    assert store.verify("m").ok
    assert len(file_server.requests("/m/a.bin")) == 2


def test_an_untouched_finished_staged_file_is_reused_without_a_declared_sha256(
    tmp_path: Path, file_server: FileServer
) -> None:
    files, source = _half_pulled(file_server)
    file_server.behaviour("/m/b.bin").status = 503
    store = make_store(tmp_path, retries=0)
    with pytest.raises(DownloadError):
        store.ensure("m", source)
    file_server.behaviour("/m/b.bin").status = None

    path = store.ensure("m", source)

    assert {name: (path / name).read_bytes() for name in files} == files
    assert len(file_server.requests("/m/a.bin")) == 1
    assert sorted(p.name for p in path.iterdir()) == ["a.bin", "b.bin"]  # no bookkeeping


# -- 206 responses that are not the whole rest ------------------------------------------------


def test_a_short_206_is_continued_to_identical_bytes(
    tmp_path: Path, file_server: FileServer
) -> None:
    """A server may answer `Range: bytes=N-` with less than the rest (`bytes N-(N+k)/total`):
    the transfer asks for what is still missing, without spending a retry on it."""
    data = payload(300_000, seed=34)
    store = make_store(tmp_path, retries=0)
    partial = _interrupted_first_attempt(store, file_server, "/short206.bin", data, 100_000)
    file_server.behaviour("/short206.bin").range_limit = 60_000

    path = store.ensure("model", ModelSource.from_spec(file_server.url + "/short206.bin"))

    assert (path / "short206.bin").read_bytes() == data
    resumed = file_server.requests("/short206.bin")[1:]
    starts = range(partial, len(data), 60_000)
    assert [(r.range, r.status) for r in resumed] == [(f"bytes={s}-", 206) for s in starts]


def test_a_206_for_another_range_restarts_from_zero_and_completes(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(300_000, seed=35)
    store = make_store(tmp_path, retries=0)
    partial = _interrupted_first_attempt(store, file_server, "/shifted.bin", data, 100_000)
    file_server.behaviour("/shifted.bin").range_shift = -50_000  # answers an earlier range

    path = store.ensure("model", ModelSource.from_spec(file_server.url + "/shifted.bin"))

    assert (path / "shifted.bin").read_bytes() == data
    resumed = file_server.requests("/shifted.bin")[1:]
    assert [(r.range, r.status) for r in resumed] == [(f"bytes={partial}-", 206), (None, 200)]


# -- durability: data, rename, directory, link -------------------------------------------------


def _real(path: str | os.PathLike[str]) -> str:
    """The path with its directory resolved but not itself (a link stays the link)."""
    head, tail = os.path.split(os.fspath(path))
    return os.path.join(os.path.realpath(head), tail)


@pytest.fixture
def durability_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, ...]]]:
    """Every os.fsync (by the path its descriptor names), os.replace and os.symlink, in order."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("naming an fsync'd descriptor needs /proc/self/fd (Linux)")
    log: list[tuple[str, ...]] = []
    real_fsync, real_replace, real_symlink = os.fsync, os.replace, os.symlink

    def fsync(fd: int) -> None:
        log.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str], **kw: int) -> None:
        log.append(("replace", _real(src), _real(dst)))
        real_replace(src, dst, **kw)

    def symlink(src: str, dst: str | os.PathLike[str], *args: bool, **kw: bool) -> None:
        log.append(("symlink", _real(dst)))
        real_symlink(src, dst, *args, **kw)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "symlink", symlink)
    yield log


def test_a_model_goes_live_only_after_its_bytes_and_names_are_durable(
    tmp_path: Path, file_server: FileServer, durability_log: list[tuple[str, ...]]
) -> None:
    """After a power cut, a model reported downloaded must not come back empty or vanish: each
    file's data is synced before its rename, every staged directory after, the record before
    the model is renamed live, external_models/ after that, and the models/ link comes last."""
    files = {"a.bin": payload(70_000, seed=36), "sub/b.bin": payload(40_000, seed=37)}
    for relpath, data in files.items():
        file_server.add(f"/d/{relpath}", data)
    store = make_store(tmp_path)

    path = store.ensure("m", ModelSource.from_spec(f"{file_server.url}/d", list(files)))

    assert {p: (path / p).read_bytes() for p in files} == files
    live_files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    assert live_files == sorted(files)  # no digest notes or partials went live
    log = durability_log
    staging, final = _real(store.state.staging_dir("m")), _real(store.external_dir / "m")
    live = log.index(("replace", staging, final))
    for relpath in files:
        part, dest = f"{staging}/{relpath}.part", f"{staging}/{relpath}"
        renamed = log.index(("replace", part, dest))
        assert log.index(("fsync", part)) < renamed, relpath
        directory = ("fsync", os.path.dirname(dest))
        assert directory in log[renamed:live], relpath
    record = _real(store.state.record_path("m"))
    assert any(e[0] == "replace" and e[2] == record for e in log[:live])
    assert ("fsync", os.path.dirname(record)) in log[:live]
    synced = log.index(("fsync", _real(store.external_dir)), live)
    assert log.index(("symlink", _real(store.models_dir / "m"))) > synced


# -- free space, without root ------------------------------------------------------------------


class _Disk:
    """A free-space probe the test sets, standing in for a small filesystem it controls."""

    def __init__(self, free: int) -> None:
        self.free = free
        self.asked: list[Path] = []

    def __call__(self, directory: Path) -> int:
        self.asked.append(directory)
        return self.free


def _transfer(disk: _Disk) -> Iterator[FileTransfer]:
    """A real transfer (real HTTP client, real files) whose free-space probe is `disk`."""
    with httpx.Client() as client:
        yield FileTransfer(client, StoreSettings(retries=0), free_space=disk)


def _no_progress(done: int, total: int | None) -> None:
    return None


@pytest.fixture
def small_disk() -> _Disk:
    return _Disk(free=100_000)


@pytest.fixture
def transfer(small_disk: _Disk) -> Iterator[FileTransfer]:
    yield from _transfer(small_disk)


def test_declared_size_beyond_free_space_fails_before_any_request_without_root(
    tmp_path: Path, file_server: FileServer, small_disk: _Disk, transfer: FileTransfer
) -> None:
    data = payload(150_000, seed=38)
    task = FileTask("big.bin", url=file_server.add("/big.bin", data), size=len(data))

    with pytest.raises(InsufficientSpace) as caught:
        transfer.fetch(task, tmp_path / "big.bin", _no_progress)

    assert (caught.value.needed, caught.value.free) == (len(data), small_disk.free)
    assert caught.value.where == str(tmp_path)
    assert small_disk.asked == [tmp_path]
    assert file_server.requests() == []
    assert files_under(tmp_path) == []


def test_undeclared_size_beyond_free_space_fails_at_the_headers_and_leaves_nothing(
    tmp_path: Path, file_server: FileServer, small_disk: _Disk, transfer: FileTransfer
) -> None:
    data = payload(150_000, seed=39)
    task = FileTask("big.bin", url=file_server.add("/big.bin", data))

    with pytest.raises(InsufficientSpace) as caught:
        transfer.fetch(task, tmp_path / "big.bin", _no_progress)

    assert (caught.value.needed, caught.value.free) == (len(data), small_disk.free)
    assert len(file_server.requests("/big.bin")) == 1
    assert files_under(tmp_path) == []  # neither a partial nor its resume state


def test_a_resume_needs_free_space_only_for_the_missing_bytes(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(150_000, seed=40)
    url = file_server.add("/resume.bin", data)
    task = FileTask("resume.bin", url=url, size=len(data))
    file_server.behaviour("/resume.bin").truncate_at = 100_000
    disk = _Disk(free=len(data))
    for transfer in _transfer(disk):
        with pytest.raises(DownloadError):
            transfer.fetch(task, tmp_path / "resume.bin", _no_progress)
    file_server.behaviour("/resume.bin").truncate_at = None
    have = (tmp_path / "resume.bin.part").stat().st_size
    assert 0 < have < len(data)

    disk.free = len(data) - have - 1
    for transfer in _transfer(disk):
        with pytest.raises(InsufficientSpace) as caught:
            transfer.fetch(task, tmp_path / "resume.bin", _no_progress)
    assert caught.value.needed == len(data) - have

    disk.free = len(data) - have
    for transfer in _transfer(disk):
        fetched = transfer.fetch(task, tmp_path / "resume.bin", _no_progress)
    assert fetched.sha256 == sha(data)
    assert (tmp_path / "resume.bin.part").read_bytes() == data


def test_a_local_import_beyond_free_space_copies_nothing_without_root(
    tmp_path: Path, small_disk: _Disk, transfer: FileTransfer
) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(payload(150_000, seed=41))
    destination = tmp_path / "into" / "model.bin"
    destination.parent.mkdir()
    task = FileTask("model.bin", local=source, size=source.stat().st_size)

    with pytest.raises(InsufficientSpace):
        transfer.fetch(task, destination, _no_progress)

    assert files_under(destination.parent) == []
