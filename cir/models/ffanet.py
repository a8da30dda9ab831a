"""FFA-Net (Qin, Wang, Bai, Xie and Jia, "FFA-Net: Feature Fusion Attention Network for Single
Image Dehazing", AAAI 2020).

Written from the paper; the official repository (github.com/zhilin007/FFA-Net, no licence file)
was read only for the module names and layer shapes, so that its weight files
(``its_train_ffa_3_19.pk``, ``ots_train_ffa_3_19.pk``) load with ``load_state_dict``.

Structure (paper, Sec. "Proposed method"; key names of the official code in brackets):

- Shallow features: a 3x3 conv, RGB -> ``dim`` [``pre.0``].
- ``gps`` *groups* [``g1``, ``g2``, ...], each ``blocks`` basic blocks and a 3x3 conv
  [``g<k>.gp.<i>``, ``g<k>.gp.<blocks>``], with a skip from the group's input to its output.
- *Basic block* = local residual learning + feature attention (FA): ``r = relu(conv1(x)) + x``,
  ``r = conv2(r)``, channel attention then pixel attention on ``r``, output ``r + x``
  [``conv1``, ``conv2``, ``calayer.ca.0/2``, ``palayer.pa.0/2``].
- *Channel attention* (CA): global average pool, 1x1 conv to ``dim/8``, ReLU, 1x1 conv to
  ``dim``, sigmoid; multiplies the channels. *Pixel attention* (PA): 1x1 conv to ``dim/8``,
  ReLU, 1x1 conv to one map, sigmoid; multiplies every pixel.
- *Attention-based feature fusion*: the group outputs are concatenated along channels and a
  channel attention over the concatenation [``ca.1``, ``ca.3``; reduction to ``dim/16``]
  gives one weight per group and channel; the fused feature is the weighted sum of the group
  outputs, followed by pixel attention [``palayer``]. (The paper describes weights learnt from
  the concatenated features; that they are applied as a weighted *sum*, and the ``dim/16``
  width, are the official code's.)
- Reconstruction: two 3x3 convs [``post.0``, ``post.1``], plus a global residual: the network
  input is added to the output.

Default: 3 groups of 19 blocks, 64 channels (the paper's and the released models'): 4,455,913
parameters, i.e. the 4.456 M commonly quoted for FFA-Net. For a width below 16 (tests), the
attention bottlenecks are at least one channel wide (the official ``dim // 16`` would be 0).

Input range. The module itself is the official network: it works on whatever it is given.
*Both* the official code (``net/data_utils.py``, ``net/test.py``) and the MCLIR fork
(github.com/Aitical/MCLIR, ``ImageRestorationModel_FFANet_Neg_Multi.feed_data``) feed it the hazy
image normalised with mean (0.64, 0.6, 0.58) and std (0.14, 0.15, 0.152), and compare its
output, *not* de-normalised, with the [0, 1] clear image: the output is
``post(features) + normalised input``, read as a [0, 1] image. ``input_norm=True`` does that
normalisation inside the module, so that the network takes and returns [0, 1] images as cir
expects; use it with the official weights and with either repository's recipe. The output is
not de-normalised, since neither repository does so and the released weights assume it is not.
``input_norm=False`` (the default) is the bare network, fed [0, 1] images directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cir.errors import CirError
from cir.models.weights import check_state_dict, expected_shapes, unwrap_state_dict

CITATION = ("Qin, Wang, Bai, Xie and Jia, FFA-Net: Feature Fusion Attention Network for Single Image "
            "Dehazing, AAAI 2020; official code github.com/zhilin007/FFA-Net")

FFA_DEFAULTS: dict[str, Any] = {"gps": 3, "blocks": 19, "dim": 64}

# 4.456 M: the count later dehazing papers quote for FFA-Net (3 groups x 19 blocks, 64
# channels) in their #Param columns (DehazeFormer, Song et al., TIP 2023, is the usual source;
# its table text was not checked here). The FFA-Net README and code state no count. Rounded to
# thousands; the exact count of this module (and of the official code) is 4,455,913.
PUBLISHED_PARAMS: dict[int, int] = {1: 4_456_000}

PAD_MULTIPLE = 1  # fully convolutional: any input size

# The input normalisation of the official data loader and of the MCLIR fork
INPUT_MEAN = (0.64, 0.6, 0.58)
INPUT_STD = (0.14, 0.15, 0.152)


def _conv3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=True)


def _conv1(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 1, bias=True)


class PALayer(nn.Module):
    """Pixel attention: a sigmoid map (one channel) from two 1x1 convs multiplies every pixel."""

    def __init__(self, channels: int):
        super().__init__()
        hidden = max(1, channels // 8)
        self.pa = nn.Sequential(_conv1(channels, hidden), nn.ReLU(inplace=True), _conv1(hidden, 1),
                                nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.pa(x)


class CALayer(nn.Module):
    """Channel attention: per-channel sigmoid weights from the globally average-pooled features."""

    def __init__(self, channels: int):
        super().__init__()
        hidden = max(1, channels // 8)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.ca = nn.Sequential(_conv1(channels, hidden), nn.ReLU(inplace=True), _conv1(hidden, channels),
                                nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        return x * self.ca(self.avg_pool(x))


class Block(nn.Module):
    """Basic block: local residual learning around the first conv, then conv, channel and
    pixel attention, and a skip over the whole block."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv1 = _conv3(dim, dim)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = _conv3(dim, dim)
        self.calayer = CALayer(dim)
        self.palayer = PALayer(dim)

    def forward(self, x: Tensor) -> Tensor:
        r = self.act1(self.conv1(x)) + x
        r = self.palayer(self.calayer(self.conv2(r)))
        return r + x


