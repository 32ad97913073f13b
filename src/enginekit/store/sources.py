"""Where a model comes from: a spec (`https://…`, `hf://org/repo@rev/path`, `file://…`, a path)
plus an optional file list, expanded into one concrete task per file.

A spec without a file list names one file; with a list it names a base that each listed path is
appended to. Either way the model lands as a directory `external_models/<name>/` holding the files.
A listed file may name a spec of its own (`url`, one file, such as a tokenizer from another Hugging
Face repository): it is fetched from there and lands at its `path` beside the others.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import InvalidSetting, InvalidSource
from ..settings import StoreSettings

__all__ = ["FileTask", "ModelSource", "SourceFile"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SourceFile(BaseModel):
    """One file of a model, with what we expect of it; `url`: fetched from this one-file spec
    instead of the model's base."""

    model_config = ConfigDict(extra="forbid")

    path: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = Field(default=None, ge=0)

    @field_validator("path")
    @classmethod
    def _relative_inside(cls, value: str) -> str:
        return validate_relative_path(value)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        return None if value is None else validate_scheme(value)

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        return None if value is None else validate_sha256(value)


class ModelSource(BaseModel):
    """A download spec as written in engine.yaml (`models[].source`) or given to the CLI."""

    model_config = ConfigDict(extra="forbid")

    url: str
    files: list[SourceFile] = Field(default_factory=list)
    sha256: str | None = None
    size: int | None = Field(default=None, ge=0)

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str | None) -> str | None:
        return None if value is None else validate_sha256(value)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        return validate_scheme(value)

    @classmethod
    def from_spec(
        cls,
        url: str,
        files: list[str] | None = None,
        sha256: str | None = None,
        size: int | None = None,
    ) -> ModelSource:
        """Build from CLI-style arguments; any problem becomes one InvalidSource sentence."""
        try:
            return cls(
                url=url, files=[SourceFile(path=f) for f in files or []], sha256=sha256, size=size
            )
        except ValidationError as exc:
            problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
            raise InvalidSource(f"Invalid source {url!r}: {problems}") from None

    def tasks(self, settings: StoreSettings) -> list[FileTask]:
        """Expand into concrete per-file tasks; raises InvalidSource for specs that cannot be."""
        own = [f for f in self.files if f.url is not None]
        based = self.model_copy(update={"files": [f for f in self.files if f.url is None]})
        handler = _HANDLERS[_scheme_of(self.url)]
        try:
            tasks = handler(based, settings) if based.files or not own else []
        except ValueError as exc:
            raise InvalidSource(f"Invalid source {self.url!r}: {exc}") from None
        return tasks + [_own_task(f, settings) for f in own]


@dataclass(frozen=True)
class FileTask:
    """One file to fetch (`url`) or import (`local`) into `relpath` of the model directory.

    `hub`: the URL is a Hugging Face hub's, whose answer states the file's sha256 and size.
    """

    relpath: str
    url: str | None = None
    local: Path | None = None
    sha256: str | None = None
    size: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hub: bool = False

    @property
    def remote(self) -> bool:
        return self.url is not None


def validate_sha256(value: str) -> str:
    digest = value.strip().lower()
    if not _SHA256.match(digest):
        raise ValueError(f"invalid sha256 {value!r}: expected 64 hexadecimal characters")
    return digest


def validate_scheme(url: str) -> str:
    scheme = _scheme_of(url)
    if scheme not in _HANDLERS:
        raise ValueError(f"unsupported scheme {scheme!r}; use {', '.join(sorted(_HANDLERS))}")
    return url


def _own_task(f: SourceFile, settings: StoreSettings) -> FileTask:
    """A listed file with a spec of its own: fetched from there, placed at its path."""
    assert f.url is not None
    found = ModelSource(url=f.url, sha256=f.sha256, size=f.size).tasks(settings)
    if len(found) != 1:
        raise InvalidSource(f"Invalid source {f.url!r} for {f.path}: it must name one file")
    return dataclasses.replace(found[0], relpath=f.path)


def validate_relative_path(value: str) -> str:
    """A file path inside a model: relative, POSIX, no '..', no hidden or empty parts."""
    posix = PurePosixPath(value)
    if not value or posix.is_absolute() or "\\" in value or "\x00" in value:
        raise ValueError(f"invalid file path {value!r}: must be a relative POSIX path")
    if any(part in ("", ".", "..") or part.startswith(".") for part in posix.parts):
        raise ValueError(f"invalid file path {value!r}: no '.', '..' or hidden parts allowed")
    return str(posix)


