"""IDT, the Image De-raining Transformer (Xiao, Fu, Liu, Wu and Zha, "Image De-raining
Transformer", IEEE TPAMI, 2022 early access / 2023; ieeexplore document 9798773), the deraining
backbone that MCIR retrains.

Written for cir from the paper and from the layer layout, constants and state-dict key names of
the official code (github:jiexiaou/IDT, MIT, ``model.py``, ``test_full_size.py``), so that the
official weight files (plain state dicts saved from a ``DataParallel``, keys prefixed
``module.``) load with :func:`convert_official` and ``load_state_dict``.

Layout (embed dim ``C = 32``): a 3x3 conv + LeakyReLU embedding, a four-level encoder (``C``,
``2C``, ``4C``, ``8C`` channels; 4x4 stride-2 conv down-sampling), a ``16C`` bottleneck, a
four-level decoder (2x2 transposed-conv up-sampling, concatenation with the encoder features:
``16C``, ``8C``, ``4C``, ``2C``) and a 3x3 conv to the image, added to the input. Every level
holds ``depths[i]`` (``[3, 3, 2, 2, 1, 1, 2, 2, 3]``) window transformer blocks (8x8 windows,
no shift) followed, except at the bottleneck, by one spatial transformer layer. Both use the
relative-position-enhanced attention: a clamped relative position bias table plus a
"positional" branch (a depth-wise conv and a grouped 1x1 conv on a third value projection,
added to the attention output). Feed-forward: LeFF (linear, GELU, 3x3 depth-wise conv with a
residual, GELU, linear). The spatial transformer treats each *window* as a token whose features
are the window's ``8 x 8`` pixel values of one channel, so it attends across all the windows of
the image; its LeFF hidden width is ``4 * 64 = 256`` whatever the channel count.

Fixed input size. The spatial layers' relative-position index and positional convolution are
built for the grid of windows of an ``img_size x img_size`` input (128: 16x16 windows at full
resolution, 2x2 at 1/8), and they attend over the whole image, so the network is defined for
that one size, not for multiples of it (the official forward fails on any other size). As the
official full-size test (``test_full_size.py``), :func:`tiled_forward` runs 128x128 tiles that
overlap by at least 20 pixels and merges them with weights ``1 / distance to the tile centre``.
:meth:`IDT.forward` is the plain network on an ``img_size`` square and ``tiled_forward`` on
any other size (inputs smaller than a tile are padded up to it, by reflection, and cropped).

Images are RGB in ``[0, 1]`` in and out, as in the official code (no clamping here).

Two quirks of the official code are kept because the released weights were trained with them:
the spatial layer returns its attention output in window-major token order and adds it to the
raster-order input, and the positional branch of the spatial layers uses a 1x1 or 3x3 kernel
where the window grid is too small for 5x5.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cir.errors import CirError
from cir.models.weights import check_state_dict, expected_shapes, unwrap_state_dict

CITATION = ('J. Xiao, X. Fu, A. Liu, F. Wu and Z.-J. Zha, "Image De-raining Transformer", IEEE '
            "Transactions on Pattern Analysis and Machine Intelligence, 2022 (early access; "
            "ieeexplore.ieee.org/document/9798773); official code github.com/jiexiaou/IDT (MIT)")

# The official model (train_derain.py / test_full_size.py arguments; model.py constants).
IDT_DEFAULTS: dict[str, Any] = {
    "img_size": 128, "in_chans": 3, "embed_dim": 32, "depths": [3, 3, 2, 2, 1, 1, 2, 2, 3],
    "num_heads": [1, 2, 4, 8, 16, 16, 8, 4, 2], "win_size": 8, "mlp_ratio": 4.0, "qkv_bias": True,
    "drop_path_rate": 0.1,
}
# Relative-position clamp of each level's spatial layer (model.py; the bottleneck has none).
SPATIAL_K_BOUNDS = (16, 8, 4, 2, 1, 2, 4, 8, 16)
WINDOW_K_BOUND = 8  # the window blocks' clamp (the official WindowAttention default)
TILE_OVERLAP = 20  # test_full_size.py: splitimage(crop_size=128, overlap_size=20)

# Trainable parameters of the official model as built here (buffers excluded); the official
# model.py, built with the official arguments, has exactly as many (checked by building it).
PARAM_COUNT = 16_416_463
# Millions. 16.42M is the count quoted for IDT in deraining comparisons, as remembered; the IDT
# paper's own complexity table could not be re-read here. It is the official code's exact count
# rounded, so the value is safe to within the rounding whatever the table says.
PUBLISHED_PARAMS: dict[str, float] = {"idt": 16.42}

LEVELS = 9  # encoder 0-3, bottleneck 4, decoder 5-8
_LEVEL_SCALE = (0, 1, 2, 3, 4, 3, 2, 1, 0)  # feature map = img_size / 2**scale
_LEVEL_WIDTH = (1, 2, 4, 8, 16, 16, 8, 4, 2)  # channels = embed_dim * width


class DropPath(nn.Module):
    """Stochastic depth: drop the whole residual branch of a sample with probability ``p`` in
    training (scaling the kept ones by ``1 / (1 - p)``)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


