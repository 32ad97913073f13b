"""`enginekit models`: list, link, pull, verify, rm and prune the models of one engine directory."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ..errors import InvalidSource
from ..layout import EngineLayout
from ..store import ModelStore

if TYPE_CHECKING:
    from ..store import ModelSource, ProgressEvent

__all__ = ["register"]

Handler = Callable[[argparse.Namespace], int]


def _add_common_options(parser: argparse.ArgumentParser, at_leaf: bool) -> None:
    """Accept the common options before or after the action; a leaf only overrides when given."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if at_leaf else value

    parser.add_argument(
        "--engine-dir",
        type=Path,
        default=default(Path.cwd()),
        metavar="PATH",
        help="engine directory holding models/ and external_models/ (default: current directory)",
    )
    parser.add_argument(
        "--json", action="store_true", default=default(False), help="print machine-readable JSON"
    )
    parser.add_argument(
        "--debug", action="store_true", default=default(False), help="show tracebacks on errors"
    )


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    _add_common_options(common, at_leaf=True)

    models = commands.add_parser(
        "models",
        help="manage the models of an engine directory",
        description="Manage models the Model Management Standard's way: the server reads "
        "models/, external_models/ holds mounted or downloaded models, linked into models/.",
    )
    _add_common_options(models, at_leaf=False)
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add("list", _list, "List the models in models/ (baked-in, external, dangling) with sizes.")
    add("link", _link, "Link every entry of external_models/ into models/ (baked-in wins).")
    pull = add(
        "pull",
        _pull,
        "Download a model into external_models/NAME/, verify it, then link it into models/.",
    )
    pull.add_argument("name", metavar="NAME", help="model name (a plain file name)")
    pull.add_argument(
        "--source",
        metavar="SPEC",
        help="https://host/file, hf://org/repo[@rev]/path, file:///path or a local path; "
        "with --file, the base the files are relative to (default: NAME's entry in the "
        "engine's engine.yaml catalog, with its files, sha256 and sizes)",
    )
    pull.add_argument(
        "--force",
        action="store_true",
        help="download a model that is already present again (not baked-in or your own files)",
    )
    pull.add_argument("--sha256", metavar="HEX", help="expected sha256 of a single-file source")
    pull.add_argument("--size", type=int, metavar="BYTES", help="expected size in bytes")
    pull.add_argument(
        "--file",
        dest="files",
        action="append",
        metavar="PATH",
        help="a file of a multi-file model, relative to --source (repeat for each file)",
    )
    verify = add("verify", _verify, "Re-hash model files against their recorded sha256.")
    verify.add_argument("name", nargs="?", metavar="NAME", help="one model (default: all)")
    remove = add(
        "rm",
        _remove,
        "Remove a model from models/: a downloaded one is deleted, files you placed in "
        "external_models/ yourself are only unlinked (they are linked again at the next start).",
    )
    remove.add_argument("name", metavar="NAME")
    remove.add_argument(
        "--delete-files",
        action="store_true",
        help="also delete files you placed in external_models/NAME yourself",
    )
    prune = add("prune", _prune, "Remove dangling links and abandoned temporary downloads.")
    prune.add_argument(
        "--grace",
        type=float,
        default=None,
        metavar="SECONDS",
        help="only temporary files older than this (default: 24 hours)",
    )


def _store(args: argparse.Namespace) -> ModelStore:
    engine_dir: Path = args.engine_dir
    if not engine_dir.is_dir():
        raise InvalidSource(f"Engine directory not found: {engine_dir}")
    return ModelStore(EngineLayout.at(engine_dir), args.settings.store)


def _emit(args: argparse.Namespace, data: Any, human: Callable[[Console], None]) -> None:
    try:
        if args.json:
            sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        else:
            human(Console())
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (`| head`): not an error of ours. Point stdout at /dev/null so the
        # interpreter's final flush does not fail again, and exit as Python's docs advise.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


def _list(args: argparse.Namespace) -> int:
    entries = _store(args).discover()

    def table(console: Console) -> None:
        if not entries:
            console.print("No models in models/.")
            return
        view = Table("name", "kind", "size", "target")
        for e in entries:
            view.add_row(e.name, e.kind, _human_size(e.size_bytes), str(e.target or ""))
        console.print(view)

    _emit(args, [asdict(e) for e in entries], table)
    return 0


