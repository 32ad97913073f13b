"""TTS endpoints (engine-api.md §4, §7 and §10) against the real debug-tts engine:
/generate, /samples/check and /samples/upload/{sample_id}."""

from __future__ import annotations

import http.client
import io
import json
import os
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.engines import copy_engine, engine_module, live_server, make_server

from enginekit.settings import ServerSettings

DebugTTS = engine_module("tts/debug-tts").DebugTTS

TOO_LONG = (
    "Text too long (10001 chars). Debug TTS max is 10000 chars. "
    "Use text segmentation to split into smaller chunks."
)
UPLOAD_LIMIT = 1000


def make_wav(frames: int = 800, sample_width: int = 2, rate: int = 16000) -> bytes:
    """A real mono PCM WAV file of 44 header bytes plus frames * sample_width bytes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(sample_width)
        out.setframerate(rate)
        size = frames * sample_width
        out.writeframes((bytes(range(256)) * (size // 256 + 1))[:size])
    return buffer.getvalue()


def read_wav(data: bytes) -> tuple[int, int, int]:
    """(channels, frame rate, frame count) of a WAV body."""
    with wave.open(io.BytesIO(data), "rb") as audio:
        return audio.getnchannels(), audio.getframerate(), audio.getnframes()


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return copy_engine("tts/debug-tts", tmp_path)


@pytest.fixture
def samples(base: Path) -> Path:
    return base / "samples"


@pytest.fixture
def client(base: Path) -> Iterator[TestClient]:
    """An engine with no model loaded."""
    with TestClient(make_server(DebugTTS, base).app) as test_client:
        yield test_client


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    """The same engine with its default model loaded."""
    assert client.post("/load", json={"engineModelName": "default"}).status_code == 200
    return client


@pytest.fixture(scope="module")
def shared_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    base = copy_engine("tts/debug-tts", tmp_path_factory.mktemp("shared"))
    with TestClient(make_server(DebugTTS, base).app) as test_client:
        assert test_client.post("/load", json={"engineModelName": "default"}).status_code == 200
        yield test_client, base


@pytest.fixture
def shared(shared_engine: tuple[TestClient, Path]) -> Iterator[TestClient]:
    """One loaded engine for tests that leave no trace; each must find and leave it "ready"."""
    test_client, _ = shared_engine
    assert status_of(test_client) == "ready"
    yield test_client
    assert status_of(test_client) == "ready"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A WAV outside the engine directory that nothing may read through or write to."""
    path = tmp_path / "outside.wav"
    path.write_bytes(make_wav(100))
    return path


def generate(client: TestClient, **fields: Any) -> Any:
    body = {"text": "Hello world", "language": "en", "ttsSpeakerWav": ""}
    body.update(fields)
    return client.post("/generate", json=body)


def status_of(client: TestClient) -> str:
    return client.get("/health").json()["status"]


