"""Downloads across real processes: `enginekit models pull` run concurrently, and SIGKILLed mid-way
then resumed, against the loopback file server."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock
from support.engines import engine_layout
from support.fileserver import FileServer

from enginekit.settings import StoreSettings
from enginekit.store import ModelStore

MiB = 1 << 20


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGINEKIT_", "HF_"))}
    env.pop("LOG_LEVEL", None)
    env.update(ENGINEKIT_RETRIES="2", ENGINEKIT_BACKOFF="0.01")
    return env


def start_pull(
    engine: Path, name: str, url: str, stderr: Path | None = None
) -> subprocess.Popen[str]:
    """`enginekit models pull NAME --source URL --json`; stderr to a pipe or a file."""
    with contextlib.ExitStack() as stack:
        err = stack.enter_context(stderr.open("w")) if stderr else subprocess.PIPE
        return subprocess.Popen(
            [sys.executable, "-m", "enginekit", "models", "pull", name, "--source", url,
             "--engine-dir", str(engine), "--json"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=cli_env(),
        )  # fmt: skip


def store_at(engine: Path) -> ModelStore:
    return ModelStore(engine_layout(engine), StoreSettings(retries=0, backoff_s=0.01))


@pytest.fixture
def engine(tmp_path: Path) -> Path:
    path = tmp_path / "engine"
    path.mkdir()
    return path


@pytest.fixture
def reaper() -> Iterator[list[subprocess.Popen[str]]]:
    """Processes a test starts; any still running at the end are killed (by their own pid)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def _wait_for_text(paths: list[Path], text: str, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if all(text in p.read_text() for p in paths):
            return
        time.sleep(0.02)
    missing = [p.name for p in paths if text not in p.read_text()]
    raise AssertionError(f"{text!r} never appeared in {missing}")


def test_eight_processes_pulling_one_model_transfer_it_once(
    engine: Path, file_server: FileServer, reaper: list[subprocess.Popen[str]], tmp_path: Path
) -> None:
    data = payload(MiB + 100_000, seed=1)
    url = file_server.add("/shared.bin", data)
    file_server.behaviour("/shared.bin").bytes_per_second = 4 * MiB
    lock_path = store_at(engine).state.lock_path("shared")
    lock_path.parent.mkdir(parents=True)
    stderr_files = [tmp_path / f"pull-{i}.err" for i in range(8)]

    # Hold the model's lock until all eight are provably waiting on it, so they overlap however
    # slowly the interpreters start; then let them race for it.
    with FileLock(str(lock_path), timeout=5):
        for err_file in stderr_files:
            reaper.append(start_pull(engine, "shared", url, stderr=err_file))
        _wait_for_text(stderr_files, "Another process is downloading shared")
        assert file_server.requests() == []
    outputs = [proc.communicate(timeout=60)[0] for proc in reaper]

    codes = [proc.returncode for proc in reaper]
    assert codes == [0] * 8, [p.read_text() for p in stderr_files]
    assert len(file_server.requests("/shared.bin")) == 1
    assert file_server.body_bytes_sent("/shared.bin") == len(data)
    assert {json.loads(out)["path"] for out in outputs} == {str(engine / "models" / "shared")}
    assert sorted(json.loads(out)["downloaded"] for out in outputs) == [False] * 7 + [True]
    assert (engine / "models" / "shared" / "shared.bin").read_bytes() == data
    assert store_at(engine).verify("shared").ok


def _wait_for_partial(part: Path, proc: subprocess.Popen[str], limit_s: float = 20) -> int:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"pull ended before it could be killed: {proc.returncode}"
        if part.is_file() and part.stat().st_size > 0:
            return part.stat().st_size
        time.sleep(0.005)
    raise AssertionError(f"{part} never received bytes")


def _hold_lock(lock_path: Path) -> subprocess.Popen[str]:
    """Another process holding the model's lock, as a running download would."""
    code = (
        "import sys; from filelock import FileLock; "
        f"lock = FileLock({str(lock_path)!r}); lock.acquire(timeout=5); "
        "print('locked', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


def test_sigkilled_pull_leaves_nothing_visible_and_resumes_to_identical_bytes(
    engine: Path, file_server: FileServer, reaper: list[subprocess.Popen[str]]
) -> None:
    data = payload(3 * MiB, seed=2)
    url = file_server.add("/big.bin", data)
    file_server.behaviour("/big.bin").bytes_per_second = MiB  # 1 s per MiB written
    store = store_at(engine)
    part = store.state.staging_dir("big") / "big.bin.part"

    victim = start_pull(engine, "big", url)
    reaper.append(victim)
    _wait_for_partial(part, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)

    assert victim.returncode == -signal.SIGKILL
    partial = part.stat().st_size
    assert 0 < partial < len(data)
    assert part.read_bytes() == data[:partial]
    assert os.listdir(store.models_dir) == []
    assert store.discover() == []
    assert not os.path.lexists(store.external_dir / "big")

    # While someone holds the model's lock the partial is a live download: prune keeps it.
    holder = _hold_lock(store.state.lock_path("big"))
    try:
        assert store.prune(grace_s=0) == []
        assert part.stat().st_size == partial
    finally:
        holder.communicate("", timeout=10)

    file_server.behaviour("/big.bin").bytes_per_second = None
    again = start_pull(engine, "big", url)
    reaper.append(again)
    out, err = again.communicate(timeout=60)

    assert again.returncode == 0, err
    first, second = file_server.requests("/big.bin")
    assert first.range is None
    assert (second.range, second.status) == (f"bytes={partial}-", 206)
    assert second.body_bytes == len(data) - partial
    final = engine / "models" / "big" / "big.bin"
    assert sha(final.read_bytes()) == sha(data)
    assert json.loads(out)["files"][0]["status"] == "ok"
    assert store.prune(grace_s=0) == []
    assert store.verify("big").ok


def test_prune_clears_what_a_killed_pull_left_once_no_lock_is_held(
    engine: Path, file_server: FileServer, reaper: list[subprocess.Popen[str]]
) -> None:
    data = payload(3 * MiB, seed=3)
    url = file_server.add("/left.bin", data)
    file_server.behaviour("/left.bin").bytes_per_second = MiB
    store = store_at(engine)
    staging = store.state.staging_dir("left")

    victim = start_pull(engine, "left", url)
    reaper.append(victim)
    _wait_for_partial(staging / "left.bin.part", victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)

    actions = store.prune(grace_s=0)

    assert [(a.path, a.reason) for a in actions] == [
        (staging, "abandoned download"),
        (store.state.lock_path("left"), "unused lock"),
    ]
    assert not staging.exists()
    assert store.discover() == []
    assert os.listdir(store.models_dir) == []
