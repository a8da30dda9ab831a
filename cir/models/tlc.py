"""Test-time local statistics (TLC) for NAFNet (Chu et al., "Improving Image Restoration by
Revisiting Global Information Aggregation", ECCV 2022; the NAFNet releases test with it).

NAFNet's simplified channel attention multiplies each feature map by a 1x1 convolution of its
*global* average. Trained on 256x256 patches, the network only ever saw averages over a
patch-sized area; on a full 1280x720 test image the global average covers a much larger area and
its statistics differ. TLC replaces, at test time only, the global average by the average over
a local window centred on each pixel: the window is ``base_size / train_size`` times the size the
feature map had at the training resolution (NAFNet's releases use ``base_size = 1.5 x train_size``,
so at the full-resolution level a 384x384 window for 256x256 training patches, 192x192 one level
down, and so on).

:class:`LocalAvgPool2d` computes the window means from an integral image (two cumulative sums) in
O(H W) whatever the window; where the window would leave the map, the output is padded with the
nearest valid mean (edge replication), so the output has the input's size. When the window
covers the whole map it is exactly the global average. In training mode the module always uses
the global average, so a network with TLC switched on trains like the plain one. It has no
parameters or buffers, so switching TLC on or off leaves the state dict unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cir.errors import CirError

BASE_RATIO = 1.5  # base_size = 1.5 x train_size, the ratio of the NAFNet releases


class LocalAvgPool2d(nn.Module):
    """Average over a ``kernel_size`` window around each pixel in eval mode, global average in training.

    ``kernel_size`` is ``(kh, kw)``. If the window covers the whole map in both directions the
    result is the global average (``[B, C, 1, 1]``, broadcast by the attention product);
    otherwise each dimension uses ``min(size, kernel)`` and the result has the input's size.
    """

    def __init__(self, kernel_size: tuple[int, int]):
        super().__init__()
        kh, kw = (int(k) for k in kernel_size)
        if kh < 1 or kw < 1:
            raise CirError(f"LocalAvgPool2d: kernel size must be positive; got {kernel_size}")
        self.kernel_size = (kh, kw)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = int(x.shape[-2]), int(x.shape[-1])
        kh, kw = self.kernel_size
        if self.training or (kh >= h and kw >= w):
            return F.adaptive_avg_pool2d(x, 1)
        k1, k2 = min(h, kh), min(w, kw)
        # Integral image with a leading row and column of zeros: box sums are four lookups.
        # Summed in at least float32 (the sums run over a whole image; half precision would lose them).
        acc = x if x.dtype == torch.float64 else x.float()
        s = F.pad(acc.cumsum(dim=-1).cumsum(dim=-2), (1, 0, 1, 0))
        box = s[..., k1:, k2:] - s[..., :-k1, k2:] - s[..., k1:, :-k2] + s[..., :-k1, :-k2]
        mean = (box / (k1 * k2)).to(x.dtype)
        oh, ow = mean.shape[-2:]
        pad = ((w - ow) // 2, (w - ow + 1) // 2, (h - oh) // 2, (h - oh + 1) // 2)
        return F.pad(mean, pad, mode="replicate")


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, bool):
        raise CirError(f"TLC: {name} must be a positive int or [height, width]; got {value!r}")
    if isinstance(value, int):
        value = (value, value)
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
        raise CirError(f"TLC: {name} must be a positive int or [height, width]; got {value!r}")
    return int(value[0]), int(value[1])


def _pool_levels(model: nn.Module) -> list[tuple[nn.Module, str, int]]:
    """``(parent, child_name, level)`` for every attention pooling of a spandrel NAFNet; the
    feature map at ``level`` is ``2**level`` times smaller than the (padded) input."""
    n = len(model.encoders)
    stages = [(i, enc) for i, enc in enumerate(model.encoders)]
    stages.append((n, model.middle_blks))
    stages += [(n - 1 - j, dec) for j, dec in enumerate(model.decoders)]
    found = []
    for level, stage in stages:
        for block in stage:
            sca = block.sca
            if isinstance(sca[0], (nn.AdaptiveAvgPool2d, LocalAvgPool2d)):
                found.append((sca, "0", level))
    return found


def enable_tlc(model: nn.Module, train_size: int | Sequence[int] = 256,
               base_size: int | Sequence[int] | None = None) -> nn.Module:
    """Switch test-time local statistics on for a NAFNet (in place; returns ``model``).

    ``train_size``: the training patch size (int or ``[height, width]``); ``base_size``: the
    window at full resolution, ``int(1.5 * train_size)`` by default. At a level whose feature map
    is ``f`` pixels high at the training size, the window is ``f * base // train`` pixels high.
    Calling it again replaces the windows. A model built by :func:`cir.models.build_model`
    records the setting in its spec, so its checkpoints rebuild it.
    """
    from spandrel.architectures.NAFNet import NAFNet

    if not isinstance(model, NAFNet):
        raise CirError(f"TLC applies to NAFNet networks; got a {type(model).__name__}")
    th, tw = _pair(train_size, "train_size")
    bh, bw = (_pair(base_size, "base_size") if base_size is not None
              else (int(th * BASE_RATIO), int(tw * BASE_RATIO)))
    multiple = int(model.padder_size)
    ph, pw = -(-th // multiple) * multiple, -(-tw // multiple) * multiple  # the network pads its input
    for parent, name, level in _pool_levels(model):
        fh, fw = ph >> level, pw >> level
        setattr(parent, name, LocalAvgPool2d((max(1, fh * bh // th), max(1, fw * bw // tw))))
    spec = getattr(model, "cir_spec", None)
    if spec is not None:
        params = spec["params"]
        params["tlc"] = True
        params["tlc_train_size"] = train_size if isinstance(train_size, int) else [th, tw]
        if base_size is None:
            params.pop("tlc_base_size", None)
        else:
            params["tlc_base_size"] = base_size if isinstance(base_size, int) else [bh, bw]
    return model


def disable_tlc(model: nn.Module) -> nn.Module:
    """Restore global average pooling everywhere (in place; returns ``model``)."""
    from spandrel.architectures.NAFNet import NAFNet

    if not isinstance(model, NAFNet):
        raise CirError(f"TLC applies to NAFNet networks; got a {type(model).__name__}")
    for parent, name, _ in _pool_levels(model):
        setattr(parent, name, nn.AdaptiveAvgPool2d(1))
    spec = getattr(model, "cir_spec", None)
    if spec is not None:
        for key in ("tlc", "tlc_train_size", "tlc_base_size"):
            spec["params"].pop(key, None)
    return model


def tlc_windows(model: nn.Module) -> list[tuple[int, int]]:
    """The window of every TLC pooling of ``model``, in module order (empty when TLC is off)."""
    return [m.kernel_size for m in model.modules() if isinstance(m, LocalAvgPool2d)]