def relative_position_index(grid: tuple[int, int], k_bound: int) -> torch.Tensor:
    """``[N, N]`` index into a ``(2k-1)**2``-row bias table for the ``N = gh * gw`` positions of
    ``grid``; offsets are clamped to ``+-(k_bound - 1)``."""
    gh, gw = grid
    coords = torch.stack(torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).clamp(-k_bound + 1, k_bound - 1).permute(1, 2, 0)
    rel = rel + (k_bound - 1)
    return rel[..., 0] * (2 * k_bound - 1) + rel[..., 1]


class LinearProjection(nn.Module):
    """Q from ``to_q``; K, V and the positional-branch value V_r from ``to_kv``."""

    def __init__(self, dim: int, heads: int, bias: bool = True):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=bias)
        self.to_kv = nn.Linear(dim, dim * 3, bias=bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        b, n, c = x.shape
        q = self.to_q(x).reshape(b, n, self.heads, c // self.heads).transpose(1, 2)
        k, v, v_r = self.to_kv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        return q, k, v, v_r


class WindowAttention(nn.Module):
    """Relative-position-enhanced multi-head self-attention over the ``gh x gw`` tokens of
    ``grid``: softmax(QK^T * scale + bias) V, plus the positional branch on V_r laid out on the
    grid, then a linear projection."""

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, k_bound: int = WINDOW_K_BOUND):
        super().__init__()
        self.dim, self.grid, self.num_heads = dim, tuple(grid), num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * k_bound - 1) ** 2, num_heads))
        distance = min(self.grid[0] - 1, 2)
        kernel = 2 * distance + 1 if distance > 0 else 1
        self.Position_Extract = nn.Sequential(
            nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim),
            nn.Conv2d(dim, dim, 1, groups=num_heads))
        # not in the official state dicts (a plain attribute there)
        self.register_buffer("relative_position_index", relative_position_index(self.grid, k_bound),
                             persistent=False)
        self.qkv = LinearProjection(dim, num_heads, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v, v_r = self.qkv(x)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1).to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
        out = out.transpose(1, 2).reshape(b, n, c)
        position = self.Position_Extract(v_r.transpose(-1, -2).reshape(b, c, *self.grid))
        return self.proj(out + position.reshape(b, c, n).transpose(1, 2))


class LeFF(nn.Module):
    """Locally-enhanced feed-forward on tokens of an ``h x w`` map."""

    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.linear1 = nn.Sequential(nn.Linear(dim, hidden_dim), nn.GELU())
        self.dwconv = nn.Sequential(nn.Conv2d(hidden_dim, hidden_dim, 3, padding=1, groups=hidden_dim), nn.GELU())
        self.linear2 = nn.Sequential(nn.Linear(hidden_dim, dim))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b = x.shape[0]
        x = self.linear1(x)
        m = x.transpose(1, 2).reshape(b, -1, h, w)
        m = self.dwconv(m) + m
        return self.linear2(m.flatten(2).transpose(1, 2))