def assert_refused(response: Any, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": detail}


# -- /generate: success (§4.1) ----------------------------------------------------------------


def test_generate_returns_raw_wav_bytes_with_content_type_and_length(shared: TestClient) -> None:
    response = generate(shared)
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert int(response.headers["content-length"]) == len(response.content)
    assert "content-disposition" not in response.headers
    assert response.content[:4] == b"RIFF"
    assert len(response.content) >= 100
    channels, rate, frames = read_wav(response.content)
    assert (channels, rate) == (1, 22050)
    assert frames > 0
    assert status_of(shared) == "ready"


def test_a_text_of_exactly_the_limit_renders_for_char_duration_per_char(
    base: Path, loaded: TestClient
) -> None:
    model = json.loads((base / "models" / "default" / "model.json").read_text())
    text = ("Hello, world. " * 715)[:10000]
    response = generate(loaded, text=text)
    assert response.status_code == 200
    _, rate, frames = read_wav(response.content)
    assert rate == model["sample_rate"]
    assert frames / rate == pytest.approx(len(text) * model["char_duration"], rel=1e-3)


def test_speed_parameter_reaches_the_engine(shared: TestClient) -> None:
    normal = read_wav(generate(shared, parameters={"speed": 1.0}).content)[2]
    fast = read_wav(generate(shared, parameters={"speed": 2.0}).content)[2]
    assert fast == pytest.approx(normal / 2, rel=0.01)


def test_pitch_parameter_reaches_the_engine(shared: TestClient) -> None:
    low = generate(shared, parameters={"pitch": 1.0}).content
    high = generate(shared, parameters={"pitch": 2.0}).content
    assert len(low) == len(high)
    assert low != high


@pytest.mark.parametrize(
    "body",
    [
        {"text": "Hi", "language": "en", "tts_speaker_wav": ""},
        {"text": "Hi", "language": "en", "ttsSpeakerWav": "", "parameters": None},
        {"text": "Hi", "language": "en", "ttsSpeakerWav": "", "parameters": {}},
        {"text": "Hi", "language": "en", "ttsSpeakerWav": "", "parameters": {"cfg_weight": 3}},
        {"text": "Hi", "language": "xx-invalid", "ttsSpeakerWav": ""},
        {"text": "Hi", "language": "en", "ttsSpeakerWav": "", "unknownField": 1},
    ],
    ids=["snake-speaker", "null-params", "empty-params", "undeclared-param", "any-lang", "extra"],
)
def test_generate_accepts_contract_variations(shared: TestClient, body: dict[str, Any]) -> None:
    response = shared.post("/generate", json=body)
    assert response.status_code == 200, response.text
    assert response.content[:4] == b"RIFF"


def test_generate_works_without_engine_yaml(base: Path) -> None:
    # §1: a missing engine.yaml means an empty config, not a broken engine.
    (base / "engine.yaml").unlink()
    with TestClient(make_server(DebugTTS, base).app) as client:
        assert client.post("/load", json={"engineModelName": "default"}).status_code == 200
        response = generate(client)
    assert response.status_code == 200, response.text


# -- /generate: validation order and details (§4.1) -------------------------------------------


def test_generate_without_a_model_is_400_model_not_loaded(client: TestClient) -> None:
    assert_refused(generate(client, text=""), 400, "Model not loaded")
    assert status_of(client) == "ready"


@pytest.mark.parametrize(
    ("fields", "status", "detail"),
    [
        ({"text": ""}, 400, "Text cannot be empty"),
        ({"text": " \n\t "}, 400, "Text cannot be empty"),
        ({"text": "", "language": ""}, 400, "Text cannot be empty"),
        ({"language": ""}, 400, "Language cannot be empty"),
        ({"language": "  "}, 400, "Language cannot be empty"),
        ({"language": "", "text": "x" * 10001}, 400, "Language cannot be empty"),
        ({"text": "x" * 10001}, 400, TOO_LONG),
        ({"text": "x" * 10001, "ttsSpeakerWav": "../x"}, 400, TOO_LONG),
        (
            {"ttsSpeakerWav": "missing.wav", "parameters": {"speed": "fast"}},
            404,
            "Speaker sample not found: missing.wav",
        ),
    ],
    ids=[
        "empty-text", "blank-text", "text-before-language", "empty-language", "blank-language",
        "language-before-length", "too-long", "length-before-speaker", "speaker-before-params",
    ],
)  # fmt: skip
def test_generate_validation_order_and_details(
    shared: TestClient, fields: dict[str, Any], status: int, detail: str
) -> None:
    assert_refused(generate(shared, **fields), status, detail)
    assert status_of(shared) == "ready"


@pytest.mark.parametrize(
    ("speaker", "status", "detail"),
    [
        ("bad name.wav", 400, "Invalid speaker filename format: bad name.wav"),
        ("../etc/passwd", 400, "Invalid speaker filename format: ../etc/passwd"),
        ("/etc/passwd", 400, "Invalid speaker filename format: /etc/passwd"),
        ("a/b.wav", 400, "Invalid speaker filename format: a/b.wav"),
        ("%2e%2e", 400, "Invalid speaker filename format: %2e%2e"),
        ("..", 400, "Invalid speaker path"),
        ("x.wav", 404, "Speaker sample not found: x.wav"),
        ("x", 404, "Speaker sample not found: x"),
        (["", "  ", "x.wav"], 404, "Speaker sample not found: x.wav"),
        (["ok.wav", ".."], 400, "Invalid speaker path"),
    ],
)
def test_generate_refuses_bad_speaker_entries(
    shared_engine: tuple[TestClient, Path], speaker: Any, status: int, detail: str
) -> None:
    client, base = shared_engine
    (base / "samples" / "ok.wav").write_bytes(make_wav())
    assert_refused(generate(client, ttsSpeakerWav=speaker), status, detail)
    assert status_of(client) == "ready"


def test_a_speaker_symlink_pointing_out_of_samples_is_an_invalid_path(
    loaded: TestClient, samples: Path, outside: Path
) -> None:
    (samples / "evil.wav").symlink_to(outside)
    assert_refused(generate(loaded, ttsSpeakerWav="evil.wav"), 400, "Invalid speaker path")


@pytest.mark.parametrize("speaker", ["", "   ", [], [""], ["", " "], "."])
def test_blank_speaker_entries_are_skipped(shared: TestClient, speaker: Any) -> None:
    assert generate(shared, ttsSpeakerWav=speaker).status_code == 200


def test_null_speaker_is_422_with_one_error_per_union_member(shared: TestClient) -> None:
    response = generate(shared, ttsSpeakerWav=None)
    assert response.status_code == 422
    errors = [(e["type"], e["loc"]) for e in response.json()["detail"]]
    assert errors == [
        ("string_type", ["body", "ttsSpeakerWav", "str"]),
        ("list_type", ["body", "ttsSpeakerWav", "list[str]"]),
    ]


def test_missing_speaker_field_is_422_missing(shared: TestClient) -> None:
    response = shared.post("/generate", json={"text": "Hi", "language": "en"})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["type"], error["loc"]) == ("missing", ["body", "ttsSpeakerWav"])


