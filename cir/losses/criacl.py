"""Cria-CL's losses (Shi, Li et al., "Criteria Comparative Learning for Real-scene Image
Super-Resolution", seed 004): contrastive losses on *criteria*, scalar loss values, rather than on
features, and the GAN terms and weights they are combined with.

Criteria
--------
A criterion ``C`` is a 0-dim loss tensor that still carries its graph (eq. 5: ``C_a`` the anchor,
``C_i+`` the positives, ``C_k-`` the negatives). The contrastive losses here take such scalars and
detach nothing: the gradient reaches the anchor and every positive and negative, as in the paper
and the public code.

* :func:`alignment`, eq. (8): ``sum_i |C_a - C_i+|^eta``. Fig. 4 writes ``(a - p).pow(eta)``; for an
  even ``eta`` (the paper's ``eta = 2``) that is the same number. For other ``eta`` the printed power
  of a negative difference is negative (odd ``eta``, a loss without lower bound) or NaN (non-integer
  ``eta``); the paper leaves this open. This module reads the difference as a distance, as the
  alignment of Wang & Isola that the paper follows ("[31]") does: ``|d|^eta``. ``eta`` must be a
  finite number >= 1 (below 1 the gradient of ``|d|^eta`` is infinite at ``d = 0``).
* :func:`uniformity`, eq. (9): ``-log sum_k exp(-t |C_a + C_k-|^power)``, as printed: the **sum**
  ``C_a + C_k-`` and the leading **minus**. Fig. 4 writes the power as ``t`` too (``(a + n).pow(t)``);
  here it is its own argument, ``power``, 2 as in eq. (9) (the same as Fig. 4 at its ``t = 2``). The
  absolute value is the same reading as for ``eta`` and changes nothing at ``power = 2``. Computed
  with ``logsumexp``: finite where the printed ``-log(sum(exp(...)))`` underflows to ``log 0``. For
  criteria >= 0 the loss is a soft minimum of ``t (C_a + C_k-)^2``: minimising it lowers the anchor
  and the nearest negative, it does not push them apart.
* :func:`lneg`: ``log((e^{-t x} + e^{-t y}) / 2)``, the negative term of the public code's sibling
  model ``SRGAN_an_model`` (on the branch pixel loss and the adversarial-branch GAN loss). It
  decreases as ``x`` and ``y`` grow, so minimising it *raises* the two criteria: a repulsion.

Fig. 4's last line, ``S * lalign + lam * S~ * lunif / 2``, weights the two losses with the
spatial-view masks, an extra ``lam`` and ``/ 2``. Eq. (11) has ``lambda_a`` and ``lambda_u`` only:
:func:`criacl_total` follows eq. (11) (no ``/ 2``), and the masks enter through the criteria
(:func:`masked_l1`: "only the pixels inside the spatial view take part").

Where the criteria come from
----------------------------
The same :func:`alignment` and :func:`uniformity` serve both assignments below; the public code's
uniformity, ``cr_weight * (-log sum_n exp(-2 (l_pix + n)^2))``, is ``uniformity`` (``t = power = 2``)
on its criteria, times ``lambda_u``. Its alignment takes one positive and ``eta = 2``.

=================  ========================================  =================================================
role               paper (eq. 5, 9, Fig. 4)                  public code (``SRGAN_al_model``, G step)
=================  ========================================  =================================================
align anchor       ``C_pix(I_align, I_hf)``                  ``w_pix * L1(out2, HR)`` (also in the total)
align positives    ``C_ssim``, ``C_perc^B`` on ``I_align``   ``w_fea * L1(VGG(out), VGG(HR))`` (one positive)
unif anchor        ``C_pix(I_unif, I_hf)``                   ``w_pix * L1(out, HR)`` (not in the total)
unif negatives     ``C_perc^T``, ``C_adv`` on ``I_unif``     ``w_gan * RaGAN_G`` on out, out1, out2
lambda_a           0.01                                      0.01 (written in the code)
lambda_u           0.01                                      ``cr_weight`` (1e-3, see CODE_WEIGHTS)
eta, t (power)     "empirical", Fig. 4: 2, 2 (2)             2, 2 (2)
masks in losses    yes (Fig. 4)                              no
=================  ========================================  =================================================

``out`` is the fused output, ``out1`` the adversarial branch (``I_unif``), ``out2`` the pixel branch
(``I_align``). In the code the criteria inside the two contrastive terms are the *weighted* losses
(``w_pix = 0.01``, ``w_fea = 1``, ``w_gan = 5e-3``), the same tensors that enter the total; only
``out2``'s L1, the feature loss and ``out1``'s GAN loss are added to it.

Adversarial terms
-----------------
Relativistic average GAN with binary cross-entropy on logits (ESRGAN), batch-mean reduction.
``BCE(x, 1) = softplus(-x)``, ``BCE(x, 0) = softplus(x)``, and ``mean`` is over every logit:

* discriminator: ``(BCE(D_r - mean D_f, 1) + BCE(D_f - mean D_r, 0)) / 2``;
* generator: ``(BCE(D_r - mean D_f, 0) + BCE(D_f - mean D_r, 1)) / 2``, with ``D_r`` detached: the
  public G step runs the discriminator on the ground truth and detaches the result.

Weights
-------
:data:`PAPER_WEIGHTS` are eq. (11)'s, :data:`CODE_WEIGHTS` the public configuration's. Eq. (2) and
eq. (11) use the letters the other way round (eq. 2: ``alpha C_adv + ... + gamma C_pix``, eq. 11:
``alpha L_pix + ... + gamma L_adv``); only eq. (11) gives values, matching ESRGAN's (pixel 1e-2,
GAN 5e-3), so :func:`weighted_sum` pairs ``alpha`` with the pixel criterion and ``gamma`` with the
adversarial one, and is the first three terms of eq. (11).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType

import torch
import torch.nn.functional as F

WEIGHT_KEYS = ("pix", "per", "adv", "align", "unif")

# Eq. (11): alpha = 0.01, beta = 1, gamma = 0.005, lambda_a = lambda_u = 0.01.
PAPER_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"pix": 0.01, "per": 1.0, "adv": 0.005, "align": 0.01, "unif": 0.01})
# Public config: pixel 0.01, feature 1, ragan 5e-3, cr_weight 1e-3 (the published yml is the sibling EDL
# project's; Cria-CL's own cr_weight is not published); the align weight 0.01 is written in the code.
CODE_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"pix": 0.01, "per": 1.0, "adv": 5e-3, "align": 0.01, "unif": 1e-3})


def _check_exponent(value: float, name: str, where: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value >= 1.0):
        raise ValueError(f"{where}: {name} must be a finite number >= 1, got {value}")
    return value


def _check_rate(value: float, name: str, where: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{where}: {name} must be a finite number > 0, got {value}")
    return value


def _criteria(anchor: torch.Tensor, others: Sequence[torch.Tensor], name: str, where: str) -> torch.Tensor:
    """``others`` stacked as ``[K]`` after checking that every criterion is a 0-dim tensor."""
    if anchor.dim() != 0:
        raise ValueError(f"{where}: anchor must be a 0-dim criterion, got shape {tuple(anchor.shape)}")
    others = list(others)
    if not others:
        raise ValueError(f"{where}: no {name}; give at least one")
    for i, c in enumerate(others):
        if c.dim() != 0:
            raise ValueError(f"{where}: {name}[{i}] must be a 0-dim criterion, got shape {tuple(c.shape)}")
    return torch.stack(others)


def alignment(anchor: torch.Tensor, positives: Sequence[torch.Tensor], eta: float = 2.0) -> torch.Tensor:
    """``L_align = sum_i |C_a - C_i+|^eta``, eq. (8); see the module docstring for the ``|.|``.

    Args:
        anchor: ``C_a``, a 0-dim criterion.
        positives: ``C_i+``, one or more 0-dim criteria.
        eta: the power, a finite number >= 1 (2 in Fig. 4 and the public code).
    """
    eta = _check_exponent(eta, "eta", "alignment")
    pos = _criteria(anchor, positives, "positives", "alignment")
    return (anchor - pos).abs().pow(eta).sum()


def uniformity(anchor: torch.Tensor, negatives: Sequence[torch.Tensor], t: float = 2.0,
               power: float = 2.0) -> torch.Tensor:
    """``L_unif = -log sum_k exp(-t |C_a + C_k-|^power)``, eq. (9), computed with ``logsumexp``.

    Args:
        anchor: ``C_a``, a 0-dim criterion.
        negatives: ``C_k-``, one or more 0-dim criteria.
        t: the kernel's rate, a finite number > 0 (2 in Fig. 4 and the public code).
        power: the power of ``C_a + C_k-``, a finite number >= 1 (2 in eq. 9; Fig. 4 reuses ``t``).
    """
    t = _check_rate(t, "t", "uniformity")
    power = _check_exponent(power, "power", "uniformity")
    neg = _criteria(anchor, negatives, "negatives", "uniformity")
    return -torch.logsumexp(-t * (anchor + neg).abs().pow(power), dim=0)


def lneg(x: torch.Tensor, y: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """``log((e^{-t x} + e^{-t y}) / 2)``, the public code's ``SRGAN_an_model`` negative term.

    ``x`` and ``y`` are 0-dim criteria (the code: the pixel-branch L1 and the adversarial-branch GAN
    loss, both weighted); ``t`` is a finite number > 0 (2 in the code). Computed as
    ``logsumexp(-t x, -t y) - log 2``.
    """
    t = _check_rate(t, "t", "lneg")
    for name, c in (("x", x), ("y", y)):
        if c.dim() != 0:
            raise ValueError(f"lneg: {name} must be a 0-dim criterion, got shape {tuple(c.shape)}")
    return torch.logsumexp(-t * torch.stack([x, y]), dim=0) - math.log(2.0)


def _check_logits(real_logits: torch.Tensor, fake_logits: torch.Tensor, where: str) -> None:
    if real_logits.numel() == 0 or fake_logits.numel() == 0:
        raise ValueError(f"{where}: empty logits (real {tuple(real_logits.shape)}, "
                         f"fake {tuple(fake_logits.shape)})")


def ragan_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``(BCE(D_r - mean D_f, 1) + BCE(D_f - mean D_r, 0)) / 2``: ESRGAN's RaGAN discriminator loss.

    ``fake_logits`` should be the discriminator's output on *detached* generator images. Both means
    stay in the graph, as in ESRGAN's original step and the public Cria-CL code; BasicSR's later
    ESRGAN model runs the two halves as separate backward passes with the other half's mean
    detached, which gives the same value but a different discriminator gradient.
    """
    _check_logits(real_logits, fake_logits, "ragan_discriminator_loss")
    l_real = F.softplus(-(real_logits - fake_logits.mean())).mean()     # BCE(., 1)
    l_fake = F.softplus(fake_logits - real_logits.mean()).mean()        # BCE(., 0)
    return (l_real + l_fake) / 2


