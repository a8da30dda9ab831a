"""Checkpoints (full training state, for resume) and model files (weights + spec + meta)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from cir.utils.io import atomic_path


def save(path: str | Path, obj: dict[str, Any]) -> None:
    """torch.save to a temporary name, then rename: a killed job never leaves half a file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load(path: str | Path) -> dict[str, Any]:
    return torch.load(Path(path), map_location="cpu", weights_only=False)


def model_file(spec: dict, model_state: dict, ema_state: dict | None, meta: dict) -> dict:
    """The layout of a model file read by :func:`cir.models.load_model_file`."""
    return {"model_spec": spec, "model": model_state, "ema": ema_state, "meta": meta}