def _scheme_of(url: str) -> str:
    scheme = urlsplit(url).scheme.lower()
    # "C:\\models" parses as scheme "c": a Windows drive is a local path, like no scheme at all.
    return "file" if len(scheme) <= 1 else scheme


def _single_file(source: ModelSource, name: str) -> list[SourceFile]:
    if source.files:
        return source.files
    return [SourceFile(path=validate_relative_path(name), sha256=source.sha256, size=source.size)]


def _http_tasks(source: ModelSource, settings: StoreSettings) -> list[FileTask]:
    if source.files:
        base = source.url.rstrip("/")
        return [_remote(f, f"{base}/{quote(f.path)}") for f in source.files]
    filename = unquote(PurePosixPath(urlsplit(source.url).path).name)
    if not filename:
        raise InvalidSource(f"Cannot tell the file name of {source.url}: add a file list")
    (only,) = _single_file(source, filename)
    return [_remote(only, source.url)]


def _hf_tasks(source: ModelSource, settings: StoreSettings) -> list[FileTask]:
    """`hf://org/repo[@revision][/path]` against HF_ENDPOINT's `/<repo>/resolve/<rev>/<path>`."""
    rest = source.url.split("://", 1)[1].strip("/")
    parts = rest.split("/")
    if len(parts) < 2 or not all(parts[:2]):
        raise InvalidSource(
            f"Invalid Hugging Face spec {source.url!r}: use hf://org/repo[@rev]/path"
        )
    org, repo_rev, inner = parts[0], parts[1], "/".join(parts[2:])
    repo, _, revision = repo_rev.partition("@")
    base = f"{_hub_endpoint(settings)}/{org}/{repo}/resolve/{revision or 'main'}"
    headers = {"Authorization": f"Bearer {settings.hf_token}"} if settings.hf_token else {}
    if source.files:
        prefix = f"{inner}/" if inner else ""
        files = [(f, f"{prefix}{f.path}") for f in source.files]
    elif inner:
        files = [(_single_file(source, PurePosixPath(inner).name)[0], inner)]
    else:
        raise InvalidSource(f"{source.url} names a repository: give a file path or a file list")
    return [_remote(f, f"{base}/{quote(path)}", headers, hub=True) for f, path in files]


def _hub_endpoint(settings: StoreSettings) -> str:
    """HF_ENDPOINT, refused at once when it cannot be a hub's URL (no retries, no request)."""
    if not _is_http_url(settings.hf_endpoint):
        raise InvalidSetting(
            f"Invalid HF_ENDPOINT {settings.hf_endpoint!r}: expected an http:// or https:// URL "
            "of a Hugging Face hub or mirror, such as https://huggingface.co"
        )
    return settings.hf_endpoint


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    try:
        _ = parts.port  # a port that is no number in range raises
    except ValueError:
        return False
    plain = not any(c.isspace() for c in url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and plain


def _file_tasks(source: ModelSource, settings: StoreSettings) -> list[FileTask]:
    root = _local_path(source.url)
    if source.files:
        return [_local(f, root / f.path) for f in source.files]
    if root.is_dir():
        found = sorted(p for p in root.rglob("*") if p.is_file())
        rels = [p.relative_to(root).as_posix() for p in found]
        visible = [r for r in rels if not any(part.startswith(".") for part in r.split("/"))]
        if not visible:
            raise InvalidSource(f"Nothing to import: {root} holds no files")
        return [_local(SourceFile(path=r), root / r) for r in visible]
    if not root.is_file():
        raise InvalidSource(f"Local source not found: {root}")
    (only,) = _single_file(source, root.name)
    return [_local(only, root)]


def _local_path(url: str) -> Path:
    parsed = urlsplit(url)
    if parsed.scheme.lower() == "file":
        return Path(unquote(parsed.path))
    return Path(url).expanduser()


def _remote(
    f: SourceFile, url: str, headers: dict[str, str] | None = None, hub: bool = False
) -> FileTask:
    return FileTask(f.path, url=url, sha256=f.sha256, size=f.size, headers=headers or {}, hub=hub)


def _local(f: SourceFile, path: Path) -> FileTask:
    size = f.size if f.size is not None or not path.is_file() else path.stat().st_size
    return FileTask(f.path, local=path, sha256=f.sha256, size=size)


_HANDLERS: dict[str, Callable[[ModelSource, StoreSettings], list[FileTask]]] = {
    "http": _http_tasks,
    "https": _http_tasks,
    "hf": _hf_tasks,
    "file": _file_tasks,
}
