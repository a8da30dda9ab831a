"""DCKD's distribution mapping module (DMM, eqs. 7-9): per-pixel codebook distributions.

A VQGAN latent ``F`` (after ``quant_conv``) is compared with every codebook vector ``e_k``; the
squared distances become a categorical distribution over the ``K`` codes at every latent pixel,
and the student's distribution is trained towards the teacher's with a cross-entropy.

Reading of eq. (8). The paper prints ``C = psi(||F - e||^2)`` with ``psi`` "the softmax
operation". Taken literally, a softmax over distances gives the *farthest* code the highest
probability, which contradicts the module's purpose (the pixel's category is its nearest code,
as in vector quantisation). The public DCKD code computes ``softmax(d_max - d)`` per pixel, with
``d_max`` the pixel's largest distance: the nearest code is the most likely. Since a softmax is
unchanged by adding a per-row constant, that equals ``softmax(-d)``. ``mode="paper"`` implements
this reading (the default); ``mode="literal"`` is the formula as printed (``softmax(d)``), kept
only to measure what the printed form would do.

The public code's cross-entropy passes the student's *probabilities* to
``F.cross_entropy`` as if they were logits (a second log-softmax over values in [0, 1]), with the
teacher's probabilities as soft targets; ``double_softmax=True`` reproduces that.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MODES = ("paper", "literal")


def _check(latent: torch.Tensor, codebook: torch.Tensor, where: str) -> None:
    if latent.dim() != 4:
        raise ValueError(f"{where}: latent must be [B, D, h, w], got shape {tuple(latent.shape)}")
    if codebook.dim() != 2:
        raise ValueError(f"{where}: codebook must be [K, D], got shape {tuple(codebook.shape)}")
    if latent.shape[1] != codebook.shape[1]:
        raise ValueError(f"{where}: latent has D={latent.shape[1]} channels but the codebook "
                         f"vectors have D={codebook.shape[1]}")


def squared_distances(latent: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
    """``||F[b, :, y, x] - e_k||^2`` as ``[B, K, h, w]``, in float32 (or float64) whatever autocast is active.

    Expanded as ``||f||^2 - 2 f.e + ||e||^2`` with one einsum, so no ``[B, K, D, h, w]`` tensor is
    formed; values below zero from rounding are clamped to zero.
    """
    _check(latent, codebook, "squared_distances")
    with torch.autocast(device_type=latent.device.type, enabled=False):
        dtype = torch.promote_types(torch.promote_types(latent.dtype, codebook.dtype), torch.float32)
        f = latent.to(dtype)
        e = codebook.detach().to(dtype)
        if e.is_inference():  # the einsum saves e for backward; inference tensors cannot be saved
            e = e.clone()
        f_sq = f.square().sum(dim=1, keepdim=True)                   # [B, 1, h, w]
        e_sq = e.square().sum(dim=1).view(1, -1, 1, 1)               # [1, K, 1, 1]
        cross = torch.einsum("bdyx,kd->bkyx", f, e)                  # [B, K, h, w]
        return (f_sq - 2.0 * cross + e_sq).clamp_min(0.0)


def codebook_logits(latent: torch.Tensor, codebook: torch.Tensor, *, mode: str = "paper") -> torch.Tensor:
    """Logits whose softmax over dim 1 is :func:`codebook_distribution`; ``[B, K, h, w]``, at least float32."""
    if mode not in MODES:
        raise ValueError(f"codebook_distribution: mode={mode!r}; valid: {', '.join(MODES)}")
    d = squared_distances(latent, codebook)
    if mode == "paper":
        # d_max - d as in the public code. A softmax ignores the per-pixel shift, so d_max carries
        # no gradient information and is detached.
        return d.amax(dim=1, keepdim=True).detach() - d
    return d


def codebook_distribution(latent: torch.Tensor, codebook: torch.Tensor, *, mode: str = "paper") -> torch.Tensor:
    """Per-pixel probabilities over the ``K`` codes, ``[B, K, h, w]`` (sums to 1 over dim 1).

    ``mode="paper"``: ``softmax(d_max - d)`` (nearest code most likely; the public code's form).
    ``mode="literal"``: ``softmax(d)`` as eq. (8) is printed (farthest code most likely).
    """
    return codebook_logits(latent, codebook, mode=mode).softmax(dim=1)


def dmm_cross_entropy(student_latent: torch.Tensor, teacher_latent: torch.Tensor, codebook: torch.Tensor,
                      *, double_softmax: bool = False, mode: str = "paper") -> torch.Tensor:
    """Eq. (9) averaged over latent pixels: ``mean_{b,y,x} -sum_k C^T_k log C^S_k``.

    The teacher's distribution is a constant (computed without gradient). With
    ``double_softmax=False`` ``log C^S`` is a log-softmax of the student's logits (finite even when
    a probability underflows). With ``double_softmax=True`` the student's probabilities ``C^S``
    are treated as logits, as the public code does: ``-sum_k C^T_k log_softmax(C^S)_k``.
    """
    if student_latent.shape != teacher_latent.shape:
        raise ValueError(f"dmm_cross_entropy: student latent shape {tuple(student_latent.shape)} != "
                         f"teacher latent shape {tuple(teacher_latent.shape)}")
    with torch.no_grad():
        target = codebook_distribution(teacher_latent, codebook, mode=mode)
    logits = codebook_logits(student_latent, codebook, mode=mode)
    if double_softmax:
        logits = logits.softmax(dim=1)
    log_p = F.log_softmax(logits, dim=1)
    return -(target * log_p).sum(dim=1).mean()
