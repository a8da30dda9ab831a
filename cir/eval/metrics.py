"""Image-quality metrics as the papers' tables compute them, and which table uses which.

A :class:`MetricSpec` fixes every choice that changes a value: the metric, whether PSNR/SSIM are
taken on the luma channel, and how many border pixels are dropped. :data:`CONVENTIONS` names the
metric lists of the papers' tables (``dckd_sr``, ``deblur_rgb``, ``derain_y``, ``criacl_realsr``,
``criacl_realsr_y``, ``uniremoval_real``); evaluation (``convention=``), the ``cir metrics`` command (``--convention``)
and training validation (:func:`sr_metric_specs`, which is ``dckd_sr``) take their specs from
there through :func:`convention_specs`, and so should every table.

Inputs are RGB batches N x 3 x H x W in ``[0, 1]`` holding uint8 levels (the saved PNGs). Every
metric returns one float64 score per image; build it once (:func:`build_metric`) and reuse it.

PSNR and SSIM (full reference)
    The convention of BasicSR's ``calculate_psnr``/``calculate_ssim`` and of the MATLAB scripts of
    the SR/deraining papers:

    * luma: ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` (BT.601 studio range, ``[16, 235]``), kept
      as a real number, i.e. *not* rounded to integer levels; or the three RGB channels;
    * ``crop_border`` pixels removed on every side before scoring;
    * PSNR on the ``[0, 255]`` scale: ``10 log10(255^2 / MSE)`` (MSE over all channels for RGB);
    * SSIM of Wang et al.: 11x11 Gaussian window with sigma 1.5, ``C1 = (0.01 * 255)^2``,
      ``C2 = (0.03 * 255)^2``, only window positions fully inside the image ("valid"), mean of the
      SSIM map (mean over channels when scoring RGB).

    PSNR is pyiqa's ``psnr`` metric configured to exactly this (``color_space='ycbcr'``, float64
    input, ``eps=0``). pyiqa's stock ``ssim`` differs in two ways: it rounds Y to integer levels
    (MATLAB ``rgb2ycbcr`` on uint8) and clamps the contrast-structure term at zero, which together
    lower SSIM by about 1e-3 on natural images. SSIM is therefore computed here in float64 with
    pyiqa's colour conversion and the formula above. pyiqa holds the BT.601 matrix in float32
    (65.481 -> 65.48100281), so Y is off by at most ~1e-5 levels: below 1e-6 dB PSNR and 1e-8 SSIM.

    Memory: both metrics work through the image in horizontal bands (:func:`band_rows`) so that a
    6000x6000 image needs a few hundred MB beyond its two input tensors. SSIM filters each band
    together with the ``window - 1`` rows below it that its windows reach and sums its map; PSNR
    sums squared errors band by band (pyiqa's colour conversion, pyiqa's formula) and calls pyiqa's
    metric as is when the image is a single band. The banded results equal the whole-image ones
    up to the order of floating-point sums (~1e-15 relative; tested to 1e-9). A metric that still
    runs out of memory (or fails otherwise inside torch/pyiqa) raises :class:`MetricFailedError`,
    which evaluation and ``cir metrics`` report with the image file.

LPIPS (full reference)
    pyiqa's ``lpips`` (v0.1 linear heads on torchvision's ImageNet AlexNet, inputs mapped to
    ``[-1, 1]``, spatial mean), on RGB, in float32. Weight files: :mod:`cir.eval.assets`.

NIQE, BRISQUE, PIQE (no reference: one image each)
    The papers ran MATLAB, which scores a colour image on ``rgb2gray(uint8 image)``:
    ``round(0.298936021293775 R + 0.587043074451121 G + 0.114020904255103 B)`` (the first row of
    the inverse NTSC matrix; MATLAB rounds halves away from zero for uint8). pyiqa instead uses
    YIQ luma with the rounded coefficients 0.299/0.587/0.114 (rounded to levels for NIQE and
    BRISQUE, left unrounded for PIQE), which moves a few percent of the pixels by one level
    (NIQE moved by up to 0.06 on pyiqa's calibration images; PIQE, which tests for flat block
    edges, by about 2 points on scikit-image's photographs when the luma is left unrounded). Here
    the MATLAB gray image is computed first and pyiqa's functions get that single channel, so
    pyiqa's ``test_y_channel``/``color_space`` options play no part.
    No border is cropped unless the spec asks for it (the MATLAB functions crop none).

    * ``niqe``: the LIVE release (``computequality.m`` with ``modelparameters.mat``: 96x96 blocks,
      no overlap, the image cut to whole blocks, two scales with MATLAB ``imresize(0.5)``),
      through pyiqa's ``calculate_niqe``. pyiqa's default would use YIQ luma instead of rgb2gray.
      Cria-CL cites this NIQE (Mittal et al. 2012).
    * ``brisque``: the LIVE release (``brisquescore.m``, its SVR ``allmodel``: gamma 0.05, rho
      -153.591, features scaled by its ranges), through pyiqa's ``brisque(version='original')``.
    * ``brisque_matlab``: MATLAB Image Processing Toolbox ``brisque()`` with its default model
      (pyiqa's ``version='matlab'``: gamma 1, rho -43.4582, scale 0.3210). A different model from
      ``brisque``: on pyiqa's calibration images the two differ by up to 24 points.
    * ``piqe``: MATLAB Image Processing Toolbox ``piqe()`` (16x16 blocks), through pyiqa's
      ``piqe``; it needs no weights.

    Uni-Removal "calculated the results using the official MATLAB functions provided for these two
    evaluators", i.e. MATLAB's ``brisque()`` and ``piqe()`` (PIQE exists only as that function), so
    its convention uses ``brisque_matlab``.

A metric whose weight file is missing raises :class:`~cir.eval.assets.MetricUnavailableError`
naming the file, its place and the Snakemake target that fetches it; evaluation records such a
metric as ``"unavailable: <reason>"`` instead of a number (:func:`unavailable_value`).

This module uses :mod:`cir.eval.assets` (weight files, the pyiqa cache folder); that module never
imports this one. :func:`~cir.eval.assets.project_cache_dir` and
:func:`~cir.eval.assets.ensure_torch_home` are defined there and can be imported from here too.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cir.errors import CirError, ConfigError, UnknownNameError
from cir.eval import assets
from cir.eval.assets import MetricUnavailableError, ensure_torch_home, project_cache_dir  # noqa: F401

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
# MATLAB rgb2gray: first row of inv([1 0.956 0.621; 1 -0.272 -0.647; 1 -1.106 1.703])
_MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
# input values (images x 3 channels x rows x width) per band of PSNR/SSIM: 8 MiB in float64
BAND_VALUES = 1 << 20


class MetricFailedError(CirError):
    """A metric failed on one image (out of memory, or an error inside torch/pyiqa); callers add
    the image file to the message."""


@dataclass(frozen=True)
class MetricInfo:
    full_reference: bool
    lower_better: bool
    colour: str  # "y_or_rgb": PSNR/SSIM choose; "rgb": always RGB; "gray": MATLAB rgb2gray
    min_side: int  # smallest height/width (after cropping) the metric is defined for
    description: str


METRICS: dict[str, MetricInfo] = {
    "psnr": MetricInfo(True, False, "y_or_rgb", 1, "PSNR in dB"),
    "ssim": MetricInfo(True, False, "y_or_rgb", _SSIM_WINDOW, "SSIM (Wang et al. 2004)"),
    "lpips": MetricInfo(True, True, "rgb", 16, "LPIPS v0.1, AlexNet"),
    "niqe": MetricInfo(False, True, "gray", 96, "NIQE, LIVE release model"),
    "brisque": MetricInfo(False, True, "gray", 16, "BRISQUE, LIVE release model"),
    "brisque_matlab": MetricInfo(False, True, "gray", 16, "BRISQUE, MATLAB brisque() default model"),
    "piqe": MetricInfo(False, True, "gray", 16, "PIQE, MATLAB piqe()"),
}
METRIC_NAMES = tuple(METRICS)


@dataclass(frozen=True)
class MetricSpec:
    """One metric as a results table defines it.

    ``y_channel`` chooses luma or RGB for PSNR/SSIM (default luma). The other metrics have a fixed
    colour handling (LPIPS: RGB, no-reference metrics: MATLAB rgb2gray); for them it is ``False``
    and asking for ``True`` is an error.
    """

    name: str
    y_channel: bool | None = None
    crop_border: int = 0  # pixels dropped on every side before scoring
    # PSNR/SSIM on Y only: Y rounded to integer levels, as MATLAB's rgb2ycbcr returns it for a
    # uint8 image (IDT's evaluaterain.m), instead of the real-valued Y of BasicSR
    y_rounded: bool = False
    # SSIM only: Zhou Wang's downsampling before scoring, as DehazeFormer's test does it: adaptive
    # average pooling by the factor max(1, round(min(H, W) / pool_to)); 0 = none
    pool_to: int = 0

    def __post_init__(self) -> None:
        if self.name not in METRICS:
            raise ConfigError(f"metric.name: {self.name!r} is not one of {list(METRIC_NAMES)}")
        if not isinstance(self.crop_border, int) or isinstance(self.crop_border, bool) or self.crop_border < 0:
            raise ConfigError(f"metric.crop_border: expected an integer >= 0, got {self.crop_border!r}")
        colour = METRICS[self.name].colour
        if colour == "y_or_rgb":
            if self.y_channel is None:
                object.__setattr__(self, "y_channel", True)
        elif self.y_channel:
            where = "on RGB" if colour == "rgb" else "on MATLAB's rgb2gray of the image"
            raise ConfigError(f"metric.y_channel: {self.name} is computed {where}; y_channel=True "
                              "applies to psnr and ssim only")
        else:
            object.__setattr__(self, "y_channel", False)
        if not isinstance(self.y_channel, bool):
            raise ConfigError(f"metric.y_channel: expected true or false, got {self.y_channel!r}")
        if not isinstance(self.y_rounded, bool):
            raise ConfigError(f"metric.y_rounded: expected true or false, got {self.y_rounded!r}")
        if self.y_rounded and not (colour == "y_or_rgb" and self.y_channel):
            raise ConfigError(f"metric.y_rounded: rounds the luma of psnr and ssim on Y; {self.name} "
                              f"{'is scored on RGB (y_channel false)' if colour == 'y_or_rgb' else 'has no luma option'}")
        if not isinstance(self.pool_to, int) or isinstance(self.pool_to, bool) or self.pool_to < 0:
            raise ConfigError(f"metric.pool_to: expected an integer >= 0, got {self.pool_to!r}")
        if self.pool_to and self.name != "ssim":
            raise ConfigError(f"metric.pool_to: the downsampling before scoring applies to ssim only, not {self.name}")

    @property
    def full_reference(self) -> bool:
        return METRICS[self.name].full_reference

    def describe(self) -> str:
        info = METRICS[self.name]
        if info.colour == "y_or_rgb":
            colour = "Y (BT.601 studio range)" if self.y_channel else "RGB"
            if self.y_rounded:
                colour = "Y (BT.601 studio range, rounded to levels as MATLAB rgb2ycbcr)"
        else:
            colour = "RGB" if info.colour == "rgb" else "MATLAB rgb2gray"
        pooled = (f", after average pooling by max(1, round(min(H, W) / {self.pool_to}))"
                  if self.pool_to else "")
        return f"{self.name.upper()} on {colour}, crop border {self.crop_border}{pooled}"


# --- conventions: how table T computes metric M -------------------------------------------

@dataclass(frozen=True)
class Convention:
    """The metric list of a family of paper tables. ``crop = "scale"`` means crop_border = SR scale.

    A metric is ``(metric, y_channel, crop border)`` or ``(..., {other MetricSpec fields})``.
    ``round_output``: the network output is rounded to uint8 levels before scoring, as saving it as
    PNG does (most papers score saved images); false scores the float output clamped to [0, 1]
    (DehazeFormer scores the tensor).
    """

    name: str
    metrics: tuple[tuple, ...]
    description: str
    round_output: bool = True

    @property
    def needs_scale(self) -> bool:
        return any(m[2] == "scale" for m in self.metrics)


CONVENTIONS: dict[str, Convention] = {
    c.name: c
    for c in (
        Convention(
            "dckd_sr", (("psnr", True, "scale"), ("ssim", True, "scale")),
            "DCKD SR tables (Table 2, 5-7): PSNR/SSIM on Y (BT.601 studio range), crop border = scale; "
            "DCKD: 'computed on the Y channel in the YCbCr color space'"),
        Convention(
            "deblur_rgb", (("psnr", False, 0), ("ssim", False, 0)),
            "DCKD deblurring (GoPro): 'PSNR and SSIM are evaluated in the RGB color space', no crop"),
        Convention(
            "derain_y", (("psnr", True, 0), ("ssim", True, 0)),
            "DCKD deraining (Test100, Rain100H/L, Test2800, Test1200): PSNR/SSIM on Y, no crop"),
        Convention(
            "derain_y_matlab", (("psnr", True, 0, {"y_rounded": True}), ("ssim", True, 0, {"y_rounded": True})),
            "IDT's evaluaterain.m (MCIR Table 2): PSNR/SSIM on MATLAB rgb2ycbcr's Y of the saved uint8 "
            "images, rounded to levels, no crop"),
        Convention(
            "dehaze_rgb", (("psnr", False, 0), ("ssim", False, 0, {"pool_to": 256})),
            "DehazeFormer's test (MCIR Table 3): PSNR on the unrounded RGB output clamped to [0, 1]; "
            "SSIM on RGB after adaptive average pooling by max(1, round(min(H, W) / 256)) (Zhou Wang's "
            "downsampling, pytorch-msssim's ssim); no crop", round_output=False),
        Convention(
            "criacl_realsr", (("psnr", False, 4), ("ssim", False, 4), ("lpips", None, 0), ("niqe", None, 0)),
            "Cria-CL real-scene SR, as the authors' public metric scripts score it (the paper does not "
            "state it): PSNR/SSIM on RGB with a fixed 4-pixel border (also at x1, CameraSR), LPIPS "
            "(AlexNet v0.1) on the full RGB image, NIQE (LIVE release, MATLAB rgb2gray), no crop for "
            "LPIPS/NIQE; the Y-channel alternative is convention criacl_realsr_y"),
        Convention(
            "criacl_realsr_y", (("psnr", True, "scale"), ("ssim", True, "scale"), ("lpips", None, 0),
                                ("niqe", None, 0)),
            "Cria-CL real-scene SR on Y (an option): PSNR/SSIM on Y with crop border = scale (the BasicSR "
            "convention of its baselines), LPIPS (AlexNet v0.1) on RGB, NIQE, no crop for LPIPS/NIQE"),
        Convention(
            "uniremoval", (("psnr", False, 0), ("ssim", False, 0), ("brisque_matlab", None, 0), ("piqe", None, 0)),
            "Uni-Removal (ours, the paper states no PSNR/SSIM convention): PSNR/SSIM on RGB, no crop, as "
            "TKL&MR's torchPSNR, on the synthetic test sets; MATLAB brisque() and piqe() on rgb2gray, no crop, "
            "on the real ones (and on every set)"),
        Convention(
            "uniremoval_real", (("brisque_matlab", None, 0), ("piqe", None, 0)),
            "Uni-Removal real-world tables: MATLAB brisque() and piqe() ('the official MATLAB functions "
            "provided for these two evaluators'), on MATLAB rgb2gray, no crop"),
    )
}


def convention_specs(name: str, scale: int | None = None) -> list[MetricSpec]:
    """The specs of convention ``name``; conventions that crop ``scale`` pixels need ``scale``."""
    if name not in CONVENTIONS:
        raise UnknownNameError("metric convention", name, CONVENTIONS)
    conv = CONVENTIONS[name]
    if conv.needs_scale and (scale is None or int(scale) < 1):
        raise ConfigError(f"metric convention {name!r} crops 'scale' border pixels: give the SR scale "
                          f"(`cir metrics --scale N`); got {scale!r}")
    return [MetricSpec(m[0], m[1], int(scale) if m[2] == "scale" else int(m[2]), **(m[3] if len(m) > 3 else {}))
            for m in conv.metrics]


def rounds_output(convention: str | None) -> bool:
    """Whether ``convention`` scores outputs rounded to uint8 levels (default: yes)."""
    if convention is None:
        return True
    if convention not in CONVENTIONS:
        raise UnknownNameError("metric convention", convention, CONVENTIONS)
    return CONVENTIONS[convention].round_output


def sr_metric_specs(scale: int) -> list[MetricSpec]:
    """PSNR-Y and SSIM-Y with ``crop_border = scale``: the convention of DCKD's SR tables."""
    return convention_specs("dckd_sr", scale)