def ragan_generator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``(BCE(D_r - mean D_f, 0) + BCE(D_f - mean D_r, 1)) / 2`` with ``D_r`` detached: ESRGAN's
    RaGAN generator loss, unweighted (the public code multiplies it by ``w_gan`` = 5e-3).

    ``real_logits`` is detached here, as the public G step does with the discriminator's output on
    the ground truth; the gradient reaches the generator through ``fake_logits`` in both halves.
    """
    _check_logits(real_logits, fake_logits, "ragan_generator_loss")
    real = real_logits.detach()
    l_real = F.softplus(real - fake_logits.mean()).mean()               # BCE(., 0)
    l_fake = F.softplus(-(fake_logits - real.mean())).mean()            # BCE(., 1)
    return (l_real + l_fake) / 2


def weighted_sum(c_pix: torch.Tensor, c_per: torch.Tensor, c_adv: torch.Tensor, *, alpha: float = 0.01,
                 beta: float = 1.0, gamma: float = 0.005) -> torch.Tensor:
    """``L_wsum = alpha C_pix + beta C_per + gamma C_adv``: eq. (2) with eq. (11)'s pairing of the
    weights (see the module docstring); the defaults are eq. (11)'s."""
    return alpha * c_pix + beta * c_per + gamma * c_adv


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    keys = set(weights)
    if keys != set(WEIGHT_KEYS):
        missing = [k for k in WEIGHT_KEYS if k not in keys]
        unknown = sorted(keys - set(WEIGHT_KEYS))
        raise ValueError(f"criacl_total: weights need exactly the keys {', '.join(WEIGHT_KEYS)}; "
                         f"missing {missing}, unknown {unknown}")
    values = {k: float(weights[k]) for k in WEIGHT_KEYS}
    bad = {k: v for k, v in values.items() if not (math.isfinite(v) and v >= 0.0)}
    if bad:
        raise ValueError(f"criacl_total: weights must be finite and >= 0, got {bad}")
    return values


