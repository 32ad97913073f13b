"""`enginekit run NAME`: one engine in the foreground, with DIR as its external_models/."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from support.engines import free_port, wait_until_up

from gateway.helpers import make_checkout


def run_engine(checkout: Path, *args: str) -> subprocess.Popen[str]:
    code = (
        "import sys; from pathlib import Path; import enginekit.checkout as c; "
        f"c.CHECKOUT = Path({str(checkout)!r}); from enginekit.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, "run", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_run_serves_the_engine_with_the_models_dir_as_external_models(tmp_path: Path) -> None:
    checkout = make_checkout(tmp_path / "checkout")
    models = tmp_path / "my-models"
    (models / "mounted").mkdir(parents=True)
    (models / "mounted" / "model.json").write_text(
        json.dumps({"sample_rate": 8000, "char_duration": 0.01, "base_frequency": 220.0})
    )
    port = free_port()
    engine = run_engine(checkout, "debug-tts", "--port", str(port), "--models-dir", str(models),
                        "--load", "mounted")  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, process=engine)
        listed = {m["name"]: m["source"] for m in httpx.get(f"{url}/models").json()["models"]}
        assert listed == {"default": "baked-in", "mounted": "external"}
        linked = checkout / "engines" / "tts" / "debug-tts" / "models" / "mounted"
        assert linked.resolve() == (models / "mounted").resolve()
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(timeout=30) == 0
    finally:
        if engine.poll() is None:
            engine.kill()


def test_run_names_the_engines_when_the_name_is_unknown(tmp_path: Path) -> None:
    engine = run_engine(make_checkout(tmp_path / "checkout"), "nope")
    output, _ = engine.communicate(timeout=30)
    assert engine.returncode == 2
    assert (
        output.strip() == "error: No engine 'nope' in this checkout; engines: debug-stt, debug-tts"
    )