def _pyiqa():
    ensure_torch_home()
    import pyiqa

    return pyiqa


def pyiqa_version() -> str:
    return str(_pyiqa().__version__)


def metric_convention(scale: int) -> str:
    """One-line description of :func:`sr_metric_specs` for result summaries."""
    return (f"PSNR/SSIM on Y (BT.601 studio range), crop border = {int(scale)}, "
            f"pyiqa {pyiqa_version()}")


def describe_specs(specs: Sequence[MetricSpec]) -> str:
    """One-line description of any metric list for result summaries."""
    return "; ".join(s.describe() for s in specs) + f"; pyiqa {pyiqa_version()}"


def unavailable_value(reason: str) -> str:
    """What a table cell or summary holds for a metric that could not be computed."""
    return f"unavailable: {reason}"


# --- shared helpers ------------------------------------------------------------------------

def _crop(x: torch.Tensor, border: int) -> torch.Tensor:
    if border == 0:
        return x
    h, w = x.shape[-2:]
    if h <= 2 * border or w <= 2 * border:
        raise CirError(f"image of size {h}x{w} is too small for crop_border={border}")
    return x[..., border:-border, border:-border]


def _check_pair(sr: torch.Tensor, hr: torch.Tensor | None, name: str = "metrics") -> None:
    if hr is None:
        raise CirError(f"{name} is a full-reference metric: it needs a reference image")
    if sr.ndim != 4 or sr.shape != hr.shape or sr.shape[1] != 3:
        raise CirError(f"{name} needs two N x 3 x H x W batches of equal shape; got "
                       f"{tuple(sr.shape)} and {tuple(hr.shape)}")


