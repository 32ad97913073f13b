"""The endpoints every engine has (engine-api.md §0, §3, §9.2 and §10), served by debug-tts.

Most tests use TestClient (in-process, lifespan included); concurrency lives in
test_state_machine.py.
"""

from __future__ import annotations

import io
import json
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.engines import copy_engine, engine_module, make_server

from enginekit.engine import EngineContext
from enginekit.errors import InvalidInput
from enginekit.settings import ServerSettings

DebugTTS = engine_module("tts/debug-tts").DebugTTS

HEALTH_KEYS = {
    "status",
    "engineModelLoaded",
    "currentEngineModel",
    "device",
    "error",
    "packageVersion",
    "gpuMemoryUsedMb",
    "gpuMemoryTotalMb",
    "progress",
}
LANGUAGES = ["en", "de", "fr", "es", "it"]
LOADED_DEFAULT = {"status": "loaded", "engineModelName": "default", "error": None}
UNKNOWN_NOPE = "Unknown model: nope. Available: default"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return copy_engine("tts/debug-tts", tmp_path)


@pytest.fixture
def client(base: Path) -> Iterator[TestClient]:
    with TestClient(make_server(DebugTTS, base).app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def idle_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    base = copy_engine("tts/debug-tts", tmp_path_factory.mktemp("idle"))
    with TestClient(make_server(DebugTTS, base).app) as test_client:
        yield test_client


@pytest.fixture
def idle(idle_engine: TestClient) -> Iterator[TestClient]:
    """One engine that never gets a model, for requests that must change nothing."""
    assert health(idle_engine)["engineModelLoaded"] is False
    yield idle_engine
    body = health(idle_engine)
    assert (body["status"], body["engineModelLoaded"], body["error"]) == ("ready", False, None)


def add_model(base: Path, name: str) -> None:
    """A second baked-in model, a copy of the default one."""
    shutil.copytree(base / "models" / "default", base / "models" / name)


def snapshot(root: Path) -> set[str]:
    """Every path below root, hidden ones and symlinks included."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def health(client: TestClient) -> dict[str, Any]:
    response = client.get("/health")
    assert response.status_code == 200
    return response.json()


def load(client: TestClient, name: str = "default") -> Any:
    return client.post("/load", json={"engineModelName": name})


class RecordingTTS(DebugTTS):
    """Records the model calls, so a test can see that a hotswap unloads before it loads."""

    def __init__(self, context: EngineContext) -> None:
        super().__init__(context)
        self.calls: list[tuple[str, ...]] = []

    def load(self, name: str) -> None:
        self.calls.append(("load", name))
        if name == "picky":
            raise InvalidInput("Voice pack incomplete: picky")
        super().load(name)

    def unload(self) -> None:
        self.calls.append(("unload",))
        super().unload()


# -- /health (§3.1) --------------------------------------------------------------------------


def test_health_reports_every_field_in_camel_case_with_nulls_emitted(idle: TestClient) -> None:
    response = idle.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == HEALTH_KEYS
    assert body["status"] == "ready"
    assert body["engineModelLoaded"] is False
    assert body["currentEngineModel"] is None
    assert body["device"] == "cpu"
    assert body["error"] is None
    assert body["gpuMemoryUsedMb"] is None
    assert body["gpuMemoryTotalMb"] is None
    assert body["progress"] is None


def test_health_reports_the_debug_engine_package_version(idle: TestClient) -> None:
    # §3.1: "Debug engines give "1.0.0"" (observed example).
    assert health(idle)["packageVersion"] == "1.0.0"


def test_health_reports_the_loaded_model(client: TestClient) -> None:
    assert load(client).status_code == 200
    body = health(client)
    assert body["engineModelLoaded"] is True
    assert body["currentEngineModel"] == "default"
    assert body["status"] == "ready"
    assert body["progress"] is None


def test_health_answers_200_with_error_status_when_building_the_reply_fails(base: Path) -> None:
    class BrokenVersion(DebugTTS):
        def package_version(self) -> str | None:
            raise RuntimeError("version lookup failed")

    with TestClient(make_server(BrokenVersion, base).app) as client:
        body = health(client)
    assert body["status"] == "error"
    assert body["error"] == "version lookup failed"
    assert body["packageVersion"] is None
    assert body["gpuMemoryUsedMb"] is None
    assert body["gpuMemoryTotalMb"] is None


# -- /models (§3.2, §10.11) --------------------------------------------------------------------


def test_models_lists_the_baked_in_default_model(idle: TestClient) -> None:
    response = idle.get("/models")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"models", "defaultModel", "device"}
    assert body["defaultModel"] == "default"
    assert body["device"] == "cpu"
    assert [m["name"] for m in body["models"]] == ["default"]
    (model,) = body["models"]
    assert model["displayName"] == "Default (Sine Wave)"
    assert model["languages"] == LANGUAGES
    assert model["source"] == "baked-in"
    assert all("_" not in key for key in model)
    for field in model["fields"]:
        assert set(field) == {"key", "value", "fieldType"}
        assert field["fieldType"] in {"number", "string", "percent"}


def test_models_lists_a_model_from_external_models_and_it_loads(base: Path) -> None:
    external = base / "external_models" / "extra"
    shutil.copytree(base / "models" / "default", external)
    with TestClient(make_server(DebugTTS, base).app) as client:
        listed = {m["name"]: m for m in client.get("/models").json()["models"]}
        assert listed["extra"]["source"] == "external"
        assert load(client, "extra").status_code == 200
        assert health(client)["currentEngineModel"] == "extra"


def test_models_failure_is_500_with_the_message(
    base: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_listing() -> Any:
        raise RuntimeError("models volume vanished")

    served = make_server(DebugTTS, base)
    monkeypatch.setattr(served.runtime.catalog, "listing", broken_listing)
    with TestClient(served.app) as client:
        response = client.get("/models")
    assert response.status_code == 500
    assert response.json() == {"detail": "models volume vanished"}


# -- /info (§3.4, §9.2) ------------------------------------------------------------------------


def test_info_maps_engine_yaml_key_by_key(idle: TestClient) -> None:
    response = idle.get("/info")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "name", "displayName", "engineType", "description", "upstream", "supportedLanguages",
        "constraints", "capabilities", "parameters", "models", "defaultModel",
        "autoDiscoverModels", "requiresGpu", "variants", "schemaVersion",
    }  # fmt: skip
    assert body["name"] == "debug-tts"
    assert body["displayName"] == "Debug TTS"
    assert body["engineType"] == "tts"
    assert body["description"].startswith("Renders text as a sequence of sine tones.")
    assert body["upstream"] == {
        "name": "Audiobook Maker",
        "url": "https://github.com/DigiJoe79/audiobook-maker",
        "license": "MIT",
    }
    assert body["supportedLanguages"] == LANGUAGES
    assert body["models"] == [
        {"name": "default", "displayName": "Default (Sine Wave)", "metadata": {"path": "builtin"}}
    ]
    assert body["defaultModel"] == "default"
    assert body["autoDiscoverModels"] is False
    assert body["requiresGpu"] is False
    assert body["variants"] == [
        {"tag": "latest", "platforms": ["linux/amd64", "linux/arm64"], "requiresGpu": False}
    ]
    assert body["schemaVersion"] == 2


def test_info_keeps_nested_constraint_and_capability_keys_snake_case(idle: TestClient) -> None:
    body = idle.get("/info").json()
    assert body["constraints"] == {"max_text_length": 10000}
    assert body["capabilities"] == {
        "supports_model_hotswap": True,
        "supports_speaker_cloning": False,
        "supports_streaming": False,
    }


def test_info_parameters_are_full_parameter_schemas(idle: TestClient) -> None:
    parameters = idle.get("/info").json()["parameters"]
    assert set(parameters) == {"pitch", "speed"}
    assert parameters["pitch"] == {
        "type": "float",
        "label": "settings.tts.debugTts.pitch",
        "description": "settings.tts.debugTts.pitchDesc",
        "default": 1.0,
        "min": 0.5,
        "max": 2.0,
        "step": 0.1,
        "readonly": False,
        "category": None,
    }
    assert parameters["speed"]["label"] == "settings.tts.debugTts.speed"


def test_info_has_no_top_level_key_with_an_underscore(idle: TestClient) -> None:
    # Clients reject a top-level /info key containing "_" (§9.2).
    assert [key for key in idle.get("/info").json() if "_" in key] == []


def test_info_falls_back_to_defaults_without_engine_yaml(base: Path) -> None:
    (base / "engine.yaml").unlink()
    with TestClient(make_server(DebugTTS, base).app) as client:
        response = client.get("/info")
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "debug-tts"
    assert body["engineType"] == "tts"
    assert body["upstream"] is None
    assert body["description"] is None
    assert (body["constraints"], body["capabilities"], body["parameters"]) == ({}, {}, {})
    assert (body["models"], body["variants"], body["supportedLanguages"]) == ([], [], [])
    assert body["defaultModel"] == "default"
    assert body["requiresGpu"] is False
    assert body["schemaVersion"] == 2


# -- /load (§3.3, §2.1, §10.1, §10.2) ----------------------------------------------------------


@pytest.mark.parametrize("key", ["engineModelName", "engine_model_name"])
def test_load_accepts_both_spellings_and_replies_loaded(client: TestClient, key: str) -> None:
    response = client.post("/load", json={key: "default"})
    assert response.status_code == 200
    assert response.json() == LOADED_DEFAULT
    assert health(client)["currentEngineModel"] == "default"


@pytest.mark.parametrize(
    ("camel", "snake", "status", "expected"),
    [
        ("default", "nope", 200, LOADED_DEFAULT),
        ("nope", "default", 400, {"detail": UNKNOWN_NOPE}),
    ],
)
def test_load_camel_case_wins_when_both_spellings_are_sent(
    client: TestClient, camel: str, snake: str, status: int, expected: dict[str, Any]
) -> None:
    response = client.post("/load", json={"engineModelName": camel, "engine_model_name": snake})
    assert response.status_code == status
    assert response.json() == expected


def test_load_ignores_unknown_request_fields(client: TestClient) -> None:
    response = client.post("/load", json={"engineModelName": "default", "force": True})
    assert response.status_code == 200


def test_load_without_a_name_is_422_at_the_camel_case_alias(idle: TestClient) -> None:
    response = idle.post("/load", json={})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "missing"
    assert error["loc"] == ["body", "engineModelName"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_json_sent_as_a_type_browsers_send_cross_site_is_415(
    idle: TestClient, content_type: str
) -> None:
    """A web page can POST these types to any URL without asking first: none of them acts."""
    response = idle.post(
        "/load",
        content=json.dumps({"engineModelName": "default"}),
        headers={"content-type": f"{content_type}; charset=utf-8"},
    )
    assert response.status_code == 415
    assert response.json() == {
        "detail": f"Unsupported content type '{content_type}' for POST /load"
    }
    assert health(idle)["engineModelLoaded"] is False


def test_load_json_sent_with_another_content_type_is_422(idle: TestClient) -> None:
    response = idle.post(
        "/load",
        content=json.dumps({"engineModelName": "default"}),
        headers={"content-type": "application/xml"},
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "model_attributes_type"
    assert error["loc"] == ["body"]
    assert health(idle)["engineModelLoaded"] is False


def test_load_malformed_json_is_422_json_invalid(idle: TestClient) -> None:
    response = idle.post(
        "/load", content=b'{"engineModelName": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["type"] == "json_invalid"
    assert error["loc"][0] == "body"


def test_load_unknown_model_is_400_and_status_returns_to_ready(client: TestClient) -> None:
    response = load(client, "nope")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": UNKNOWN_NOPE}
    body = health(client)
    assert body["status"] == "ready"
    assert body["error"] is None
    assert body["engineModelLoaded"] is False


def test_load_unknown_model_keeps_the_loaded_model(base: Path) -> None:
    # Our choice: the name is checked before anything is unloaded, so a typo costs nothing.
    served = make_server(RecordingTTS, base)
    with TestClient(served.app) as client:
        assert load(client).status_code == 200
        assert load(client, "nope").status_code == 400
        body = health(client)
        calls = list(served.engine.calls)
    assert (body["status"], body["engineModelLoaded"]) == ("ready", True)
    assert body["currentEngineModel"] == "default"
    assert calls == [("load", "default")]


def test_load_unknown_model_creates_nothing(tmp_path: Path, client: TestClient) -> None:
    # The reference's debug engines "download" any name; §10.1 forbids models out of thin air.
    before = snapshot(tmp_path)
    assert load(client, "nope").status_code == 400
    assert snapshot(tmp_path) == before
    assert [m["name"] for m in client.get("/models").json()["models"]] == ["default"]


@pytest.mark.parametrize(
    "name", ["..", "../default", "a/b", "/etc", ".hidden", "a\\b", "", "models/../default"]
)
def test_load_path_like_names_are_400_and_create_nothing(
    tmp_path: Path, client: TestClient, name: str
) -> None:
    before = snapshot(tmp_path)
    response = load(client, name)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
    assert snapshot(tmp_path) == before
    assert health(client)["status"] == "ready"


def test_hotswap_unloads_the_old_model_before_loading_the_new_one(base: Path) -> None:
    add_model(base, "second")
    served = make_server(RecordingTTS, base)
    with TestClient(served.app) as client:
        assert load(client).status_code == 200
        response = load(client, "second")
        body = health(client)
        calls = list(served.engine.calls)
    assert response.status_code == 200
    assert response.json() == {"status": "loaded", "engineModelName": "second", "error": None}
    assert (body["currentEngineModel"], body["status"]) == ("second", "ready")
    assert calls == [("load", "default"), ("unload",), ("load", "second")]


def test_loading_the_same_model_again_reloads_it_in_full(base: Path) -> None:
    served = make_server(RecordingTTS, base)
    with TestClient(served.app) as client:
        assert load(client).json() == LOADED_DEFAULT
        response = load(client)
        body = health(client)
        calls = list(served.engine.calls)
    assert response.status_code == 200
    assert response.json() == LOADED_DEFAULT
    assert (body["currentEngineModel"], body["engineModelLoaded"]) == ("default", True)
    assert calls == [("load", "default"), ("unload",), ("load", "default")]


def test_load_client_error_from_the_engine_passes_through_and_leaves_ready(base: Path) -> None:
    # §2.1 passes the engine's HTTP error through; §10.2: back to "ready", never stuck "loading".
    add_model(base, "picky")
    with TestClient(make_server(RecordingTTS, base).app) as client:
        assert load(client).status_code == 200
        response = load(client, "picky")
        body = health(client)
    assert response.status_code == 400
    assert response.json() == {"detail": "Voice pack incomplete: picky"}
    assert (body["status"], body["error"]) == ("ready", None)
    assert (body["engineModelLoaded"], body["currentEngineModel"]) == (False, None)


# -- /shutdown (§3.5) --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [{}, None])
def test_shutdown_replies_shutting_down_and_unloads(
    client: TestClient, payload: dict[str, Any] | None
) -> None:
    assert load(client).status_code == 200
    response = client.post("/shutdown", json=payload)
    assert response.status_code == 200
    assert response.json() == {"status": "shutting_down"}
    body = health(client)
    assert (body["engineModelLoaded"], body["currentEngineModel"]) == (False, None)
    assert body["status"] == "ready"


# -- general conventions (§0) ------------------------------------------------------------------


def test_unknown_path_is_404_not_found(idle: TestClient) -> None:
    response = idle.get("/does-not-exist")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [("GET", "/load", "POST"), ("GET", "/shutdown", "POST"), ("POST", "/health", "GET")],
)
def test_wrong_method_is_405_with_an_allow_header(
    idle: TestClient, method: str, path: str, allow: str
) -> None:
    response = idle.request(method, path)
    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert response.headers["allow"] == allow


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_fastapi_documentation_is_served(idle: TestClient, path: str) -> None:
    assert idle.get(path).status_code == 200


# -- optional bearer token (issue 3) ----------------------------------------------------------

TOKEN = "s3cret"


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 80)
    return buffer.getvalue()


GENERATE_BODY = {"text": "Hi", "language": "en", "ttsSpeakerWav": ""}
# (method, path, request kwargs, status with the right token and no model loaded)
GUARDED = [
    ("GET", "/models", {}, 200),
    ("GET", "/info", {}, 200),
    ("POST", "/load", {"json": {"engineModelName": "default"}}, 200),
    ("POST", "/generate", {"json": GENERATE_BODY}, 400),
    ("POST", "/samples/check", {"json": {"sampleIds": ["a"]}}, 200),
    ("POST", "/samples/upload/a", {"content": _wav()}, 200),
    ("GET", "/openapi.json", {}, 200),
    ("GET", "/docs", {}, 200),
]
GUARDED_IDS = [f"{method} {path}" for method, path, _, _ in GUARDED]


def _guarded_client(base: Path) -> TestClient:
    served = make_server(DebugTTS, base, server_settings=ServerSettings(api_token=TOKEN))
    return TestClient(served.app)


@pytest.fixture
def guarded(base: Path) -> Iterator[TestClient]:
    with _guarded_client(base) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def refusing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """One token-guarded engine for the refusal checks, which must change nothing."""
    base = copy_engine("tts/debug-tts", tmp_path_factory.mktemp("guarded"))
    with _guarded_client(base) as test_client:
        yield test_client, base


@pytest.mark.parametrize(("method", "path", "kwargs"), [g[:3] for g in GUARDED], ids=GUARDED_IDS)
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", TOKEN, "Bearer "])
def test_token_is_required_on_every_endpoint_but_health(
    refusing: tuple[TestClient, Path],
    method: str,
    path: str,
    kwargs: dict[str, Any],
    header: str | None,
) -> None:
    client, base = refusing
    headers = {"authorization": header} if header is not None else {}
    response = client.request(method, path, headers=headers, **kwargs)
    assert response.status_code == 401
    assert health(client)["engineModelLoaded"] is False
    assert list((base / "samples").iterdir()) == []


@pytest.mark.parametrize(("method", "path", "kwargs", "ok"), GUARDED, ids=GUARDED_IDS)
def test_right_token_opens_every_endpoint(
    guarded: TestClient, method: str, path: str, kwargs: dict[str, Any], ok: int
) -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    assert guarded.request(method, path, headers=headers, **kwargs).status_code == ok


@pytest.mark.parametrize("header", [None, "Bearer wrong"])
def test_health_never_needs_the_token(guarded: TestClient, header: str | None) -> None:
    headers = {"authorization": header} if header is not None else {}
    assert guarded.get("/health", headers=headers).status_code == 200


def test_shutdown_needs_the_token(guarded: TestClient) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    assert guarded.post("/load", json={"engineModelName": "default"}, headers=auth).is_success
    assert guarded.post("/shutdown", json={}).status_code == 401
    assert health(guarded)["engineModelLoaded"] is True
    assert guarded.post("/shutdown", json={}, headers=auth).json() == {"status": "shutting_down"}
    assert health(guarded)["engineModelLoaded"] is False


@pytest.mark.parametrize(("method", "path", "kwargs", "ok"), GUARDED, ids=GUARDED_IDS)
def test_without_a_configured_token_no_header_is_needed(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any], ok: int
) -> None:
    assert client.request(method, path, **kwargs).status_code == ok
