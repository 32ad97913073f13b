"""`enginekit check [PATH ...]`: review engines against the Model Management Standard's checklist.

Exit codes: 0 when every rule passes (or does not apply), 1 when one fails, 2 for usage errors such
as a path that is not an engine directory, so CI can run it as a gate.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import MissingExtra

if TYPE_CHECKING:
    from ..conformance import EngineReport, Finding

__all__ = ["register"]

_STYLES = {"pass": "green", "fail": "bold red", "skip": "dim"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "check",
        help="check engines against the Model Management Standard",
        description="Check engine directories against the Model Management Standard's "
        "conformance checklist: server.py, Dockerfile, .dockerignore and engine.yaml. "
        "Exit 0 when all rules pass, 1 when one fails, 2 on usage errors.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="engine directories (default: every engine under engines/ of the repository)",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print machine-readable JSON")
    output.add_argument(
        "--verbose", "-v", action="store_true", help="print every rule of every engine as a table"
    )
    parser.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    # Imported here: the Docker SDK and dockerfile-parse (the "check" extra) stay out of engines.
    try:
        from ..conformance import check_paths  # noqa: PLC0415
    except ImportError as exc:
        raise MissingExtra(
            f"enginekit check needs the 'check' extra ({exc.name} is missing): "
            "pip install 'enginekit[check]'"
        ) from exc

    reports = check_paths(args.paths)
    cwd = Path.cwd().resolve()
    passed = all(r.passed for r in reports)
    if args.json:
        data = {"passed": passed, "engines": [r.to_dict(cwd) for r in reports]}
        print(json.dumps(data, indent=2))
    elif args.verbose:
        console = Console()
        for report in reports:
            console.print(_table(report, cwd))
        console.print(_summary(reports))
    else:
        console = Console(highlight=False)
        for report in reports:
            console.print(_short(report, cwd))
    return 0 if passed else 1


def _short(report: EngineReport, cwd: Path) -> Text:
    """One line for a conforming engine; a failing one adds its failures, each with its fix."""
    every = {f.rule for f in report.findings}
    skipped = every - {f.rule for f in report.findings if f.status != "skip"}
    if report.passed:
        detail = f", {len(skipped)} not applicable" if skipped else ""
        return Text(f"{report.name}: conforms ({len(every)} rules{detail})", style="green")
    failing = {f.rule for f in report.failures}
    text = Text(f"{report.name}: fails {len(failing)} of {len(every)} rules", style="bold red")
    for finding in report.failures:
        where = finding.location(cwd) or report.to_dict(cwd)["path"]
        text.append(f"\n  {where}: {finding.rule}: {finding.message}")
        text.append(f"\n    fix: {finding.fix}", style="yellow")
    return text


def _table(report: EngineReport, cwd: Path) -> Table:
    verdict = "[green]passes[/]" if report.passed else "[bold red]fails[/]"
    where = report.to_dict(cwd)["path"]
    table = Table(title=f"{report.name} ({where}) {verdict}", title_justify="left")
    table.add_column("rule", no_wrap=True)  # whole, so it can be looked up in the docs
    table.add_column("result", no_wrap=True)
    table.add_column("file:line", no_wrap=True)
    table.add_column("details / how to fix", overflow="fold", ratio=1)
    for finding in report.findings:
        details = Text(finding.message)
        if not finding.passed and finding.fix:
            details.append(f"\nfix: {finding.fix}", style="yellow")
        table.add_row(
            finding.rule,
            Text(finding.status.value.upper(), style=_STYLES[finding.status.value]),
            _where(finding, report.path, cwd),
            details,
        )
    return table


def _where(finding: Finding, engine: Path, cwd: Path) -> str:
    """Files of the engine relative to it (the title names it), others relative to the cwd."""
    if finding.file is not None and finding.file.is_relative_to(engine):
        return finding.location(engine)
    return finding.location(cwd)


def _summary(reports: list[EngineReport]) -> Text:
    failing = [r for r in reports if not r.passed]
    rules = sum(len(r.failures) for r in reports)
    if not failing:
        return Text(f"{len(reports)} engine(s) checked: all conform.", style="green")
    names = ", ".join(r.name for r in failing)
    return Text(
        f"{len(reports)} engine(s) checked: {len(failing)} fail(s) {rules} finding(s): {names}",
        style="bold red",
    )
