"""`enginekit serve`: engines started on demand as real subprocesses, one start for concurrent
requests, idle stop, restart after a crash, routing by model, logs, failed starts."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.engines import free_port, wait_until_up

from gateway.helpers import ENGINES, make_checkout, write_config

GENERATE = {"text": "Hello there.", "language": "en", "ttsSpeakerWav": ""}


def engines(url: str) -> dict[str, dict[str, Any]]:
    reply = httpx.get(f"{url}/engines", timeout=10)
    assert reply.status_code == 200, reply.text
    return {e["name"]: e for e in reply.json()["engines"]}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_engines_start_on_the_first_request_that_needs_them(
    gateway_at: Callable[..., str],
) -> None:
    url = gateway_at()
    before = engines(url)
    assert {e["state"] for e in before.values()} == {"stopped"}
    assert before["debug-tts"]["type"] == "tts" and before["debug-tts"]["runner"] == "subprocess"

    loaded = httpx.post(
        f"{url}/engines/debug-tts/load", json={"engineModelName": "default"}, timeout=60
    )  # the request that starts the engine
    assert loaded.json() == {"status": "loaded", "engineModelName": "default", "error": None}
    audio = httpx.post(f"{url}/engines/debug-tts/generate", json=GENERATE, timeout=30)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/wav"
    assert audio.content[:4] == b"RIFF"

    after = engines(url)
    assert after["debug-tts"]["state"] == "running" and pid_alive(after["debug-tts"]["pid"])
    assert after["debug-stt"]["state"] == "stopped"  # nothing asked for it


def test_concurrent_requests_for_a_cold_engine_share_one_start(
    gateway_at: Callable[..., str],
) -> None:
    url = gateway_at()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: httpx.get(f"{url}/engines/debug-tts/health",
                                                    timeout=60), range(6)))  # fmt: skip
    assert [r.status_code for r in replies] == [200] * 6
    logs = httpx.get(f"{url}/engines/debug-tts/logs").json()["lines"]
    assert sum(line.startswith("[gateway]") for line in logs) == 1, logs
    assert any("listening" in line for line in logs)


def servers_running(script: Path) -> list[int]:
    """Processes whose command line runs `script` (read from /proc, whatever the gateway says)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(script) in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:  # the process ended meanwhile
            continue
    return found


def test_an_idle_engine_is_stopped_and_a_kept_one_is_not(
    gateway_at: Callable[..., str], tmp_path: Path
) -> None:
    url = gateway_at({"debug-tts": {"idle_timeout": 1}, "debug-stt": {"keep_running": True}},
                     idle_timeout=1)  # fmt: skip
    tts = tmp_path / "checkout" / "engines" / "tts" / "debug-tts" / "server.py"
    assert httpx.get(f"{url}/engines/debug-tts/health", timeout=60).status_code == 200
    assert httpx.get(f"{url}/engines/debug-stt/health", timeout=60).status_code == 200
    wait_for(lambda: engines(url)["debug-tts"]["state"] == "stopped")
    assert servers_running(tts) == []
    time.sleep(1.5)
    assert engines(url)["debug-stt"]["state"] == "running"


def test_an_engine_started_by_hand_counts_its_idle_time_from_its_start(
    gateway_at: Callable[..., str],
) -> None:
    url = gateway_at({"debug-tts": {"idle_timeout": 3600}})
    time.sleep(1.0)  # the gateway has been up a while
    started = httpx.post(f"{url}/engines/debug-tts/start", timeout=60).json()
    assert started["state"] == "running"
    # Counted from the gateway's own start instead, it would be over a second.
    assert started["idle_seconds"] < 1.0


def test_a_killed_engine_is_noticed_and_started_again(gateway_at: Callable[..., str]) -> None:
    url = gateway_at()
    httpx.get(f"{url}/engines/debug-tts/health", timeout=60)
    first = engines(url)["debug-tts"]["pid"]
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: engines(url)["debug-tts"]["state"] == "failed")
    assert httpx.get(f"{url}/engines/debug-tts/health", timeout=60).status_code == 200
    second = engines(url)["debug-tts"]
    assert second["state"] == "running" and second["pid"] != first


