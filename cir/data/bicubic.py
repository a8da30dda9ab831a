"""MATLAB-compatible bicubic ``imresize`` and the standard SR low-resolution recipe.

The resize follows the definition of MATLAB's ``imresize(A, scale, 'bicubic')``:

* cubic convolution kernel of Keys with ``a = -0.5``, support ``[-2, 2]``;
* output length ``ceil(in * scale)`` (or an explicit output shape, then ``scale = out / in``);
* output pixel ``j`` (1-based) samples the input at ``u = j / scale + 0.5 * (1 - 1 / scale)``;
* when downscaling with antialiasing the kernel is stretched: ``h(x) = scale * cubic(scale * x)``
  with support width ``4 / scale``;
* every output pixel uses ``ceil(width) + 2`` taps starting at ``floor(u - width / 2)``; the
  weights are normalised to sum to one;
* taps outside the image are mirrored symmetrically (``... 2 1 | 1 2 ... n | n n-1 ...``);
* the dimension with the smaller scale factor is resized first (rows first on a tie).

``imresize`` computes in floating point (MATLAB on double input). ``imresize_uint8`` is MATLAB
on uint8 input, which rounds to uint8 after each 1-D pass.

``bicubic_downsample_uint8`` is the degradation used by SR benchmarks (DIV2K, Set5, ...); by
default ``uint8 -> double in [0, 1] -> imresize(1 / s) -> clip -> * 255 -> round``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)

# Output lengths are ceil(in * scale); products such as 300 * (1 / 3) can land a hair above an
# integer in floating point, which must not add an extra row.
_SIZE_EPS = 1e-9


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


def contributions(
    in_len: int, out_len: int, scale: float, antialias: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Tap indices (0-based, mirrored into ``[0, in_len)``) and weights, each ``out_len x taps``."""
    if scale < 1 and antialias:
        width = 4.0 / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * x)

    else:
        width = 4.0
        kernel = cubic
    u = np.arange(1, out_len + 1, dtype=np.float64) / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = math.ceil(width) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - idx)
    weights = weights / weights.sum(axis=1, keepdims=True)
    zero_based = idx.astype(np.int64) - 1
    period = np.mod(zero_based, 2 * in_len)
    mirrored = np.where(period < in_len, period, 2 * in_len - 1 - period)
    used = np.any(weights != 0, axis=0)
    return mirrored[:, used], weights[:, used]


def _resize_axis(x: Array, axis: int, indices: np.ndarray, weights: np.ndarray) -> Array:
    """Apply the 1-D resampling given by ``indices``/``weights`` along ``axis``."""
    is_torch = isinstance(x, torch.Tensor)
    moved = x.movedim(axis, 0) if is_torch else np.moveaxis(x, axis, 0)
    trail = (1,) * (moved.ndim - 1)
    out = None
    for k in range(indices.shape[1]):
        w = weights[:, k].reshape((-1, *trail))
        if is_torch:
            w = torch.as_tensor(w, dtype=moved.dtype, device=moved.device)
            rows = moved[torch.as_tensor(indices[:, k], device=moved.device)]
        else:
            rows = moved[indices[:, k]]
        term = rows * w
        out = term if out is None else out + term
    return out.movedim(0, axis) if is_torch else np.moveaxis(out, 0, axis)


def _pair(value: float | Sequence[float], name: str) -> tuple[float, float]:
    if isinstance(value, numbers.Real):
        return float(value), float(value)
    values = tuple(float(v) for v in value)
    if len(values) != 2:
        raise ValueError(f"{name} must be a number or a (height, width) pair; got {value!r}")
    return values


