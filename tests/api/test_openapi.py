"""The OpenAPI documents say what the engines really answer (issue 16, item 14): every error
status in the shape of the door that sends it, the raw body of /samples/upload, and the bearer
scheme when ENGINE_API_TOKEN is set. The /v1 door has its own document at /v1/openapi.json.

tests/api/test_openapi_fuzz.py checks the documents against live engines with schemathesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.engines import copy_engine, engine_module, make_server

from enginekit.settings import ServerSettings

DebugTTS = engine_module("tts/debug-tts").DebugTTS
DebugSTT = engine_module("stt/debug-stt").DebugSTT

TOKEN = "s3cret"
CONTRACT_ERROR = "#/components/schemas/ErrorDetail"
OPENAI_ERROR = "#/components/schemas/ErrorBody"
GUARD_STATUSES = {"403", "413", "421"}


@pytest.fixture(scope="module")
def tts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    base = copy_engine("tts/debug-tts", tmp_path_factory.mktemp("tts"))
    with TestClient(make_server(DebugTTS, base).app) as client:
        yield client


@pytest.fixture(scope="module")
def stt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    base = copy_engine("stt/debug-stt", tmp_path_factory.mktemp("stt"))
    with TestClient(make_server(DebugSTT, base).app) as client:
        yield client


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    base = copy_engine("tts/debug-tts", tmp_path_factory.mktemp("guarded"))
    served = make_server(DebugTTS, base, server_settings=ServerSettings(api_token=TOKEN))
    with TestClient(served.app, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def documents(client: TestClient) -> dict[str, dict[str, Any]]:
    """The contract's document and the /v1 door's, by prefix."""
    return {prefix: client.get(f"{prefix}/openapi.json").json() for prefix in ("", "/v1")}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def error_schema(operation: dict[str, Any], status: int) -> str:
    response = operation["responses"][str(status)]
    return str(response["content"]["application/json"]["schema"]["$ref"])


@pytest.mark.parametrize("engine", ["tts", "stt"])
def test_guard_refusals_are_documented_on_every_operation_in_the_doors_shape(
    engine: str, request: pytest.FixtureRequest
) -> None:
    client: TestClient = request.getfixturevalue(engine)
    for prefix, document in documents(client).items():
        shape = OPENAI_ERROR if prefix else CONTRACT_ERROR
        for method, path, operation in operations(document):
            expected = GUARD_STATUSES | ({"415"} if method == "post" else set())
            assert expected <= set(operation["responses"]), (method, prefix + path)
            assert {error_schema(operation, int(s)) for s in expected} == {shape}
            assert "401" not in operation["responses"]


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/load", [400, 404, 422, 500, 502, 503, 507]),
        ("/generate", [400, 404, 422, 500, 503]),
        ("/samples/check", [400, 422]),
        ("/samples/upload/{sample_id}", [400, 413, 500]),
    ],
)
def test_contract_routes_document_the_errors_they_raise(
    tts: TestClient, path: str, statuses: list[int]
) -> None:
    operation = documents(tts)[""]["paths"][path]["post"]
    assert {str(s) for s in statuses} <= set(operation["responses"])
    assert {error_schema(operation, s) for s in statuses if s != 422} == {CONTRACT_ERROR}


def test_quality_and_transcription_routes_document_missing_audio_and_loading(
    stt: TestClient,
) -> None:
    paths = documents(stt)[""]["paths"]
    for path in ("/analyze", "/transcribe"):
        assert {"400", "404", "413", "503"} <= set(paths[path]["post"]["responses"])


def test_v1_documents_openai_errors_and_no_fastapi_422(tts: TestClient, stt: TestClient) -> None:
    """/v1 answers malformed requests with 400 and OpenAI's error object, never 422."""
    tts_v1, stt_v1 = documents(tts)["/v1"], documents(stt)["/v1"]
    speech = tts_v1["paths"]["/audio/speech"]["post"]
    assert error_schema(speech, 400) == error_schema(speech, 404) == OPENAI_ERROR
    for document in (tts_v1, stt_v1):
        assert all("422" not in op["responses"] for _, _, op in operations(document))
        assert "HTTPValidationError" not in document["components"]["schemas"]
    assert set(stt_v1["components"]["schemas"]["ErrorObject"]["properties"]) == {
        "message", "type", "param", "code",
    }  # fmt: skip


