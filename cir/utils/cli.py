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


def parse_named_path(item: str, what: str) -> tuple[str, str]:
    """``NAME=PATH`` -> ``(NAME, PATH)``; ``what`` names the option in the error."""
    name, sep, path = str(item).partition("=")
    if not sep or not name or not path:
        raise CirError(f"{what} {item!r}: expected NAME=PATH")
    return name, path
