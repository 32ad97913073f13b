"""Container life cycle: signals, health checks, read-only mounts and volumes that lose models."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from support.containers import TINY_EN, host_dir, load, models, serve_tiny_en, wait_for_health
from support.fileserver import FileServer


def test_docker_stop_ends_the_server_with_exit_code_0(engine_image: Any, run_engine: Any) -> None:
    with run_engine(engine_image("debug-tts")) as engine:
        assert load(engine.url, "default").status_code == 200
        engine.container.stop(timeout=10)
        engine.container.reload()
        state = engine.container.attrs["State"]
        # Exit 0 (not 137): SIGTERM reached Python through the entrypoint's exec, which
        # unloaded the model and exited before Docker's 10 s kill.
        assert (state["ExitCode"], state["OOMKilled"]) == (0, False)
        assert "Traceback" not in engine.logs()


def test_healthcheck_becomes_healthy(engine_image: Any, run_engine: Any) -> None:
    with run_engine(engine_image("debug-stt")) as engine:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            engine.container.reload()
            status = engine.container.attrs["State"]["Health"]["Status"]
            if status != "starting":
                break
            time.sleep(1)
        assert status == "healthy"


def test_read_only_mount_serves_models_but_refuses_downloads_clearly(
    engine_image: Any, run_engine: Any, tmp_path: Path, file_server: FileServer
) -> None:
    serve_tiny_en(file_server)
    external = tmp_path / "ro-models"
    shutil.copytree(TINY_EN, external / "mounted")
    host_dir(external)
    volumes = {str(external): {"bind": "/app/external_models", "mode": "ro"}}

    with run_engine(
        engine_image("whisper"), volumes=volumes, environment={"HF_ENDPOINT": file_server.url}
    ) as engine:
        assert models(engine.url)["mounted"] == "external"
        assert load(engine.url, "mounted").status_code == 200
        refused = load(engine.url, "tiny.en")
        assert refused.status_code == 507
        detail = refused.json()["detail"]
        assert "external_models is not writable" in detail
        assert "/app" not in detail  # paths relative to the engine directory
        assert file_server.requests() == []
        health = httpx.get(f"{engine.url}/health", timeout=5).json()
        # the mounted model still serves: the engine is ready, the failure stays visible
        assert (health["status"], health["error"]) == ("ready", detail)
        assert health["currentEngineModel"] == "mounted"
    assert sorted(p.name for p in external.iterdir()) == ["mounted"]


def test_restart_after_the_volume_lost_a_model_does_not_crash(
    engine_image: Any, run_engine: Any, volume: Any, docker_client: Any, base_image: str
) -> None:
    store = volume()
    docker_client.containers.run(
        base_image, ["sh", "-c", "mkdir -p /data/kept /data/lost && echo {} > /data/kept/model.json"
                     " && cp /data/kept/model.json /data/lost/ && chown -R 10001:10001 /data"],
        volumes={store: {"bind": "/data", "mode": "rw"}}, remove=True,
    )  # fmt: skip
    volumes = {store: {"bind": "/app/external_models", "mode": "rw"}}

    with run_engine(engine_image("debug-tts"), volumes=volumes) as engine:
        assert models(engine.url) == {"default": "baked-in", "kept": "external", "lost": "external"}
        engine.container.stop(timeout=10)
        docker_client.containers.run(
            base_image, ["rm", "-rf", "/data/lost"],
            volumes={store: {"bind": "/data", "mode": "rw"}}, remove=True,
        )  # fmt: skip
        engine.container.start()
        wait_for_health(engine.container, engine.url)
        assert models(engine.url) == {"default": "baked-in", "kept": "external"}
        assert load(engine.url, "lost").status_code == 400
        assert "Dangling link left untouched: lost" in engine.logs()
