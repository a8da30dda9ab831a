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
