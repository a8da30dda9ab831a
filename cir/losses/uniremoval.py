"""Uni-Removal's losses (Zhang et al., "Uni-Removal: A Semi-Supervised Framework for Simultaneously
Addressing Multiple Degradations in Real-World Images", arXiv 2307.05075v1, seed 003) as pure functions.

No public code exists for the paper; every choice below that the paper leaves open is marked
*ours* and is an option where it changes the numbers.

Contrastive terms, eqs. (2)-(4) and (9)-(11)
--------------------------------------------
Eq. (2) (one positive, MGCL) and eq. (9) (``b`` positives, EX-MGCL) are the same expression::

    L = S+ / (S+ + S-),   S+ = sum_p sim(f, f_p+),   S- = sum_q sim(f, f_q-),
    sim(u, v) = exp(u.v / (|u| |v| tau))

:func:`contrastive_loss` computes it for a batch of anchors, with eq. (2) as the case of a
one-element positive set. It takes vectors that are already embedded (the caller applies ``phi``:
VGG-19 features for the image-grained terms, :func:`flatten_features` -- ``phi`` = identity -- for
MPRNet feature maps, or :func:`pooled`). Writing ``l = cos / tau``, ``log S+ = logsumexp(l+)`` and
``log S- = logsumexp(l-)``, so with ``d = log S- - log S+``:

* ``form="neg_log"`` (default, *ours*): ``-log L = softplus(d)``, the InfoNCE loss of CPC [53],
  which the paper's related work cites among losses that "attract positive samples and repel
  negative samples". Minimising it raises the anchor's cosines to its positives relative to those
  to its negatives, which is what the paper says the loss is for.
* ``form="printed_ratio"``: ``L = sigmoid(-d)``, the paper's literal text. ``L`` *grows* as the
  anchor approaches its positives, so minimising it, as eqs. (6) and (13) add it to losses that
  are minimised, pushes the anchor away from them: recorded as the literal reading only.
* ``form="one_minus_ratio"``: ``1 - L = sigmoid(d)``: the printed ratio turned into something to
  minimise while keeping its bounded ``[0, 1]`` range.

All three are computed from ``d`` alone (``softplus`` / ``sigmoid``), never by forming ``exp(l)``,
so they stay finite for any ``tau > 0``.

**tau = 1e-6** (the paper's value "for both stages"): cosines lie in ``[-1, 1]``, so the logits
reach ``+-1e6`` and ``logsumexp`` becomes a hard maximum: ``d ~ (max_q cos_q- - max_p cos_p+) / tau``.
``neg_log`` is then ``~ max(0, d)``, a hinge at zero margin whose value and gradients are of order
``1/tau`` (``1e6``) while a negative beats every positive, and which falls to 0 once a positive
beats every negative (exactly 0, gradient 0, in float32 once the margin exceeds about ``100 tau``);
``printed_ratio`` and ``one_minus_ratio`` become 0/1 step functions whose gradients are negligible
except within a few ``tau`` of a tie. The paper gives no reason for such a small temperature; it
may be a typo (InfoNCE temperatures are usually of order 0.1, e.g. 0.07 in MoCo), so ``tau`` is an
argument. The cosines are computed in float32 (autocast is switched off inside, lower-precision
inputs are upcast): a float32 cosine carries a rounding error of order 1e-7 (more for long
vectors), which ``1/tau = 1e6`` turns into logit errors of order 0.1 or more, so near a tie the
value at ``tau = 1e-6`` is rounding noise.

Negatives and positives per anchor: ``negative_mask[b, k]`` says whether negative ``k`` counts
for anchor ``b`` (the text of eq. 3 takes the student's features of samples "with different
degradation types" as negatives; the caller may use the same mask for eq. 10);
``positive_mask`` likewise for positives. An anchor with no allowed negative
has ``S- = 0``: ``-log(S+/S+) = 0`` (``printed_ratio`` 1, ``one_minus_ratio`` 0), exactly, with zero
gradient. The reduction is the mean over the anchors with at least one allowed positive; if no
anchor has one, the loss is a zero that stays in the graph (zero gradients).

Nothing is detached here: whether the positives (teacher features in eqs. 3-4, the student's own
outputs on clear images in eqs. 10-11) and the negatives carry gradient is the caller's choice.
Positives or negatives may be inference-mode tensors of a frozen network (they are normalised
into new tensors before anything is saved for backward). A bank shared by all anchors can be
passed as ``bank.expand(B, K, D)``: a batch stride of 0 is detected and the bank is used once,
without a ``[B, K, D]`` copy. The L1-distance ratio of AECR-Net/DCKD, another reading of these
terms, is :func:`cir.losses.contrastive.ratio_contrastive`.

Domain adaptation GAN, eq. (7), and identity loss, eq. (8)
---------------------------------------------------------
Eq. (7) is printed ``L_gan = E[D_S(G_S(x_r))] + E[D_S(G_S(x_c)) - 1]``: linear in the
discriminator's scores, both terms with the same sign, the second on the student's output for a
clear image, and the discriminator's own loss is not given. It is kept, literally, as
:func:`printed_gan_loss`. The default (*ours*) is the least-squares GAN of CycleGAN [59] (which
the paper cites for its identity loss): :func:`lsgan_generator_loss`
``E[(D(G(x_r)) - 1)^2]`` and :func:`lsgan_discriminator_loss`
``d_weight * (E[(D(real) - 1)^2] + E[D(fake)^2])``. CycleGAN multiplies its discriminator loss by
0.5 (``backward_D_basic`` in junyanz/pytorch-CycleGAN-and-pix2pix, ``models/cycle_gan_model.py``):
:data:`CYCLEGAN_D_WEIGHT`, the default; ``d_weight=1`` is the plain sum. Under Adam a constant
factor on a loss changes the update only through Adam's ``eps``. Which images D sees as "real"
(``x_c``, as the text says, or ``G_S(x_c)``, as eq. 7 prints) is the caller's choice.

Eq. (8), ``L_idt = E|G_S(x_c) - x_c|_1``, is :func:`identity_loss`, which is
:func:`cir.losses.pixel.l1`.

Weights and decays
------------------
:data:`KT_WEIGHTS` (eqs. 5-6) and :data:`DA_WEIGHTS` (eqs. 12-13) are the printed values. The
paper also prints ``lambda_4 = 0.01``, which appears in no equation: :data:`LAMBDA4_PRINTED`
records it and nothing here uses it. ``alpha_1`` and ``lambda_1`` decay by 0.99 "every epoch":
:func:`decayed`. The paper does not say how long an epoch is (batches mix three data sets of
different sizes), so the caller's sampler decides ``steps_per_epoch``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

import torch
import torch.nn.functional as F

from cir.losses.pixel import l1

# Sec. IV-A-2 ("Training Details"): alpha_1 = 0.5, alpha_2 = 0.1 (eqs. 5-6).
KT_WEIGHTS: Mapping[str, float] = MappingProxyType({"alpha1": 0.5, "alpha2": 0.1})
# Same paragraph: lambda_1 = 0.5, lambda_2 = 0.1, lambda_3 = 0.1 (eqs. 12-13).
DA_WEIGHTS: Mapping[str, float] = MappingProxyType({"lambda1": 0.5, "lambda2": 0.1, "lambda3": 0.1})
# Same paragraph prints "lambda_4 = 0.01"; no equation has a lambda_4. Recorded, not used.
LAMBDA4_PRINTED = 0.01
# Same paragraph: "The temperature parameter tau = 1e-6 for both stages."
TAU = 1e-6
# Same paragraph: "a decay of 0.99 on alpha_1 every epoch", "also a decay of 0.99 on lambda_1".
DECAY = 0.99
# CycleGAN's discriminator loss factor: (loss_D_real + loss_D_fake) * 0.5.
CYCLEGAN_D_WEIGHT = 0.5

FORMS = ("neg_log", "printed_ratio", "one_minus_ratio")
_NORM_EPS = 1e-12

identity_loss = l1
"""Eq. (8), ``E|G_S(x_c) - x_c|_1``: :func:`cir.losses.pixel.l1` (mean absolute error)."""


def flatten_features(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` (or any ``[B, ...]``) features -> ``[B, C*H*W]`` vectors (``phi`` = identity)."""
    if x.dim() < 2:
        raise ValueError(f"flatten_features: x must be [B, ...] with at least 2 dims, got {tuple(x.shape)}")
    return x.flatten(1)


