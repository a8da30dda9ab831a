"""Pixel losses."""

from __future__ import annotations

import torch


def l1(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error, eq. (2)/(3) of DCKD.

    Written as ``(p - t).abs().mean()`` rather than ``F.l1_loss`` because the subtraction
    saves no operand for backward: ``target`` may then be an inference-mode tensor from a
    frozen network without a defensive copy.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"l1: shape mismatch {tuple(prediction.shape)} vs {tuple(target.shape)}")
    return (prediction - target).abs().mean()
