"""`enginekit serve` (the gateway), `enginekit run NAME` (one engine in the foreground) and
`enginekit ps` (what a running gateway runs)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ..errors import EnginekitError, InvalidSetting
from ..settings import DEFAULT_DATA_DIR

if TYPE_CHECKING:
    from ..checkout import EngineDir

__all__ = ["register"]

DEFAULT_GATEWAY_PORT = 8000


class GatewayUnreachable(EnginekitError):
    """`enginekit ps` found no gateway at the URL."""


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve", help="one HTTP front for every engine, started on demand",
        description="Serve the OpenAI audio API of all engines behind one URL; engines start "
        "on the first request that needs them and stop when idle.",
    )  # fmt: skip
    serve.add_argument("--config", type=Path, metavar="FILE", help="gateway YAML (default: "
                       "every engine of this checkout as a subprocess)")  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=DEFAULT_GATEWAY_PORT, help="default 8000")
    serve.set_defaults(handler=_serve)

    run = commands.add_parser(
        "run", help="run one engine in the foreground (subprocess or container)",
        description="Run one engine of this checkout, with DIR as its external_models/ "
        "(mounted at /app/external_models with --docker).",
    )  # fmt: skip
    run.add_argument("name", metavar="NAME", help="an engine of this checkout")
    run.add_argument("--docker", action="store_true", help="run its image instead")
    run.add_argument("--image", help="image for --docker (default enginekit/NAME)")
    run.add_argument("--port", type=int, default=8766)
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--models-dir", type=Path, metavar="DIR",
                     help=f"external_models/ (default {DEFAULT_DATA_DIR}/NAME)")  # fmt: skip
    run.add_argument("--load", metavar="MODEL", help="load MODEL at start ('default' works)")
    run.set_defaults(handler=_run)

    ps = commands.add_parser("ps", help="the engines of a running gateway")
    ps.add_argument("--url", default=f"http://127.0.0.1:{DEFAULT_GATEWAY_PORT}")
    ps.add_argument("--json", action="store_true", help="machine-readable output")
    ps.set_defaults(handler=_ps)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn  # noqa: PLC0415 - the other commands start without the web stack

    from ..gateway.app import Gateway, create_gateway_app  # noqa: PLC0415
    from ..gateway.config import load_config  # noqa: PLC0415 - it reads every manifest

    config, engines = load_config(args.config)
    settings = dataclasses.replace(
        args.settings,
        server=dataclasses.replace(args.settings.server, host=args.host, port=args.port),
    )
    gateway = Gateway(config, engines, settings)
    app = create_gateway_app(gateway, settings)
    print(f"enginekit gateway on http://{args.host}:{args.port} "
          f"({', '.join(e.name for e in engines)})", file=sys.stderr)  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def _engine(name: str) -> EngineDir:
    from ..checkout import find_engine, find_engines  # noqa: PLC0415 - as in _run

    engine = find_engine(name)
    if engine is None:
        known = ", ".join(e.name for e in find_engines())
        raise InvalidSetting(f"No engine {name!r} in this checkout; engines: {known}")
    return engine


def _run(args: argparse.Namespace) -> int:
    from ..gateway.runners import engine_environment  # noqa: PLC0415 - only to run an engine

    engine = _engine(args.name)
    models_dir = (args.models_dir or DEFAULT_DATA_DIR / engine.name).expanduser().absolute()
    if args.docker:
        return _run_container(engine, args, models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    python = str(engine.venv_python) if engine.venv_python.exists() else sys.executable
    command = [python, str(engine.server), "--port", str(args.port), "--host", args.host]
    command += ["--load", args.load] if args.load else []
    os.chdir(engine.path)
    os.execve(python, command, engine_environment(models_dir))  # the engine owns the terminal


def _run_container(engine: EngineDir, args: argparse.Namespace, models_dir: Path) -> int:
    from ..gateway.runners import DockerRunner  # noqa: PLC0415 - as in _run

    runner = DockerRunner(engine, models_dir, args.image or f"enginekit/{engine.name}", "auto")
    extra = {"ENGINE_LOAD_MODEL": args.load} if args.load else {}
    container = runner.launch(args.port, args.host, extra)
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            container.stop(timeout=15)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    for chunk in container.logs(stream=True, follow=True):
        sys.stdout.write(chunk.decode("utf-8", "replace"))
        sys.stdout.flush()
    code = int(container.wait().get("StatusCode", 1))
    container.remove(force=True)
    return code


def _ps(args: argparse.Namespace) -> int:
    import httpx  # noqa: PLC0415 - only this command talks HTTP

    token = args.settings.server.api_token
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        reply = httpx.get(f"{args.url.rstrip('/')}/engines", headers=headers, timeout=5.0)
        reply.raise_for_status()
    except httpx.HTTPError as exc:
        raise GatewayUnreachable(f"No gateway answered at {args.url}: {exc}") from exc
    engines = reply.json()["engines"]
    if args.json:
        print(reply.text)
        return 0
    table = Table("engine", "type", "runner", "state", "port", "pid/container", "model", "idle s")
    for e in engines:
        who = e.get("pid") or e.get("container") or ""
        table.add_row(e["name"], e["type"], e["runner"], e["state"], str(e["port"] or ""),
                      str(who), e["model"] or "", f"{e['idle_seconds']:.0f}")  # fmt: skip
    Console().print(table)
    return 0
