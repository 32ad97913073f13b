"""`enginekit schema`: the JSON schema of engine.yaml (checked in as schemas/engine.schema.json)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "schema",
        help="print the JSON schema of engine.yaml",
        description="Print (or write) the JSON schema of engine.yaml, schema_version 2.",
    )
    parser.add_argument("--output", type=Path, metavar="FILE", help="write to FILE instead")
    parser.set_defaults(handler=_schema)


def _schema(args: argparse.Namespace) -> int:
    from ..manifest import json_schema  # noqa: PLC0415 - pydantic: not for other commands

    text = json_schema()
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
