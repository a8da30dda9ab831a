"""Exceptions whose messages name the file, key or value at fault."""

from __future__ import annotations

from collections.abc import Iterable


class CirError(Exception):
    """Base class of the project's user-facing errors."""


class UnknownNameError(CirError, KeyError):
    """A name (architecture, method, data set, ...) that is not registered."""

    def __init__(self, kind: str, name: object, valid: Iterable[str]):
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {', '.join(self.valid)}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class ConfigError(CirError, ValueError):
    """A configuration value that fails validation; the message starts with the key path."""


class DataError(CirError, ValueError):
    """Input data (an image, a folder of images, a pair folder, a manifest) that cannot be used;
    the message names the file or folder."""