def _drop_path(p: float) -> nn.Module:
    return DropPath(p) if p > 0 else nn.Identity()


class IDTBlock(nn.Module):
    """Window transformer block: ``x + W-MSA(LN(x))``, then ``x + LeFF(LN(x))`` (no shift)."""

    def __init__(self, dim: int, resolution: int, num_heads: int, win_size: int, mlp_ratio: float,
                 qkv_bias: bool, qk_scale: float | None, drop_path: float):
        super().__init__()
        self.win_size = min(win_size, resolution)  # the official block shrinks its window to the map
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, (self.win_size, self.win_size), num_heads, qkv_bias, qk_scale)
        self.drop_path = _drop_path(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = LeFF(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        ws = self.win_size
        y = self.norm1(x).view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)
        y = self.attn(y)
        y = y.view(b, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h * w, c)
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x), h, w))


class SpatialTransformerLayer(nn.Module):
    """Attention across the windows of the map, one channel at a time: tokens are the
    ``win x win`` windows (raster order), features their ``win**2`` pixel values."""

    def __init__(self, channel: int, resolution: int, num_heads: int, win_size: int, mlp_ratio: float,
                 qkv_bias: bool, qk_scale: float | None, drop_path: float, k_bound: int):
        super().__init__()
        self.win = win_size
        dim = win_size * win_size
        grid = resolution // win_size
        self.attn = WindowAttention(dim, (grid, grid), num_heads, qkv_bias, qk_scale, k_bound=k_bound)
        self.drop_path = _drop_path(drop_path)
        self.norm2 = nn.LayerNorm(channel)
        self.mlp = LeFF(channel, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, n, c = x.shape
        cols = F.unfold(x.transpose(1, 2).reshape(b, c, h, w), self.win, stride=self.win)  # [B, C*win^2, nW]
        tokens = cols.reshape(b * c, self.win * self.win, -1).transpose(1, 2)  # [B*C, nW, win^2]
        y = self.attn(tokens)
        # Official order: [B*C, nW, win^2] -> [B, nW*win^2, C], window-major, added to the
        # raster-order input as is (the released weights were trained so).
        y = y.reshape(b, c, n).transpose(1, 2)
        x = x + self.drop_path(y)
        return x + self.drop_path(self.mlp(self.norm2(x), h, w))


class BasicIDTLayer(nn.Module):
    """``num`` window blocks, then (``cross``) one spatial transformer layer."""

    def __init__(self, dim: int, resolution: int, num: int, num_heads: int, win_size: int, mlp_ratio: float,
                 qkv_bias: bool, qk_scale: float | None, drop_path: Sequence[float], k_bound: int, cross: bool):
        super().__init__()
        first = drop_path[0] if len(drop_path) else 0.0
        last = drop_path[-1] if len(drop_path) else 0.0
        blocks: list[nn.Module] = [IDTBlock(dim, resolution, num_heads, win_size, mlp_ratio, qkv_bias, qk_scale, first)
                                   for _ in range(num)]
        if cross:
            blocks.append(SpatialTransformerLayer(dim, resolution, num_heads, win_size, mlp_ratio, qkv_bias,
                                                  qk_scale, last, k_bound))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, h, w)
        return x


class InputProj(nn.Module):
    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(in_channel, out_channel, 3, padding=1), nn.LeakyReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class OutputProj(nn.Module):
    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(in_channel, out_channel, 3, padding=1))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.proj(x.transpose(1, 2).reshape(x.shape[0], -1, h, w))


class Downsample(nn.Module):
    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(in_channel, out_channel, 4, stride=2, padding=1))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.conv(x.transpose(1, 2).reshape(x.shape[0], -1, h, w)).flatten(2).transpose(1, 2)