class Group(nn.Module):
    """``blocks`` basic blocks and a 3x3 conv, with a skip from input to output."""

    def __init__(self, dim: int, blocks: int):
        super().__init__()
        self.gp = nn.Sequential(*[Block(dim) for _ in range(blocks)], _conv3(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.gp(x) + x


class FFANet(nn.Module):
    """FFA-Net with ``gps`` groups of ``blocks`` blocks and ``dim`` channels (scale 1).

    ``input_norm=True`` normalises the input with :data:`INPUT_MEAN`/:data:`INPUT_STD` first, as
    the official and MCLIR pipelines do outside the network (output not de-normalised; see the
    module docstring). The mean and std are non-persistent buffers: the state dict is the
    official one either way.
    """

    def __init__(self, gps: int = 3, blocks: int = 19, dim: int = 64, input_norm: bool = False,
                 mean: Sequence[float] = INPUT_MEAN, std: Sequence[float] = INPUT_STD):
        super().__init__()
        if int(gps) < 1 or int(blocks) < 0 or int(dim) < 1:
            raise CirError(f"FFA-Net: need gps >= 1, blocks >= 0, dim >= 1; got {gps}, {blocks}, {dim}")
        if not isinstance(input_norm, bool):
            raise CirError(f"FFA-Net: input_norm must be true or false; got {input_norm!r}")
        self.gps, self.blocks, self.dim, self.input_norm = int(gps), int(blocks), int(dim), input_norm
        self.register_buffer("norm_mean", torch.tensor([float(m) for m in mean]).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("norm_std", torch.tensor([float(s) for s in std]).view(1, 3, 1, 1),
                             persistent=False)
        self.pre = nn.Sequential(_conv3(3, self.dim))
        for k in range(1, self.gps + 1):
            setattr(self, f"g{k}", Group(self.dim, self.blocks))
        width = self.dim * self.gps
        hidden = max(1, self.dim // 16)
        self.ca = nn.Sequential(nn.AdaptiveAvgPool2d(1), _conv1(width, hidden), nn.ReLU(inplace=True),
                                _conv1(hidden, width), nn.Sigmoid())
        self.palayer = PALayer(self.dim)
        self.post = nn.Sequential(_conv3(self.dim, self.dim), _conv3(self.dim, 3))

    def forward(self, x: Tensor) -> Tensor:
        if self.input_norm:
            x = (x - self.norm_mean) / self.norm_std
        feats = []
        h = self.pre(x)
        for k in range(1, self.gps + 1):
            h = getattr(self, f"g{k}")(h)
            feats.append(h)
        w = self.ca(torch.cat(feats, dim=1)).view(-1, self.gps, self.dim, 1, 1)
        fused = sum(w[:, k] * f for k, f in enumerate(feats))
        return self.post(self.palayer(fused)) + x


def build_ffanet(scale: int, **params: Any) -> nn.Module:
    """FFA-Net (scale 1 only); ``params`` override :data:`FFA_DEFAULTS` and may set ``input_norm``."""
    if int(scale) != 1:
        raise CirError(f"FFA-Net is a dehazing network: it restores at scale 1; got scale {scale}")
    kwargs = dict(FFA_DEFAULTS)
    kwargs.update(params)
    try:
        return FFANet(**kwargs)
    except TypeError as exc:
        raise CirError(f"FFA-Net: bad parameters {sorted(params)}: {exc}") from exc


def convert_official(obj: Any, *, key: str | None = None, **params: Any) -> dict[str, Tensor]:
    """Turn what ``torch.load`` returns for an official FFA-Net file (a dict whose ``'model'``
    entry is the state dict of an ``nn.DataParallel`` network, so every key starts with
    ``module.``) into a state dict for :func:`build_ffanet` (``**params``, default
    :data:`FFA_DEFAULTS`). Plain state dicts, with or without the prefix, are accepted too, as
    are BasicSR ``{'params': ...}`` files (``key`` picks among several entries). Raises CirError
    naming the missing/unexpected keys and wrong shapes when the weights do not fit."""
    sd = unwrap_state_dict(obj, "FFA-Net", key)
    with torch.device("meta"):  # shapes only, no memory
        reference = build_ffanet(1, **params)
    check_state_dict(sd, expected_shapes(reference), "FFA-Net")
    return sd
