"""Shared ending of the workflow_scripts CLIs."""

from __future__ import annotations

import sys
from collections.abc import Callable

from cir.errors import CirError


def run_step(action: Callable[[], object]) -> int:
    """Run one DAG step; a user-facing error becomes ``error: ...`` on stderr and exit code 2."""
    try:
        action()
    except CirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def parse_named_path(item: str, what: str, form: str = "NAME=PATH") -> tuple[str, str]:
    """Split a ``NAME=PATH`` command-line item into ``(name, path)``.

    ``what`` names the argument in the error (e.g. ``"--summary"``) and ``form`` spells out what
    is expected (e.g. ``"EXPERIMENT=SUMMARY.json"``). An item without ``=``, or with an empty
    name or path, raises :class:`~cir.errors.CirError` quoting the item.
    """
    name, sep, path = str(item).partition("=")
    if not sep or not name or not path:
        raise CirError(f"{what} {item!r}: expected {form}")
    return name, path