@pytest.mark.parametrize("parameters", [5, "speed=2", [1.0]])
def test_parameters_that_are_not_an_object_are_422_dict_type(
    shared: TestClient, parameters: Any
) -> None:
    response = generate(shared, parameters=parameters)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert (error["type"], error["loc"]) == ("dict_type", ["body", "parameters"])


@pytest.mark.parametrize(
    ("parameters", "name"),
    [({"speed": "fast"}, "speed"), ({"pitch": 5}, "pitch"), ({"speed": 0}, "speed"),
     ({"pitch": True}, "pitch")],
)  # fmt: skip
def test_bad_parameter_values_are_400_naming_the_parameter(
    shared: TestClient, parameters: dict[str, Any], name: str
) -> None:
    # Our improvement: the reference crashes inside the engine with a 500.
    response = generate(shared, parameters=parameters)
    assert response.status_code == 400
    assert name in response.json()["detail"]
    assert status_of(shared) == "ready"


CLONING_REQUIRED = (
    "Debug TTS requires speaker samples for voice cloning. "
    "Upload samples via /samples/upload and include sample IDs in tts_speaker_wav."
)


@pytest.fixture
def cloning(base: Path) -> Iterator[TestClient]:
    """debug-tts with capabilities.supports_speaker_cloning switched on in its engine.yaml."""
    manifest = base / "engine.yaml"
    off, on = "supports_speaker_cloning: false", "supports_speaker_cloning: true"
    text = manifest.read_text()
    assert off in text
    manifest.write_text(text.replace(off, on))
    with TestClient(make_server(DebugTTS, base).app) as test_client:
        assert test_client.post("/load", json={"engineModelName": "default"}).status_code == 200
        yield test_client