def _check_single(x: torch.Tensor, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != 3:
        raise CirError(f"{name} needs an N x 3 x H x W batch; got {tuple(x.shape)}")


def _check_size(x: torch.Tensor, name: str, crop: int) -> None:
    need = METRICS[name].min_side
    h, w = x.shape[-2:]
    if min(h, w) < need:
        raise CirError(f"{name} needs at least {need}x{need} pixels after cropping {crop}; got {h}x{w}")


def band_rows(maps: int, width: int, values: int | None = None) -> int:
    """Rows per horizontal band of PSNR/SSIM: ``maps`` maps (images x input channels) of ``width``
    pixels hold about ``values`` (default :data:`BAND_VALUES`) numbers per band; at least 1."""
    return max(1, (BAND_VALUES if values is None else values) // max(1, maps * width))


def _check_band_rows(value: int | None) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"band_rows: expected a positive integer or None, got {value!r}")
    return value


def _out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, MemoryError) or "out of memory" in text or "can't allocate memory" in text \
        or "not enough memory" in text


def matlab_rgb2gray(x: torch.Tensor) -> torch.Tensor:
    """MATLAB ``rgb2gray`` of uint8-level RGB in ``[0, 1]``: N x 1 x H x W gray levels / 255, float64."""
    w = torch.tensor(_MATLAB_GRAY, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    levels = (x.to(torch.float64) * 255.0 * w).sum(dim=1, keepdim=True)
    return torch.floor(levels + 0.5).clamp(0.0, 255.0) / 255.0  # half away from zero (levels >= 0)


class Metric(nn.Module):
    """Base class: ``metric(x, ref=None) -> (N,)`` float64 scores."""

    name: str = ""
    weights: str = ""  # the weight file(s) used, for summaries

    def __init__(self, spec: MetricSpec):
        super().__init__()
        self.spec = spec

    @property
    def full_reference(self) -> bool:
        return self.spec.full_reference

    def __call__(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:
        """``forward``; running out of memory, or an error inside torch/pyiqa, becomes
        :class:`MetricFailedError` with the image size (callers add the file)."""
        try:
            return super().__call__(x, ref)
        except (MemoryError, RuntimeError) as exc:
            size = "x".join(str(int(s)) for s in x.shape[-2:]) if isinstance(x, torch.Tensor) else "?"
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            what = "ran out of memory" if _out_of_memory(exc) else "failed"
            raise MetricFailedError(f"{self.name} {what} on an image of {size} pixels (height x width) "
                                    f"({type(exc).__name__}: {detail})") from exc


def _gaussian_1d(device: torch.device) -> torch.Tensor:
    """The normalised 1-D Gaussian whose outer product is the 11x11 SSIM window."""
    half = (_SSIM_WINDOW - 1) / 2
    t = torch.arange(_SSIM_WINDOW, dtype=torch.float64, device=device) - half
    g = torch.exp(-(t * t) / (2 * _SSIM_SIGMA**2))
    return g / g.sum()


def _ssim_map(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The SSIM map of two N x C x H x W level tensors (float64) at every "valid" window position:
    N x C x (H - 10) x (W - 10)."""
    c = x.shape[1]
    # the five local means in one separable "valid" filtering (window fully inside the image);
    # the 11x11 Gaussian is the outer product of the 1-D one, so this equals the 2-D filter
    g = _gaussian_1d(x.device)
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    k = stack.shape[1]
    stack = F.conv2d(stack, g.view(1, 1, -1, 1).expand(k, 1, -1, 1), groups=k)
    stack = F.conv2d(stack, g.view(1, 1, 1, -1).expand(k, 1, 1, -1), groups=k)
    mu_x, mu_y, e_xx, e_yy, e_xy = stack.split(c, dim=1)

    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))


def _luma_levels(x: torch.Tensor, rounded: bool) -> torch.Tensor:
    """BT.601 studio-range Y on [0, 255] (float64) of an RGB batch in [0, 1]; ``rounded``: to
    integer levels, half away from zero, as MATLAB's rgb2ycbcr returns it for uint8 images."""
    from pyiqa.utils.color_util import to_y_channel

    y = to_y_channel(x.to(torch.float64), 1.0, "ycbcr") * 255.0
    return torch.floor(y + 0.5) if rounded else y


def _zhou_wang_pool(x: torch.Tensor, pool_to: int) -> torch.Tensor:
    """Average pooling by ``max(1, round(min(H, W) / pool_to))`` to ``(int(H / f), int(W / f))``
    (torch's adaptive pooling), as DehazeFormer's test does before SSIM; float64."""
    h, w = x.shape[-2:]
    factor = max(1, round(min(h, w) / pool_to))
    x = x.to(torch.float64)
    return x if factor == 1 else F.adaptive_avg_pool2d(x, (int(h / factor), int(w / factor)))


class SSIM(Metric):
    """SSIM of images in ``[0, 1]`` (N x 3 x H x W); returns one score per image, float64.

    The map is computed in horizontal bands of ``band_rows`` output rows (default: from
    :func:`band_rows`), each read with the ``window - 1`` input rows below it, and averaged at the
    end; the result equals the whole-image computation.
    """

    name = "ssim"

    def __init__(self, y_channel: bool, crop_border: int, band_rows: int | None = None, *,
                 y_rounded: bool = False, pool_to: int = 0):
        super().__init__(MetricSpec("ssim", y_channel, crop_border, y_rounded=y_rounded, pool_to=pool_to))
        self.y_channel = y_channel
        self.y_rounded = y_rounded
        self.pool_to = pool_to
        self.crop_border = crop_border
        self.band_rows = _check_band_rows(band_rows)

    def _levels(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        if self.y_channel:
            return _luma_levels(x, self.y_rounded)
        return x * 255.0

    def forward(self, sr: torch.Tensor, hr: torch.Tensor | None = None) -> torch.Tensor:
        _check_pair(sr, hr, "ssim")
        sr, hr = _crop(sr, self.crop_border), _crop(hr, self.crop_border)  # views, no copies
        if self.pool_to:
            sr, hr = _zhou_wang_pool(sr, self.pool_to), _zhou_wang_pool(hr, self.pool_to)
        n, _, h, w = sr.shape
        if min(h, w) < _SSIM_WINDOW:
            raise CirError(f"SSIM needs at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels after cropping "
                           f"{self.crop_border}; got {(h, w)}")
        channels = 1 if self.y_channel else 3
        out_h, out_w = h - _SSIM_WINDOW + 1, w - _SSIM_WINDOW + 1
        rows = self.band_rows or band_rows(n * 3, w)
        total = torch.zeros(n, dtype=torch.float64, device=sr.device)
        for top in range(0, out_h, rows):
            reach = min(top + rows, out_h) + _SSIM_WINDOW - 1  # the input rows this band's windows cover
            x = self._levels(sr[..., top:reach, :])
            y = self._levels(hr[..., top:reach, :])
            total += _ssim_map(x, y).sum(dim=(1, 2, 3))
        return total / (channels * out_h * out_w)


class PSNR(Metric):
    """pyiqa's PSNR on ``[0, 1]`` images (N x 3 x H x W), run in float64; one score per image.

    An image taller than one band (``band_rows``, default from :func:`band_rows`) is scored band
    by band with pyiqa's colour conversion and formula: squared errors are summed per band and
    the PSNR is taken of their mean, which equals pyiqa's whole-image value.
    """

    name = "psnr"

    def __init__(self, y_channel: bool, crop_border: int, device: torch.device, band_rows: int | None = None,
                 *, y_rounded: bool = False):
        super().__init__(MetricSpec("psnr", y_channel, crop_border, y_rounded=y_rounded))
        self.y_channel = y_channel
        self.y_rounded = y_rounded
        self.crop_border = crop_border
        self.band_rows = _check_band_rows(band_rows)
        # eps=0: an exact match scores inf, as in BasicSR, instead of a capped value.
        self.net = _pyiqa().create_metric(
            "psnr", test_y_channel=y_channel, color_space="ycbcr", crop_border=0, eps=0.0,
            device=device)

    def _levels(self, x: torch.Tensor) -> torch.Tensor:
        """What pyiqa's psnr compares (data range 1): Y of BT.601 studio range, or RGB."""
        x = x.to(torch.float64)
        if self.y_channel:
            return _luma_levels(x, self.y_rounded) / 255.0
        return x

    def forward(self, sr: torch.Tensor, hr: torch.Tensor | None = None) -> torch.Tensor:
        _check_pair(sr, hr, "psnr")
        sr, hr = _crop(sr, self.crop_border), _crop(hr, self.crop_border)  # views, no copies
        n, _, h, w = sr.shape
        channels = 1 if self.y_channel else 3
        rows = self.band_rows or band_rows(n * 3, w)
        if rows >= h and not self.y_rounded:  # pyiqa's Y is the real-valued one
            return self.net(sr.to(torch.float64), hr.to(torch.float64)).reshape(-1).to(torch.float64)
        squared = torch.zeros(n, dtype=torch.float64, device=sr.device)
        for top in range(0, h, rows):
            diff = self._levels(sr[..., top:top + rows, :]) - self._levels(hr[..., top:top + rows, :])
            squared += (diff * diff).sum(dim=(1, 2, 3))
        mse = squared / (channels * h * w)
        return 10 * torch.log10(1.0 / mse)  # pyiqa: 10 log10(data_range^2 / (mse + eps)), eps = 0


class LPIPS(Metric):
    """pyiqa's LPIPS (AlexNet, v0.1) on RGB in ``[0, 1]``, float32 network; float64 scores."""

    name = "lpips"

    def __init__(self, spec: MetricSpec, device: torch.device):
        super().__init__(spec)
        heads, backbone = assets.lpips_files()
        self.weights = f"{heads.name} + {backbone.name}"
        _pyiqa()
        from pyiqa.archs.lpips_arch import LPIPS as _Lpips

        # pyiqa prints a "Loading pretrained model" line; keep stdout for results (cir metrics JSON)
        with assets.no_downloads("lpips"), contextlib.redirect_stdout(sys.stderr):
            self.net = _Lpips(net="alex", version="0.1", pretrained=True,
                              pretrained_model_path=str(heads)).to(device).eval()

    def forward(self, sr: torch.Tensor, hr: torch.Tensor | None = None) -> torch.Tensor:
        _check_pair(sr, hr, "lpips")
        x = _crop(sr, self.spec.crop_border)
        y = _crop(hr, self.spec.crop_border)
        _check_size(x, "lpips", self.spec.crop_border)
        with torch.inference_mode():
            score = self.net(x.to(torch.float32), y.to(torch.float32), normalize=True)
        return score.reshape(-1).to(torch.float64)


class _NoReference(Metric):
    """A no-reference metric on MATLAB's rgb2gray of the (cropped) image."""

    def gray(self, x: torch.Tensor) -> torch.Tensor:
        _check_single(x, self.name)
        x = _crop(x, self.spec.crop_border)
        _check_size(x, self.name, self.spec.crop_border)
        return matlab_rgb2gray(x)

    def forward(self, x: torch.Tensor, ref: torch.Tensor | None = None) -> torch.Tensor:  # ref unused
        with torch.inference_mode():
            score = self.score(self.gray(x))
        return score.reshape(-1).to(torch.float64)

    def score(self, gray: torch.Tensor) -> torch.Tensor:
        """The metric on an N x 1 x H x W gray batch; each subclass (NIQE, BRISQUE, PIQE) defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define score()")


class NIQE(_NoReference):
    name = "niqe"

    def __init__(self, spec: MetricSpec, device: torch.device):
        super().__init__(spec)
        params = assets.load_niqe_params()
        self.weights = params.source
        self.register_buffer("mu", torch.from_numpy(params.mu).to(device))
        self.register_buffer("cov", torch.from_numpy(params.cov).to(device))

    def score(self, gray: torch.Tensor) -> torch.Tensor:
        _pyiqa()
        from pyiqa.archs.niqe_arch import calculate_niqe

        # a single channel in [0, 1]: pyiqa scales it to levels and rounds (exact integers here)
        return calculate_niqe(gray, 0, True, "yiq", self.mu, self.cov)


class BRISQUE(_NoReference):
    name = "brisque"

    def __init__(self, spec: MetricSpec, device: torch.device):
        super().__init__(spec)
        self.name = spec.name
        sv_coef, sv, self.weights = assets.load_brisque_svr(spec.name)
        if spec.name == "brisque":  # LIVE release (pyiqa version='original')
            self.version, self.gamma, self.rho, self.scale = "original", 0.05, -153.591, 1.0
        else:  # MATLAB brisque() (pyiqa version='matlab')
            self.version, self.gamma, self.rho, self.scale = "matlab", 1.0, -43.4582, 0.3210
        self.register_buffer("sv_coef", torch.from_numpy(sv_coef).to(device))
        self.register_buffer("sv", torch.from_numpy(sv / self.scale).to(device))

    def score(self, gray: torch.Tensor) -> torch.Tensor:
        _pyiqa()
        from pyiqa.archs.brisque_arch import brisque

        return brisque(gray, test_y_channel=True, sv_coef=self.sv_coef, sv=self.sv, gamma=self.gamma,
                       rho=self.rho, scale=self.scale, version=self.version)


class PIQE(_NoReference):
    name = "piqe"

    def score(self, gray: torch.Tensor) -> torch.Tensor:
        _pyiqa()
        from pyiqa.archs.piqe_arch import piqe

        return piqe(gray)[0]


def build_metric(spec: MetricSpec, device: str | torch.device = "cpu") -> Metric:
    """A metric module for ``spec``: ``metric(x, ref=None) -> scores`` of shape ``(N,)``.

    ``x`` (and ``ref`` for full-reference metrics) are float N x 3 x H x W batches in ``[0, 1]`` on
    ``device``. Build it once and reuse it for every image. Raises
    :class:`~cir.eval.assets.MetricUnavailableError` if a weight file is missing.
    """
    device = torch.device(device)
    _pyiqa()  # sets TORCH_HOME first; pyiqa supplies the colour conversion of PSNR/SSIM
    with assets.no_downloads(spec.name):
        if spec.name == "psnr":
            metric: Metric = PSNR(spec.y_channel, spec.crop_border, device, y_rounded=spec.y_rounded)
        elif spec.name == "ssim":
            metric = SSIM(spec.y_channel, spec.crop_border, y_rounded=spec.y_rounded, pool_to=spec.pool_to)
        elif spec.name == "lpips":
            metric = LPIPS(spec, device)
        elif spec.name == "niqe":
            metric = NIQE(spec, device)
        elif spec.name in ("brisque", "brisque_matlab"):
            metric = BRISQUE(spec, device)
        else:
            metric = PIQE(spec)
    return metric.to(device).eval()


class UnavailableMetric(nn.Module):
    """Stands in for a metric whose weights are missing; ``reason`` goes into the results."""

    def __init__(self, spec: MetricSpec, error: MetricUnavailableError):
        super().__init__()
        self.spec, self.error = spec, error
        self.reason = error.short

    def forward(self, *args: object) -> torch.Tensor:
        raise self.error


def build_metrics(specs: Sequence[MetricSpec], device: str | torch.device = "cpu", *,
                  allow_unavailable: bool = False) -> dict[str, nn.Module]:
    """``{spec.name: metric}``; names must be distinct. With ``allow_unavailable`` a metric whose
    weights are missing becomes an :class:`UnavailableMetric` instead of raising."""
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"metrics: duplicate metric names in {names}")
    built: dict[str, nn.Module] = {}
    for spec in specs:
        try:
            built[spec.name] = build_metric(spec, device)
        except MetricUnavailableError as exc:
            if not allow_unavailable:
                raise
            built[spec.name] = UnavailableMetric(spec, exc)
    return built


def parse_metric_names(text: str) -> list[str]:
    """``"psnr, ssim"`` -> ``["psnr", "ssim"]``; unknown or repeated names raise with the value."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"metrics: no metric names in {text!r}")
    for n in names:
        if n not in METRICS:
            raise UnknownNameError("metric", n, METRICS)
    if len(set(names)) != len(names):
        raise ConfigError(f"metrics: a metric is named twice in {text!r}")
    return names


def is_unavailable(value: object) -> bool:
    """True for the ``"unavailable: <reason>"`` value a summary or CSV holds instead of a score."""
    return isinstance(value, str) and value.startswith("unavailable: ")


def metric_weights(built: dict[str, nn.Module]) -> dict[str, str]:
    """``{metric: weight file(s) it uses}`` for the built metrics that use weight files."""
    return {name: m.weights for name, m in built.items() if getattr(m, "weights", "")}
