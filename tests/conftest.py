"""Fixtures shared by every test package."""

from support.fileserver import file_server  # noqa: F401