@pytest.mark.parametrize(
    ("speaker", "status"),
    [("", 400), ("   ", 400), ([], 400), ([""], 200), ("voice.wav", 200), (["voice.wav"], 200)],
)
def test_a_cloning_engine_requires_a_speaker(
    cloning: TestClient, samples: Path, speaker: Any, status: int
) -> None:
    (samples / "voice.wav").write_bytes(make_wav())
    response = generate(cloning, ttsSpeakerWav=speaker)
    assert response.status_code == status
    if status == 400:
        assert response.json() == {"detail": CLONING_REQUIRED}


def test_the_cloning_check_comes_after_the_speaker_file_checks(cloning: TestClient) -> None:
    assert_refused(
        generate(cloning, ttsSpeakerWav=["x.wav"]), 404, "Speaker sample not found: x.wav"
    )


# -- uploaded samples as speakers --------------------------------------------------------------


def test_an_uploaded_sample_is_usable_as_a_speaker(loaded: TestClient) -> None:
    assert loaded.post("/samples/upload/voice-1", content=make_wav()).status_code == 200
    assert generate(loaded, ttsSpeakerWav="voice-1.wav").status_code == 200
    assert generate(loaded, ttsSpeakerWav=["voice-1.wav", ""]).status_code == 200
    # Entries are file names with the extension; the bare id is not found.
    missing = generate(loaded, ttsSpeakerWav="voice-1")
    assert_refused(missing, 404, "Speaker sample not found: voice-1")


# -- /samples/check (§4.2, §10.4) --------------------------------------------------------------


@pytest.mark.parametrize("key", ["sampleIds", "sample_ids"])
def test_samples_check_lists_missing_ids_in_order_with_duplicates(
    client: TestClient, samples: Path, key: str
) -> None:
    (samples / "a.wav").write_bytes(make_wav())
    (samples / "c").write_bytes(make_wav())  # no .wav: does not count as sample c
    response = client.post("/samples/check", json={key: ["b", "a", "c", "b", "a", "ä-٣_x.y"]})
    assert response.status_code == 200
    assert response.json() == {"missing": ["b", "c", "b", "ä-٣_x.y"]}
    assert status_of(client) == "ready"


def test_samples_check_treats_dot_dot_as_an_ordinary_name(client: TestClient) -> None:
    # §7.1: ".." becomes the file name "...wav" inside samples/.
    assert client.post("/samples/check", json={"sampleIds": [".."]}).json() == {"missing": [".."]}


@pytest.mark.parametrize(
    "sample_id", ["../a", "", "a/b", "%2e%2e", "a b", "/etc/passwd", "a\\b", "a\n", "a:b"]
)
def test_samples_check_invalid_id_is_400_with_the_plain_detail(
    client: TestClient, sample_id: str
) -> None:
    response = client.post("/samples/check", json={"sampleIds": ["ok", sample_id]})
    assert_refused(response, 400, f"Invalid sample ID format: {sample_id}")
    assert status_of(client) == "ready"


def test_samples_check_symlink_out_of_samples_is_400_invalid_path(
    client: TestClient, samples: Path, outside: Path
) -> None:
    (samples / "evil.wav").symlink_to(outside)
    response = client.post("/samples/check", json={"sampleIds": ["evil"]})
    assert_refused(response, 400, "Invalid sample path")


def test_samples_check_without_ids_is_422(client: TestClient) -> None:
    response = client.post("/samples/check", json={})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "sampleIds"]


# -- /samples/upload/{sample_id} (§4.3, §10.10, issue 3) ---------------------------------------


