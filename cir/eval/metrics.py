"""How a results table computes its full-reference metrics.

A :class:`MetricSpec` fixes every choice that changes a PSNR/SSIM value: the metric, whether it
is taken on the luma channel, and how many border pixels are dropped. The SR tables of DCKD
(and of the BasicSR code base it builds on: ``calculate_psnr``/``calculate_ssim`` with
``test_y_channel=True, crop_border=scale``) use

* inputs: RGB images on uint8 levels (the saved PNGs), scaled to ``[0, 1]``;
* luma: ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` (BT.601 studio range, ``[16, 235]``),
  kept as a real number, i.e. *not* rounded to integer levels;
* ``crop_border`` pixels removed on every side before scoring;
* PSNR on the ``[0, 255]`` scale: ``10 log10(255^2 / MSE)``;
* SSIM of Wang et al.: 11x11 Gaussian window with sigma 1.5, ``C1 = (0.01 * 255)^2``,
  ``C2 = (0.03 * 255)^2``, only window positions fully inside the image ("valid"), mean of the
  SSIM map (mean over channels when scoring RGB).

PSNR is pyiqa's ``psnr`` metric configured to exactly this (``color_space='ycbcr'``, float64
input, ``eps=0``). pyiqa's stock ``ssim`` differs from it in two ways: it rounds Y to integer
levels (MATLAB ``rgb2ycbcr`` on uint8) and clamps the contrast-structure term at zero, which
together lower SSIM by about 1e-3 on natural images. SSIM is therefore computed here in
float64 with pyiqa's colour conversion and the formula above. pyiqa holds the BT.601 matrix
in float32 (65.481 -> 65.48100281), so Y is off by at most ~1e-5 levels: below 1e-6 dB PSNR
and 1e-8 SSIM.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cir.errors import CirError, ConfigError

METRIC_NAMES = ("psnr", "ssim")

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5


@dataclass(frozen=True)
class MetricSpec:
    """One metric as a results table defines it."""

    name: str  # "psnr" or "ssim"
    y_channel: bool = True  # score the BT.601 luma channel instead of the three RGB channels
    crop_border: int = 0  # pixels dropped on every side before scoring

    def __post_init__(self) -> None:
        if self.name not in METRIC_NAMES:
            raise ConfigError(f"metric.name: {self.name!r} is not one of {list(METRIC_NAMES)}")
        if not isinstance(self.crop_border, int) or self.crop_border < 0:
            raise ConfigError(f"metric.crop_border: expected an integer >= 0, got {self.crop_border!r}")


def sr_metric_specs(scale: int) -> list[MetricSpec]:
    """PSNR-Y and SSIM-Y with ``crop_border = scale``: the convention of DCKD's SR tables."""
    return [MetricSpec("psnr", True, int(scale)), MetricSpec("ssim", True, int(scale))]


def project_cache_dir() -> Path:
    """The project-local cache folder (``<repository>/.cache``)."""
    return Path(__file__).resolve().parents[2] / ".cache"


def ensure_torch_home() -> Path:
    """Point ``TORCH_HOME`` at the project cache unless the environment already sets it.

    pyiqa fixes its download folder from ``TORCH_HOME`` when it is first imported, so this
    must run before ``import pyiqa``.
    """
    if not os.environ.get("TORCH_HOME"):
        os.environ["TORCH_HOME"] = str(project_cache_dir() / "torch")
    return Path(os.environ["TORCH_HOME"])


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


def _crop(x: torch.Tensor, border: int) -> torch.Tensor:
    if border == 0:
        return x
    h, w = x.shape[-2:]
    if h <= 2 * border or w <= 2 * border:
        raise CirError(f"image of size {h}x{w} is too small for crop_border={border}")
    return x[..., border:-border, border:-border]


def _check_pair(sr: torch.Tensor, hr: torch.Tensor) -> None:
    if sr.ndim != 4 or sr.shape != hr.shape or sr.shape[1] != 3:
        raise CirError(f"metrics need two N x 3 x H x W batches of equal shape; got "
                       f"{tuple(sr.shape)} and {tuple(hr.shape)}")


def _gaussian_window(channels: int, device: torch.device) -> torch.Tensor:
    half = (_SSIM_WINDOW - 1) / 2
    t = torch.arange(_SSIM_WINDOW, dtype=torch.float64, device=device) - half
    g = torch.exp(-(t * t) / (2 * _SSIM_SIGMA**2))
    g = g / g.sum()
    return torch.outer(g, g).expand(channels, 1, _SSIM_WINDOW, _SSIM_WINDOW).contiguous()


class SSIM(nn.Module):
    """SSIM of images in ``[0, 1]`` (N x 3 x H x W); returns one score per image, float64."""

    def __init__(self, y_channel: bool, crop_border: int):
        super().__init__()
        self.y_channel = y_channel
        self.crop_border = crop_border

    def _levels(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        if self.y_channel:
            from pyiqa.utils.color_util import to_y_channel

            return to_y_channel(x, 1.0, "ycbcr") * 255.0  # unrounded Y on [0, 255]
        return x * 255.0

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        _check_pair(sr, hr)
        x = self._levels(_crop(sr, self.crop_border))
        y = self._levels(_crop(hr, self.crop_border))
        if min(x.shape[-2:]) < _SSIM_WINDOW:
            raise CirError(f"SSIM needs at least {_SSIM_WINDOW}x{_SSIM_WINDOW} pixels after cropping "
                           f"{self.crop_border}; got {tuple(x.shape[-2:])}")
        c = x.shape[1]
        win = _gaussian_window(c, x.device)

        def blur(t: torch.Tensor) -> torch.Tensor:
            return F.conv2d(t, win, groups=c)  # "valid": window fully inside the image

        c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x * mu_x
        var_y = blur(y * y) - mu_y * mu_y
        cov = blur(x * y) - mu_x * mu_y
        ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
            (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
        return ssim_map.mean(dim=(1, 2, 3))


class PSNR(nn.Module):
    """pyiqa's PSNR on ``[0, 1]`` images (N x 3 x H x W), run in float64; one score per image."""

    def __init__(self, y_channel: bool, crop_border: int, device: torch.device):
        super().__init__()
        self.crop_border = crop_border
        # eps=0: an exact match scores inf, as in BasicSR, instead of a capped value.
        self.net = _pyiqa().create_metric(
            "psnr", test_y_channel=y_channel, color_space="ycbcr", crop_border=0, eps=0.0,
            device=device)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        _check_pair(sr, hr)
        x = _crop(sr, self.crop_border).to(torch.float64)
        y = _crop(hr, self.crop_border).to(torch.float64)
        return self.net(x, y).reshape(-1)


def build_metric(spec: MetricSpec, device: str | torch.device = "cpu") -> nn.Module:
    """A metric module for ``spec``: ``metric(sr, hr) -> scores`` of shape ``(N,)``.

    ``sr`` and ``hr`` are float N x 3 x H x W batches in ``[0, 1]`` on ``device``. Build it once
    and reuse it for every image.
    """
    device = torch.device(device)
    _pyiqa()  # pyiqa supplies the colour conversion of both metrics
    if spec.name == "psnr":
        return PSNR(spec.y_channel, spec.crop_border, device).eval()
    return SSIM(spec.y_channel, spec.crop_border).to(device).eval()


def build_metrics(specs: list[MetricSpec], device: str | torch.device = "cpu") -> dict[str, nn.Module]:
    """``{spec.name: metric}``; names must be distinct."""
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ConfigError(f"metrics: duplicate metric names in {names}")
    return {s.name: build_metric(s, device) for s in specs}