def _link(args: argparse.Namespace) -> int:
    actions = _store(args).link_external()

    def lines(console: Console) -> None:
        for a in actions:
            console.print(f"{a.action:17} {a.name}")
        console.print(f"{len(actions)} external entr{'y' if len(actions) == 1 else 'ies'}")

    _emit(args, [asdict(a) for a in actions], lines)
    return 0


def _pull(args: argparse.Namespace) -> int:
    store = _store(args)
    source = _pull_source(args)
    with _progress_bar(enabled=not args.json and sys.stderr.isatty()) as progress:
        pulled = store.pull(args.name, source, progress, force=args.force)
    record = store.record(args.name)
    if not pulled.downloaded or record is None:  # not fetched now: re-hash what is there
        files = [asdict(c) for c in store.verify(args.name).files]
    else:  # just hashed while downloading (and checked against any declared sha256)
        files = [
            {"path": f.path, "status": "ok", "sha256": f.sha256, "size": f.size}
            for f in record.files
        ]
    status = "downloaded" if pulled.downloaded else "already present"
    data = {
        "name": args.name,
        "path": str(pulled.path),
        "downloaded": pulled.downloaded,
        "status": status,
        "files": files,
    }
    if pulled.downloaded:
        message = f"{args.name} downloaded and ready at {pulled.path}"
    else:
        message = f"{args.name} already present at {pulled.path} (--force downloads it again)"
    _emit(args, data, lambda c: c.print(message))
    return 0


def _pull_source(args: argparse.Namespace) -> ModelSource:
    """--source as given, else the engine.yaml catalog entry of NAME (files, sha256, sizes)."""
    if args.source is not None:
        from ..store import ModelSource  # noqa: PLC0415 - pydantic: not for other commands

        return ModelSource.from_spec(args.source, args.files, args.sha256, args.size)
    if args.files or args.sha256 or args.size is not None:
        raise InvalidSource("--file, --sha256 and --size describe a --source: give one")
    manifest_path = args.engine_dir / "engine.yaml"
    if not manifest_path.is_file():
        raise InvalidSource(f"No --source given and there is no {manifest_path} to look it up")
    from ..manifest import load_manifest  # noqa: PLC0415 - YAML and its models: only here

    manifest = load_manifest(manifest_path)
    entry = manifest.catalog_model(args.name)
    if entry is None or entry.source is None:
        catalog = ", ".join(m.name for m in manifest.models if m.source) or "(none)"
        raise InvalidSource(
            f"No --source given and {manifest_path} has no downloadable model {args.name}; "
            f"its catalog: {catalog}"
        )
    return entry.source


def _verify(args: argparse.Namespace) -> int:
    store = _store(args)
    names = [args.name] if args.name else store.names()
    reports = [store.verify(name) for name in names]

    def lines(console: Console) -> None:
        for r in reports:
            if not r.recorded:
                console.print(f"{r.name}: no checksum recorded (baked-in or mounted); skipped")
            for c in r.files:
                console.print(f"{r.name}/{c.path}: {c.status}")

    _emit(args, [asdict(r) | {"ok": r.ok} for r in reports], lines)
    return 0 if all(r.ok for r in reports) else 1


def _remove(args: argparse.Namespace) -> int:
    removed = _store(args).remove(args.name, delete_files=args.delete_files)
    if removed.kept is not None:
        message = (
            f"unlinked {args.name}; your files in {removed.kept} were kept (they are linked "
            "again at the next start: move them away, or use --delete-files)"
        )
    else:
        message = f"removed {args.name}"
    data = {
        "removed": args.name,
        "unlinked": removed.unlinked,
        "deleted": removed.deleted and str(removed.deleted),
        "kept": removed.kept and str(removed.kept),
    }
    _emit(args, data, lambda c: c.print(message))
    return 0


def _prune(args: argparse.Namespace) -> int:
    actions = _store(args).prune(args.grace)

    def lines(console: Console) -> None:
        for a in actions:
            console.print(f"removed {a.path} ({a.reason})")
        console.print(f"{len(actions)} item(s) pruned")

    _emit(args, [asdict(a) for a in actions], lines)
    return 0


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[ProgressEvent], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import (  # noqa: PLC0415 - only a pull on a terminal draws a bar
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=sys.stderr), transient=False) as bar:
        task_ids: dict[str, Any] = {}

        def update(event: ProgressEvent) -> None:
            if event.model not in task_ids:
                task_ids[event.model] = bar.add_task(event.model, total=event.total)
            bar.update(
                task_ids[event.model],
                completed=event.done,
                total=event.total,
                description=f"{event.model} {event.file}",
            )

        yield update


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