def test_upload_stores_a_wav_and_replies_exactly_ok(client: TestClient, samples: Path) -> None:
    data = make_wav()
    response = client.post(
        "/samples/upload/voice_1.v2", content=data,
        headers={"content-type": "application/octet-stream"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "sampleId": "voice_1.v2"}
    assert (samples / "voice_1.v2.wav").read_bytes() == data
    assert os.listdir(samples) == ["voice_1.v2.wav"]
    assert client.post("/samples/check", json={"sampleIds": ["voice_1.v2"]}).json() == {
        "missing": []
    }
    assert status_of(client) == "ready"


def test_upload_overwrites_an_existing_sample(client: TestClient, samples: Path) -> None:
    first, second = make_wav(400), make_wav(600)
    assert client.post("/samples/upload/v", content=first).status_code == 200
    assert client.post("/samples/upload/v", content=second).status_code == 200
    assert (samples / "v.wav").read_bytes() == second


def test_upload_with_an_empty_body_is_400(client: TestClient, samples: Path) -> None:
    assert_refused(client.post("/samples/upload/v", content=b""), 400, "Empty request body")
    assert os.listdir(samples) == []


@pytest.mark.parametrize(
    "body",
    [b"This is not a WAV file", b"RIFF", b"RIFF\x00\x00\x00\x00WAVE" + b"\x00" * 32, b"\x00" * 500],
    ids=["text", "riff-only", "zero-header", "zeros"],
)
def test_upload_of_a_non_wav_body_is_400_and_leaves_nothing(
    client: TestClient, samples: Path, body: bytes
) -> None:
    response = client.post("/samples/upload/v", content=body)
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)
    assert os.listdir(samples) == []  # neither the sample nor a temporary file


def test_a_failed_upload_keeps_the_previous_sample(client: TestClient, samples: Path) -> None:
    good = make_wav()
    assert client.post("/samples/upload/v", content=good).status_code == 200
    assert client.post("/samples/upload/v", content=b"garbage").status_code == 400
    assert (samples / "v.wav").read_bytes() == good
    assert os.listdir(samples) == ["v.wav"]


@pytest.fixture
def limited(base: Path) -> Iterator[TestClient]:
    settings = ServerSettings(max_upload_bytes=UPLOAD_LIMIT)
    with TestClient(make_server(DebugTTS, base, server_settings=settings).app) as c:
        yield c


def _chunks(data: bytes, size: int = 256) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_upload_over_the_limit_is_413_and_writes_nothing(
    limited: TestClient, samples: Path, chunked: bool
) -> None:
    data = make_wav(UPLOAD_LIMIT - 43, sample_width=1)  # limit + 1 bytes
    assert len(data) == UPLOAD_LIMIT + 1
    response = limited.post("/samples/upload/big", content=_chunks(data) if chunked else data)
    assert response.status_code == 413
    assert isinstance(response.json()["detail"], str)
    assert os.listdir(samples) == []


def test_upload_of_exactly_the_limit_is_stored(limited: TestClient, samples: Path) -> None:
    data = make_wav(UPLOAD_LIMIT - 44, sample_width=1)
    assert len(data) == UPLOAD_LIMIT
    assert limited.post("/samples/upload/edge", content=_chunks(data)).status_code == 200
    assert (samples / "edge.wav").read_bytes() == data


def test_upload_through_a_symlink_out_of_samples_is_refused_and_the_target_untouched(
    client: TestClient, samples: Path, outside: Path
) -> None:
    original = outside.read_bytes()
    (samples / "evil.wav").symlink_to(outside)
    response = client.post("/samples/upload/evil", content=make_wav(300))
    assert_refused(response, 400, "Invalid sample path")
    assert outside.read_bytes() == original
    assert (samples / "evil.wav").is_symlink()
    assert os.listdir(samples) == ["evil.wav"]


