"""DRCNet's contrastive regularisation (Li et al., "DRCNet: Dynamic Image Restoration Contrastive
Network", ECCV 2022; seed 002, supplement only): Intra-CR, and Extra-CR for its ablation.

Negatives
---------
With ``I`` the degraded input and ``J`` the clean image (the ground truth), **Intra-CR** mixes
negative ``k`` as

    n_k = lambda_k * I + (1 - lambda_k) * J,        lambda = (1, 0.95, 0.90)

so the *degraded input* carries the weight ``lambda_k`` and the clean image ``1 - lambda_k``:
``n_1`` is the input itself, ``n_2`` and ``n_3`` lie 5 % and 10 % of the way from it towards the
clean image. This is the public code's ``IntraCRLoss`` (``neg_k = lamda_k * neg + (1 - lamda_k) *
target``; ``neg`` is never passed by its training loop) with the repository figure's
``J*_intra = lambda J + (1 - lambda) I`` telling which image ``neg`` is; the figure writes the same
mix with the letters the other way round (project notes, part A2).

**Extra-CR** (named only in the supplement's Lemma 2, "negatives farther from the anchor") is taken
as AECR-Net's contrastive regularisation: the degraded input as the single negative (weight 1). That
construction is a guess of the notes [G]; here it keeps Intra-CR's encoder layers and level weights
so that the ablation changes the negatives only.

The ratio
---------
Per VGG19 level ``i`` (relu1_1, relu2_1, relu3_1, no ImageNet normalisation)::

    CR = sum_i  lambda_i * d(G_i(X), G_i(J)) / (sum_k w_k d(G_i(X), G_i(n_k)) + 1e-7)

with ``d`` the mean absolute difference, level weights ``lambda_i`` = 1/16, 1/8, 1/4 and negative
weights ``w`` = (1, 0.95, 0.90) (the code writes ``d2 + lamda2 * d3 + lamda3 * d4``: the mixing
weights double as denominator weights). :func:`cir.losses.contrastive.ratio_contrastive` computes it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from cir.losses.contrastive import ratio_contrastive

CR_MODES = ("intra", "extra", "none")
INTRA_MIX_WEIGHTS = (1.0, 0.95, 0.90)        # lambda_k: share of the degraded input in negative k
INTRA_NEG_WEIGHTS = (1.0, 0.95, 0.90)        # w_k: weight of negative k in the denominator
LEVEL_WEIGHTS = (1 / 16, 1 / 8, 1 / 4)       # relu1_1, relu2_1, relu3_1 (the code's 4th, 1.0, is unused)
LAYERS = ("relu1_1", "relu2_1", "relu3_1")   # the public code's slices [0:2], [2:7], [7:12]
EPS = 1e-7

Encoder = Callable[[torch.Tensor], Sequence[torch.Tensor]]


def intra_negatives(degraded: torch.Tensor, clean: torch.Tensor,
                    mix_weights: Sequence[float] = INTRA_MIX_WEIGHTS) -> torch.Tensor:
    """Intra-CR negatives ``n_k = lambda_k * degraded + (1 - lambda_k) * clean``, stacked on a new
    leading axis: ``[K, B, C, H, W]`` for ``K`` mixing weights (``lambda_k`` in [0, 1])."""
    if degraded.shape != clean.shape:
        raise ValueError(f"intra_negatives: degraded {tuple(degraded.shape)} and clean {tuple(clean.shape)} "
                         f"must have the same shape (scale-1 restoration)")
    weights = [float(w) for w in mix_weights]
    if not weights or any(not 0.0 <= w <= 1.0 for w in weights):
        raise ValueError(f"intra_negatives: mix_weights {weights} must be one or more numbers in [0, 1]")
    return torch.stack([w * degraded + (1.0 - w) * clean for w in weights])


def extra_negatives(degraded: torch.Tensor) -> torch.Tensor:
    """Extra-CR's single negative, the degraded input: ``[1, B, C, H, W]``."""
    return degraded.unsqueeze(0)


def cr_negatives(mode: str, degraded: torch.Tensor, clean: torch.Tensor,
                 mix_weights: Sequence[float] = INTRA_MIX_WEIGHTS,
                 neg_weights: Sequence[float] = INTRA_NEG_WEIGHTS) -> tuple[torch.Tensor, list[float]]:
    """The negatives of ``mode`` (``"intra"`` or ``"extra"``), ``[K, B, C, H, W]``, and their
    denominator weights (``neg_weights`` for Intra-CR, ``[1.0]`` for Extra-CR)."""
    if mode == "intra":
        if len(neg_weights) != len(mix_weights):
            raise ValueError(f"cr_negatives: {len(mix_weights)} mix_weights but "
                             f"{len(neg_weights)} neg_weights")
        return intra_negatives(degraded, clean, mix_weights), [float(w) for w in neg_weights]
    if mode == "extra":
        return extra_negatives(degraded), [1.0]
    raise ValueError(f"cr_negatives: mode {mode!r} has no negatives; valid: 'intra', 'extra'")


def contrastive_regularisation(encoder: Encoder, outputs: Sequence[torch.Tensor], degraded: torch.Tensor,
                               clean: torch.Tensor, *, mode: str = "intra",
                               mix_weights: Sequence[float] = INTRA_MIX_WEIGHTS,
                               neg_weights: Sequence[float] = INTRA_NEG_WEIGHTS,
                               level_weights: Sequence[float] = LEVEL_WEIGHTS,
                               eps: float = EPS) -> list[torch.Tensor]:
    """DRCNet's CR of each image in ``outputs`` (the stage outputs, anchors ``X``), one scalar each.

    ``encoder`` maps ``[N, 3, H, W]`` images to a list of per-level features (a frozen VGG19). The
    positive ``clean`` and every negative (built from ``degraded`` and ``clean``, see
    :func:`cr_negatives`) go through it in **one** call under ``torch.inference_mode``: they are
    constants, and are shared by all outputs. The outputs go through it in one call with gradients.
    """
    if not outputs:
        raise ValueError("contrastive_regularisation: no outputs")
    negatives, weights = cr_negatives(mode, degraded, clean, mix_weights, neg_weights)
    n_neg, batch = negatives.shape[0], clean.shape[0]
    with torch.inference_mode():
        consts = encoder(torch.cat([clean.unsqueeze(0), negatives]).flatten(0, 1))   # [(1 + K) * B, ...]
        consts = [f.view(1 + n_neg, batch, *f.shape[1:]) for f in consts]
        positive = [f[0] for f in consts]
        negs = [f[1:] for f in consts]
    anchors = encoder(torch.cat(list(outputs)))                                      # [S * B, ...]
    values = []
    for s in range(len(outputs)):
        anchor = [f[s * batch:(s + 1) * batch] for f in anchors]
        values.append(ratio_contrastive(anchor, positive, negs, level_weights, neg_weights=weights, eps=eps))
    return values
