"""debug-tts as a real subprocess (engine-api.md §1, §3.5, §10.7, §10.9; issue 3 "subprocess mode").

Every engine here is a private copy (copy_engine) started from ANOTHER working directory, so the
tests show that an engine finds its own models/, samples/ and external_models/ wherever it runs.
"""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from support.engines import copy_engine, engine_process, free_port, wait_until_up

TTS = "tts/debug-tts"
VALID_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# A thin subclass placed inside the engine copy (so the copy stays its base path) that records
# every unload; it shows that a signal or /shutdown unloads the model exactly once.
UNLOAD_PROBE = """\
from enginekit.server import run
from server import DebugTTS


class UnloadProbe(DebugTTS):
    loaded = None

    def load(self, name: str) -> None:
        super().load(name)
        self.loaded = name

    def unload(self) -> None:
        super().unload()
        with (self.models_dir.parent / "unloads.log").open("a", encoding="utf-8") as log:
            log.write(f"{self.loaded}\\n")


if __name__ == "__main__":
    run(UnloadProbe)
"""


def clean_env(**extra: str) -> dict[str, str]:
    """Neutralise variables of the test's own environment that would steer the engine."""
    return {
        "ENGINE_HOME": "",
        "ENGINE_API_TOKEN": "",
        "ENGINE_API_TOKEN_FILE": "",
        "PORT": "",
        "HOST": "",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def model_json(sample_rate: int) -> str:
    return json.dumps({"base_frequency": 330.0, "sample_rate": sample_rate, "char_duration": 0.02})


def add_model(directory: Path, sample_rate: int) -> Path:
    directory.mkdir(parents=True)
    (directory / "model.json").write_text(model_json(sample_rate), encoding="utf-8")
    return directory


def wav(rate: int = 16000, frames: int = 1600) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(2 * frames))
    return buffer.getvalue()


def sample_rate_of(data: bytes) -> int:
    with wave.open(io.BytesIO(data), "rb") as audio:
        return audio.getframerate()


def refuses(host: str, port: int) -> bool:
    """Whether nothing accepts TCP connections at host:port."""
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) != 0


def model_names(url: str) -> dict[str, str | None]:
    listing = httpx.get(f"{url}/models", timeout=10).json()
    return {m["name"]: m.get("source") for m in listing["models"]}


def generate(url: str) -> httpx.Response:
    body = {"text": "Hello", "language": "en", "tts_speaker_wav": ""}
    return httpx.post(f"{url}/generate", json=body, timeout=30)


def load(url: str, name: str) -> httpx.Response:
    return httpx.post(f"{url}/load", json={"engine_model_name": name}, timeout=30)


def finish(process: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str]:
    """Wait for the process to end by itself; its exit code and everything it printed."""
    returncode = process.wait(timeout=timeout)
    assert process.stdout is not None
    return returncode, process.stdout.read()


def assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "Exception" not in output, output


