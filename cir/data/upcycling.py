"""DUKD's upcycled inputs and invertible augmentations, as pure batched tensor functions.

DUKD ("Data Upcycling Knowledge Distillation for Image Super-Resolution", Zhang et al.,
arXiv 2309.14162; public code ``models/dukd_model.py``) adds two kinds of training input that
the teacher labels:

* zoom-in  -- LR-sized crops of the HR image itself: the HR patch is cut into the
  ``scale x scale`` grid of LR-sized cells and ``n`` cells (the same ones for the whole batch,
  drawn without replacement) become extra inputs (:func:`zoom_in`);
* zoom-out -- the LR input bicubically downscaled once more by ``scale`` (MATLAB ``imresize``),
  whose own "ground truth" is the LR input (:func:`zoom_out`).

Label consistency uses four invertible augmentations, each drawn independently per sample
with the same probability (public DUKD and DCKD code): colour inversion ``1 - x``, horizontal
flip (width axis), vertical flip (height axis) and transpose. :func:`augment` applies the drawn
ones in that order; :func:`invert` undoes them on an output in the reverse order, so
``invert(augment(x, ops), ops) == x`` for every combination (the flips commute with each other
and with inversion, but not with the transpose). Inversion of an input is undone on an output as
``1 - y`` because SR maps the inverted image to the inverted output. The geometric operations
are exact; ``1 - (1 - x)`` is exact for values on a ``2**-24`` grid and otherwise within float
rounding of ``x``.

An ``ops`` record is a ``[B, 4]`` boolean tensor; column ``k`` says whether ``OPS[k]`` applies
to sample ``b``. The functions never loop over samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cir.data.bicubic import imresize

OPS: tuple[str, ...] = ("inversion", "hflip", "vflip", "transpose")


def _check_images(x: torch.Tensor, name: str) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a B x C x H x W tensor; got {shape}")


def check_ops_names(ops: Sequence[str], name: str = "ops") -> tuple[str, ...]:
    """``ops`` as a tuple, after checking every entry is one of :data:`OPS`."""
    if isinstance(ops, str):
        raise TypeError(f"{name}: expected a list of operation names; got the string {ops!r}")
    names = tuple(ops)
    unknown = [o for o in names if o not in OPS]
    if unknown:
        raise ValueError(f"{name}: unknown operation(s) {unknown}; allowed values: {', '.join(OPS)}")
    return names


def draw_ops(batch_size: int, prob: float, generator: torch.Generator,
             allowed: Sequence[str] = OPS) -> torch.Tensor:
    """Per-sample record ``[batch_size, 4]`` (bool, on the generator's device) of the drawn operations.

    Each operation in ``allowed`` applies to each sample independently with probability
    ``prob``; operations not in ``allowed`` never apply. One ``[batch_size, 4]`` uniform draw is
    taken from ``generator`` whatever ``allowed`` is, so the generator advances the same way.
    """
    if not 0.0 <= float(prob) <= 1.0:
        raise ValueError(f"prob: {prob!r} must be in [0, 1]")
    if int(batch_size) < 0:
        raise ValueError(f"batch_size: {batch_size!r} must be >= 0")
    names = check_ops_names(allowed, "allowed")
    enabled = torch.tensor([o in names for o in OPS], device=generator.device)
    u = torch.rand(int(batch_size), len(OPS), generator=generator, device=generator.device)
    return (u < float(prob)) & enabled


def _check_ops(x: torch.Tensor, ops: torch.Tensor, fn: str) -> torch.Tensor:
    _check_images(x, f"{fn}: x")
    if not isinstance(ops, torch.Tensor) or ops.dtype != torch.bool or tuple(ops.shape) != (x.shape[0], len(OPS)):
        got = (ops.dtype, tuple(ops.shape)) if isinstance(ops, torch.Tensor) else type(ops).__name__
        raise ValueError(f"{fn}: ops must be a bool tensor of shape ({x.shape[0]}, {len(OPS)}); got {got}")
    if bool(ops[:, 3].any()) and x.shape[-2] != x.shape[-1]:
        raise ValueError(f"{fn}: the transpose drawn in ops needs square images; got "
                         f"{x.shape[-2]}x{x.shape[-1]}")
    return ops.to(x.device)


def _where(mask: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), a, b)


def _apply(x: torch.Tensor, ops: torch.Tensor, order: Sequence[int], value_range: float) -> torch.Tensor:
    for k in order:
        m = ops[:, k]
        if not bool(m.any()):
            continue
        if k == 0:
            x = _where(m, value_range - x, x)
        elif k == 1:
            x = _where(m, x.flip(-1), x)
        elif k == 2:
            x = _where(m, x.flip(-2), x)
        else:
            x = _where(m, x.transpose(-2, -1), x)
    return x


def augment(x: torch.Tensor, ops: torch.Tensor, value_range: float = 1.0) -> torch.Tensor:
    """Apply the operations of ``ops`` to each sample of ``x``: inversion, hflip, vflip, transpose.

    Inversion is ``value_range - x`` (images in ``[0, value_range]``). Differentiable; ``x`` is
    not modified.
    """
    ops = _check_ops(x, ops, "augment")
    return _apply(x, ops, range(len(OPS)), value_range)


def invert(y: torch.Tensor, ops: torch.Tensor, value_range: float = 1.0) -> torch.Tensor:
    """Undo :func:`augment` on ``y`` (an input or a network's output at any resolution).

    The operations run in reverse order: transpose, vflip, hflip, then ``value_range - y``.
    """
    ops = _check_ops(y, ops, "invert")
    return _apply(y, ops, reversed(range(len(OPS))), value_range)


def zoom_in(gt: torch.Tensor, size: tuple[int, int], n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` LR-sized cells of each HR image as extra inputs: ``[n * B, C, h, w]``, cell-major.

    ``gt`` (``B x C x H x W``) is cut into the ``(H / h) x (W / w)`` grid of cells of
    ``size = (h, w)``; ``n`` distinct cells are drawn from ``generator`` (one permutation of the
    grid, shared by the whole batch, as in the public DUKD code).
    """
    _check_images(gt, "zoom_in: gt")
    h, w = (int(v) for v in size)
    big_h, big_w = gt.shape[-2:]
    if h < 1 or w < 1 or big_h % h or big_w % w:
        raise ValueError(f"zoom_in: size {size!r} must tile the HR images ({big_h}x{big_w}) exactly")
    rows, cols = big_h // h, big_w // w
    if not 1 <= int(n) <= rows * cols:
        raise ValueError(f"zoom_in: n={n!r} must be between 1 and the {rows * cols} cells of the "
                         f"{rows}x{cols} grid")
    cells = torch.randperm(rows * cols, generator=generator, device=generator.device)[: int(n)].tolist()
    return torch.cat([gt[..., (c // cols) * h:(c // cols + 1) * h, (c % cols) * w:(c % cols + 1) * w]
                      for c in cells])


def zoom_out(lq: torch.Tensor, scale: int) -> torch.Tensor:
    """``lq`` downscaled by ``scale`` with MATLAB bicubic ``imresize`` (antialiased): ``B x C x h/s x w/s``.

    The student's output on it is compared with ``lq`` itself, so ``h`` and ``w`` must be
    multiples of ``scale``.
    """
    _check_images(lq, "zoom_out: lq")
    if int(scale) != scale or scale < 2:
        raise ValueError(f"zoom_out: scale {scale!r} must be an integer >= 2")
    h, w = lq.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"zoom_out: LR size {h}x{w} is not a multiple of scale {scale}")
    return imresize(lq, output_shape=(h // scale, w // scale))
