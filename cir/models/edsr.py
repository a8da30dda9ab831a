"""EDSR (Lim et al., "Enhanced Deep Residual Networks for Single Image Super-Resolution", CVPRW 2017).

MCIR retrains the *EDSR baseline* ("EDSR-light": 16 residual blocks, 64 features, residual
scaling 1.0). No maintained package provides EDSR, so it is written here from the paper, with
the module layout (and therefore the state-dict keys) of the official PyTorch release,
github.com/sanghyun-son/EDSR-PyTorch (``src/model/edsr.py``, ``src/model/common.py``), so that
its weight files (``edsr_baseline_x2-1bc95232.pt`` and the x3/x4 ones) load with
``load_state_dict(strict=True)``:

- ``sub_mean`` / ``add_mean``: 1x1 convolutions with fixed weights (identity / std) and biases
  ``-/+ rgb_range * mean / std``. As in the official code they are *parameters* with
  ``requires_grad=False`` (so the official files carry ``sub_mean.weight`` ... and they load
  strictly); they hold 24 numbers in all.
- ``head.0``: 3x3 conv, colours -> features.
- ``body.<i>.body.0`` / ``body.<i>.body.2``: the two 3x3 convs of residual block ``i`` (ReLU
  between them at index 1, no batch norm); the block adds ``res_scale`` times its output to its
  input. ``body.<n_resblocks>``: the 3x3 conv after the blocks; a long skip adds the head output.
- ``tail.0.<k>``: the upsampler. x2^m: m stages of (3x3 conv to 4x features, pixel shuffle 2),
  so x2 has ``tail.0.0`` and x4 ``tail.0.0`` and ``tail.0.2``; x3: one 3x3 conv to 9x features
  and pixel shuffle 3 (``tail.0.0``). ``tail.1``: 3x3 conv, features -> colours.

Value range: cir networks take and return images in [0, 1]. The official network works on
[0, ``rgb_range``] (255) images, so :class:`EDSR` multiplies its input by ``rgb_range`` on entry
and divides its output by ``rgb_range`` on exit; with the official weights, ``EDSR(x)`` equals
``official(255 x) / 255``.

Parameter counts (EDSR baseline): the official README gives 1.37 M (x2), 1.55 M (x3) and
1.52 M (x4), rounded. Counted exactly, the trainable parameters are 1,369,859 / 1,554,499 /
1,517,571; ``model.parameters()`` also holds the 24 frozen mean-shift numbers (1,369,883 /
1,554,523 / 1,517,595), which is what :func:`cir.models.count_parameters` reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cir.errors import CirError
from cir.models.weights import check_state_dict, expected_shapes, unwrap_state_dict

CITATION = ("Lim, Son, Kim, Nah and Lee, Enhanced Deep Residual Networks for Single Image "
            "Super-Resolution, CVPR Workshops (NTIRE) 2017; "
            "official code github.com/sanghyun-son/EDSR-PyTorch")

# The EDSR baseline of the paper and of the official release (MCIR's "EDSR-light")
EDSR_BASELINE: dict[str, Any] = {"n_resblocks": 16, "n_feats": 64, "res_scale": 1.0}

# The official README's "Parameters" column for EDSR_baseline_x2/x3/x4, in millions, rounded
# to two decimals (1.37 M, 1.55 M, 1.52 M). Exact counts: see the module docstring.
PUBLISHED_PARAMS: dict[int, int] = {2: 1_370_000, 3: 1_550_000, 4: 1_520_000}

PAD_MULTIPLE = 1  # fully convolutional: any input size

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)  # the official MeanShift default (DIV2K mean)


def _conv3(in_ch: int, out_ch: int) -> nn.Conv2d:
    return nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=True)


class MeanShift(nn.Conv2d):
    """Fixed 1x1 convolution that subtracts (``sign=-1``) or adds (``sign=1``)
    ``rgb_range * mean``, dividing by ``std`` (all ones in EDSR). Its weight and bias are
    parameters that do not train, as in the official code."""

    def __init__(self, rgb_range: float, rgb_mean: Sequence[float], rgb_std: Sequence[float], sign: int):
        super().__init__(3, 3, kernel_size=1)
        # built on the CPU even under a device context (torch.eye on "meta" is slow to set up)
        std = torch.tensor([float(s) for s in rgb_std], device="cpu")
        mean = torch.tensor([float(m) for m in rgb_mean], device="cpu")
        with torch.no_grad():
            self.weight.copy_(torch.eye(3, device="cpu").view(3, 3, 1, 1) / std.view(3, 1, 1, 1))
            self.bias.copy_(sign * float(rgb_range) * mean / std)
        for p in self.parameters():
            p.requires_grad_(False)


class ResBlock(nn.Module):
    """conv3x3 - ReLU - conv3x3 (no batch norm), output scaled by ``res_scale`` and added to
    the input (the paper's modified residual block, Fig. 2c)."""

    def __init__(self, n_feats: int, res_scale: float = 1.0):
        super().__init__()
        self.body = nn.Sequential(_conv3(n_feats, n_feats), nn.ReLU(inplace=True), _conv3(n_feats, n_feats))
        self.res_scale = float(res_scale)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x) * self.res_scale