@pytest.mark.parametrize(
    ("path", "sample_id"), [("/samples/upload/a%20b", "a b"), ("/samples/upload/a%3Bb", "a;b")]
)
def test_upload_invalid_id_format_is_400(
    client: TestClient, samples: Path, path: str, sample_id: str
) -> None:
    response = client.post(path, content=make_wav())
    assert_refused(response, 400, f"Invalid sample ID format: {sample_id}")
    assert os.listdir(samples) == []


def test_upload_id_format_is_checked_before_the_body(client: TestClient) -> None:
    assert_refused(
        client.post("/samples/upload/a%20b", content=b""), 400, "Invalid sample ID format: a b"
    )


@pytest.mark.parametrize(
    "path",
    ["/samples/upload", "/samples/upload/", "/samples/upload/a/b", "/samples/upload/a%2Fb"],
)
def test_upload_without_exactly_one_id_segment_is_404(
    tmp_path: Path, client: TestClient, path: str
) -> None:
    before = snapshot(tmp_path)
    response = client.post(path, content=make_wav())
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("raw_path", ["/samples/upload/..", "/samples/upload/%2e%2e"])
def test_upload_dot_dot_stays_an_ordinary_name_inside_samples(
    tmp_path: Path, base: Path, samples: Path, raw_path: str
) -> None:
    # Sent raw over a real socket: HTTP clients would normalise the dot segment away.
    served = make_server(DebugTTS, base)
    before = snapshot(tmp_path)
    data = make_wav()
    with live_server(served) as url:
        connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
        connection.request("POST", raw_path, body=data)
        reply = connection.getresponse()
        status, body = reply.status, json.loads(reply.read())
        connection.close()
    assert (status, body) == (200, {"status": "ok", "sampleId": ".."})
    assert (samples / "...wav").read_bytes() == data
    assert snapshot(tmp_path) - before == {"debug-tts/samples/...wav"}


def test_upload_io_failure_is_500_with_a_json_detail(base: Path, samples: Path) -> None:
    (samples / "taken.wav").mkdir(parents=True)  # the destination cannot be replaced by a file
    with TestClient(make_server(DebugTTS, base).app, raise_server_exceptions=False) as c:
        response = c.post("/samples/upload/taken", content=make_wav())
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["detail"], str)
    assert sorted(os.listdir(samples)) == ["taken.wav"]


def test_upload_accepts_unicode_ids(client: TestClient, samples: Path) -> None:
    # §7.1: str.isalnum() is Unicode-aware, so umlauts and other scripts are valid ids.
    response = client.post("/samples/upload/stimme-%C3%A4-%D9%A3", content=make_wav())
    assert response.json() == {"status": "ok", "sampleId": "stimme-ä-٣"}
    assert (samples / "stimme-ä-٣.wav").is_file()


@pytest.fixture
def looping(base: Path, samples: Path) -> Iterator[TestClient]:
    """samples/loop.wav is a symlink to itself: its path can never be resolved."""
    samples.mkdir(parents=True, exist_ok=True)
    (samples / "loop.wav").symlink_to("loop.wav")
    served = make_server(DebugTTS, base)
    with TestClient(served.app, raise_server_exceptions=False) as test_client:
        assert test_client.post("/load", json={"engineModelName": "default"}).status_code == 200
        yield test_client


def test_a_symlink_loop_is_an_invalid_sample_path_on_check(looping: TestClient) -> None:
    response = looping.post("/samples/check", json={"sampleIds": ["loop"]})
    assert_refused(response, 400, "Invalid sample path")


def test_a_symlink_loop_is_an_invalid_sample_path_on_upload(
    looping: TestClient, samples: Path
) -> None:
    response = looping.post("/samples/upload/loop", content=make_wav())
    assert_refused(response, 400, "Invalid sample path")
    assert os.listdir(samples) == ["loop.wav"]


def test_a_symlink_loop_is_an_invalid_speaker_path(looping: TestClient) -> None:
    assert_refused(generate(looping, ttsSpeakerWav="loop.wav"), 400, "Invalid speaker path")
    assert status_of(looping) == "ready"
