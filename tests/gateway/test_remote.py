"""The remote runner: engines that already run (here real debug-tts subprocesses on two loopback
addresses, 127.0.0.1 and 127.0.0.2, on the same port as replicas of one service would be) are
health-checked, spread over round-robin, never started or stopped by the gateway, and dropped
and taken back as they die and return. Names resolving to several addresses are exercised for
real by the swarm test (tests/deploy)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from api.test_state_machine import GatedTTS
from support.engines import copy_engine, free_port, live_server, make_server, wait_until_up

from enginekit.errors import InvalidSetting
from enginekit.gateway import remote
from gateway.helpers import ENGINES, gateway_app, make_checkout, write_config
from gateway.test_gateway import engines, wait_for

SPEECH = {"model": "default", "input": "Hi.", "voice": "default"}


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start debug-tts at http://ADDRESS:PORT as a real subprocess; killed at the end."""
    started: list[subprocess.Popen[str]] = []

    @contextmanager
    def start(address: str, port: int, token: str | None = None) -> Iterator[subprocess.Popen[str]]:
        base = copy_engine("tts/debug-tts", tmp_path / f"{address}-{port}-{len(started)}")
        env = {"ENGINE_EXTERNAL_MODELS": str(base / "external_models"), "PATH": "/usr/bin"}
        process = subprocess.Popen(
            [sys.executable, "server.py", "--host", address, "--port", str(port)],
            cwd=base, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, text=True,
            env=env | ({"ENGINE_API_TOKEN": token} if token else {}),
        )  # fmt: skip
        started.append(process)
        wait_until_up(f"http://{address}:{port}", process=process)
        yield process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def current_model(url: str) -> str | None:
    model = httpx.get(f"{url}/health", timeout=5).json()["currentEngineModel"]
    return None if model is None else str(model)


def backends(gateway: str) -> dict[str, dict[str, Any]]:
    return {b["url"]: b for b in engines(gateway)["debug-tts"]["backends"]}