class Upsampler(nn.Sequential):
    """Sub-pixel upsampling: ``log2(scale)`` stages of (conv to 4x features, pixel shuffle 2)
    for a power of two, one (conv to 9x features, pixel shuffle 3) stage for 3."""

    def __init__(self, scale: int, n_feats: int):
        layers: list[nn.Module] = []
        if scale >= 2 and scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [_conv3(n_feats, 4 * n_feats), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [_conv3(n_feats, 9 * n_feats), nn.PixelShuffle(3)]
        else:
            raise CirError(f"EDSR: scale must be 3 or a power of two >= 2; got {scale}")
        super().__init__(*layers)


class EDSR(nn.Module):
    """EDSR for super-resolution by ``scale``; inputs and outputs in [0, 1] (scaled to
    [0, ``rgb_range``] inside, see the module docstring). Defaults: the EDSR baseline."""

    def __init__(self, scale: int, n_resblocks: int = 16, n_feats: int = 64, res_scale: float = 1.0,
                 rgb_range: float = 255, n_colors: int = 3,
                 rgb_mean: Sequence[float] = DIV2K_RGB_MEAN, rgb_std: Sequence[float] = (1.0, 1.0, 1.0)):
        super().__init__()
        if n_colors != 3:
            raise CirError(f"EDSR: the mean shift is defined for 3 colours; got n_colors={n_colors}")
        if int(n_resblocks) < 0 or int(n_feats) < 1:
            raise CirError(f"EDSR: need n_resblocks >= 0 and n_feats >= 1; got {n_resblocks}, {n_feats}")
        if not float(rgb_range) > 0:
            raise CirError(f"EDSR: rgb_range must be positive; got {rgb_range}")
        self.scale = int(scale)
        self.rgb_range = float(rgb_range)
        self.sub_mean = MeanShift(rgb_range, rgb_mean, rgb_std, sign=-1)
        self.add_mean = MeanShift(rgb_range, rgb_mean, rgb_std, sign=1)
        self.head = nn.Sequential(_conv3(n_colors, n_feats))
        blocks: list[nn.Module] = [ResBlock(n_feats, res_scale) for _ in range(int(n_resblocks))]
        self.body = nn.Sequential(*blocks, _conv3(n_feats, n_feats))
        self.tail = nn.Sequential(Upsampler(self.scale, n_feats), _conv3(n_feats, n_colors))

    def forward(self, x: Tensor) -> Tensor:
        x = self.sub_mean(x * self.rgb_range)
        x = self.head(x)
        x = x + self.body(x)
        x = self.add_mean(self.tail(x))
        return x / self.rgb_range


def build_edsr(scale: int, **params: Any) -> nn.Module:
    """EDSR for ``scale``; ``params`` override :data:`EDSR_BASELINE` and the other constructor
    defaults (e.g. the full EDSR: ``n_resblocks=32, n_feats=256, res_scale=0.1``)."""
    kwargs = dict(EDSR_BASELINE)
    kwargs.update(params)
    try:
        return EDSR(int(scale), **kwargs)
    except TypeError as exc:
        raise CirError(f"EDSR: bad parameters {sorted(params)}: {exc}") from exc


# BasicSR's EDSR (the MCLIR fork's ``basicsr/archs/edsr_arch.py``) computes the same function
# with other names and a mean held outside the state dict; these prefixes map its keys.
_BASICSR_RENAMES = (("conv_first.", "head.0."), ("upsample.", "tail.0."), ("conv_last.", "tail.1."))


def _from_basicsr(sd: dict[str, Tensor], n_resblocks: int) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    for k, v in sd.items():
        new = k
        for old, rep in _BASICSR_RENAMES:
            if k.startswith(old):
                new = rep + k[len(old):]
        if k.startswith("conv_after_body."):
            new = f"body.{n_resblocks}." + k[len("conv_after_body."):]
        elif k.startswith("body.") and (".conv1." in k or ".conv2." in k):
            new = k.replace(".conv1.", ".body.0.").replace(".conv2.", ".body.2.")
        out[new] = v
    return out


def _infer_scale(sd: Mapping[str, Tensor]) -> int:
    convs = sorted(int(k.split(".")[2]) for k in sd
                   if k.startswith("tail.0.") and k.endswith(".weight") and k.split(".")[2].isdigit())
    if not convs:
        raise CirError("EDSR: cannot infer the scale: the weights have no upsampler (tail.0.*.weight); "
                       "pass scale=")
    first = sd[f"tail.0.{convs[0]}.weight"]
    if len(convs) == 1 and first.shape[0] == 9 * first.shape[1]:
        return 3
    return 2 ** len(convs)


def convert_official(obj: Any, scale: int | None = None, *, key: str | None = None,
                     **params: Any) -> dict[str, Tensor]:
    """Turn what ``torch.load`` returns for an official EDSR weight file (a plain state dict,
    e.g. ``edsr_baseline_x2-1bc95232.pt``) into a state dict for :func:`build_edsr` (``scale``,
    ``**params``); ``scale`` is inferred from the upsampler when not given.

    Also accepted: a state dict wrapped in ``{'model': ...}`` (or ``state_dict``/``params``/
    ``params_ema``; ``key`` picks one), a ``module.`` prefix, and BasicSR-style EDSR keys
    (``conv_first``, ``body.<i>.conv1``, ``conv_after_body``, ``upsample``, ``conv_last``: the
    MCLIR fork's naming), to which the fixed mean-shift weights of ``params`` are added. Raises
    CirError naming the missing/unexpected keys and wrong shapes when the weights do not fit.
    """
    sd = unwrap_state_dict(obj, "EDSR", key)
    kwargs = dict(EDSR_BASELINE)
    kwargs.update(params)
    if "conv_first.weight" in sd:
        sd = _from_basicsr(sd, int(kwargs["n_resblocks"]))
        dtype = sd["head.0.weight"].dtype
        shift_args = (kwargs.get("rgb_range", 255), kwargs.get("rgb_mean", DIV2K_RGB_MEAN),
                      kwargs.get("rgb_std", (1.0, 1.0, 1.0)))
        for name, sign in (("sub_mean", -1), ("add_mean", 1)):
            shift = MeanShift(*shift_args, sign=sign)
            sd[f"{name}.weight"] = shift.weight.detach().to(dtype)
            sd[f"{name}.bias"] = shift.bias.detach().to(dtype)
    if scale is None:
        scale = _infer_scale(sd)
    with torch.device("meta"):  # shapes only, no memory
        reference = build_edsr(scale, **kwargs)
    check_state_dict(sd, expected_shapes(reference), "EDSR")
    return sd