def _plan(
    in_shape: tuple[int, int],
    scale: float | Sequence[float] | None,
    output_shape: Sequence[int] | None,
    antialias: bool,
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """The 1-D passes ``(dimension, indices, weights)`` of a resize, in MATLAB's order."""
    if (scale is None) == (output_shape is None):
        raise ValueError("imresize needs exactly one of scale or output_shape")
    if output_shape is not None:
        out_shape = tuple(int(v) for v in output_shape)
        if len(out_shape) != 2 or min(out_shape) < 1:
            raise ValueError(f"output_shape must be two positive integers; got {output_shape!r}")
        scales = (out_shape[0] / in_shape[0], out_shape[1] / in_shape[1])
    else:
        scales = _pair(scale, "scale")
        if min(scales) <= 0:
            raise ValueError(f"scale must be positive; got {scale!r}")
        out_shape = tuple(math.ceil(n * s - _SIZE_EPS) for n, s in zip(in_shape, scales))
    passes = []
    for d in sorted(range(2), key=lambda d: scales[d]):
        if scales[d] == 1.0 and out_shape[d] == in_shape[d]:
            continue
        indices, weights = contributions(in_shape[d], out_shape[d], scales[d], antialias)
        passes.append((d, indices, weights))
    return passes


def imresize(
    img: Array,
    scale: float | Sequence[float] | None = None,
    output_shape: Sequence[int] | None = None,
    antialias: bool = True,
) -> Array:
    """Bicubic resize matching MATLAB's ``imresize`` on floating-point (double) input.

    ``img`` is a numpy array ``H x W`` or ``H x W x C`` (integer input is computed in float64;
    no rounding or clipping is applied to the result) or a floating torch tensor ``C x H x W``
    or ``N x C x H x W``. Give either ``scale`` (number or per-axis pair) or ``output_shape``
    ``(out_h, out_w)``.
    """
    if isinstance(img, torch.Tensor):
        if img.ndim not in (3, 4) or not img.is_floating_point():
            raise ValueError(
                f"imresize expects a float CxHxW or NxCxHxW tensor; got {img.dtype} {tuple(img.shape)}"
            )
        axes = (img.ndim - 2, img.ndim - 1)
    else:
        if img.ndim not in (2, 3):
            raise ValueError(f"imresize expects an HxW or HxWxC array; got shape {img.shape}")
        if not np.issubdtype(img.dtype, np.floating):
            img = img.astype(np.float64)
        axes = (0, 1)
    in_shape = (int(img.shape[axes[0]]), int(img.shape[axes[1]]))
    out = img
    for d, indices, weights in _plan(in_shape, scale, output_shape, antialias):
        out = _resize_axis(out, axes[d], indices, weights)
    return out


def _round_uint8(x: np.ndarray) -> np.ndarray:
    """Saturating cast to uint8 with rounding half away from zero (MATLAB ``uint8(x)``)."""
    return np.floor(np.clip(x, 0.0, 255.0) + 0.5).astype(np.uint8)


def imresize_uint8(
    img: np.ndarray,
    scale: float | Sequence[float] | None = None,
    output_shape: Sequence[int] | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """MATLAB's ``imresize`` applied directly to a ``uint8`` image (``H x W`` or ``H x W x C``).

    MATLAB keeps the class of its input between the two 1-D passes, so the intermediate image
    is rounded to uint8 after the first pass as well as at the end. This reproduces, e.g.,
    ``imresize(imread(f), 1/4, 'bicubic')`` bit for bit.
    """
    if img.dtype != np.uint8 or img.ndim not in (2, 3):
        raise ValueError(f"imresize_uint8 expects a uint8 HxW or HxWxC array; got {img.dtype} {img.shape}")
    out = img
    for d, indices, weights in _plan(img.shape[:2], scale, output_shape, antialias):
        out = _round_uint8(_resize_axis(out.astype(np.float64), d, indices, weights))
    return out


def mod_crop(img: Array, scale: int) -> Array:
    """Crop the bottom/right border so that height and width are multiples of ``scale``.

    numpy arrays are ``H x W [x C]``; torch tensors are ``[N x] C x H x W``.
    """
    if scale < 1:
        raise ValueError(f"scale must be a positive integer; got {scale!r}")
    if isinstance(img, torch.Tensor):
        h, w = img.shape[-2:]
        return img[..., : h - h % scale, : w - w % scale]
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale]


def bicubic_downsample_uint8(hr: np.ndarray, scale: int, mode: str = "double") -> np.ndarray:
    """Standard SR low-resolution image: MATLAB bicubic downscale of a ``uint8`` image by ``scale``.

    ``hr`` must already be mod-cropped (height and width divisible by ``scale``).

    ``mode="double"`` (default) is the recipe of the Python SR toolkits:
    ``im2double -> imresize(1/scale) -> clip -> *255 -> round``.
    ``mode="uint8"`` is MATLAB's ``imresize`` called on the uint8 image itself, which rounds to
    uint8 after each 1-D pass; the two differ by at most one grey level on some pixels.
    """
    if hr.dtype != np.uint8:
        raise ValueError(f"bicubic_downsample_uint8 expects a uint8 image; got {hr.dtype}")
    if not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be a positive integer; got {scale!r}")
    h, w = hr.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f"image size {h}x{w} is not divisible by scale {scale}; mod_crop it first")
    if mode == "uint8":
        return imresize_uint8(hr, scale=1.0 / scale)
    if mode != "double":
        raise ValueError(f"unknown bicubic mode {mode!r}; valid: 'double', 'uint8'")
    lr = imresize(hr.astype(np.float64) / 255.0, scale=1.0 / scale)
    return _round_uint8(lr * 255.0)
