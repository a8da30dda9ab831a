"""Pixel losses."""

from __future__ import annotations

import math

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


def psnr_loss(prediction: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Negative PSNR of images in [0, 1], averaged over the batch: ``mean_b 10 log10(MSE_b + eps)``.

    NAFNet's training loss (its PSNRLoss with weight 1 on RGB): minimising it maximises the mean
    per-image PSNR. Per-image MSE over channels and pixels; ``eps`` keeps a perfect image finite.
    """
    if prediction.shape != target.shape:
        raise ValueError(f"psnr_loss: shape mismatch {tuple(prediction.shape)} vs {tuple(target.shape)}")
    mse = (prediction - target).square().flatten(1).mean(dim=1)
    return 10.0 / math.log(10.0) * torch.log(mse + eps).mean()


def neg_ssim(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``-SSIM`` of images in [0, 1] (IDT's training loss): Gaussian window 11, sigma 1.5, on each
    RGB channel, averaged over the SSIM map, channels and batch (kornia's ``ssim``). The
    ``pytorch_ssim`` package IDT trains with zero-pads the image for its "same"-size map, kornia
    reflects it: the two differ only within 5 pixels of the border."""
    from kornia.metrics import ssim

    if prediction.shape != target.shape:
        raise ValueError(f"neg_ssim: shape mismatch {tuple(prediction.shape)} vs {tuple(target.shape)}")
    return -ssim(prediction, target, window_size=11, max_val=1.0, padding="same").mean()


RECONSTRUCTION_LOSSES = {"l1": l1, "psnr": psnr_loss, "neg_ssim": neg_ssim}


def reconstruction_loss(name: str):
    """The reconstruction loss ``name`` of a recipe (``train.rec_loss``): ``l1``, ``psnr`` or ``neg_ssim``."""
    if name not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"train.rec_loss: {name!r} is not allowed; allowed values: "
                         f"{', '.join(map(repr, RECONSTRUCTION_LOSSES))}")
    return RECONSTRUCTION_LOSSES[name]
