"""DRCNet (Li, Shen, Mi and Li, "DRCNet: Dynamic Image Restoration Contrastive Network", ECCV 2022;
paper seed 002, of which only the supplementary material is available).

Written for cir from the supplement, the repository figure and the project's notes
(``reference/papers/drcnet-and-dckd-deblur-derain.md``, part A). The public code
(github:leefly072/DRCNet, MIT, ``basicsr/models/archs/drcnet_arch.py`` and ``norm.py``; it does not
run as released) was read for the layer layout and the state-dict key names only, so that weights
trained with it load with ``load_state_dict`` (strip BasicSR's ``{'params': ...}`` wrapper). No
weights were released.

Structure (a HINet-like two-stage U-Net; code key names in brackets):

- Each stage: a 3x3 conv from RGB to ``width`` channels [``conv_01``, ``conv_02``]; an encoder of
  ``depth`` levels of ``width * 2**i`` channels [``down_path_1.i``, ``down_path_2.i``], each level but
  the last followed by a 4x4 stride-2 conv without bias [``.downsample``]; a decoder of ``depth - 1``
  levels: 2x2 stride-2 transposed conv [``up_path_<s>.j.up``], concatenation with the encoder
  feature passed through a 3x3 skip conv [``skip_conv_<s>.j``], and a plain block
  [``up_path_<s>.j.conv_block``: ``conv_1``, ``conv_2`` (3x3, LeakyReLU 0.2), ``identity`` (1x1)].
- Between the stages a supervised attention module (SAM, from MPRNet) [``sam12.conv1..3``]: the
  stage-1 image is ``conv2(f) + input``, and ``f`` is re-weighted by ``sigmoid(conv3(image))``.
  Stage 2 starts from ``cat12(cat(conv_02(input), sam_feature))`` (1x1 conv).
- Cross-stage feature fusion (CSFF): encoder levels ``0 .. depth-2`` of stage 2 add
  ``csff_enc(stage-1 encoder feature) + csff_dec(stage-1 decoder feature)`` (3x3 convs).
- Output: ``last(f) + input`` (3x3 conv) for stage 2.
- Encoder block ("DFR", dynamic filter restoration) [``down_path_<s>.i``]::

      sf = LeakyReLU(SF(conv_1(x)))          # spatial-filter branch (3x3 conv, in -> out)
      ea = LeakyReLU(SimAM(conv_2(x)))       # energy-based attention on a *parallel* 3x3 conv of x
      out = sf * ea + identity(x)            # identity: 1x1 conv

  *Spatial filter* (SF) [``norm``; region normalisation, Yu et al., AAAI 2020]: applied to the
  first half of the channels of ``conv_1(x)``, the other half passes unchanged. A map
  ``m = sigmoid(conv1([mean_c, max_c]))`` (7x7, 2 -> 1, no bias) [``norm.sa.conv1``]; a mask
  ``m.detach() >= t``; the masked and unmasked regions are normalised separately (each region is
  filled outside itself with its mean, instance-normalised with a shared affine
  [``norm.rn.bn_norm``], and scaled by the square root of its area fraction) and summed; finally
  ``rn * (1 + gamma) + beta`` with one-channel maps ``gamma``, ``beta`` from 7x7 convs of ``m``
  [``norm.sa.gamma_conv``, ``norm.sa.beta_conv``]. As in the public code the region mean and area
  are taken over the whole batch (``rn_batch_stats=True``; ``False``: per image).
  *Energy-based attention* (EA) = SimAM (Yang et al., ICML 2021), parameter-free:
  ``y = (x - mu)^2 / (4 (sum (x - mu)^2 / (HW - 1) + delta)) + 0.5``, output ``x * sigmoid(y)``.

Where the paper and the public code disagree (paper values are the defaults here, code values
are options):

- threshold ``t``: paper 0.75 (supplement Table 1, best of the sweep), code 0.8 (``RN_L``).
- ``delta`` (SimAM's lambda): paper 1e-6 (supplement Table 2), code 1e-4.
- mask conv kernel: figure 3x3, code 7x7 (``mask_kernel``, default 7: the code's, since the paper's
  text does not state it and 7 gives the code's parameter count).
- SF levels: the code's configs put SF at encoder levels ``hin_position_left..right`` (Rain13K and
  SIDD: all; GoPro: 2..3 in training, 3..4 in the test config); the paper does not say.
  ``sf_levels`` (default: all levels) selects them. As in the code, the SF parameters exist at every
  encoder level when ``spatial_filter`` is on (a level outside ``sf_levels`` keeps them unused), so
  the state-dict keys do not depend on ``sf_levels``.

Switches (supplement Tables 1-2 and Fig. 1 ablate the branches):

- ``spatial_filter=False``: no SF modules at all (``conv_1``'s output goes straight to the
  LeakyReLU); removes ``2*k*k + 2*(k*k + 1) + out`` parameters per encoder block (mask conv,
  gamma/beta convs, instance-norm affine on half the channels).
- ``energy_attention=False``: SimAM replaced by the identity; the parallel conv and the gating
  product stay, so the parameter count is unchanged (SimAM has no parameters).

Sizes. The public configuration (width 64, depth 4, SF everywhere) has 18,975,798 parameters
(the notes' 18.98 M) and 114,416,984,064 multiply-accumulates at 256x256 (convolutions only, torch's
counter; 114.4 G, as the notes' analytic count). The supplement prints 124.2 "FLOPs (G)" at 256x256:
8.6 % above these MACs and 46 % below the FLOPs (2 per MAC, 228.8 G), so the printed number is most
likely MACs counted by a tool that also counts some other operations (not established).

Any input size. The input is padded at the bottom and right to a multiple of ``2**depth`` (by
reflection; edge replication where the image is too small to reflect) and both outputs are
cropped back. ``2**(depth-1)`` would suffice for the down-samplings; one more factor 2 keeps the
deepest map at least 2x2, where SimAM divides by ``HW - 1`` and the instance norm needs more than
one pixel. Padded pixels take part in the SF's batch-wide region statistics.

``forward(x)`` returns the stage-2 (final) image; ``forward(x, stages=True)`` returns the tuple
``(stage1, stage2)`` of images, both of the input's size, for the loss that supervises both stages
(the public code always returns the list ``[stage1, stage2]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from cir.errors import CirError, ConfigError
from cir.models.registry import pad_to_multiple

CITATION = ("F. Li, L. Shen, Y. Mi and Z. Li, DRCNet: Dynamic Image Restoration Contrastive Network, "
            "ECCV 2022 (supplementary material; public code github.com/leefly072/DRCNet)")

# The paper's values (supplement Tables 1 and 2) are the defaults; the public code's are options.
PAPER_VALUES: dict[str, float] = {"t": 0.75, "delta": 1e-6}
CODE_VALUES: dict[str, float] = {"t": 0.8, "delta": 1e-4}

DRCNET_DEFAULTS: dict[str, Any] = {
    "width": 64, "depth": 4, "t": PAPER_VALUES["t"], "delta": PAPER_VALUES["delta"],
    "spatial_filter": True, "energy_attention": True, "sf_levels": None, "mask_kernel": 7,
    "rn_batch_stats": True, "relu_slope": 0.2, "in_channels": 3,
}

# Encoder levels with the spatial filter in the public configs (hin_position_left..right, clipped
# to depth 4); None: all levels. GoPro's training and test configs disagree (2..3 vs 3..4).
CODE_SF_LEVELS: dict[str, list[int] | None] = {"derain": None, "denoise": None, "deblur": [2, 3],
                                               "deblur_test_config": [3]}

# Parameters of the public configuration (width 64, depth 4, SF at every level), measured; the
# notes' analytic count is 18.98 M.
PUBLIC_PARAMS = 18_975_798
PUBLIC_MACS_256 = 114_416_984_064  # multiply-accumulates at 1x3x256x256 (torch's counter, convolutions)
PUBLISHED_GFLOPS = 124.2  # supplement Tables 3-5 at 256x256, printed as "FLOPs (G)"


def pad_multiple(params: dict[str, Any] | None = None) -> int:
    """The multiple DRCNet pads its input to: ``2 ** depth``."""
    return 2 ** int((params or {}).get("depth", DRCNET_DEFAULTS["depth"]))


def simam(x: Tensor, delta: float) -> Tensor:
    """SimAM energy-based attention: ``x * sigmoid((x - mu)^2 / (4 (var + delta)) + 0.5)``, mean
    and variance (``HW - 1`` denominator) over each map."""
    n = x.shape[-2] * x.shape[-1] - 1
    d = (x - x.mean(dim=(-2, -1), keepdim=True)).pow(2)
    y = d / (4 * (d.sum(dim=(-2, -1), keepdim=True) / n + delta)) + 0.5
    return x * torch.sigmoid(y)


class SpatialAffine(nn.Module):
    """The importance map ``sigmoid(conv1([mean_c, max_c]))`` and the ``gamma``/``beta`` maps
    (7x7 convs of it, one channel each)."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(2, 1, kernel_size, padding=pad, bias=False)
        self.gamma_conv = nn.Conv2d(1, 1, kernel_size, padding=pad)
        self.beta_conv = nn.Conv2d(1, 1, kernel_size, padding=pad)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        stats = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        importance = torch.sigmoid(self.conv1(stats))
        return importance, self.gamma_conv(importance), self.beta_conv(importance)


