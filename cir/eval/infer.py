"""Run an SR network on a whole image, optionally in overlapping tiles to bound memory."""

from __future__ import annotations

import torch
from torch import nn

from cir.errors import CirError

DEFAULT_OVERLAP = 16  # LR pixels shared by neighbouring tiles


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return fallback


def _run(model: nn.Module, x: torch.Tensor, scale: int) -> torch.Tensor:
    out = model(x)
    expected = (x.shape[0], x.shape[1], x.shape[2] * scale, x.shape[3] * scale)
    if tuple(out.shape) != expected:
        raise CirError(f"model output has shape {tuple(out.shape)} for input {tuple(x.shape)}; "
                       f"expected {expected} at scale {scale}")
    return out


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``[0, length)`` with >= ``overlap`` overlap.

    The last tile ends exactly at ``length``; a dimension no longer than ``tile`` gets one tile.
    """
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def _kept_span(start: int, size: int, length: int, margin: int) -> tuple[int, int]:
    """The part of a tile ``[start, start + size)`` whose output is kept: ``margin`` pixels are
    dropped on each side that lies inside the image (tile borders see zero padding there)."""
    lo = start + (margin if start > 0 else 0)
    hi = start + size - (margin if start + size < length else 0)
    return lo, hi


def _restore_tiled(model: nn.Module, x: torch.Tensor, scale: int, tile: int, overlap: int,
                   tile_batch: int) -> torch.Tensor:
    n, _, h, w = x.shape
    th, tw = min(tile, h), min(tile, w)
    margin = overlap // 2
    boxes = [(top, left) for top in tile_starts(h, tile, overlap) for left in tile_starts(w, tile, overlap)]
    out: torch.Tensor | None = None
    weight = torch.zeros((1, 1, h * scale, w * scale), dtype=torch.float32, device=x.device)
    for i in range(0, len(boxes), tile_batch):
        chunk = boxes[i:i + tile_batch]
        # torch.cat copies, so the network never sees a view of the caller's tensor.
        batch = torch.cat([x[:, :, top:top + th, left:left + tw] for top, left in chunk], dim=0)
        sr = _run(model, batch, scale).to(torch.float32)
        if out is None:
            out = torch.zeros((n, sr.shape[1], h * scale, w * scale), dtype=torch.float32, device=x.device)
        for k, (top, left) in enumerate(chunk):
            y0, y1 = _kept_span(top, th, h, margin)
            x0, x1 = _kept_span(left, tw, w, margin)
            piece = sr[k * n:(k + 1) * n, :, (y0 - top) * scale:(y1 - top) * scale,
                       (x0 - left) * scale:(x1 - left) * scale]
            out[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] += piece
            weight[:, :, y0 * scale:y1 * scale, x0 * scale:x1 * scale] += 1.0
    assert out is not None
    return out / weight


def restore(model: nn.Module, lr: torch.Tensor, *, scale: int, tile: int | None = None,
            overlap: int = DEFAULT_OVERLAP, tile_batch: int = 4) -> torch.Tensor:
    """Super-resolve ``lr`` (float N x C x H x W in ``[0, 1]``); returns the output clamped to ``[0, 1]``.

    Runs on the model's device in eval mode under ``torch.inference_mode()`` (the model's
    train/eval mode is restored afterwards); ``lr`` itself is never modified.

    With ``tile`` set, the LR image is cut into ``tile x tile`` tiles overlapping by at least
    ``overlap`` pixels, processed ``tile_batch`` tiles at a time. Of every tile, ``overlap // 2``
    pixels are dropped along each side that lies inside the image, and where the kept parts
    still overlap their outputs are averaged. For a network whose receptive field reaches
    ``r`` LR pixels from the output pixel, the tiled output equals the untiled one (up to
    floating-point error) whenever ``overlap >= 2 r``.
    """
    if lr.ndim != 4:
        raise CirError(f"restore expects an N x C x H x W tensor; got shape {tuple(lr.shape)}")
    if tile is not None:
        if tile < 1:
            raise CirError(f"tile must be a positive number of LR pixels; got {tile}")
        if not 0 <= overlap < tile:
            raise CirError(f"overlap must satisfy 0 <= overlap < tile ({tile}); got {overlap}")
    if tile_batch < 1:
        raise CirError(f"tile_batch must be >= 1; got {tile_batch}")
    scale = int(scale)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            x = lr.to(_model_device(model, lr.device))
            h, w = x.shape[-2:]
            if tile is None or (h <= tile and w <= tile):
                sr = _run(model, x.clone(), scale)
            else:
                sr = _restore_tiled(model, x, scale, tile, overlap, tile_batch)
            return sr.clamp(0.0, 1.0)
    finally:
        model.train(was_training)
