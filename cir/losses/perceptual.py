"""Distances between feature pyramids (VGG perceptual space)."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def perceptual_distance(features: Sequence[torch.Tensor], others: Sequence[torch.Tensor],
                        layer_weights: Sequence[float]) -> torch.Tensor:
    """``sum_l w_l * mean |f_l - g_l|``: BasicSR's ``PerceptualLoss`` with L1 criterion.

    ``others`` may hold ``N`` samples per sample of ``features`` (layer tensors of batch
    ``N * B``, sample-major in blocks of ``B``: the N negatives of a batch in one call); the
    result is then the mean over the N of the distance, which is what a loop over negatives
    averaging ``(1/N) sum_k`` would give, computed without repeating ``features``.
    """
    if not (len(features) == len(others) == len(layer_weights)) or not features:
        raise ValueError(f"perceptual_distance: {len(features)} feature layers, {len(others)} others and "
                         f"{len(layer_weights)} weights; they must be equal and non-zero")
    total = features[0].new_zeros(())
    for f, g, w in zip(features, others, layer_weights):
        b = f.shape[0]
        if g.shape[1:] != f.shape[1:] or g.shape[0] % b:
            raise ValueError(f"perceptual_distance: shapes {tuple(f.shape)} and {tuple(g.shape)} do not match")
        n = g.shape[0] // b
        total = total + float(w) * (f.unsqueeze(0) - g.view(n, *f.shape)).abs().mean()
    return total