def pooled(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` features -> ``[B, C]``: the mean over the spatial positions."""
    if x.dim() != 4:
        raise ValueError(f"pooled: x must be [B, C, H, W], got {tuple(x.shape)}")
    return x.mean(dim=(2, 3))


def _work_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.promote_types(t.dtype, torch.float32) if t.is_floating_point() else torch.float32


def _cosines(unit_anchor: torch.Tensor, others: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``[B, D]`` unit anchors against ``[B, N, D]`` vectors -> ``[B, N]`` cosines."""
    if others.shape[0] > 1 and others.stride(0) == 0:          # one bank expanded over the batch
        bank = F.normalize(others[0].to(dtype), dim=-1, eps=_NORM_EPS)          # [N, D]
        return unit_anchor @ bank.transpose(0, 1)
    unit = F.normalize(others.to(dtype), dim=-1, eps=_NORM_EPS)                 # [B, N, D]
    return torch.einsum("bd,bnd->bn", unit_anchor, unit)


def _check_mask(mask: torch.Tensor | None, name: str, shape: tuple[int, int], device) -> torch.Tensor:
    if mask is None:
        return torch.ones(shape, dtype=torch.bool, device=device)
    if mask.dtype != torch.bool:
        raise ValueError(f"contrastive_loss: {name} must be a bool tensor, got dtype {mask.dtype}")
    if tuple(mask.shape) != shape:
        raise ValueError(f"contrastive_loss: {name} shape {tuple(mask.shape)} must be "
                         f"[{', '.join(map(str, shape))}]")
    return mask.to(device)


def _masked_logsumexp(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Row-wise ``log sum_{mask} exp(logits)``; ``-inf`` for a row with nothing allowed, with no
    NaN in the backward pass (such rows are computed on their unmasked logits, then replaced)."""
    any_allowed = mask.any(dim=1)
    keep = mask | ~any_allowed.unsqueeze(1)
    lse = torch.logsumexp(logits.masked_fill(~keep, -math.inf), dim=1)
    return torch.where(any_allowed, lse, torch.full_like(lse, -math.inf))


def contrastive_loss(anchor: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, *,
                     tau: float = TAU, negative_mask: torch.Tensor | None = None,
                     positive_mask: torch.Tensor | None = None, form: str = "neg_log") -> torch.Tensor:
    """Eq. (2) / eq. (9): ``S+ / (S+ + S-)`` with cosine similarities at temperature ``tau``, in the
    chosen ``form``, averaged over the anchors; see the module docstring.

    Args:
        anchor: ``[B, D]`` embedded anchors ``phi(f)``.
        positives: ``[B, P, D]`` (eq. 9) or ``[B, D]`` (eq. 2, one positive per anchor).
        negatives: ``[B, K, D]``; ``K`` may be 0 (then every anchor has ``S- = 0``).
        tau: the temperature, a finite number > 0 (the paper's 1e-6 by default).
        negative_mask: optional bool ``[B, K]``; ``True`` where negative ``k`` counts for anchor ``b``.
        positive_mask: optional bool ``[B, P]``; ``True`` where positive ``p`` counts for anchor ``b``.
        form: ``"neg_log"`` (``-log`` of the ratio; default), ``"printed_ratio"`` or ``"one_minus_ratio"``.

    Returns:
        A 0-dim tensor (float32, or float64 for float64 inputs).
    """
    where = "contrastive_loss"
    if form not in FORMS:
        raise ValueError(f"{where}: form={form!r}; valid: {', '.join(FORMS)}")
    tau = float(tau)
    if not (math.isfinite(tau) and tau > 0.0):
        raise ValueError(f"{where}: tau must be a finite number > 0, got {tau}")
    if anchor.dim() != 2:
        raise ValueError(f"{where}: anchor must be [B, D] (flatten feature maps with flatten_features), "
                         f"got shape {tuple(anchor.shape)}")
    batch, dim = anchor.shape
    if positives.dim() == 2:
        positives = positives.unsqueeze(1)
    if positives.dim() != 3 or positives.shape[0] != batch or positives.shape[2] != dim:
        raise ValueError(f"{where}: positives shape {tuple(positives.shape)} must be [B, P, D] or [B, D] "
                         f"with B = {batch} and D = {dim} (the anchor's)")
    if positives.shape[1] == 0:
        raise ValueError(f"{where}: positives has P = 0; give at least one positive per anchor")
    if negatives.dim() != 3 or negatives.shape[0] != batch or negatives.shape[2] != dim:
        raise ValueError(f"{where}: negatives shape {tuple(negatives.shape)} must be [B, K, D] "
                         f"with B = {batch} and D = {dim} (the anchor's)")
    n_pos, n_neg = positives.shape[1], negatives.shape[1]
    pos_mask = _check_mask(positive_mask, "positive_mask", (batch, n_pos), anchor.device)
    neg_mask = _check_mask(negative_mask, "negative_mask", (batch, n_neg), anchor.device)

    dtype = _work_dtype(anchor)
    with torch.autocast(device_type=anchor.device.type, enabled=False):
        unit_anchor = F.normalize(anchor.to(dtype), dim=-1, eps=_NORM_EPS)
        has_pos = pos_mask.any(dim=1)                                               # [B]
        # anchors without a positive are computed on all their positives and weighted 0 below
        pos_keep = pos_mask | ~has_pos.unsqueeze(1)
        log_s_pos = _masked_logsumexp(_cosines(unit_anchor, positives, dtype) / tau, pos_keep)
        if n_neg > 0:
            log_s_neg = _masked_logsumexp(_cosines(unit_anchor, negatives, dtype) / tau, neg_mask)
        else:
            log_s_neg = torch.full_like(log_s_pos, -math.inf)
        d = log_s_neg - log_s_pos                                                   # log(S- / S+)
        if form == "neg_log":
            per_anchor = F.softplus(d)
        elif form == "printed_ratio":
            per_anchor = torch.sigmoid(-d)
        else:
            per_anchor = torch.sigmoid(d)
        weight = has_pos.to(dtype)
        return (per_anchor * weight).sum() / weight.sum().clamp_min(1.0)


def _scores(x: torch.Tensor, name: str, where: str) -> torch.Tensor:
    if x.numel() == 0:
        raise ValueError(f"{where}: {name} is empty (shape {tuple(x.shape)})")
    return x


def lsgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """``E[(D(G(x_r)) - 1)^2]``: the least-squares GAN loss of the student (CycleGAN's ``MSELoss``
    against 1), the mean over every score (a PatchGAN map included)."""
    fake_scores = _scores(fake_scores, "fake_scores", "lsgan_generator_loss")
    return (fake_scores - 1.0).square().mean()


def lsgan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor, *,
                             d_weight: float = CYCLEGAN_D_WEIGHT) -> torch.Tensor:
    """``d_weight * (E[(D(real) - 1)^2] + E[D(fake)^2])``: the least-squares GAN discriminator loss.

    ``d_weight`` is CycleGAN's 0.5 by default; 1 gives the plain sum. Each mean is over every score
    of its tensor, so ``real_scores`` and ``fake_scores`` may differ in batch size. ``fake_scores``
    should come from detached student outputs.
    """
    where = "lsgan_discriminator_loss"
    d_weight = float(d_weight)
    if not (math.isfinite(d_weight) and d_weight > 0.0):
        raise ValueError(f"{where}: d_weight must be a finite number > 0, got {d_weight}")
    real_scores = _scores(real_scores, "real_scores", where)
    fake_scores = _scores(fake_scores, "fake_scores", where)
    return d_weight * ((real_scores - 1.0).square().mean() + fake_scores.square().mean())


def printed_gan_loss(restored_degraded_scores: torch.Tensor,
                     restored_clear_scores: torch.Tensor) -> torch.Tensor:
    """Eq. (7) exactly as printed: ``E[D_S(G_S(x_r))] + E[D_S(G_S(x_c)) - 1]``.

    ``restored_degraded_scores`` are D's scores on the student's outputs for real degraded images,
    ``restored_clear_scores`` on its outputs for real clear images. Linear in the scores, both terms
    with a plus sign; the paper says neither who minimises it nor what D's loss is. Recorded as an
    option; :func:`lsgan_generator_loss` / :func:`lsgan_discriminator_loss` are the default.
    """
    where = "printed_gan_loss"
    a = _scores(restored_degraded_scores, "restored_degraded_scores", where)
    b = _scores(restored_clear_scores, "restored_clear_scores", where)
    return a.mean() + (b - 1.0).mean()


def decayed(weight: float, step: int, steps_per_epoch: int, rate: float = DECAY) -> float:
    """``weight * rate ** floor(step / steps_per_epoch)``: ``alpha_1`` (KT) and ``lambda_1`` (DA) decay.

    ``step`` counts optimiser steps from 0. The paper decays "every epoch" without saying how
    many steps an epoch has; ``steps_per_epoch`` is whatever the caller's sampler uses.
    """
    if isinstance(step, bool) or int(step) != step or step < 0:
        raise ValueError(f"decayed: step must be an integer >= 0, got {step!r}")
    if isinstance(steps_per_epoch, bool) or int(steps_per_epoch) != steps_per_epoch or steps_per_epoch < 1:
        raise ValueError(f"decayed: steps_per_epoch must be an integer >= 1, got {steps_per_epoch!r}")
    rate = float(rate)
    if not (math.isfinite(rate) and rate > 0.0):
        raise ValueError(f"decayed: rate must be a finite number > 0, got {rate}")
    weight = float(weight)
    if not math.isfinite(weight):
        raise ValueError(f"decayed: weight must be finite, got {weight}")
    return weight * rate ** (int(step) // int(steps_per_epoch))