def test_sample_upload_declares_its_raw_body(tts: TestClient) -> None:
    operation = documents(tts)[""]["paths"]["/samples/upload/{sample_id}"]["post"]
    body = operation["requestBody"]
    assert body["required"] is True
    assert body["content"] == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
    }


def test_generate_documents_a_wav_and_speech_every_audio_format(tts: TestClient) -> None:
    docs = documents(tts)
    generate = docs[""]["paths"]["/generate"]["post"]["responses"]["200"]["content"]
    assert list(generate) == ["audio/wav"]
    speech = docs["/v1"]["paths"]["/audio/speech"]["post"]["responses"]["200"]["content"]
    assert {"audio/mpeg", "audio/wav", "audio/flac", "text/event-stream"} <= set(speech)
    assert "application/json" not in speech


def test_transcriptions_declare_the_multipart_form_the_sdks_send(stt: TestClient) -> None:
    paths = documents(stt)["/v1"]["paths"]
    fields = {}
    for path in ("/audio/transcriptions", "/audio/translations"):
        operation = paths[path]["post"]
        form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["required"] == ["file", "model"]
        assert form["properties"]["file"] == {"type": "string", "format": "binary"}
        assert {"application/json", "text/plain", "text/vtt", "text/event-stream"} == set(
            operation["responses"]["200"]["content"]
        )
        fields[path] = set(form["properties"])
    assert fields["/audio/transcriptions"] - fields["/audio/translations"] == {"language"}


def test_v1_has_its_own_document_the_contracts_points_to(tts: TestClient) -> None:
    contract, openai = documents(tts).values()
    assert not any(path.startswith("/v1") for path in contract["paths"])
    assert "/v1/openapi.json" in contract["info"]["description"]
    assert openai["servers"] == [{"url": "/v1"}]
    assert {"/models", "/audio/speech", "/audio/voices"} <= set(openai["paths"])


def test_no_security_scheme_without_a_token(tts: TestClient) -> None:
    for document in documents(tts).values():
        assert "security" not in document
        assert "securitySchemes" not in document["components"]


def test_a_token_documents_bearer_auth_and_401_everywhere_but_health(
    guarded: TestClient,
) -> None:
    for prefix, document in documents(guarded).items():
        assert document["components"]["securitySchemes"] == {
            "bearerAuth": {"type": "http", "scheme": "bearer"}
        }
        assert document["security"] == [{"bearerAuth": []}]
        for method, path, operation in operations(document):
            if prefix + path == "/health":
                assert operation["security"] == []
                assert "401" not in operation["responses"]
            else:
                assert "security" not in operation, path  # the document-wide requirement
                assert error_schema(operation, 401) == (OPENAI_ERROR if prefix else CONTRACT_ERROR)
                assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], method


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer"])
def test_the_bearer_scheme_is_case_insensitive(guarded: TestClient, scheme: str) -> None:
    response = guarded.get("/models", headers={"Authorization": f"{scheme} {TOKEN}"})
    assert response.status_code == 200


def test_a_v1_path_the_mount_cannot_route_still_gets_openais_error(tts: TestClient) -> None:
    """A newline in a /v1 path keeps it from the mounted application; the answer must still be
    the error object the SDKs parse (found by schemathesis)."""
    response = tts.get("/v1/models/a%0Ab")
    assert response.status_code == 404
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_contract_paths_keep_fastapis_404_and_405(tts: TestClient) -> None:
    assert tts.get("/nope%0Ahere").json() == {"detail": "Not Found"}
    response = tts.get("/load")
    assert (response.status_code, response.json()) == (405, {"detail": "Method Not Allowed"})
    assert response.headers["allow"] == "POST"