class Upsample(nn.Module):
    def __init__(self, in_channel: int, out_channel: int):
        super().__init__()
        self.deconv = nn.Sequential(nn.ConvTranspose2d(in_channel, out_channel, 2, stride=2))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        return self.deconv(x.transpose(1, 2).reshape(x.shape[0], -1, h, w)).flatten(2).transpose(1, 2)


def _nine(name: str, value: Sequence[Any]) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != LEVELS:
        raise CirError(f"IDT: {name} must list {LEVELS} values (4 encoder levels, bottleneck, 4 decoder "
                       f"levels); got {value!r}")
    return list(value)


class IDT(nn.Module):
    """IDT; see the module docstring. ``forward`` takes ``[B, in_chans, H, W]`` images in
    ``[0, 1]`` of any size (tiled unless ``H == W == img_size``).

    ``depths[i]``: window blocks at level ``i`` (the official ``model.py`` hard-codes these
    counts and uses its ``depths`` argument only for the stochastic-depth schedule; with the
    official ``depths`` the two agree). ``k_bounds``: each level's relative-position clamp for
    its spatial layer (official constants). The spatial layers use ``win_size`` windows (the
    official code always uses 8, its default ``win_size``). ``tile_overlap``/``tile_batch``:
    :func:`tiled_forward` settings for inputs other than ``img_size x img_size``.
    """

    def __init__(self, img_size: int = 128, in_chans: int = 3, embed_dim: int = 32,
                 depths: Sequence[int] = (3, 3, 2, 2, 1, 1, 2, 2, 3),
                 num_heads: Sequence[int] = (1, 2, 4, 8, 16, 16, 8, 4, 2), win_size: int = 8,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, qk_scale: float | None = None,
                 drop_path_rate: float = 0.1, k_bounds: Sequence[int] = SPATIAL_K_BOUNDS,
                 tile_overlap: int = TILE_OVERLAP, tile_batch: int = 8):
        super().__init__()
        depths = [int(d) for d in _nine("depths", depths)]
        heads = [int(h) for h in _nine("num_heads", num_heads)]
        k_bounds = [int(k) for k in _nine("k_bounds", k_bounds)]
        self.img_size, self.in_chans, self.embed_dim = int(img_size), int(in_chans), int(embed_dim)
        self.win_size, self.tile_overlap, self.tile_batch = int(win_size), int(tile_overlap), int(tile_batch)
        if not 0 <= self.tile_overlap < self.img_size:
            raise CirError(f"IDT: tile_overlap must be in [0, img_size); got {tile_overlap}")
        if self.tile_batch < 1:
            raise CirError(f"IDT: tile_batch must be at least 1; got {tile_batch}")
        if self.img_size % 16 or self.img_size < 16:
            raise CirError(f"IDT: img_size must be a positive multiple of 16 (four 2x down-samplings); got {img_size}")
        for level in range(LEVELS):
            res = self.img_size >> _LEVEL_SCALE[level]
            dim = self.embed_dim * _LEVEL_WIDTH[level]
            ws = min(self.win_size, res)
            if res % ws or (level != 4 and res % self.win_size):
                raise CirError(f"IDT: level {level} has a {res}x{res} map, not a multiple of the {self.win_size}-pixel "
                               f"window; img_size must be a multiple of 8 * win_size")
            if depths[level] < 1:
                raise CirError(f"IDT: depths[{level}] must be at least 1; got {depths[level]}")
            if dim % heads[level] or (level != 4 and self.win_size ** 2 % heads[level]):
                raise CirError(f"IDT: num_heads[{level}] = {heads[level]} must divide the level's {dim} channels "
                               f"and the win_size**2 = {self.win_size ** 2} features of its spatial layer")

        # stochastic depth, laid out as the official code does
        enc_dpr = torch.linspace(0, drop_path_rate, sum(depths[:4]), device="cpu").tolist()
        dec_dpr = enc_dpr[::-1]
        dprs = [enc_dpr[sum(depths[:i]):sum(depths[:i + 1])] for i in range(4)]
        dprs.append([float(drop_path_rate)] * depths[4])
        dprs += [dec_dpr[sum(depths[5:i]):sum(depths[5:i + 1])] for i in range(5, 9)]

        def level(i: int) -> BasicIDTLayer:
            return BasicIDTLayer(self.embed_dim * _LEVEL_WIDTH[i], self.img_size >> _LEVEL_SCALE[i], depths[i],
                                 heads[i], self.win_size, mlp_ratio, qkv_bias, qk_scale, dprs[i], k_bounds[i],
                                 cross=i != 4)

        e = self.embed_dim
        self.input_proj = InputProj(self.in_chans, e)
        self.output_proj = OutputProj(2 * e, self.in_chans)
        self.encoderlayer_0 = level(0)
        self.dowsample_0 = Downsample(e, 2 * e)  # sic: the official attribute names
        self.encoderlayer_1 = level(1)
        self.dowsample_1 = Downsample(2 * e, 4 * e)
        self.encoderlayer_2 = level(2)
        self.dowsample_2 = Downsample(4 * e, 8 * e)
        self.encoderlayer_3 = level(3)
        self.dowsample_3 = Downsample(8 * e, 16 * e)
        self.bottle = level(4)
        self.upsample_0 = Upsample(16 * e, 8 * e)
        self.decoderlayer_0 = level(5)
        self.upsample_1 = Upsample(16 * e, 4 * e)
        self.decoderlayer_1 = level(6)
        self.upsample_2 = Upsample(8 * e, 2 * e)
        self.decoderlayer_2 = level(7)
        self.upsample_3 = Upsample(4 * e, e)
        self.decoderlayer_3 = level(8)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward_tile(self, x: torch.Tensor) -> torch.Tensor:
        """The official network on ``[B, C, img_size, img_size]``."""
        s = self.img_size
        if tuple(x.shape[-2:]) != (s, s):
            raise CirError(f"IDT.forward_tile takes {s}x{s} inputs; got {tuple(x.shape[-2:])}")
        y = self.input_proj(x)
        e0 = self.encoderlayer_0(y, s, s)
        e1 = self.encoderlayer_1(self.dowsample_0(e0, s, s), s // 2, s // 2)
        e2 = self.encoderlayer_2(self.dowsample_1(e1, s // 2, s // 2), s // 4, s // 4)
        e3 = self.encoderlayer_3(self.dowsample_2(e2, s // 4, s // 4), s // 8, s // 8)
        b = self.bottle(self.dowsample_3(e3, s // 8, s // 8), s // 16, s // 16)
        d = self.decoderlayer_0(torch.cat([self.upsample_0(b, s // 16, s // 16), e3], -1), s // 8, s // 8)
        d = self.decoderlayer_1(torch.cat([self.upsample_1(d, s // 8, s // 8), e2], -1), s // 4, s // 4)
        d = self.decoderlayer_2(torch.cat([self.upsample_2(d, s // 4, s // 4), e1], -1), s // 2, s // 2)
        d = self.decoderlayer_3(torch.cat([self.upsample_3(d, s // 2, s // 2), e0], -1), s, s)
        return x + self.output_proj(d, s, s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) == (self.img_size, self.img_size):
            return self.forward_tile(x)
        return tiled_forward(self.forward_tile, x, tile=self.img_size, overlap=self.tile_overlap,
                             tile_batch=self.tile_batch)


# -- tiled test (test_full_size.py) -----------------------------------------------------------
def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Tile offsets along one side: every ``tile - overlap`` pixels from 0, the last tile moved
    to end at the border (the official ``splitimage``); ``[0]`` when ``size <= tile``."""
    if size <= tile:
        return [0]
    starts = list(range(0, size, tile - overlap))
    while starts and starts[-1] + tile >= size:
        starts.pop()
    return starts + [size - tile]


def tile_weights(tile: int, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> torch.Tensor:
    """``[tile, tile]`` merge weights ``1 / sqrt((i - tile/2)**2 + (j - tile/2)**2 + 1e-3)`` (the
    official ``get_scoremap``; its centre is ``tile / 2``, not ``(tile - 1) / 2``)."""
    r = torch.arange(tile, dtype=torch.float64) - tile / 2
    weights = 1.0 / torch.sqrt(r[:, None] ** 2 + r[None, :] ** 2 + 1e-3)
    return weights.to(dtype=dtype, device=device)


def tiled_forward(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int = 128,
                  overlap: int = TILE_OVERLAP, tile_batch: int = 8) -> torch.Tensor:
    """Run ``model`` (``tile x tile`` in, same out) on overlapping tiles of ``x`` and merge them,
    weighting each tile's pixels by :func:`tile_weights`, as IDT's official full-size test.

    Tiles start every ``tile - overlap`` pixels (:func:`tile_starts`); ``tile_batch`` tiles go
    through ``model`` at once (the result does not depend on it). A side shorter than ``tile`` is
    first padded at the bottom/right to ``tile`` (reflection, or edge replication where the side
    is too short to reflect) and the output cropped back; the official script cannot take such
    inputs (nor sides of exactly ``tile``, which here are one tile). Differentiable; not clamped.
    """
    if not 0 <= overlap < tile:
        raise CirError(f"tiled_forward: overlap must be in [0, tile); got overlap {overlap}, tile {tile}")
    b, c, h, w = x.shape
    ph, pw = max(0, tile - h), max(0, tile - w)
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    hh, ww = x.shape[-2:]
    boxes = [(i, j) for i in tile_starts(hh, tile, overlap) for j in tile_starts(ww, tile, overlap)]
    if len(boxes) == 1:  # one tile: its output as is (the merge would only rescale it by w / w)
        return model(x)[:, :, :h, :w]
    weights = tile_weights(tile, dtype=x.dtype, device=x.device)
    out = x.new_zeros((b, c, hh, ww))
    total = x.new_zeros((hh, ww))
    for k in range(0, len(boxes), tile_batch):
        chunk = boxes[k:k + tile_batch]
        tiles = torch.cat([x[:, :, i:i + tile, j:j + tile] for i, j in chunk])
        results = model(tiles).split(b)
        for (i, j), result in zip(chunk, results):
            out[:, :, i:i + tile, j:j + tile] += result * weights
            total[i:i + tile, j:j + tile] += weights
    return (out / total)[:, :, :h, :w]


# -- builder, padding, official weights -------------------------------------------------------
def build_idt(scale: int, **params: Any) -> IDT:
    """The official IDT (``IDT_DEFAULTS``); ``params`` override its constructor arguments."""
    if scale != 1:
        raise CirError(f"architecture 'idt' restores at scale 1 (same input and output size: deraining); "
                       f"got scale {scale}")
    kwargs = {k: (list(v) if isinstance(v, list) else v) for k, v in IDT_DEFAULTS.items()}
    kwargs.update(params)
    try:
        return IDT(**kwargs)
    except TypeError as exc:
        raise CirError(f"architecture 'idt': bad parameters {sorted(params)}: {exc}") from exc


def pad_multiple(params: Mapping[str, Any] | None = None) -> int:
    """1: IDT never pads an input at least ``img_size`` on each side (it tiles it); smaller
    inputs are padded up to one tile."""
    return 1


def convert_official(obj: Any, model: nn.Module | None = None, **params: Any) -> dict[str, torch.Tensor]:
    """The official IDT weights ``obj`` (a state dict, keys optionally prefixed ``module.``;
    also accepted under ``'state_dict'``) as a state dict for :class:`IDT`, checked against
    ``model`` or, by default, the official model (``build_idt(1, **params)``). Raises
    :class:`~cir.errors.CirError` naming missing/unexpected keys and wrong shapes.
    """
    state = unwrap_state_dict(obj, "IDT")
    if model is None:
        model = build_idt(1, **params)
    check_state_dict(state, expected_shapes(model), "IDT")
    return state