def criacl_total(pix: torch.Tensor, per: torch.Tensor, adv: torch.Tensor, align: torch.Tensor | None = None,
                 unif: torch.Tensor | None = None, *,
                 weights: Mapping[str, float] = PAPER_WEIGHTS) -> torch.Tensor:
    """Eq. (11): ``alpha L_pix + beta L_per + gamma L_adv + lambda_a L_align + lambda_u L_unif``.

    Combines terms that are already computed (on whichever images the caller chose; see the module
    docstring's table). ``align`` or ``unif`` left ``None`` is left out (the ablation rows without
    it). ``weights`` maps ``pix``, ``per``, ``adv``, ``align``, ``unif`` to their factors:
    :data:`PAPER_WEIGHTS` (default) or :data:`CODE_WEIGHTS`.
    """
    w = _check_weights(weights)
    total = weighted_sum(pix, per, adv, alpha=w["pix"], beta=w["per"], gamma=w["adv"])
    if align is not None:
        total = total + w["align"] * align
    if unif is not None:
        total = total + w["unif"] * unif
    return total


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``sum(m |x - y|) / sum(m)``: the mean absolute difference weighted by a spatial-view mask.

    ``mask`` (``S`` or ``S~``, values >= 0, e.g. a softmax output) broadcasts to ``x``'s shape
    (``[B, 1, H, W]`` against ``[B, C, H, W]``); the denominator is the sum of the *broadcast* mask,
    so a mask of ones gives the plain mean L1 and a 0/1 mask the mean over the pixels in view. An
    all-zero mask gives 0 (``eps`` keeps the division finite). The gradient reaches the mask too,
    through numerator and denominator; pass ``mask.detach()`` to keep the loss off the projector.
    """
    if x.shape != y.shape:
        raise ValueError(f"masked_l1: shape mismatch {tuple(x.shape)} vs {tuple(y.shape)}")
    try:
        shape = torch.broadcast_shapes(mask.shape, x.shape)
    except RuntimeError:
        shape = None
    if shape != x.shape:
        raise ValueError(f"masked_l1: mask shape {tuple(mask.shape)} does not broadcast to {tuple(x.shape)}")
    weighted = mask * (x - y).abs()
    return weighted.sum() / (mask.expand(x.shape).sum() + eps)