@contextmanager
def spawn(args: list[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A subprocess started exactly as given (engine_process always passes --port)."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


# -- one engine copy, started from elsewhere, shared by the layout tests ---------------------


@dataclass
class Running:
    url: str
    engine: Path
    elsewhere: Path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("subprocess")
    engine = copy_engine(TTS, root)
    add_model(engine / "models" / "extra", sample_rate=16000)
    add_model(engine / "external_models" / "ext-voice", sample_rate=11025)
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    with engine_process(engine / "server.py", cwd=elsewhere, env=clean_env()) as (url, _):
        yield Running(url, engine, elsewhere)


def test_models_are_the_engine_copys_own_not_the_working_directorys(running: Running) -> None:
    assert model_names(running.url) == {
        "default": "baked-in",
        "ext-voice": "external",
        "extra": "baked-in",
    }
    assert sorted(p.name for p in running.elsewhere.iterdir()) == []


def test_loading_reads_the_model_from_the_engine_copy(running: Running) -> None:
    reply = load(running.url, "extra")
    assert reply.json() == {"status": "loaded", "engineModelName": "extra", "error": None}
    audio = generate(running.url)
    assert audio.status_code == 200
    assert sample_rate_of(audio.content) == 16000  # models/extra/model.json of the copy


def test_external_models_are_linked_relatively_at_start(running: Running) -> None:
    link = running.engine / "models" / "ext-voice"
    assert link.is_symlink()
    assert os.readlink(link) == "../external_models/ext-voice"
    assert load(running.url, "ext-voice").status_code == 200
    assert sample_rate_of(generate(running.url).content) == 11025


def test_uploads_land_in_the_engine_copys_samples(running: Running) -> None:
    data = wav()
    reply = httpx.post(f"{running.url}/samples/upload/voice-1", content=data, timeout=10)
    assert reply.json() == {"status": "ok", "sampleId": "voice-1"}
    assert (running.engine / "samples" / "voice-1.wav").read_bytes() == data
    assert not (running.elsewhere / "samples").exists()
    check = httpx.post(f"{running.url}/samples/check", json={"sample_ids": ["voice-1"]})
    assert check.json() == {"missing": []}


# -- ending the process ---------------------------------------------------------------------


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    engine = copy_engine(TTS, tmp_path)
    script = engine / "unload_probe.py"
    script.write_text(UNLOAD_PROBE, encoding="utf-8")
    (tmp_path / "elsewhere").mkdir()
    return script


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_unloads_the_model_and_exits_0(probe: Path, signum: int) -> None:
    cwd = probe.parent.parent / "elsewhere"
    with engine_process(probe, cwd=cwd, env=clean_env()) as (url, process):
        assert load(url, "default").status_code == 200
        process.send_signal(signum)
        returncode, output = finish(process)
    assert returncode == 0, output
    assert (probe.parent / "unloads.log").read_text(encoding="utf-8") == "default\n"
    assert_clean(output)


def test_a_stop_signal_without_a_loaded_model_exits_0(tmp_path: Path) -> None:
    engine = copy_engine(TTS, tmp_path)
    with engine_process(engine / "server.py", cwd=tmp_path, env=clean_env()) as (_, process):
        process.send_signal(signal.SIGTERM)
        returncode, output = finish(process)
    assert returncode == 0, output
    assert_clean(output)


def test_shutdown_replies_unloads_closes_the_port_and_exits_0(probe: Path) -> None:
    cwd = probe.parent.parent / "elsewhere"
    port = free_port()
    with engine_process(probe, cwd=cwd, env=clean_env(), port=port) as (url, process):
        assert load(url, "default").status_code == 200
        reply = httpx.post(f"{url}/shutdown", json={}, timeout=10)
        assert (reply.status_code, reply.json()) == (200, {"status": "shutting_down"})
        deadline = time.monotonic() + 15
        while not refuses("127.0.0.1", port):
            assert time.monotonic() < deadline, "the port never closed after /shutdown"
            time.sleep(0.05)
        returncode, output = finish(process)
    assert returncode == 0, output
    assert (probe.parent / "unloads.log").read_text(encoding="utf-8") == "default\n"
    assert_clean(output)


# -- port, host, log level, base path -------------------------------------------------------


def test_port_env_is_used_without_port_flag_and_host_defaults_to_loopback(
    tmp_path: Path,
) -> None:
    engine = copy_engine(TTS, tmp_path)
    port = free_port()
    with spawn([str(engine / "server.py")], tmp_path, clean_env(PORT=str(port))) as process:
        wait_until_up(f"http://127.0.0.1:{port}", process=process)
        if sys.platform == "linux":  # all of 127/8 reaches lo: only a 0.0.0.0 bind answers here
            assert refuses("127.0.0.2", port)
        process.send_signal(signal.SIGTERM)
        returncode, output = finish(process)
    assert returncode == 0, output
    assert f"listening on http://127.0.0.1:{port}" in output


@pytest.mark.skipif(sys.platform != "linux", reason="needs 127.0.0.2 routed to loopback")
def test_host_env_sets_the_bind_address_and_the_port_flag_beats_port_env(
    tmp_path: Path,
) -> None:
    engine = copy_engine(TTS, tmp_path)
    port, env_port = free_port(), free_port()
    env = clean_env(HOST="127.0.0.2", PORT=str(env_port))
    with spawn([str(engine / "server.py"), "--port", str(port)], tmp_path, env) as process:
        wait_until_up(f"http://127.0.0.2:{port}", process=process)
        assert refuses("127.0.0.1", port)
        assert refuses("127.0.0.2", env_port)
        process.send_signal(signal.SIGTERM)
        returncode, output = finish(process)
    assert returncode == 0, output


def test_an_unknown_log_level_exits_2_with_one_line_naming_the_valid_levels(
    tmp_path: Path,
) -> None:
    engine = copy_engine(TTS, tmp_path)
    result = subprocess.run(
        [sys.executable, str(engine / "server.py"), "--port", str(free_port())],
        cwd=tmp_path,
        env={**os.environ, **clean_env(LOG_LEVEL="loud")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "loud" in lines[0]
    for level in VALID_LEVELS:
        assert level in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "setting",
    [
        {"PORT": "abc"},
        {"ENGINEKIT_RETRIES": "many"},
        {"ENGINE_DEVICE": "tpu"},
        {"ENGINE_API_TOKEN_FILE": "/nonexistent/api_token"},
        {"ENGINE_API_TOKEN_FILE": "/dev/null"},  # empty
    ],
)
def test_a_bad_setting_exits_2_with_one_line_naming_it(
    tmp_path: Path, setting: dict[str, str]
) -> None:
    engine = copy_engine(TTS, tmp_path)
    result = subprocess.run(
        [sys.executable, str(engine / "server.py")], cwd=tmp_path,
        env={**os.environ, **clean_env(**setting)}, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    (name,) = setting
    assert line.startswith("error: Invalid ") and name in line


def test_the_token_can_come_from_a_secret_file_without_its_newline(tmp_path: Path) -> None:
    engine = copy_engine(TTS, tmp_path)
    secret = tmp_path / "api_token"
    secret.write_text("s3cret\n", encoding="utf-8")
    port = free_port()
    env = clean_env(ENGINE_API_TOKEN_FILE=str(secret))
    with spawn([str(engine / "server.py"), "--port", str(port)], tmp_path, env) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process=process)
        assert httpx.get(f"{url}/info").status_code == 401
        assert httpx.get(f"{url}/info", headers={"Authorization": "Bearer s3cret"}).is_success
        process.send_signal(signal.SIGTERM)
        returncode, output = finish(process)
    assert returncode == 0, output


def test_a_token_and_a_token_file_at_once_exit_2_naming_both(tmp_path: Path) -> None:
    engine = copy_engine(TTS, tmp_path)
    secret = tmp_path / "api_token"
    secret.write_text("from-the-file", encoding="utf-8")
    env = clean_env(ENGINE_API_TOKEN="from-the-env", ENGINE_API_TOKEN_FILE=str(secret))
    result = subprocess.run(
        [sys.executable, str(engine / "server.py")], cwd=tmp_path, env={**os.environ, **env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "ENGINE_API_TOKEN_FILE" in line and "ENGINE_API_TOKEN is set too" in line


def test_a_busy_port_is_one_line_before_anything_claims_to_be_ready(tmp_path: Path) -> None:
    """A second `make run` must not log "listening" and "ready" before failing."""
    engine = copy_engine(TTS, tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(engine / "server.py"), "--port", str(port)], cwd=tmp_path,
            env={**os.environ, **clean_env()}, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "listening on" not in result.stderr and "model(s)" not in result.stderr


def test_engine_home_wins_over_the_script_directory(tmp_path: Path) -> None:
    script_copy = copy_engine(TTS, tmp_path / "a")
    home_copy = copy_engine(TTS, tmp_path / "b")
    add_model(script_copy / "models" / "only-in-a", sample_rate=8000)
    add_model(home_copy / "models" / "only-in-b", sample_rate=12000)
    env = clean_env(ENGINE_HOME=str(home_copy))
    with engine_process(script_copy / "server.py", cwd=tmp_path, env=env) as (url, _):
        assert set(model_names(url)) == {"default", "only-in-b"}
        assert load(url, "only-in-b").status_code == 200
        assert sample_rate_of(generate(url).content) == 12000
        upload = httpx.post(f"{url}/samples/upload/from-home", content=wav(), timeout=10)
        assert upload.status_code == 200
    assert (home_copy / "samples" / "from-home.wav").is_file()
    assert not (script_copy / "samples" / "from-home.wav").exists()
