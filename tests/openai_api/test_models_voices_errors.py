"""/v1/models, model names and loading, voices, the token as the SDK's api_key, and errors as
the SDK's exception classes (the origin routes keep their `{"detail"}` shape)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
import yaml
from support.engines import copy_engine, engine_module, live_server, make_server
from support.fileserver import FileServer

from enginekit.audio import encode_wav
from enginekit.settings import ServerSettings

from .helpers import FOX, Served, decoded, sdk

DebugTTS = engine_module("tts/debug-tts").DebugTTS
DebugSTT = engine_module("stt/debug-stt").DebugSTT


def speak(client: openai.OpenAI, **options: Any) -> bytes:
    options = {"model": "tts-1", "voice": "alloy", "input": FOX, "response_format": "wav"} | options
    return client.audio.speech.create(**options).content


def edit_manifest(base: Path, change: Any) -> None:
    path = base / "engine.yaml"
    manifest = yaml.safe_load(path.read_text())
    change(manifest)
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))


def test_models_lists_the_engines_models(debug_tts: Served, debug_stt: Served) -> None:
    assert [m.id for m in debug_tts.client.models.list()] == ["default"]
    model = debug_stt.client.models.retrieve("default")
    assert (model.object, model.owned_by) == ("model", "debug-stt")
    with pytest.raises(openai.NotFoundError):
        debug_stt.client.models.retrieve("nope")


def test_open_webui_discovery_lists_models_and_voices(debug_tts: Served) -> None:
    assert httpx.get(f"{debug_tts.url}/v1/audio/models").json() == {"models": [{"id": "default"}]}
    voices = httpx.get(f"{debug_tts.url}/v1/audio/voices").json()["voices"]
    assert [v["id"] for v in voices] == ["default"]


def test_a_model_name_loads_that_model_and_an_alias_means_the_loaded_one(tmp_path: Path) -> None:
    server = make_server(DebugTTS, copy_engine("tts/debug-tts", tmp_path))
    with live_server(server) as url:
        assert not server.runtime.state.model_loaded
        assert speak(sdk(url), model="default")
        assert server.runtime.state.current_model == "default"
        assert speak(sdk(url), model="gpt-4o-mini-tts")


def test_an_alias_with_nothing_loaded_loads_the_default(tmp_path: Path) -> None:
    server = make_server(DebugTTS, copy_engine("tts/debug-tts", tmp_path))
    with live_server(server) as url:
        assert speak(sdk(url), model="tts-1-hd")
        assert server.runtime.state.current_model == "default"


def test_a_catalog_model_is_downloaded_on_first_use(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = json.dumps({"base_frequency": 440.0, "sample_rate": 16000, "char_duration": 0.01})
    file_server.add("/voices/model.json", data.encode())
    base = copy_engine("tts/debug-tts", tmp_path)
    entry = {
        "name": "remote-voice", "display_name": "Remote Voice",
        "source": {"url": f"{file_server.url}/voices", "files": [
            {"path": "model.json", "sha256": hashlib.sha256(data.encode()).hexdigest(),
             "size": len(data)}]},
    }  # fmt: skip
    edit_manifest(base, lambda m: m["models"].append(entry))
    with live_server(make_server(DebugTTS, base)) as url:
        client = sdk(url)
        assert "remote-voice" in [m.id for m in client.models.list()]
        _, rate = decoded(speak(client, model="remote-voice"))
        assert rate == 16000  # the downloaded model spoke
        assert (base / "models" / "remote-voice" / "model.json").exists()


def test_an_unknown_model_is_not_found_with_openais_error_object(debug_tts: Served) -> None:
    with pytest.raises(openai.NotFoundError) as refused:
        speak(debug_tts.client, model="no-such-model")
    assert refused.value.code == "model_not_found" and refused.value.param == "model"
    assert refused.value.body == {
        "message": "Unknown model: no-such-model. Available: default",
        "type": "invalid_request_error", "param": "model", "code": "model_not_found",
    }  # fmt: skip


def test_empty_input_and_unknown_voices_are_bad_requests(debug_tts: Served) -> None:
    with pytest.raises(openai.BadRequestError, match="Text cannot be empty"):
        speak(debug_tts.client, input="  ")
    with pytest.raises(openai.BadRequestError) as refused:
        speak(debug_tts.client, voice="nobody")
    assert refused.value.param == "voice" and "default" in refused.value.message
    assert debug_tts.server.runtime.state.status == "ready"


def test_voice_may_be_an_object_with_an_id(debug_tts: Served) -> None:
    assert speak(debug_tts.client, voice={"id": "default"})


def test_unknown_v1_routes_answer_openais_error_and_origin_routes_keep_detail(
    debug_tts: Served,
) -> None:
    reply = httpx.get(f"{debug_tts.url}/v1/nothing-here")
    assert reply.status_code == 404 and set(reply.json()["error"]) == {
        "message", "type", "param", "code"
    }  # fmt: skip
    origin = httpx.post(
        f"{debug_tts.url}/generate", json={"text": "", "language": "en", "ttsSpeakerWav": ""}
    )
    assert origin.status_code == 400 and origin.json() == {"detail": "Text cannot be empty"}


def test_the_engine_token_is_the_sdks_api_key(tmp_path: Path) -> None:
    settings = ServerSettings(api_token="s3cret")
    server = make_server(DebugTTS, copy_engine("tts/debug-tts", tmp_path), server_settings=settings)
    with live_server(server) as url:
        assert speak(sdk(url, api_key="s3cret"))
        with pytest.raises(openai.AuthenticationError) as refused:
            speak(sdk(url, api_key="wrong"))
        assert refused.value.code == "invalid_api_key"
        origin = httpx.get(f"{url}/models")
        assert origin.status_code == 401 and "detail" in origin.json()
        assert httpx.get(f"{url}/health").status_code == 200


class TwoSpeakerTTS(DebugTTS):  # type: ignore[misc,valid-type]
    """debug-tts whose "model" has two named speakers, told apart by pitch."""

    def speakers(self) -> Mapping[str, Mapping[str, Any]]:
        return {"low": {"pitch": 0.5}, "high": {"pitch": 2.0}}


def test_speakers_of_a_multi_speaker_model_are_voices(tmp_path: Path) -> None:
    server = make_server(TwoSpeakerTTS, copy_engine("tts/debug-tts", tmp_path))
    with live_server(server) as url:
        client = sdk(url)
        low, high = speak(client, voice="low"), speak(client, voice="high")
        assert low != high
        voices = httpx.get(f"{url}/v1/audio/voices").json()["voices"]
        assert [v["id"] for v in voices] == ["default", "low", "high"]


def test_a_cloning_engine_takes_samples_as_voices_and_maps_openai_names(tmp_path: Path) -> None:
    base = copy_engine("tts/debug-tts", tmp_path)

    def cloning(manifest: dict[str, Any]) -> None:
        manifest["capabilities"]["supports_speaker_cloning"] = True
        manifest["engine_config"] = {"openai_voices": {"alloy": "narrator"}}

    edit_manifest(base, cloning)
    (base / "samples").mkdir(exist_ok=True)
    (base / "samples" / "narrator.wav").write_bytes(encode_wav(np.zeros(1600), 16000))
    with live_server(make_server(DebugTTS, base)) as url:
        client = sdk(url)
        voices = httpx.get(f"{url}/v1/audio/voices").json()["voices"]
        assert voices == [{"id": "narrator", "name": "narrator"}]
        assert speak(client, voice="narrator") == speak(client, voice="alloy")
        with pytest.raises(openai.BadRequestError) as refused:
            speak(client, voice="nova")  # not mapped: a cloning engine has no default voice
        assert "engine_config.openai_voices" in refused.value.message
        assert "narrator" in refused.value.message
