"""How `models/<name>` is made to point at `external_models/<name>`.

Symlinks are the standard's mechanism. Where they cannot be created (Windows without the
"create symbolic links" privilege, some network filesystems) the mirror fallback builds
`models/<name>` as hard links to the external files (copies across devices) and records the
target in a hidden sidecar `models/.<name>.enginekit-link`, so the store still knows the entry
came from `external_models/` and not from the image.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Protocol

from .integrity import delete_path

__all__ = [
    "LINK_MODES",
    "Linker",
    "MirrorLinker",
    "SymlinkLinker",
    "choose_linker",
    "link_target",
    "link_text",
    "remove_link",
    "sidecar_of",
]

logger = logging.getLogger(__name__)

LINK_MODES = ("auto", "symlink", "mirror")
SIDECAR_SUFFIX = ".enginekit-link"
TEMP_SUFFIX = ".enginekit-tmp"


def link_text(models_dir: Path, external_dir: Path, name: str) -> str:
    """What a link for `name` contains: relative when both directories are siblings.

    The shell entrypoint applies the same rule, so both produce identical trees.
    """
    # A symlinked models/ would make the kernel resolve ".." from its real location.
    if models_dir.parent == external_dir.parent and not models_dir.is_symlink():
        return f"../{external_dir.name}/{name}"
    return str(external_dir / name)


class Linker(Protocol):
    """One way of making an external model visible under models/."""

    def link(self, link_path: Path, text: str) -> None:
        """Create `link_path` pointing at `text` (resolved relative to link_path's directory)."""


def _resolve_text(link_path: Path, text: str) -> Path:
    return Path(os.path.normpath(link_path.parent / text))


def sidecar_of(path: Path) -> Path:
    """Where the mirror fallback records the target of `path`."""
    return path.with_name(f".{path.name}{SIDECAR_SUFFIX}")


def link_target(path: Path) -> Path | None:
    """The external target of a linked entry (either mechanism), or None for a real entry."""
    if path.is_symlink():
        return _resolve_text(path, os.readlink(path))
    sidecar = sidecar_of(path)
    if os.path.lexists(path) and sidecar.is_file():
        return _resolve_text(path, sidecar.read_text(encoding="utf-8"))
    return None


def remove_link(path: Path) -> None:
    """Remove a linked entry made by either mechanism, never its target."""
    if path.is_symlink():
        path.unlink(missing_ok=True)
    else:
        delete_path(path)
    sidecar_of(path).unlink(missing_ok=True)


class SymlinkLinker:
    """The standard's mechanism: a (relative) symbolic link."""

    def link(self, link_path: Path, text: str) -> None:
        target = _resolve_text(link_path, text)
        os.symlink(text, link_path, target_is_directory=target.is_dir())


class MirrorLinker:
    """Fallback: a hard-link (or copy) mirror plus a sidecar naming the target."""

    def link(self, link_path: Path, text: str) -> None:
        target = _resolve_text(link_path, text)
        # The sidecar goes first: a crash before the rename leaves a sidecar without an entry,
        # which is invisible, never a real directory that would pass for a baked-in model.
        sidecar_of(link_path).write_text(text, encoding="utf-8")
        staging = link_path.with_name(f".{link_path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
        try:
            if target.is_dir():
                shutil.copytree(target, staging, copy_function=_hardlink_or_copy)
            else:
                _hardlink_or_copy(str(target), str(staging))
            os.replace(staging, link_path)
        except BaseException:
            delete_path(staging)
            if not os.path.lexists(link_path):  # a stale sidecar would hide a later real model
                sidecar_of(link_path).unlink(missing_ok=True)
            raise


def _hardlink_or_copy(src: str, dst: str) -> str:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def symlinks_supported(directory: Path) -> bool:
    """Probe by creating a real link: privileges, not the OS name, decide on Windows."""
    probe = directory / f".enginekit-probe-{uuid.uuid4().hex}"
    try:
        os.symlink("probe-target", probe)
    except NotImplementedError:
        return False
    except OSError as exc:
        # EACCES/EROFS: models/ is not writable at all, which no fallback fixes; only a refusal
        # of symlinks themselves (EPERM, Windows' missing privilege) calls for the mirror.
        return exc.errno in (errno.EACCES, errno.EROFS)
    probe.unlink()
    return True


def choose_linker(mode: str, models_dir: Path) -> Linker:
    """Pick the linker for a store: forced by mode, or probed once when mode is auto."""
    if mode not in LINK_MODES:
        raise ValueError(f"Unknown link mode {mode!r}; valid: {', '.join(LINK_MODES)}")
    if mode == "symlink":
        return SymlinkLinker()
    if mode == "mirror":
        return MirrorLinker()
    if symlinks_supported(models_dir):
        return SymlinkLinker()
    logger.warning("Symbolic links are not available in %s; mirroring external models", models_dir)
    return MirrorLinker()
