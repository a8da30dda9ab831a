"""Evaluation: metric definitions, (tiled) inference and per-test-set scoring.

The names below are imported on first use, so that the torch-free parts (``cir.eval.assets``,
which the Snakefile reads) do not pull in torch. The evaluation function is
``cir.eval.evaluate.evaluate`` (the package attribute ``evaluate`` is that submodule).
"""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = {
    "MetricSpec": "cir.eval.metrics",
    "build_metric": "cir.eval.metrics",
    "build_metrics": "cir.eval.metrics",
    "evaluate_model_file": "cir.eval.evaluate",
    "metric_convention": "cir.eval.metrics",
    "restore": "cir.eval.infer",
    "sr_metric_specs": "cir.eval.metrics",
}

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module 'cir.eval' has no attribute {name!r}")
