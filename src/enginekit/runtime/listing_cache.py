"""A listing kept while the directories it was built from are unchanged.

Listing models/ with sizes walks every model's files (about 40 µs a model here); the state of
the directories says whether that walk can give anything new. The fingerprint is one `os.scandir`
of models/ plus a `stat` of every directory in each model (followed through its link, so a
linked model's own files count) and of external_models/: adding, removing, renaming or
replacing a file anywhere in a model changes one of those directories, as does adding, removing
or relinking a model. A file rewritten in place, same name, is the one change it cannot see
(no directory changes); the store never writes that way (downloads land by rename).

Timestamps are as coarse as the kernel's clock tick (before Linux 6.13, a few milliseconds), so a
second change in the tick of the first leaves them as they were. A listing built within
RACY_WINDOW_NS of a change it saw is therefore built again next time (git's "racy clean" rule).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from ..store.linking import SIDECAR_SUFFIX
from ..store.names import is_visible_name

__all__ = ["DirectoryCache", "fingerprint"]

T = TypeVar("T")

RACY_WINDOW_NS = 1_000_000_000  # coarser than the timestamps of ext4, XFS, Btrfs, overlayfs


# (inode, device, mtime_ns, ctime_ns): a plain tuple, built 10,000 times a call at 10,000 models
# (a NamedTuple's constructor costs 2.7 ms more).
_Stat = tuple[int, int, int, int]
_CTIME = 3


def fingerprint(
    models_dir: Path, external_dir: Path, subdirs: dict[str, list[str]]
) -> tuple[dict[str, object], dict[str, list[str]]]:
    """The state a listing of `models_dir` depends on (compare with ==), and each model's
    subdirectories: those in `subdirs` are taken as they are (a change among them changes the
    state anyway), any other model is walked."""
    found: dict[str, list[str]] = {}
    state: dict[str, object] = {"": _stat(str(external_dir))}  # "" is never a model's name
    try:
        directory = os.open(models_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return state, found
    try:  # names relative to the open directory: the kernel resolves one component each
        with os.scandir(directory) as scan:
            for entry in scan:
                name = entry.name
                if name.endswith(SIDECAR_SUFFIX):
                    state[name] = True  # a mirror's link record: whether it counts as linked
                    continue
                if not is_visible_name(name):
                    continue
                nested = subdirs.get(name)
                if nested is None:
                    nested = _subdirs(os.path.join(models_dir, name))
                found[name] = nested
                top = (entry.inode(), entry.is_symlink(), _stat(name, directory))
                state[name] = (*top, *map(_stat, nested)) if nested else top
    finally:
        os.close(directory)
    return state, found


def _stat(path: str, directory: int | None = None) -> _Stat | None:
    """What changes when a directory gains, loses or renames an entry; None when it is gone."""
    try:
        st = os.stat(path, dir_fd=directory)
    except OSError:
        return None
    return (st.st_ino, st.st_dev, st.st_mtime_ns, st.st_ctime_ns)


def _latest_change_ns(state: dict[str, object]) -> int:
    """The newest change time a fingerprint holds: ctime, which the kernel sets on every change
    and no one can set back or ahead (an mtime copied by `cp -a` may lie in the future). The
    stats are external_models/'s under "" and, in a model's (inode, is link, *stats), the rest."""
    stats = [state[""]]
    for name, value in state.items():
        if name and isinstance(value, tuple):  # a mirror's sidecar has True
            stats.extend(value[2:])
    return max((stat[_CTIME] for stat in stats if isinstance(stat, tuple)), default=0)


def _subdirs(top: str) -> list[str]:
    """Every directory below `top` (not following nested links); [] for a file or a gap."""
    found: list[str] = []
    pending = [top]
    while pending:
        try:
            with os.scandir(pending.pop()) as scan:
                for entry in scan:
                    if entry.is_dir(follow_symlinks=False):
                        found.append(entry.path)
                        pending.append(entry.path)
        except OSError:
            continue
    return found


class DirectoryCache(Generic[T]):
    """`get(build)`: the last value built, unless the directories changed since; thread-safe
    (/models runs in worker threads)."""

    def __init__(self, models_dir: Path, external_dir: Path) -> None:
        self._models_dir = models_dir
        self._external_dir = external_dir
        self._lock = threading.Lock()
        self._state: dict[str, object] | None = None
        self._settled = False  # the state is older than the window: a same-tick change shows
        self._subdirs: dict[str, list[str]] = {}
        self._value: T | None = None

    def get(self, build: Callable[[], T]) -> T:
        with self._lock:
            state, _ = fingerprint(self._models_dir, self._external_dir, self._subdirs)
            if self._value is not None and self._settled and state == self._state:
                return self._value
            # Something changed: walk every model again for its subdirectories (one may have
            # gained some), then build. Taken before the build, so a change during the build
            # only costs another rebuild next time.
            taken_at = time.time_ns()
            self._state, self._subdirs = fingerprint(self._models_dir, self._external_dir, {})
            self._settled = _latest_change_ns(self._state) < taken_at - RACY_WINDOW_NS
            self._value = build()
            return self._value
