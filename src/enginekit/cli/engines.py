"""`enginekit engines`: list the checkout's engines and install each one's environment."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    engines = commands.add_parser(
        "engines",
        help="list engines and install their environments",
        description="Each engine runs in its own environment, <engine dir>/.venv, with this "
        "checkout's enginekit (editable) and the engine's requirements.txt.",
    )
    engines.add_argument(
        "--root",
        type=Path,
        default=None,
        metavar="PATH",
        help="the checkout holding engines/ (default: the one enginekit runs from)",
    )
    actions = engines.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="every engine: type, environment status, path")
    listing.add_argument("--json", action="store_true", help="print machine-readable JSON")
    listing.set_defaults(handler=_list)
    setup = actions.add_parser(
        "install",
        help="create or update an engine's .venv (does nothing when it is up to date)",
    )
    setup.add_argument("name", metavar="NAME", help="engine name, e.g. xtts or tts/xtts")
    setup.add_argument(
        "--recreate", action="store_true", help="delete the environment first and build anew"
    )
    setup.set_defaults(handler=_install)


def _root(args: argparse.Namespace) -> Path:
    from ..checkout import CHECKOUT  # noqa: PLC0415 - it reads manifests: not for other commands

    return Path(args.root).resolve() if args.root else CHECKOUT


def _list(args: argparse.Namespace) -> int:
    from ..environments import environments  # noqa: PLC0415 - the other commands start without

    rows = [
        {
            "name": e.name,
            "type": e.engine.engine_type,
            "environment": e.status(),
            "path": str(e.venv),
        }
        for e in environments(_root(args))
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table("engine", "type", "environment", "path", box=None)
    for row in rows:
        table.add_row(row["name"], row["type"], row["environment"], row["path"])
    Console().print(table)
    return 0


def _install(args: argparse.Namespace) -> int:
    from ..environments import environment_of, install  # noqa: PLC0415 - as in _list

    engine = environment_of(args.name, _root(args))
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{engine.name}] {line}", file=sys.stderr, flush=True)

    if install(engine, progress, recreate=args.recreate):
        progress(f"done in {time.monotonic() - started:.0f} s")
    return 0
