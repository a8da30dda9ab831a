"""DehazeFormer (Song, He, Qian and Du, "Vision Transformers for Single Image Dehazing", IEEE
TIP 32:1927-1941, 2023; arXiv 2204.03883), the dehazing backbone that MCIR retrains (T/S/B).

Written for cir from the paper and from the layer layout, constants and state-dict key names of
the official code (github:IDKiro/DehazeFormer, MIT, ``models/dehazeformer.py``), so that the
official weight files (``{'state_dict': ...}`` saved from a ``DataParallel``, keys prefixed
``module.``) load with :func:`convert_official` and ``load_state_dict``.

Layout: a five-stage U-shaped network at full, 1/2, 1/4, 1/2 and full resolution (embed dims
``[24, 48, 96, 48, 24]`` for T/S/B), a 3x3 patch embedding, 2x2 strided patch merging, 1x1 conv +
pixel-shuffle patch splitting, SK fusion of the skip connections and a 3x3 "unembedding" to
four channels ``(K, B)``: the output is ``K * I - B + I``, the haze model rewritten with a single
map ``K``. Each block: RescaleNorm (RLN) -> token mixer -> rescale/rebias, then a
1x1-conv MLP (ReLU, no norm). The token mixer of a block is a depth-wise 5x5 convolution on the
value projection (``DWConv``; M/L use a plain 3x3 conv pair, ``Conv``), plus, in the *last*
``attn_ratio * depth`` blocks of a stage, window attention (window 8, shifted by 4 in odd blocks,
relative positions log-scaled and mapped to a per-head bias by a small MLP). Shifted windows pad
the map by reflection rather than rolling it (as the official code does).

Image range. The official network works on images in ``[-1, 1]``. cir works on ``[0, 1]``, so
with ``input_range="unit"`` (the default) :meth:`DehazeFormer.forward` maps ``x -> 2x - 1`` on
entry and ``y -> (y + 1) / 2`` on exit; ``input_range="signed"`` is the official network as is.
Neither clamps (the official test clamps to ``[-1, 1]`` before measuring; so should evaluation).

Any input size. As the official ``check_image_size``, the input is reflect-padded at the bottom
and right to a multiple of 4 (two 2x down-samplings) and the output cropped back; the window
layers pad their feature maps to the window internally, also by reflection. Two additions for
inputs the official code cannot take (it fails there): where a reflection would need a pad as
large as the map, edge replication is used instead, and inputs under 12 pixels are padded up to 12
so that the 5x5 depth-wise convolutions still have a 3-pixel map at 1/4 resolution. For every
input the official code accepts, the result is the official computation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cir.errors import CirError, UnknownNameError
from cir.models.weights import check_state_dict, expected_shapes, unwrap_state_dict

CITATION = ('Y. Song, Z. He, H. Qian and X. Du, "Vision Transformers for Single Image Dehazing", '
            "IEEE Transactions on Image Processing, vol. 32, pp. 1927-1941, 2023 (arXiv 2204.03883); "
            "official code github.com/IDKiro/DehazeFormer (MIT)")

PATCH_MULTIPLE = 4  # the input is padded to this (the official ``check_image_size``)
MIN_SIZE = 12  # smallest padded input side: keeps the 1/4-resolution map >= 3 for 5x5 reflect convs
CONV_TYPES = ("DWConv", "Conv")
INPUT_RANGES = ("unit", "signed")

_T: dict[str, Any] = {"embed_dims": [24, 48, 96, 48, 24], "mlp_ratios": [2.0, 4.0, 4.0, 2.0, 2.0],
                      "num_heads": [2, 4, 6, 1, 1], "window_size": 8}
_WIDE = {**_T, "embed_dims": [48, 96, 192, 96, 48]}
_ATTN = [1 / 4, 1 / 2, 3 / 4, 0.0, 0.0]

# The official variants (models/dehazeformer.py: dehazeformer_t ... dehazeformer_l).
DEHAZEFORMER_VARIANTS: dict[str, dict[str, Any]] = {
    "t": dict(_T, depths=[4, 4, 4, 2, 2], attn_ratio=[0.0, 1 / 2, 1.0, 0.0, 0.0], conv_type=["DWConv"] * 5),
    "s": dict(_T, depths=[8, 8, 8, 4, 4], attn_ratio=_ATTN, conv_type=["DWConv"] * 5),
    "b": dict(_T, depths=[16, 16, 16, 8, 8], attn_ratio=_ATTN, conv_type=["DWConv"] * 5),
    "d": dict(_T, depths=[32, 32, 32, 16, 16], attn_ratio=_ATTN, conv_type=["DWConv"] * 5),
    "w": dict(_WIDE, depths=[16, 16, 16, 8, 8], attn_ratio=_ATTN, conv_type=["DWConv"] * 5),
    "m": dict(_T, depths=[12, 12, 12, 6, 6], attn_ratio=_ATTN, conv_type=["Conv"] * 5),
    "l": dict(_WIDE, depths=[16, 16, 16, 12, 12], attn_ratio=_ATTN, conv_type=["Conv"] * 5),
}

# "#Param" of the DehazeFormer paper's comparison tables, in millions. B's 2.514 is also quoted
# by third-party tables (e.g. the EM-SNN paper); T, S, M and L are the paper's values as
# remembered (its table could not be re-read here). The modules built here (PARAM_COUNTS) have
# exactly the official code's parameters, which is more than the paper prints by precisely the
# RLN affine weight and bias (2 * dim per attention block): :func:`count_without_rln_affine`
# reproduces the printed T, S, B and M values to every digit, so the paper counted with a tool
# that skips parameters held directly by a non-leaf module (as thop does). Third-party
# measurements of the full modules (1.285M for S, 2.518M for B) agree with PARAM_COUNTS.
PUBLISHED_PARAMS: dict[str, float] = {"t": 0.686, "s": 1.283, "b": 2.514, "m": 4.634, "l": 25.44}

# Exact trainable-parameter counts of the modules built here (buffers excluded); equal to those
# of the official modules (checked by building both).
PARAM_COUNTS: dict[str, int] = {
    "t": 687_404, "s": 1_284_884, "b": 2_517_612, "d": 4_983_068, "w": 9_686_724,
    "m": 4_635_952, "l": 25_451_652,
}


def count_without_rln_affine(model: nn.Module) -> int:
    """Parameters of ``model`` less the RLN affine ``weight``/``bias`` (the paper's "#Param")."""
    skipped = sum(m.weight.numel() + m.bias.numel() for m in model.modules() if isinstance(m, RLN))
    return sum(p.numel() for p in model.parameters()) - skipped


def _pad(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """``F.pad`` by reflection (left, right, top, bottom); edge replication where a reflection
    would need a pad as large as the map (torch refuses those)."""
    if not any(pad):
        return x
    h, w = x.shape[-2:]
    mode = "reflect" if max(pad[0], pad[1]) < w and max(pad[2], pad[3]) < h else "replicate"
    return F.pad(x, pad, mode=mode)


def _trunc_normal_scaled(weight: torch.Tensor, gain: float = 1.0) -> None:
    """Truncated-normal init with std ``gain * sqrt(2 / (fan_in + fan_out))`` (the official
    init of the token mixers and MLPs; bounds +-2 absolute, as timm's ``trunc_normal_``)."""
    receptive = weight[0][0].numel() if weight.dim() > 2 else 1
    fan_in, fan_out = weight.shape[1] * receptive, weight.shape[0] * receptive
    nn.init.trunc_normal_(weight, std=gain * math.sqrt(2.0 / float(fan_in + fan_out)))


class RLN(nn.Module):
    """RescaleNorm: normalise over (C, H, W) per sample, affine per channel, and return the
    rescale/rebias maps ``meta1(std)``, ``meta2(mean)`` that undo it after the token mixer."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, dim, 1, 1))
        self.meta1 = nn.Conv2d(1, dim, 1)
        self.meta2 = nn.Conv2d(1, dim, 1)
        nn.init.trunc_normal_(self.meta1.weight, std=0.02)
        nn.init.constant_(self.meta1.bias, 1.0)
        nn.init.trunc_normal_(self.meta2.weight, std=0.02)
        nn.init.constant_(self.meta2.bias, 0.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = torch.sqrt((x - mean).pow(2).mean(dim=(1, 2, 3), keepdim=True) + self.eps)
        out = (x - mean) / std * self.weight + self.bias
        return out, self.meta1(std), self.meta2(mean)


class FeedForward(nn.Module):
    """1x1 conv -> ReLU -> 1x1 conv (key ``mlp.mlp.{0,2}``)."""

    def __init__(self, dim: int, hidden: int, network_depth: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv2d(dim, hidden, 1), nn.ReLU(True), nn.Conv2d(hidden, dim, 1))
        gain = (8 * network_depth) ** -0.25
        for conv in (self.mlp[0], self.mlp[2]):
            _trunc_normal_scaled(conv.weight, gain)
            nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


def log_relative_positions(window_size: int) -> torch.Tensor:
    """``[N, N, 2]`` pairwise (row, col) offsets of the ``N = window_size**2`` positions of a
    window, mapped by ``sign(d) * log(1 + |d|)``."""
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij"))
    coords = coords.flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).float()
    return torch.sign(rel) * torch.log1p(rel.abs())


class WindowAttention(nn.Module):
    """Multi-head attention inside a window; the bias is ``meta(log relative positions)``."""

    def __init__(self, dim: int, window_size: int, num_heads: int):
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        # persistent: the official state dicts contain it
        self.register_buffer("relative_positions", log_relative_positions(window_size))
        self.meta = nn.Sequential(nn.Linear(2, 256), nn.ReLU(True), nn.Linear(256, num_heads))

    def forward(self, qkv: torch.Tensor) -> torch.Tensor:
        """``qkv``: ``[B', N, 3C]`` (Q, K, V channel blocks) -> ``[B', N, C]``."""
        b, n, _ = qkv.shape
        q, k, v = qkv.reshape(b, n, 3, self.num_heads, self.dim // self.num_heads).permute(2, 0, 3, 1, 4)
        bias = self.meta(self.relative_positions).permute(2, 0, 1).to(q.dtype)  # [heads, N, N]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return out.transpose(1, 2).reshape(b, n, self.dim)


class TokenMixer(nn.Module):
    """The official ``Attention``: a convolution (``DWConv``: 5x5 depth-wise on V, then a 1x1
    projection; ``Conv``: two 3x3 convs) and/or shifted-window attention on (Q, K, V)."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int, use_attn: bool,
                 conv_type: str, network_depth: int):
        super().__init__()
        self.dim, self.window_size, self.shift_size = dim, window_size, shift_size
        self.use_attn, self.conv_type = use_attn, conv_type
        if conv_type == "Conv":
            self.conv = nn.Sequential(
                nn.Conv2d(dim, dim, 3, padding=1, padding_mode="reflect"), nn.ReLU(True),
                nn.Conv2d(dim, dim, 3, padding=1, padding_mode="reflect"))
        else:
            self.conv = nn.Conv2d(dim, dim, 5, padding=2, groups=dim, padding_mode="reflect")
        if conv_type == "DWConv" or use_attn:
            self.V = nn.Conv2d(dim, dim, 1)
            self.proj = nn.Conv2d(dim, dim, 1)
        if use_attn:
            self.QK = nn.Conv2d(dim, dim * 2, 1)
            self.attn = WindowAttention(dim, window_size, num_heads)
        gain = (8 * network_depth) ** -0.25
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # the official init picks QK out by its 2*dim output channels
                _trunc_normal_scaled(m.weight, 1.0 if m.weight.shape[0] == 2 * dim else gain)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _window_pad(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ws, s = self.window_size, self.shift_size
        ph, pw = (-h) % ws, (-w) % ws
        if s > 0:  # shift by padding s on the top/left, the rest to a window multiple
            return _pad(x, (s, (ws - s + pw) % ws, s, (ws - s + ph) % ws))
        return _pad(x, (0, pw, 0, ph))

    def _attention(self, qkv: torch.Tensor) -> torch.Tensor:
        b, c3, h, w = qkv.shape
        padded = self._window_pad(qkv)
        hp, wp = padded.shape[-2:]
        ws = self.window_size
        windows = (padded.view(b, c3, hp // ws, ws, wp // ws, ws).permute(0, 2, 4, 3, 5, 1)
                   .reshape(-1, ws * ws, c3))
        out = self.attn(windows)
        out = (out.view(b, hp // ws, wp // ws, ws, ws, self.dim).permute(0, 5, 1, 3, 2, 4)
               .reshape(b, self.dim, hp, wp))
        s = self.shift_size
        return out[:, :, s:s + h, s:s + w]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_attn:
            v = self.V(x)
            attn_out = self._attention(torch.cat([self.QK(x), v], dim=1))
            return self.proj(self.conv(v) + attn_out)
        if self.conv_type == "Conv":
            return self.conv(x)
        return self.proj(self.conv(self.V(x)))


class TransformerBlock(nn.Module):
    """``x + rescale * mixer(RLN(x)) + rebias`` (RLN only where the block has attention), then
    ``x + mlp(x)``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float, window_size: int, shift_size: int,
                 use_attn: bool, conv_type: str, network_depth: int):
        super().__init__()
        self.use_attn = use_attn
        self.norm1 = RLN(dim) if use_attn else nn.Identity()
        self.attn = TokenMixer(dim, num_heads, window_size, shift_size, use_attn, conv_type, network_depth)
        self.mlp = FeedForward(dim, int(dim * mlp_ratio), network_depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_attn:
            y, rescale, rebias = self.norm1(x)
            x = x + self.attn(y) * rescale + rebias
        else:
            x = x + self.attn(x)
        return x + self.mlp(x)


class BasicLayer(nn.Module):
    """``depth`` blocks; the last ``attn_ratio * depth`` have attention; odd blocks shift."""

    def __init__(self, dim: int, depth: int, num_heads: int, mlp_ratio: float, window_size: int,
                 attn_ratio: float, conv_type: str, network_depth: int):
        super().__init__()
        attn_depth = attn_ratio * depth
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, num_heads, mlp_ratio, window_size, 0 if i % 2 == 0 else window_size // 2,
                             i >= depth - attn_depth, conv_type, network_depth)
            for i in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class PatchEmbed(nn.Module):
    """Strided conv (reflect padding): the 3x3 embedding and the 2x2 patch merging."""

    def __init__(self, patch_size: int, in_chans: int, embed_dim: int, kernel_size: int | None = None):
        super().__init__()
        k = kernel_size or patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, k, stride=patch_size, padding=(k - patch_size + 1) // 2,
                              padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class PatchUnEmbed(nn.Module):
    """Conv to ``out_chans * patch**2`` channels, then pixel shuffle (patch splitting / output)."""

    def __init__(self, patch_size: int, out_chans: int, embed_dim: int, kernel_size: int = 1):
        super().__init__()
        self.proj = nn.Sequential(
            nn.Conv2d(embed_dim, out_chans * patch_size ** 2, kernel_size, padding=kernel_size // 2,
                      padding_mode="reflect"),
            nn.PixelShuffle(patch_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


class SKFusion(nn.Module):
    """Selective-kernel fusion of ``height`` same-shaped maps: softmax weights per channel from
    the pooled sum."""

    def __init__(self, dim: int, height: int = 2, reduction: int = 8):
        super().__init__()
        self.height = height
        d = max(int(dim / reduction), 4)
        self.mlp = nn.Sequential(nn.Conv2d(dim, d, 1, bias=False), nn.ReLU(),
                                 nn.Conv2d(d, dim * height, 1, bias=False))

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        b, c = feats[0].shape[:2]
        stacked = torch.stack(list(feats), dim=1)  # [B, height, C, H, W]
        attn = self.mlp(F.adaptive_avg_pool2d(stacked.sum(dim=1), 1))
        attn = torch.softmax(attn.view(b, self.height, c, 1, 1), dim=1)
        return (stacked * attn).sum(dim=1)


def _per_stage(name: str, value: Sequence[Any]) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 5:
        raise CirError(f"DehazeFormer: {name} must list 5 values (one per stage); got {value!r}")
    return list(value)


class DehazeFormer(nn.Module):
    """DehazeFormer; see the module docstring. ``forward`` takes ``[B, in_chans, H, W]`` images
    of any size in ``[0, 1]`` (``input_range="unit"``) or ``[-1, 1]`` (``"signed"``)."""

    def __init__(self, in_chans: int = 3, window_size: int = 8,
                 embed_dims: Sequence[int] = (24, 48, 96, 48, 24),
                 mlp_ratios: Sequence[float] = (2.0, 4.0, 4.0, 2.0, 2.0),
                 depths: Sequence[int] = (16, 16, 16, 8, 8),
                 num_heads: Sequence[int] = (2, 4, 6, 1, 1),
                 attn_ratio: Sequence[float] = (1 / 4, 1 / 2, 3 / 4, 0.0, 0.0),
                 conv_type: Sequence[str] = ("DWConv",) * 5,
                 input_range: str = "unit"):
        super().__init__()
        dims = [int(d) for d in _per_stage("embed_dims", embed_dims)]
        depths = [int(d) for d in _per_stage("depths", depths)]
        heads = [int(h) for h in _per_stage("num_heads", num_heads)]
        ratios = [float(r) for r in _per_stage("mlp_ratios", mlp_ratios)]
        attn = [float(a) for a in _per_stage("attn_ratio", attn_ratio)]
        convs = _per_stage("conv_type", conv_type)
        if input_range not in INPUT_RANGES:
            raise CirError(f"DehazeFormer: input_range must be one of {', '.join(INPUT_RANGES)}; got {input_range!r}")
        if dims[1] != dims[3] or dims[0] != dims[4]:
            raise CirError(f"DehazeFormer: embed_dims must be symmetric (dims[0] == dims[4], dims[1] == dims[3]) "
                           f"for the skip fusions; got {dims}")
        for i in range(5):
            if convs[i] not in CONV_TYPES:
                raise CirError(f"DehazeFormer: conv_type[{i}] must be one of {', '.join(CONV_TYPES)}; got {convs[i]!r}")
            if depths[i] < 1:
                raise CirError(f"DehazeFormer: depths[{i}] must be at least 1; got {depths[i]}")
            if attn[i] > 0 and dims[i] % heads[i]:
                raise CirError(f"DehazeFormer: embed_dims[{i}] = {dims[i]} is not divisible by "
                               f"num_heads[{i}] = {heads[i]}")
        if window_size < 2:
            raise CirError(f"DehazeFormer: window_size must be at least 2; got {window_size}")
        self.in_chans, self.window_size, self.input_range = int(in_chans), int(window_size), input_range
        depth = sum(depths)

        def layer(i: int) -> BasicLayer:
            return BasicLayer(dims[i], depths[i], heads[i], ratios[i], self.window_size, attn[i], convs[i], depth)

        self.patch_embed = PatchEmbed(1, self.in_chans, dims[0], kernel_size=3)
        self.layer1 = layer(0)
        self.patch_merge1 = PatchEmbed(2, dims[0], dims[1])
        self.skip1 = nn.Conv2d(dims[0], dims[0], 1)
        self.layer2 = layer(1)
        self.patch_merge2 = PatchEmbed(2, dims[1], dims[2])
        self.skip2 = nn.Conv2d(dims[1], dims[1], 1)
        self.layer3 = layer(2)
        self.patch_split1 = PatchUnEmbed(2, dims[3], dims[2])
        self.fusion1 = SKFusion(dims[3])
        self.layer4 = layer(3)
        self.patch_split2 = PatchUnEmbed(2, dims[4], dims[3])
        self.fusion2 = SKFusion(dims[4])
        self.layer5 = layer(4)
        self.patch_unembed = PatchUnEmbed(1, self.in_chans + 1, dims[4], kernel_size=3)  # (K, B)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The U-shaped body on a padded signed image: ``[B, in_chans + 1, H, W]`` = (K, B)."""
        x = self.layer1(self.patch_embed(x))
        skip1 = x
        x = self.layer2(self.patch_merge1(x))
        skip2 = x
        x = self.patch_split1(self.layer3(self.patch_merge2(x)))
        x = self.fusion1([x, self.skip2(skip2)]) + x
        x = self.patch_split2(self.layer4(x))
        x = self.fusion2([x, self.skip1(skip1)]) + x
        return self.patch_unembed(self.layer5(x))

    def pad_input(self, x: torch.Tensor) -> torch.Tensor:
        """Bottom/right reflect padding to a multiple of 4 (and at least 12 pixels)."""
        h, w = x.shape[-2:]
        th = max(MIN_SIZE, h + (-h) % PATCH_MULTIPLE)
        tw = max(MIN_SIZE, w + (-w) % PATCH_MULTIPLE)
        return _pad(x, (0, tw - w, 0, th - h))

    def forward_signed(self, x: torch.Tensor) -> torch.Tensor:
        """The official network: signed image in, ``K * x - B + x`` out, cropped to the input."""
        h, w = x.shape[-2:]
        x = self.pad_input(x)
        k, b = torch.split(self.forward_features(x), (1, self.in_chans), dim=1)
        return (k * x - b + x)[..., :h, :w]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.input_range == "signed":
            return self.forward_signed(x)
        return (self.forward_signed(x * 2 - 1) + 1) / 2


def _require_scale_1(scale: int) -> None:
    if scale != 1:
        raise CirError(f"architecture 'dehazeformer' restores at scale 1 (same input and output size: "
                       f"dehazing); got scale {scale}")


def build_dehazeformer(scale: int, variant: str = "t", **params: Any) -> DehazeFormer:
    """DehazeFormer ``variant`` (t, s, b, d, w, m, l: the official ones); ``params`` override
    the variant's constructor arguments (e.g. ``embed_dims``, ``depths`` for a tiny network)."""
    _require_scale_1(int(scale))
    key = str(variant).lower()
    if key not in DEHAZEFORMER_VARIANTS:
        raise UnknownNameError("DehazeFormer variant", variant, DEHAZEFORMER_VARIANTS)
    kwargs = {k: (list(v) if isinstance(v, list) else v) for k, v in DEHAZEFORMER_VARIANTS[key].items()}
    kwargs.update(params)
    try:
        return DehazeFormer(**kwargs)
    except TypeError as exc:
        raise CirError(f"architecture 'dehazeformer': bad parameters {sorted(params)}: {exc}") from exc


def pad_multiple(params: Mapping[str, Any] | None = None) -> int:
    """The multiple DehazeFormer pads its input to (4, whatever the variant); inputs that are a
    multiple of 4 (and at least 12 pixels) are not padded. The window layers pad their feature
    maps internally in every case (shifted windows always do), as the official network does."""
    return PATCH_MULTIPLE


# -- official weights -------------------------------------------------------------------------
def convert_official(obj: Any, model: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """The official checkpoint ``obj`` (loaded with ``torch.load``) as a state dict for
    :class:`DehazeFormer`, checked key by key and shape by shape.

    The reference is ``model`` when given; else the official variant(s) whose depths match the
    block indices in the keys (``b`` and ``w`` share depths; both are tried). Raises
    :class:`~cir.errors.CirError` naming the missing and unexpected keys (and wrong shapes)
    against ``model``, or against the closest variant.
    """
    state = unwrap_state_dict(obj, "DehazeFormer")
    if model is not None:
        candidates = {"DehazeFormer": model}
    else:
        # the variants whose depths are closest to the block indices found in the keys
        found = [0] * 5
        for key in state:
            parts = key.split(".")
            if len(parts) > 2 and parts[0] in ("layer1", "layer2", "layer3", "layer4", "layer5") \
                    and parts[1] == "blocks" and parts[2].isdigit():
                i = int(parts[0][-1]) - 1
                found[i] = max(found[i], int(parts[2]) + 1)
        gaps = {name: sum(abs(a - b) for a, b in zip(found, v["depths"])) for name, v in DEHAZEFORMER_VARIANTS.items()}
        with torch.device("meta"):  # shapes only
            candidates = {f"DehazeFormer-{name.upper()}": build_dehazeformer(1, name)
                          for name in DEHAZEFORMER_VARIANTS if gaps[name] == min(gaps.values())}
    errors = []
    for name, reference in candidates.items():
        try:
            check_state_dict(state, expected_shapes(reference), name)
            return state
        except CirError as exc:
            errors.append(exc)
    raise min(errors, key=lambda e: len(str(e)))
