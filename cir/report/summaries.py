"""Read and check evaluation summaries (the ``summary.json`` written for each evaluated model).

A summary has this shape (extra keys are allowed and ignored)::

    {"preset": "demo", "scale": 2, "backbone": "swinir", "method": "logits",
     "model_file": "...", "parameters": 123, "stand_ins": ["..."], "device": "cpu",
     "metric_convention": "...",
     "test_sets": {"Set5": {"n_images": 5, "psnr": 38.0, "ssim": 0.96,
                            "per_image_csv": "...", "sec_per_image": 0.1}}}

Which row keys (``scale``, ``backbone``, ``method``, ...) and which metrics must be present depends
on the table being built, so both are parameters here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cir.errors import CirError
from cir.eval.metrics import is_unavailable

SUMMARY_KEYS: tuple[str, ...] = ("preset", "model_file", "parameters", "stand_ins", "test_sets")


class SummaryError(CirError, ValueError):
    """A summary that is missing, unreadable, malformed, or inconsistent with the others."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def validate_summary(
    summary: Any,
    source: str,
    *,
    row_keys: Iterable[str] = (),
    metrics: Iterable[str] = (),
) -> None:
    """Raise SummaryError naming ``source`` and the key at fault if ``summary`` is malformed.

    ``row_keys`` must be present with an integer or string value; every test set must hold
    every metric in ``metrics`` as a finite number.
    """
    if not isinstance(summary, Mapping):
        raise SummaryError(f"{source}: a summary must be a JSON object, got {type(summary).__name__}")
    for key in (*SUMMARY_KEYS, *row_keys):
        if key not in summary:
            raise SummaryError(f"{source}: missing key {key!r}")
    for key in row_keys:
        value = summary[key]
        if not (_is_int(value) or isinstance(value, str) or _is_finite_number(value)):   # a setting: t 0.75
            raise SummaryError(f"{source}: key {key!r} must be a number or a string, got {value!r}")
    for key in ("preset", "model_file"):
        if not isinstance(summary[key], str) or not summary[key]:
            raise SummaryError(f"{source}: key {key!r} must be a non-empty string, got {summary[key]!r}")
    if not _is_int(summary["parameters"]) or summary["parameters"] < 0:
        raise SummaryError(
            f"{source}: key 'parameters' must be a non-negative integer, got {summary['parameters']!r}"
        )
    stand_ins = summary["stand_ins"]
    if not isinstance(stand_ins, list) or not all(isinstance(s, str) and s for s in stand_ins):
        raise SummaryError(
            f"{source}: key 'stand_ins' must be a list of non-empty strings, got {stand_ins!r}"
        )
    test_sets = summary["test_sets"]
    if not isinstance(test_sets, Mapping) or not test_sets:
        raise SummaryError(f"{source}: key 'test_sets' must be a non-empty object, got {test_sets!r}")
    metrics = tuple(metrics)
    for name, result in test_sets.items():
        if not isinstance(result, Mapping):
            raise SummaryError(f"{source}: key 'test_sets.{name}' must be an object, got {result!r}")
        for metric in metrics:
            if metric not in result:
                raise SummaryError(f"{source}: missing key 'test_sets.{name}.{metric}'")
            if not _is_finite_number(result[metric]) and not is_unavailable(result[metric]):
                raise SummaryError(
                    f"{source}: key 'test_sets.{name}.{metric}' must be a finite number "
                    "(or 'unavailable: <reason>'), "
                    f"got {result[metric]!r}"
                )


def load_summary(
    path: str | os.PathLike,
    *,
    row_keys: Iterable[str] = (),
    metrics: Iterable[str] = (),
) -> dict:
    """Load and validate one summary file; errors name the file (and the key, if one is at fault)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SummaryError(f"{path}: summary file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SummaryError(f"{path}: cannot read summary file: {exc}") from exc
    try:
        summary = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SummaryError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    validate_summary(summary, str(path), row_keys=row_keys, metrics=metrics)
    return summary


def load_summaries(
    paths: Iterable[str | os.PathLike],
    *,
    row_keys: Iterable[str] = (),
    metrics: Iterable[str] = (),
) -> list[dict]:
    """Load every summary in ``paths`` (in order), validating each as in :func:`load_summary`."""
    row_keys, metrics = tuple(row_keys), tuple(metrics)
    return [load_summary(p, row_keys=row_keys, metrics=metrics) for p in paths]
