"""The console page in Debian's chromium against a real gateway with real engines: what a person
sees and does. Every view is saved as a screenshot under build/console-screenshots/."""

from __future__ import annotations

import io
import json
import threading
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect

from console.conftest import PHONE, REMOTE, Console, Tab

TOKEN = "console-secret-token"


@pytest.fixture(scope="module")
def console(start_console: Callable[..., Console]) -> Console:
    return start_console()


def tone_wav(path: Path, seconds: float = 1.5, rate: int = 16000) -> Path:
    """An audible tone: debug-stt hears its fixed sentence in anything above its threshold."""
    t = np.arange(int(seconds * rate)) / rate
    samples = (0.4 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    path.write_bytes(buffer.getvalue())
    return path


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def models_row(page: Any, engine: str, model: str) -> Any:
    return page.locator(f'section[data-engine="{engine}"] tr[data-model="{model}"]')


def test_page_shows_both_engines_and_their_models_without_errors(
    console: Console, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(console.url)
    page = tab.page
    rows = page.locator("#engines-table tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator('tr[data-engine="debug-tts"]')).to_contain_text("stopped")
    expect(page.locator('tr[data-engine="debug-stt"]')).to_contain_text("subprocess")
    tab.screenshot("engines")

    page.get_by_role("tab", name="Models").click()
    expect(models_row(page, "debug-tts", "default")).to_contain_text("baked-in")
    expect(models_row(page, "debug-tts", REMOTE)).to_contain_text("downloadable")
    expect(models_row(page, "debug-tts", REMOTE)).to_contain_text("declared")
    expect(models_row(page, "debug-stt", "default")).to_contain_text("baked-in")
    tab.screenshot("models")
    assert tab.errors == []


def test_engine_starts_stops_and_shows_its_log(
    console: Console, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(console.url)
    page = tab.page
    row = page.locator('tr[data-engine="debug-stt"]')
    page.get_by_role("button", name="Start debug-stt").click()
    expect(row).to_contain_text("running", timeout=120_000)
    page.get_by_role("button", name="Log of debug-stt").click()
    expect(page.locator("#log-lines")).to_contain_text("[gateway]")
    tab.screenshot("engines-log")
    page.get_by_role("button", name="Stop debug-stt").click()
    expect(row).to_contain_text("stopped", timeout=60_000)
    assert tab.errors == []


def test_keyboard_moves_between_views(console: Console, open_tab: Callable[..., Tab]) -> None:
    page = open_tab(console.url).page
    page.get_by_role("tab", name="Engines").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Models")).to_be_focused()
    expect(page.locator("#view-models")).to_be_visible()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Transcribe")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_label("Audio file")).to_be_visible()  # labelled controls


def test_pull_shows_live_progress_and_ends_ready(
    console: Console, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(f"{console.url}/#models")
    page = tab.page
    row = models_row(page, "debug-tts", REMOTE)
    second_file = console.mirror.behaviour("/voices/voice.bin")
    held = threading.Event()  # the pull stays under way until its progress has been read
    second_file.on_request = lambda _: held.wait(60)
    try:
        page.get_by_role("button", name=f"Pull {REMOTE}").click()
        progress = row.locator(".progress")
        expect(progress).to_be_visible()
        expect(progress.locator(".pull-text")).to_contain_text(" of ")
        expect(progress.locator(".pull-text")).to_contain_text("KiB/s")  # a measured rate
        expect(progress.locator(".files li").first).to_contain_text("KiB/s")
        value = float(progress.locator("progress").get_attribute("value") or 0)
        assert value < float(progress.locator("progress").get_attribute("max") or 0)
        tab.screenshot("models-pull")
    finally:
        held.set()
        second_file.on_request = None
    expect(row).to_contain_text("downloaded", timeout=60_000)
    expect(row).to_contain_text("verified")
    expect(row).to_contain_text("recorded")
    expect(page.locator("#notice")).to_contain_text("ready")
    tab.screenshot("models-ready")
    assert (console.data_dir / "debug-tts" / REMOTE / "model.json").is_file()
    assert tab.errors == []


def test_remove_asks_first(console: Console, open_tab: Callable[..., Tab]) -> None:
    model_dir = console.data_dir / "debug-tts" / REMOTE
    assert model_dir.is_dir(), "needs the pull of the test above"
    tab = open_tab(f"{console.url}/#models")
    page = tab.page
    row = models_row(page, "debug-tts", REMOTE)
    page.get_by_role("button", name=f"Remove {REMOTE}").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"Remove {REMOTE} from debug-tts?")
    tab.screenshot("models-remove")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("downloaded")
    assert model_dir.is_dir()

    page.get_by_role("button", name=f"Remove {REMOTE}").click()
    dialog.get_by_role("button", name="Remove").click()
    expect(row).to_contain_text("downloadable")
    assert not model_dir.exists()
    assert tab.errors == []


def test_speak_produces_audio_with_a_duration(
    console: Console, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(f"{console.url}/#speak")
    page = tab.page
    view = page.get_by_role("tabpanel", name="Speak")
    expect(view.get_by_label("Voice").locator("option")).not_to_have_count(0, timeout=120_000)
    view.get_by_label("Model", exact=True).select_option("debug-tts/default")
    view.get_by_label("Text").fill("Hello there. This is a test of the console.")
    view.get_by_role("button", name="Speak").click()
    expect(page.locator("#speak-status")).to_contain_text("long", timeout=120_000)
    duration = page.evaluate("document.getElementById('speak-audio').duration")
    assert 0.5 < duration < 30
    expect(page.get_by_role("link", name="Download audio")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download audio").click()
    assert download.value.suggested_filename == "speech.mp3"
    tab.screenshot("speak")

    view.get_by_label("Format").select_option("wav")
    view.get_by_role("button", name="Speak").click()
    expect(page.locator("#speak-status")).to_contain_text("of wav", timeout=60_000)
    assert page.evaluate("document.getElementById('speak-audio').duration") > 0.5
    assert tab.errors == []


def test_uploaded_sample_lands_in_the_engines_samples(
    console: Console, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    tab = open_tab(f"{console.url}/#speak")
    page = tab.page
    view = page.get_by_role("tabpanel", name="Speak")
    expect(view.get_by_label("Engine").locator("option")).to_have_count(1)
    view.get_by_label("Sample name").fill("narrator")
    view.get_by_label("WAV file").set_input_files(str(tone_wav(tmp_path / "narrator.wav")))
    view.get_by_role("button", name="Upload sample").click()
    expect(page.locator("#sample-status")).to_contain_text("Uploaded narrator")
    sample = console.engines["debug-tts"] / "samples" / "narrator.wav"
    assert sample.read_bytes() == (tmp_path / "narrator.wav").read_bytes()
    assert tab.errors == []


def test_uploaded_wav_is_transcribed(
    console: Console, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    expected = json.loads(
        (console.engines["debug-stt"] / "models" / "default" / "model.json").read_text()
    )["transcription"]
    tab = open_tab(f"{console.url}/#transcribe")
    page = tab.page
    view = page.get_by_role("tabpanel", name="Transcribe")
    expect(view.get_by_label("Model", exact=True).locator("option")).to_have_count(1)
    view.get_by_label("Audio file").set_input_files(str(tone_wav(tmp_path / "tone.wav")))
    view.get_by_role("button", name="Transcribe").click()
    expect(page.locator("#stt-text")).to_have_text(expected, timeout=120_000)
    expect(page.locator("#stt-timings tbody tr")).to_have_count(1)
    expect(page.locator("#stt-timings tbody tr")).to_contain_text("1.50 s")
    expect(page.locator("#stt-status")).to_contain_text("1.50 s of audio")
    tab.screenshot("transcribe")
    with page.expect_download() as download:
        view.get_by_role("button", name="Download SRT").click()
    srt = Path(download.value.path()).read_text()
    assert "00:00:00,000 --> 00:00:01,500" in srt and expected in srt
    with page.expect_download() as download:
        view.get_by_role("button", name="Download VTT").click()
    assert Path(download.value.path()).read_text().startswith("WEBVTT")
    assert tab.errors == []


def test_views_fit_a_phone_screen(console: Console, open_tab: Callable[..., Tab]) -> None:
    tab = open_tab(console.url, viewport=PHONE)
    page = tab.page
    expect(page.locator("#engines-table tbody tr")).to_have_count(2)
    assert no_horizontal_scroll(page)
    tab.screenshot("phone-engines")
    page.get_by_role("tab", name="Models").click()
    expect(models_row(page, "debug-tts", "default")).to_be_visible()
    assert no_horizontal_scroll(page)
    tab.screenshot("phone-models")
    page.get_by_role("tab", name="Speak").click()
    expect(page.get_by_role("tabpanel", name="Speak").get_by_label("Text")).to_be_visible()
    assert no_horizontal_scroll(page)
    assert tab.errors == []


def test_token_prompt_sends_a_bearer_header_and_sets_no_cookie(
    start_console: Callable[..., Console], open_tab: Callable[..., Tab]
) -> None:
    guarded = start_console(token=TOKEN)
    tab = open_tab(guarded.url)
    page = tab.page
    dialog = page.locator("#token-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#engines-table tbody tr")).to_have_count(0)
    tab.screenshot("token")
    page.get_by_label("Token", exact=True).fill("wrong-token")
    page.get_by_role("button", name="Use token").click()
    expect(dialog).to_contain_text("refused")
    page.get_by_label("Token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Use token").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#engines-table tbody tr")).to_have_count(2)
    assert page.evaluate("sessionStorage.getItem('enginekit.token')") == TOKEN
    assert page.evaluate("document.cookie") == ""
    assert page.context.cookies() == []
    expect(page.get_by_role("button", name="Forget token")).to_be_visible()


def test_a_recording_from_the_microphone_is_transcribed(
    console: Console, open_tab: Callable[..., Tab]
) -> None:
    """Chromium's fake microphone beeps; debug-stt hears its sentence in anything audible."""
    expected = json.loads(
        (console.engines["debug-stt"] / "models" / "default" / "model.json").read_text()
    )["transcription"]
    tab = open_tab(f"{console.url}/#transcribe")
    page = tab.page
    view = page.get_by_role("tabpanel", name="Transcribe")
    expect(view.get_by_label("Model", exact=True).locator("option")).to_have_count(1)
    view.get_by_role("button", name="Record").click()
    expect(view.get_by_role("button", name="Stop recording")).to_be_visible()
    page.wait_for_timeout(1500)  # a second and a half of audio
    view.get_by_role("button", name="Stop recording").click()
    expect(page.locator("#stt-text")).to_have_text(expected, timeout=120_000)
    expect(page.locator("#stt-status")).to_contain_text("s of audio")
    assert tab.errors == []