class RegionNorm(nn.Module):
    """Normalise the masked and the unmasked region of ``x`` separately and sum them.

    Each region (``x`` zeroed outside it) is filled outside with its own mean, instance-normalised
    (shared affine, ``bn_norm`` as in the code) and multiplied by the square root of its area
    fraction. ``batch_stats=True`` (the code): mean and area over the whole batch.
    """

    def __init__(self, channels: int, batch_stats: bool = True):
        super().__init__()
        self.bn_norm = nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)
        self.batch_stats = batch_stats

    def _region(self, region: Tensor, mask: Tensor) -> Tensor:
        b, _, h, w = region.shape
        dims, total = ((0, 2, 3), b * h * w) if self.batch_stats else ((2, 3), h * w)
        area = mask.sum(dim=dims, keepdim=True)
        # an empty region counts as area 1 (the code's ``Sr[Sr == 0] = 1``); areas are integers
        area = area.clamp_min(1.0)
        mean = region.sum(dim=dims, keepdim=True) / area
        return self.bn_norm(region + (1 - mask) * mean) * torch.sqrt(area / total)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        mask = mask.detach().expand_as(x)
        return self._region(x * mask, mask) + self._region(x * (1 - mask), 1 - mask)


class SpatialFilter(nn.Module):
    """The spatial-filter branch on ``channels`` channels: threshold ``t`` on the importance map,
    region normalisation, then ``rn * (1 + gamma) + beta`` (the code's ``RN_L``)."""

    def __init__(self, channels: int, t: float, kernel_size: int = 7, batch_stats: bool = True):
        super().__init__()
        self.t = float(t)
        self.sa = SpatialAffine(kernel_size)
        self.rn = RegionNorm(channels, batch_stats)

    def forward(self, x: Tensor) -> Tensor:
        importance, gamma, beta = self.sa(x)
        mask = (importance.detach() >= self.t).to(x.dtype)
        return self.rn(x, mask) * (1 + gamma) + beta


