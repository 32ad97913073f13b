"""`enginekit engines install`: create or update an engine's .venv, safely and idempotently.

A file lock beside the environment serialises installs of one engine across processes; the stamp
written last records what the environment was built from, so a second install of unchanged
requirements does nothing, and an install that died halfway is redone.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import venv
from collections.abc import Callable, Iterable

from filelock import FileLock, Timeout

from ..errors import EnginekitError
from ..store.integrity import atomic_write_json
from .environment import Environment

__all__ = ["EnvironmentFailed", "RequirementUnavailable", "install"]

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

# pip's lines worth showing while it works: one per package fetched, then the install.
_SHOWN = re.compile(r"^\s*(?P<line>(?:Collecting|Obtaining) \S+|Installing collected packages)")
_UNAVAILABLE = re.compile(
    r"(?:No matching distribution found for|Could not find a version that satisfies the "
    r"requirement) (?P<requirement>\S+)"
)


class EnvironmentFailed(EnginekitError):
    """pip or the engine's post-install step failed; the detail is pip's own error line."""


class RequirementUnavailable(EnvironmentFailed):
    """A requirement no configured index or find-links location offers."""


def install(env: Environment, progress: Progress, recreate: bool = False) -> bool:
    """Make env.venv match its requirements; False when it already did."""
    lock = FileLock(str(env.engine.path / ".venv.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        progress(f"waiting for another install of {env.name} to finish")
        lock.acquire()
    try:
        if recreate and env.venv.exists():
            progress(f"removing {env.venv}")
            shutil.rmtree(env.venv)
        if env.status() == "installed":
            progress(f"environment up to date at {env.venv}")
            return False
        _build(env, progress)
        return True
    finally:
        lock.release()


def _build(env: Environment, progress: Progress) -> None:
    fingerprint = env.fingerprint()
    if not env.python.exists():
        progress(f"creating {env.venv}")
        venv.EnvBuilder(with_pip=True, clear=True).create(env.venv)
    command = [str(env.python), "-m", "pip", "install", "--progress-bar", "off"]
    command += ["-e", str(env.root)]
    if env.requirements.is_file():
        command += ["-r", str(env.requirements)]
    progress(f"installing enginekit and {env.requirements.name}")
    _run(command, env, _pip_progress(progress), _pip_failure)
    if env.post_install.is_file():
        progress(f"running {env.post_install.name}")
        script = [str(env.python), str(env.post_install)]
        _run(script, env, lambda line: progress("  " + line), _script_failure)
    atomic_write_json(env.stamp, {"fingerprint": fingerprint})
    progress(f"environment ready at {env.venv}")


def _run(
    command: list[str],
    env: Environment,
    progress: Progress,
    failure: Callable[[Environment, list[str]], EnvironmentFailed],
) -> None:
    logger.debug("Running %s", command)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=env.engine.path
    ) as process:
        assert process.stdout is not None
        lines = list(_relay(process.stdout, progress))
    if process.returncode != 0:
        raise failure(env, lines)


def _relay(output: Iterable[str], progress: Progress) -> Iterable[str]:
    for raw in output:
        line = raw.rstrip()
        logger.debug("%s", line)
        progress(line)
        yield line


def _pip_progress(progress: Progress) -> Progress:
    def show(line: str) -> None:
        match = _SHOWN.match(line)
        if match:
            progress("  " + match["line"])

    return show


def _pip_failure(env: Environment, lines: list[str]) -> EnvironmentFailed:
    for line in lines:
        match = _UNAVAILABLE.search(line)
        if match:
            return RequirementUnavailable(
                f"{env.name}: requirement {match['requirement']} cannot be installed: no "
                "version of it on the configured package indexes fits (pip install failed)"
            )
    errors = [line.strip() for line in lines if line.strip().startswith("ERROR:")]
    last = errors[0] if errors else (lines[-1].strip() if lines else "pip failed")
    return EnvironmentFailed(f"{env.name}: pip install failed: {last}")


def _script_failure(env: Environment, lines: list[str]) -> EnvironmentFailed:
    last = lines[-1].strip() if lines else "no output"
    return EnvironmentFailed(f"{env.name}: {env.post_install.name} failed: {last}")
