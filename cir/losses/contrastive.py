"""Ratio-form contrastive regularisation: distance to the positive over distance to the negatives.

One function serves every method that pulls an anchor towards a positive and pushes it away
from negatives in a feature space: DCKD's dynamic contrastive loss (eq. 5, VQGAN encoder
levels), AECR-Net's contrastive regularisation (VGG19 levels, one negative) and DRCNet's
intra-CR loss (weighted negatives 1, 0.95, 0.90).

Layout
------
For level ``i``:

* ``anchor[i]``    -- ``[B, ...]`` (``[B, C, H, W]`` for convolutional features), carries gradient;
* ``positive[i]``  -- same shape as the anchor, treated as a constant;
* ``negatives[i]`` -- ``[N, B, ...]``: the ``N`` negatives of the level stacked on a new leading
  axis, treated as constants. An encoder that ran all negatives as one batch of ``N * B`` images,
  concatenated copy after copy (``torch.cat([neg_1, ..., neg_N])``), gives this layout with
  ``features.view(N, B, *features.shape[1:])``.

Per level the loss is ``d(a, p) / (sum_j w_j d(a, n_j) + eps)`` with ``d`` the mean absolute
difference over every element (batch included), as in the public DCKD/AECR-Net code
(``mean|a - p|``); ``reduce_negatives="mean"`` divides the weighted sum by ``sum_j w_j`` (the CSD
form, an average over negatives). The result is ``sum_i lambda_i * ratio_i``.

Positive and negatives may be inference-mode tensors (outputs of frozen networks run under
``torch.inference_mode``): the distances are written as ``(a - x).abs().mean()``, whose backward
saves only the difference, never ``x``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

DISTANCES = ("l1", "l2")
REDUCTIONS = ("sum", "mean")


def _distance(diff: torch.Tensor, distance: str, dims: tuple[int, ...] | None) -> torch.Tensor:
    """Mean absolute (``l1``) or mean squared (``l2``) value of ``diff`` over ``dims`` (all if None)."""
    values = diff.abs() if distance == "l1" else diff.square()
    return values.mean() if dims is None else values.mean(dim=dims)


def ratio_contrastive(anchor: Sequence[torch.Tensor], positive: Sequence[torch.Tensor],
                      negatives: Sequence[torch.Tensor], level_weights: Sequence[float], *,
                      neg_weights: Sequence[float] | None = None, distance: str = "l1",
                      reduce_negatives: str = "sum", eps: float = 1e-7) -> torch.Tensor:
    """``sum_i lambda_i * d(a_i, p_i) / (R_j w_j d(a_i, n_ij) + eps)``; see the module docstring.

    Args:
        anchor: per level, ``[B, ...]`` features of the network being trained.
        positive: per level, ``[B, ...]`` features of the positive (detached here).
        negatives: per level, ``[N, B, ...]`` features of the ``N`` negatives (detached here).
        level_weights: ``lambda_i``, one per level.
        neg_weights: ``w_j``, one per negative (default: all 1).
        distance: ``"l1"`` (mean absolute difference, the papers' choice) or ``"l2"`` (mean squared).
        reduce_negatives: ``"sum"`` (DCKD, AECR-Net, DRCNet) or ``"mean"`` (divide by ``sum_j w_j``).
        eps: added to the denominator (1e-7 in the public code of DCKD, AECR-Net and DRCNet).
    """
    n_levels = len(anchor)
    if n_levels == 0:
        raise ValueError("ratio_contrastive: anchor is empty; give at least one feature level")
    for name, seq in (("positive", positive), ("negatives", negatives), ("level_weights", level_weights)):
        if len(seq) != n_levels:
            raise ValueError(f"ratio_contrastive: {name} has {len(seq)} levels but anchor has {n_levels}")
    if distance not in DISTANCES:
        raise ValueError(f"ratio_contrastive: distance={distance!r}; valid: {', '.join(DISTANCES)}")
    if reduce_negatives not in REDUCTIONS:
        raise ValueError(f"ratio_contrastive: reduce_negatives={reduce_negatives!r}; "
                         f"valid: {', '.join(REDUCTIONS)}")
    if eps < 0:
        raise ValueError(f"ratio_contrastive: eps must be >= 0, got {eps}")
    if neg_weights is not None:
        neg_weights = [float(w) for w in neg_weights]
        if any(w < 0 for w in neg_weights) or sum(neg_weights) <= 0:
            raise ValueError(f"ratio_contrastive: neg_weights={neg_weights} must be >= 0 with a positive sum")

    total: torch.Tensor | None = None
    for i, (a, p, n, lam) in enumerate(zip(anchor, positive, negatives, level_weights)):
        if p.shape != a.shape:
            raise ValueError(f"ratio_contrastive: level {i}: positive shape {tuple(p.shape)} "
                             f"!= anchor shape {tuple(a.shape)}")
        if n.dim() != a.dim() + 1 or n.shape[1:] != a.shape:
            raise ValueError(f"ratio_contrastive: level {i}: negatives shape {tuple(n.shape)} must be "
                             f"[N, *anchor.shape] = [N, {', '.join(map(str, a.shape))}]")
        n_neg = n.shape[0]
        if n_neg == 0:
            raise ValueError(f"ratio_contrastive: level {i}: no negatives (negatives.shape[0] == 0)")
        if neg_weights is not None and len(neg_weights) != n_neg:
            raise ValueError(f"ratio_contrastive: level {i}: {n_neg} negatives but "
                             f"{len(neg_weights)} neg_weights")

        d_ap = _distance(a - p.detach(), distance, None)
        d_an = _distance(a.unsqueeze(0) - n.detach(), distance, tuple(range(1, n.dim())))  # [N]
        if neg_weights is None:
            denominator = d_an.sum()
            weight_sum = float(n_neg)
        else:
            w = torch.tensor(neg_weights, dtype=d_an.dtype, device=d_an.device)
            denominator = (d_an * w).sum()
            weight_sum = sum(neg_weights)
        if reduce_negatives == "mean":
            denominator = denominator / weight_sum
        term = float(lam) * d_ap / (denominator + eps)
        total = term if total is None else total + term
    assert total is not None
    return total