class DFRBlock(nn.Module):
    """Encoder block: ``LReLU(SF(conv_1(x))) * LReLU(SimAM(conv_2(x))) + identity(x)``, plus the
    cross-stage fusion (stage 2) and the 4x4 stride-2 down-sampling (all levels but the last).

    ``norm`` (the SF) exists whenever ``spatial_filter`` is on; ``use_sf`` says whether this level
    applies it. Returns ``(down-sampled, feature)`` where it down-samples, else the feature.
    """

    def __init__(self, in_ch: int, out_ch: int, *, downsample: bool, csff: bool, relu_slope: float,
                 spatial_filter: bool, use_sf: bool, energy_attention: bool, t: float, delta: float,
                 mask_kernel: int, rn_batch_stats: bool):
        super().__init__()
        self.identity = nn.Conv2d(in_ch, out_ch, 1)
        self.conv_1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv_2 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.relu_1 = nn.LeakyReLU(relu_slope)
        self.relu_2 = nn.LeakyReLU(relu_slope)
        self.norm = SpatialFilter(out_ch // 2, t, mask_kernel, rn_batch_stats) if spatial_filter else None
        self.use_sf = bool(spatial_filter and use_sf)
        self.energy_attention = energy_attention
        self.delta = float(delta)
        if csff:
            self.csff_enc = nn.Conv2d(out_ch, out_ch, 3, padding=1)
            self.csff_dec = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.use_csff = csff
        self.downsample = (nn.Conv2d(out_ch, out_ch, 4, stride=2, padding=1, bias=False) if downsample
                           else None)

    def forward(self, x: Tensor, enc: Tensor | None = None, dec: Tensor | None = None):
        out = self.conv_1(x)
        if self.use_sf:
            half = out.shape[1] // 2
            out = torch.cat([self.norm(out[:, :half]), out[:, half:]], dim=1)
        gate = self.conv_2(x)
        if self.energy_attention:
            gate = simam(gate, self.delta)
        out = self.relu_1(out) * self.relu_2(gate) + self.identity(x)
        if self.use_csff and enc is not None and dec is not None:
            out = out + self.csff_enc(enc) + self.csff_dec(dec)
        if self.downsample is not None:
            return self.downsample(out), out
        return out


class DecoderBlock(nn.Module):
    """Plain block: ``LReLU(conv_2(LReLU(conv_1(x)))) + identity(x)``."""

    def __init__(self, in_ch: int, out_ch: int, relu_slope: float):
        super().__init__()
        self.identity = nn.Conv2d(in_ch, out_ch, 1)
        self.conv_1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.conv_2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.relu_1 = nn.LeakyReLU(relu_slope)
        self.relu_2 = nn.LeakyReLU(relu_slope)

    def forward(self, x: Tensor) -> Tensor:
        return self.relu_2(self.conv_2(self.relu_1(self.conv_1(x)))) + self.identity(x)


class UpBlock(nn.Module):
    """2x2 stride-2 transposed conv, concatenation with the skip feature, plain block."""

    def __init__(self, in_ch: int, out_ch: int, relu_slope: float):
        super().__init__()
        self.up = nn.ConvTranspose2d(in_ch, out_ch, 2, stride=2)
        self.conv_block = DecoderBlock(2 * out_ch, out_ch, relu_slope)

    def forward(self, x: Tensor, bridge: Tensor) -> Tensor:
        return self.conv_block(torch.cat([self.up(x), bridge], dim=1))


class SAM(nn.Module):
    """Supervised attention module: returns ``(f + conv1(f) * sigmoid(conv3(img)), img)`` with
    ``img = conv2(f) + x_img``."""

    def __init__(self, channels: int, in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, in_channels, 3, padding=1)
        self.conv3 = nn.Conv2d(in_channels, channels, 3, padding=1)

    def forward(self, f: Tensor, x_img: Tensor) -> tuple[Tensor, Tensor]:
        img = self.conv2(f) + x_img
        return f + self.conv1(f) * torch.sigmoid(self.conv3(img)), img


class DRCNet(nn.Module):
    """DRCNet at scale 1; see the module docstring. Build it with :func:`build_drcnet`."""

    def __init__(self, width: int = 64, depth: int = 4, t: float = 0.75, delta: float = 1e-6,
                 spatial_filter: bool = True, energy_attention: bool = True,
                 sf_levels: Sequence[int] | None = None, mask_kernel: int = 7, rn_batch_stats: bool = True,
                 relu_slope: float = 0.2, in_channels: int = 3):
        super().__init__()
        _validate(width=width, depth=depth, t=t, delta=delta, spatial_filter=spatial_filter,
                  energy_attention=energy_attention, sf_levels=sf_levels, mask_kernel=mask_kernel,
                  rn_batch_stats=rn_batch_stats, relu_slope=relu_slope, in_channels=in_channels)
        self.depth = int(depth)
        levels = set(range(self.depth) if sf_levels is None else (int(i) for i in sf_levels))
        block = {"relu_slope": float(relu_slope), "spatial_filter": spatial_filter,
                 "energy_attention": energy_attention, "t": float(t), "delta": float(delta),
                 "mask_kernel": int(mask_kernel), "rn_batch_stats": rn_batch_stats}
        self.conv_01 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv_02 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.down_path_1 = nn.ModuleList()
        self.down_path_2 = nn.ModuleList()
        prev = width
        for i in range(self.depth):
            out, down = width * 2 ** i, i + 1 < self.depth
            for path, csff in ((self.down_path_1, False), (self.down_path_2, down)):
                path.append(DFRBlock(prev, out, downsample=down, csff=csff, use_sf=i in levels, **block))
            prev = out
        self.up_path_1 = nn.ModuleList()
        self.up_path_2 = nn.ModuleList()
        self.skip_conv_1 = nn.ModuleList()
        self.skip_conv_2 = nn.ModuleList()
        for i in reversed(range(self.depth - 1)):
            out = width * 2 ** i
            self.up_path_1.append(UpBlock(prev, out, float(relu_slope)))
            self.up_path_2.append(UpBlock(prev, out, float(relu_slope)))
            self.skip_conv_1.append(nn.Conv2d(out, out, 3, padding=1))
            self.skip_conv_2.append(nn.Conv2d(out, out, 3, padding=1))
            prev = out
        self.sam12 = SAM(prev, in_channels)
        self.cat12 = nn.Conv2d(2 * prev, prev, 1)
        self.last = nn.Conv2d(prev, in_channels, 3, padding=1)

    def _stages(self, image: Tensor) -> tuple[Tensor, Tensor]:
        x1 = self.conv_01(image)
        encs, decs = [], []
        for block in self.down_path_1:
            if block.downsample is not None:
                x1, feature = block(x1)
                encs.append(feature)
            else:
                x1 = block(x1)
        for i, up in enumerate(self.up_path_1):
            x1 = up(x1, self.skip_conv_1[i](encs[-i - 1]))
            decs.append(x1)
        sam_feature, out_1 = self.sam12(x1, image)

        x2 = self.cat12(torch.cat([self.conv_02(image), sam_feature], dim=1))
        blocks = []
        for i, block in enumerate(self.down_path_2):
            if block.downsample is not None:
                x2, feature = block(x2, encs[i], decs[-i - 1])
                blocks.append(feature)
            else:
                x2 = block(x2)
        for i, up in enumerate(self.up_path_2):
            x2 = up(x2, self.skip_conv_2[i](blocks[-i - 1]))
        return out_1, self.last(x2) + image

    def forward(self, x: Tensor, stages: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """The restored image (stage 2); ``stages=True``: the tuple ``(stage1, stage2)``."""
        h, w = x.shape[-2:]
        out_1, out_2 = self._stages(pad_to_multiple(x, 2 ** self.depth))
        out_1, out_2 = out_1[..., :h, :w], out_2[..., :h, :w]
        return (out_1, out_2) if stages else out_2


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate(**p: Any) -> None:
    """Raise ConfigError naming the first bad parameter."""
    def bad(key: str, need: str) -> ConfigError:
        return ConfigError(f"drcnet: parameter {key!r} must be {need}; got {p[key]!r}")

    if not _is_int(p["width"]) or p["width"] < 2 or p["width"] % 2:
        raise bad("width", "an even integer >= 2 (the spatial filter takes half the channels)")
    if not _is_int(p["depth"]) or p["depth"] < 1:
        raise bad("depth", "an integer >= 1")
    if not _is_number(p["t"]) or not 0.0 <= p["t"] <= 1.0:
        raise bad("t", "a number in [0, 1] (a threshold on a sigmoid map)")
    if not _is_number(p["delta"]) or not p["delta"] > 0:
        raise bad("delta", "a positive number")
    for key in ("spatial_filter", "energy_attention", "rn_batch_stats"):
        if not isinstance(p[key], bool):
            raise bad(key, "true or false")
    levels = p["sf_levels"]
    if levels is not None and (isinstance(levels, (str, bytes)) or not isinstance(levels, Sequence)
                               or not all(_is_int(i) and 0 <= i < p["depth"] for i in levels)):
        raise bad("sf_levels", f"null (all levels) or a list of encoder levels in 0..{p['depth'] - 1}")
    if p["mask_kernel"] not in (3, 7) or not _is_int(p["mask_kernel"]):
        raise bad("mask_kernel", "3 (the figure) or 7 (the code)")
    if not _is_number(p["relu_slope"]) or p["relu_slope"] < 0:
        raise bad("relu_slope", "a non-negative number")
    if not _is_int(p["in_channels"]) or p["in_channels"] < 1:
        raise bad("in_channels", "a positive integer")


def build_drcnet(scale: int = 1, **params: Any) -> DRCNet:
    """DRCNet (scale 1 only); ``params`` override :data:`DRCNET_DEFAULTS` (the paper's values;
    ``**CODE_VALUES`` gives the public code's ``t`` and ``delta``)."""
    if int(scale) != 1:
        raise CirError(f"DRCNet restores at scale 1 (deblurring, deraining, denoising); got scale {scale}")
    unknown = sorted(set(params) - set(DRCNET_DEFAULTS))
    if unknown:
        raise ConfigError(f"drcnet: unknown parameter(s) {', '.join(map(repr, unknown))}; "
                          f"valid: {', '.join(DRCNET_DEFAULTS)}")
    return DRCNet(**{**DRCNET_DEFAULTS, **params})