def test_requests_go_round_robin_over_every_healthy_address(
    gateway_at: Callable[..., str], replica: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the first request's check: a periodic one answered late on a busy machine would
    # take a replica out of the turn this test counts.
    monkeypatch.setattr(remote, "REFRESH_S", 3600.0)
    port = free_port()
    one, two = f"http://127.0.0.1:{port}", f"http://127.0.0.2:{port}"
    with replica("127.0.0.1", port), replica("127.0.0.2", port):
        assert httpx.post(f"{one}/load", json={"engineModelName": "default"}).status_code == 200
        urls = [f"http://localhost:{port}", two]  # a name, resolved to its address
        gateway = gateway_at({"debug-tts": {"runner": "remote", "urls": urls}})

        seen = [httpx.get(f"{gateway}/engines/debug-tts/health").json() for _ in range(4)]
        assert [s["currentEngineModel"] for s in seen].count("default") == 2  # one of each

        for _ in range(2):  # each replica loads the asked model before serving it
            audio = httpx.post(f"{gateway}/v1/audio/speech", json=SPEECH, timeout=30)
            assert audio.status_code == 200, audio.text
        assert current_model(one) == current_model(two) == "default"

        described = engines(gateway)["debug-tts"]
        assert described["runner"] == "remote" and described["state"] == "running"
        assert described["urls"] == urls
        assert set(backends(gateway)) == {one, two}
        assert all(b["healthy"] and b["requests"] >= 3 for b in backends(gateway).values())


def test_concurrent_requests_for_an_unloaded_model_load_it_once(
    gateway_at: Callable[..., str], tmp_path: Path
) -> None:
    """The engine's /load always reloads, so the gateway must not send one per request: a
    second /load would unload the model under the first request (a 503 for it)."""
    served = make_server(GatedTTS, copy_engine("tts/debug-tts", tmp_path / "gated"))
    gate = served.engine.hold("load:default")
    with live_server(served) as url, ThreadPoolExecutor(3) as pool:
        gateway = gateway_at({"debug-tts": {"runner": "remote", "urls": [url]}})
        wait_for(lambda: backends(gateway).get(url, {}).get("healthy", False))
        speech = f"{gateway}/v1/audio/speech"
        replies = [pool.submit(httpx.post, speech, json=SPEECH, timeout=60) for _ in range(3)]
        gate.reached()  # the first request's load is held ...
        wait_for(lambda: backends(gateway)[url]["requests"] == 3)  # ... and all three came in
        gate.opened.set()
        assert [reply.result().status_code for reply in replies] == [200, 200, 200]
    assert served.engine.loads == ["default"]


def test_a_dead_address_drops_out_and_comes_back_when_it_answers_again(
    gateway_at: Callable[..., str], replica: Callable[..., Any]
) -> None:
    port = free_port()
    one, two = f"http://127.0.0.1:{port}", f"http://127.0.0.2:{port}"
    with replica("127.0.0.1", port):
        with replica("127.0.0.2", port) as second:
            gateway = gateway_at({"debug-tts": {"runner": "remote", "urls": [one, two]}})
            wait_for(lambda: [b["healthy"] for b in backends(gateway).values()] == [True, True])
            second.kill()
            second.wait()
            wait_for(lambda: not backends(gateway)[two]["healthy"])
        for _ in range(4):
            assert httpx.get(f"{gateway}/engines/debug-tts/health").status_code == 200
        served = backends(gateway)[two]["requests"]

        with replica("127.0.0.2", port):
            wait_for(lambda: backends(gateway)[two]["healthy"])
            for _ in range(2):
                assert httpx.get(f"{gateway}/engines/debug-tts/health").status_code == 200
            assert backends(gateway)[two]["requests"] == served + 1
        logs = httpx.get(f"{gateway}/engines/debug-tts/logs").json()["lines"]
        assert any(f"{two} down" in line for line in logs)
        assert any(f"{two} up" in line for line in logs)


def test_a_replica_that_died_since_its_last_check_loses_no_request(
    gateway_at: Callable[..., str], replica: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between two health checks a dead replica still counts as up; a request sent to it is
    refused at connect, before any of it arrived, and goes to the other replica instead."""
    monkeypatch.setattr(remote, "REFRESH_S", 3600.0)  # no check comes between: only requests
    port = free_port()
    one, two = f"http://127.0.0.1:{port}", f"http://127.0.0.2:{port}"
    with replica("127.0.0.1", port):
        with replica("127.0.0.2", port) as second:
            gateway = gateway_at({"debug-tts": {"runner": "remote", "urls": [one, two]}})
            wait_for(lambda: [b["healthy"] for b in backends(gateway).values()] == [True, True])
            second.kill()
            second.wait()
        for _ in range(4):
            audio = httpx.post(f"{gateway}/v1/audio/speech", json=SPEECH, timeout=30)
            assert audio.status_code == 200, audio.text
        assert backends(gateway)[two]["healthy"] is False
        assert backends(gateway)[one]["requests"] >= 4
        logs = httpx.get(f"{gateway}/engines/debug-tts/logs").json()["lines"]
        assert any(f"{two} down: refused a connection" in line for line in logs)


def test_the_gateway_never_stops_a_remote_engine(
    gateway_at: Callable[..., str], replica: Callable[..., Any]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with replica("127.0.0.1", port) as process:
        gateway = gateway_at({"debug-tts": {"runner": "remote", "urls": [url]}}, idle_timeout=0.1)
        assert httpx.get(f"{gateway}/engines/debug-tts/health").status_code == 200
        stopped = httpx.post(f"{gateway}/engines/debug-tts/stop")
        assert stopped.status_code == 200 and stopped.json()["state"] == "running"
        wait_for(lambda: engines(gateway)["debug-tts"]["idle_seconds"] > 1.0)
        assert process.poll() is None
        assert httpx.get(f"{url}/health").status_code == 200


def test_no_answering_address_is_a_503_that_names_the_url(
    gateway_at: Callable[..., str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    gateway = gateway_at({"debug-tts": {"runner": "remote", "urls": [url]}})
    reply = httpx.post(f"{gateway}/v1/audio/speech", json=SPEECH)
    assert reply.status_code == 503
    message = reply.json()["error"]["message"]
    assert url in message and "answers /health" in message
    wait_for(lambda: engines(gateway)["debug-tts"]["state"] == "failed")


def test_a_remote_engine_gets_its_token_from_the_gateway_and_never_the_callers(
    gateway_at: Callable[..., str], replica: Callable[..., Any], tmp_path: Path
) -> None:
    """Engines behind the gateway can ask for a token of their own: the gateway sends the one
    its token_file holds (a path relative to the configuration file), in place of whatever the
    caller sent. Without it the engine's refusal is a 502 naming the setting: a 401 would read
    as the caller's token being wrong."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "engine_token").write_text("engine-secret\n", encoding="utf-8")
    with replica("127.0.0.1", port, token="engine-secret"):
        assert httpx.get(f"{url}/info").status_code == 401  # the engine itself asks for it
        tokenless = gateway_at({"debug-tts": {"runner": "remote", "urls": [url]}})
        passed_on = {"Authorization": "Bearer engine-secret"}
        for refused in (
            httpx.get(f"{tokenless}/engines/debug-tts/info", headers=passed_on),
            httpx.post(f"{tokenless}/v1/audio/speech", json=SPEECH, headers=passed_on),
        ):  # the caller's credentials are not passed on, to the request or to its /load
            assert refused.status_code == 502
            assert "engines.debug-tts.token_file" in refused.text
        assert current_model(url) is None

        remote_config = {"runner": "remote", "urls": [url], "token_file": "engine_token"}
        gateway = gateway_at(
            {"debug-tts": remote_config}, token="gateway-secret", checkout=tmp_path / "checkout"
        )
        caller = {"Authorization": "Bearer gateway-secret"}
        assert httpx.get(f"{gateway}/engines/debug-tts/info", headers=caller).is_success
        audio = httpx.post(f"{gateway}/v1/audio/speech", json=SPEECH, headers=caller, timeout=30)
        assert audio.status_code == 200, audio.text  # the /load before it carried the token
        assert current_model(url) == "default"


REMOTE = {"runner": "remote", "urls": ["http://127.0.0.1:9"]}


@pytest.mark.parametrize(
    ("engine", "contents", "message"),
    [
        ({"runner": "subprocess"}, "t0ken", "has a token_file but runner subprocess"),
        (REMOTE, None, "token_file '{file}': cannot read it: No such file or directory"),
        (REMOTE, "\n", "token_file '{file}': the file is empty"),
        (REMOTE, "two words\n", "token_file '{file}': a token is one word"),
        (REMOTE, "line\nbreak", "token_file '{file}': a token is one word"),
    ],
    ids=["not-remote", "missing", "empty", "spaces", "two-lines"],
)
def test_a_token_file_the_gateway_cannot_use_stops_it_starting_with_the_reason(
    tmp_path: Path, engine: dict[str, Any], contents: str | None, message: str
) -> None:
    token_file = tmp_path / "engine_token"
    if contents is not None:
        token_file.write_text(contents, encoding="utf-8")
    config = write_config(
        tmp_path / "gateway.yaml", tmp_path / "data",
        {"debug-tts": engine | {"token_file": "engine_token"}},
    )  # fmt: skip
    with pytest.raises(InvalidSetting) as refused:
        gateway_app(config, make_checkout(tmp_path / "checkout", ENGINES))
    assert message.format(file=token_file) in refused.value.detail
    assert refused.value.detail.startswith(f"{config}: ")
