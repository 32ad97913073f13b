"""schemathesis against debug-tts and debug-stt on a real uvicorn (issue 16, item 14): requests
generated from each OpenAPI document (the contract's and the /v1 door's) never get a 5xx, and
every answer is one the document declares: its status code, its content type, its schema.

The run is bounded (a few examples per operation, a fixed seed, so a failure reproduces). It is
the schemathesis CLI, which prints each failure with a curl line to replay it; its pytest plugin
(`from_fixture`) fails on pytest 9.2, which renamed the node attribute it rewrites. /shutdown
stays documented but is not fuzzed: it stops the engine.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from support.engines import copy_engine, engine_module, live_server, make_server

from enginekit.settings import ServerSettings

ENGINES = {"tts": ("tts/debug-tts", "DebugTTS"), "stt": ("stt/debug-stt", "DebugSTT")}
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
]
MAX_EXAMPLES = 30
SEED = 16014
TOKEN = "s3cret"
NOT_SHUTDOWN = ("--exclude-path", "/shutdown")


@contextmanager
def serve(kind: str, base: Path, settings: ServerSettings | None = None) -> Iterator[str]:
    """The engine on a live uvicorn with its default model loaded, so processing requests get
    past "Model not loaded"."""
    relative, name = ENGINES[kind]
    engine_class = getattr(engine_module(relative), name)
    served = make_server(engine_class, copy_engine(relative, base), server_settings=settings)
    headers = {"Authorization": f"Bearer {TOKEN}"} if settings else {}
    with live_server(served) as url:
        httpx.post(
            f"{url}/load", json={"engineModelName": "default"}, headers=headers
        ).raise_for_status()
        yield url


@pytest.fixture(scope="module", params=list(ENGINES))
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with serve(request.param, tmp_path_factory.mktemp(request.param)) as url:
        yield url


def schemathesis(
    document: str, workdir: Path, *options: str, checks: list[str] = CHECKS
) -> subprocess.CompletedProcess[str]:
    """One `schemathesis run` of `document` (in `workdir`, so nothing lands in the checkout)."""
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", document,
        "--checks", ",".join(checks), "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
        "--workers", "1", "--no-color", *options,
    ]  # fmt: skip
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)


def assert_conforms(run: subprocess.CompletedProcess[str]) -> None:
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]


def test_contract_document_holds_for_generated_requests(engine: str, tmp_path: Path) -> None:
    assert_conforms(schemathesis(f"{engine}/openapi.json", tmp_path, *NOT_SHUTDOWN))


def test_openai_document_holds_for_generated_requests(engine: str, tmp_path: Path) -> None:
    assert_conforms(schemathesis(f"{engine}/v1/openapi.json", tmp_path))


def test_a_token_guarded_engine_holds_to_its_document_and_enforces_its_scheme(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """`ignored_auth` on top: every operation the document guards refuses a request without
    the token."""
    checks = [*CHECKS, "ignored_auth"]
    auth = ("-H", f"Authorization: Bearer {TOKEN}")
    with serve("tts", tmp_path_factory.mktemp("guarded"), ServerSettings(api_token=TOKEN)) as url:
        contract = schemathesis(
            f"{url}/openapi.json", tmp_path, *auth, *NOT_SHUTDOWN, checks=checks
        )
        assert_conforms(contract)
        assert_conforms(schemathesis(f"{url}/v1/openapi.json", tmp_path, *auth, checks=checks))