def test_an_engine_that_cannot_start_reports_its_last_output(
    gateway_at: Callable[..., str], tmp_path: Path
) -> None:
    url = gateway_at()
    server = tmp_path / "checkout" / "engines" / "tts" / "debug-tts" / "server.py"
    server.write_text("import sys\nprint('boom: the voice file is corrupt')\nsys.exit(3)\n")
    reply = httpx.get(f"{url}/engines/debug-tts/health", timeout=60)
    assert reply.status_code == 503
    detail = reply.json()["detail"]
    assert "debug-tts exited before answering /health" in detail
    assert "boom: the voice file is corrupt" in detail
    assert engines(url)["debug-tts"]["state"] == "failed"


def test_v1_models_lists_every_engine_without_starting_any(
    gateway_at: Callable[..., str],
) -> None:
    url = gateway_at()
    reply = httpx.get(f"{url}/v1/models")
    assert reply.status_code == 200
    body = reply.json()
    assert body["object"] == "list"
    ids = {m["id"]: m["owned_by"] for m in body["data"]}
    # both engines have a model named "default": each is named with its engine
    assert ids == {"debug-tts/default": "debug-tts", "debug-stt/default": "debug-stt"}
    assert {e["state"] for e in engines(url).values()} == {"stopped"}


def test_an_unknown_model_is_a_404_in_openai_shape_naming_it(
    gateway_at: Callable[..., str],
) -> None:
    url = gateway_at()
    body = {"model": "no-such-voice", "input": "hi", "voice": "alloy"}
    reply = httpx.post(f"{url}/v1/audio/speech", json=body)
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert "no-such-voice" in error["message"] and error["code"] == "model_not_found"


def test_an_unknown_engine_is_a_404_naming_the_configured_ones(
    gateway_at: Callable[..., str],
) -> None:
    url = gateway_at()
    reply = httpx.get(f"{url}/engines/nope/health")
    assert reply.status_code == 404
    assert reply.json()["detail"] == "No engine nope; configured: debug-stt, debug-tts"


def test_engines_the_gateway_starts_inherit_neither_its_token_nor_its_token_file(
    gateway_at: Callable[..., str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The gateway sends the engines it starts no credentials, so they must ask for none."""
    (tmp_path / "api_token").write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("ENGINE_API_TOKEN_FILE", str(tmp_path / "api_token"))
    monkeypatch.setenv("ENGINE_API_TOKEN", "s3cret")
    url = gateway_at(token="s3cret")
    authorised = {"Authorization": "Bearer s3cret"}
    for name in ENGINES:
        reply = httpx.get(f"{url}/engines/{name}/info", headers=authorised, timeout=60)
        assert reply.status_code == 200, reply.text


def test_the_token_protects_the_gateway(gateway_at: Callable[..., str]) -> None:
    url = gateway_at(token="s3cret")
    assert httpx.get(f"{url}/health").status_code == 200
    assert httpx.get(f"{url}/engines").status_code == 401
    assert httpx.get(f"{url}/v1/models").status_code == 401
    authorised = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert authorised.status_code == 200


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_stopping_the_gateway_stops_every_engine_it_started(
    tmp_path: Path, how: signal.Signals
) -> None:
    checkout = make_checkout(tmp_path / "checkout")
    config = write_config(tmp_path / "gateway.yaml", tmp_path / "data", {n: {} for n in ENGINES})
    port = free_port()
    code = (
        "import sys; from pathlib import Path; import enginekit.checkout as c; "
        f"c.CHECKOUT = Path({str(checkout)!r}); from enginekit.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    gateway = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process=gateway)
        for name in ENGINES:
            assert httpx.get(f"{url}/engines/{name}/health", timeout=60).status_code == 200
        pids = [e["pid"] for e in engines(url).values()]
        assert all(pid_alive(pid) for pid in pids)
        gateway.send_signal(how)
        gateway.wait(timeout=60)
        wait_for(lambda: not any(pid_alive(pid) for pid in pids))
    finally:
        if gateway.poll() is None:
            gateway.kill()
