"""Seeded synthetic degradations: pair folders (degraded ``LR/`` -> clean ``HR/``), at scale 1
except the real-world SR kind (x4).

The offline presets train deblurring, deraining, dehazing, denoising and JPEG-artefact removal
networks on pairs made from clean photographs. :func:`degrade` turns one clean ``uint8`` RGB
image into its degraded version and returns every random parameter it drew;
:func:`make_synthetic_pairs` does that for a folder and writes a pair folder like
:func:`cir.data.prepare.prepare_sr_pairs` (``HR/``, ``LR/``, ``manifest.json``; the same stem
on both sides, the same size at scale 1).

Conventions. Intensities are in ``[0, 1]`` during the computation (float32); noise levels are
given on the 0..255 scale (``sigma 25`` means ``25 / 255``). Angles are in degrees. A blur angle
is measured counterclockwise from the image's horizontal axis (x to the right, y up); a rain
``tilt`` is measured from the vertical, positive when the top of a streak leans to the right.
Every convolution uses a reflected border. The result is clipped to ``[0, 1]`` and rounded half
up to ``uint8``; where a chain ends in JPEG the image is rounded to ``uint8`` before encoding.
JPEG is encoded and decoded with OpenCV (libjpeg), 4:2:0 chroma subsampling unless stated.

Two families of each kind. ``synthetic`` follows the way the papers' synthetic training sets
are made (one clean, spatially uniform degradation). ``real_like`` differs in distribution as
camera images do: non-uniform and chained degradations, signal-dependent noise, coloured and
non-homogeneous scattering, and it always ends in a mild JPEG (quality 70..95) unless the chain
is JPEG itself or sets its own quality (``realsr``: 30..90). A model trained on one family and tested on the other meets a domain gap.

``blur``
    * synthetic: one motion-blur kernel, with probability 0.5 a straight line, else a camera
      trajectory. Line: length 7..21 px (extent of the segment), angle 0..180. Trajectory: a
      12-step random walk whose heading turns by normal steps of s.d. ``turn`` (0.3..1.0 rad)
      and whose step lengths are 0.5..1.5, rescaled so that its bounding box's longer side is
      ``length`` (7..21 px) and centred on its centroid; its vertices are recorded. The kernel
      is the path rasterised with bilinear weights, normalised to sum 1. Then additive Gaussian
      noise of sigma 1.
    * real_like: spatially varying blur: two independent kernels (each line or trajectory as
      above, length 3..25 px) blended by a smooth weight ``w = clip((r - 0.5) * steepness + 0.5,
      0, 1)`` of a linear ramp ``r`` (0..1) along ``ramp_angle`` (0..360) with ``steepness``
      1..4; then Poisson-Gaussian sensor noise (``shot_sigma`` 2..10 at white, ``read_sigma``
      0.5..3, white), then mild JPEG.
``rain``
    * synthetic: streak seeds at a random fraction ``density`` (0.001..0.008) of the pixels with
      seed values uniform in 0.6..1, smeared along a line of ``length`` 10..40 px at ``tilt``
      -20..20 (kernel normalised so that a streak is about 1 px wide with peak 1), clipped to
      ``[0, 1]``, multiplied by ``intensity`` 0.6..1.0 and added to all three channels.
    * real_like: 2 or 3 streak layers sharing a base tilt (-20..20) with a per-layer jitter
      (-5..5); per layer ``density`` 0.0003..0.003, ``length`` 8..50 px, ``width`` (Gaussian
      blur sigma of the streaks, 0.3..1.5 px; the peak is kept) and ``intensity`` 0.3..0.8.
      Rain accumulation (veiling): ``O = t * (J + S) + (1 - t) * A`` with ``t = exp(-beta * d)``,
      ``beta`` 0.2..0.8, gray airlight ``A`` 0.7..0.95 and the depth map ``d`` below; then mild
      JPEG.
``haze``
    * synthetic: atmospheric scattering ``I = J * t + A * (1 - t)``, ``t = exp(-beta * d)``,
      homogeneous ``beta`` 0.6..1.8, gray airlight ``A`` 0.7..1.0. Depth ``d`` (0..1): a linear
      ramp increasing towards ``depth_angle`` (30..150, i.e. farther up the image) mixed with
      weight ``depth_noise`` (0.2..0.6) with low-frequency noise (a ``depth_grid`` x
      ``depth_grid`` grid, 3..6, of uniform values, bicubically enlarged), rescaled to 0..1.
    * real_like: non-homogeneous haze: ``beta(x) = beta * m(x)`` where ``m = exp(gamma * z)``
      normalised to mean 1, ``z`` low-frequency noise (``density_grid`` 4..8) centred on 0 and
      ``gamma`` 0.5..1.5, ``beta`` 0.6..1.8; coloured airlight ``A_c = clip(A + tint_c)`` with
      ``A`` 0.65..0.95 and a per-channel ``tint`` -0.1..0.1; same depth model; then mild JPEG.
``noise``
    * synthetic: additive white Gaussian noise, one ``sigma`` 15..50 for the image, independent
      per pixel and channel.
    * real_like: heteroscedastic Poisson-Gaussian noise: variance ``(shot_sigma^2 * x +
      read_sigma^2)`` at intensity ``x`` with ``shot_sigma`` 15..50 (the s.d. at white) and
      ``read_sigma`` 2..10; the noise field is spatially correlated by a Gaussian of
      ``correlation`` 0.4..1.0 px (renormalised to unit variance), as after demosaicing; then
      mild JPEG.
``jpeg``
    * synthetic: one JPEG compression at ``quality`` 10..60 (4:2:0).
    * real_like: mild sensor noise (``shot_sigma`` 2..8, ``read_sigma`` 0.5..2, ``correlation``
      0.4..1.0) -> a first JPEG at ``quality1`` 50..90 with chroma ``sampling`` 4:2:0, 4:2:2 or
      4:4:4 -> a second JPEG at ``quality`` 10..60 (4:2:0) on an 8x8 grid shifted by
      ``grid_shift`` (0..7, 0..7) pixels (the image is reflect-padded at the top/left, encoded
      and cropped back): misaligned double compression, as in re-shared photographs.

``realsr`` (x4: the degraded image is a quarter of the clean one's size, which is first
mod-cropped to 4; the clean image is the HR side)
    * synthetic: MATLAB bicubic down-scaling by 4 (:mod:`cir.data.bicubic`, as the SR pairs), then
      additive white Gaussian noise of ``noise_sigma`` 1..10.
    * real_like: the chain of real-world SR degradation models: an anisotropic Gaussian blur
      (s.d. ``sigma_major`` and ``sigma_minor`` 0.4..3.0 px along axes at ``kernel_angle``
      0..180, kernel 2 * ceil(3 * max sigma) + 1 wide, normalised) -> MATLAB bicubic down by 4 ->
      Poisson-Gaussian sensor noise (``shot_sigma`` 2..12, ``read_sigma`` 0.5..4, spatial
      ``correlation`` 0..0.8 px) -> JPEG at ``jpeg_quality`` 30..90.
``camera`` (scale 1; CameraSR's wide shot aligned to the zoomed one: detail lost, same size)
    * synthetic: MATLAB bicubic down by ``factor`` 2..4 and up again to the clean size.
    * real_like: a Gaussian lens blur of ``sigma`` 0.3..1.2 px, bicubic down by ``factor`` 2..4
      and up again, sensor noise (``shot_sigma`` 2..8, ``read_sigma`` 0.5..2), mild JPEG.

Integer ranges include both ends. Scalar parameters are rounded (4 decimals) before use, so the
recorded values are the ones applied. Noise fields, rain seeds and the low-frequency grids are
not recorded; they follow from the generator, whose entropy ``[seed, stem_key]`` the pair
folder's manifest records, and :func:`image_rng` recreates it.

Randomness: every random choice comes from the ``numpy.random.Generator`` passed in; the same
generator state gives byte-identical output on the same platform.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from cir.data.bicubic import imresize, mod_crop
from cir.data.images import atomic_dir, list_images, read_image, write_image
from cir.errors import ConfigError, DataError
from cir.utils.io import write_json

KINDS: tuple[str, ...] = ("blur", "rain", "haze", "noise", "jpeg", "realsr", "camera")
FAMILIES: tuple[str, ...] = ("synthetic", "real_like")
# the scale-1 restoration task each degradation makes pairs for
TASK_OF_KIND: dict[str, str] = {
    "blur": "deblur",
    "rain": "derain",
    "haze": "dehaze",
    "noise": "denoise",
    "jpeg": "dejpeg",
    "realsr": "realsr",
    "camera": "camerasr",
}
# output size / degraded size: the real-world SR pairs are x4 (HR mod-cropped to 4); the rest 1
SCALE_OF_KIND: dict[str, int] = {"realsr": 4}

# Parameter ranges (both ends included for integers); noise levels on the 0..255 scale.
MILD_JPEG = (70, 95)
RANGES: dict[str, dict[str, dict[str, Any]]] = {
    "synthetic": {
        "blur": {"length": (7, 21), "angle": (0, 180), "trajectory_prob": 0.5, "turn": (0.3, 1.0),
                 "step": (0.5, 1.5), "trajectory_steps": 12, "noise_sigma": 1.0},
        "rain": {"density": (0.001, 0.008), "length": (10, 40), "tilt": (-20, 20),
                 "intensity": (0.6, 1.0), "seed_value": (0.6, 1.0)},
        "haze": {"beta": (0.6, 1.8), "airlight": (0.7, 1.0), "depth_angle": (30, 150),
                 "depth_noise": (0.2, 0.6), "depth_grid": (3, 6)},
        "noise": {"sigma": (15, 50)},
        "jpeg": {"quality": (10, 60)},
        "realsr": {"noise_sigma": (1, 10)},
        "camera": {"factor": (2, 4)},
    },
    "real_like": {
        "blur": {"length": (3, 25), "angle": (0, 180), "trajectory_prob": 0.5, "turn": (0.3, 1.0),
                 "step": (0.5, 1.5), "trajectory_steps": 12, "ramp_angle": (0, 360),
                 "steepness": (1, 4), "shot_sigma": (2, 10), "read_sigma": (0.5, 3),
                 "jpeg_quality": MILD_JPEG},
        "rain": {"layers": (2, 3), "tilt": (-20, 20), "tilt_jitter": (-5, 5),
                 "density": (0.0003, 0.003), "length": (8, 50), "width": (0.3, 1.5),
                 "intensity": (0.3, 0.8), "seed_value": (0.6, 1.0), "veil_beta": (0.2, 0.8),
                 "airlight": (0.7, 0.95), "depth_angle": (30, 150), "depth_noise": (0.2, 0.6),
                 "depth_grid": (3, 6), "jpeg_quality": MILD_JPEG},
        "haze": {"beta": (0.6, 1.8), "gamma": (0.5, 1.5), "density_grid": (4, 8),
                 "airlight": (0.65, 0.95), "tint": (-0.1, 0.1), "depth_angle": (30, 150),
                 "depth_noise": (0.2, 0.6), "depth_grid": (3, 6), "jpeg_quality": MILD_JPEG},
        "noise": {"shot_sigma": (15, 50), "read_sigma": (2, 10), "correlation": (0.4, 1.0),
                  "jpeg_quality": MILD_JPEG},
        "jpeg": {"shot_sigma": (2, 8), "read_sigma": (0.5, 2), "correlation": (0.4, 1.0),
                 "quality1": (50, 90), "sampling": ("420", "422", "444"), "grid_shift": (0, 7),
                 "quality": (10, 60)},
        "realsr": {"sigma_major": (0.4, 3.0), "sigma_minor": (0.4, 3.0), "kernel_angle": (0, 180),
                   "shot_sigma": (2, 12), "read_sigma": (0.5, 4), "correlation": (0.0, 0.8),
                   "jpeg_quality": (30, 90)},
        "camera": {"factor": (2, 4), "sigma": (0.3, 1.2), "shot_sigma": (2, 8), "read_sigma": (0.5, 2),
                   "jpeg_quality": MILD_JPEG},
    },
}

_SAMPLING = {
    "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
}
_BORDER = cv2.BORDER_REFLECT
_DIGITS = 4
_SAMPLES_PER_PX = 4  # path samples per pixel of length when a kernel is rasterised


# ----------------------------------------------------------------------------- random draws


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return round(float(rng.uniform(bounds[0], bounds[1])), _DIGITS)


def _integer(rng: np.random.Generator, bounds: tuple[int, int]) -> int:
    return int(rng.integers(bounds[0], bounds[1] + 1))


def _to_float(img: np.ndarray) -> np.ndarray:
    return img.astype(np.float32) * np.float32(1.0 / 255.0)


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


# ----------------------------------------------------------------------------- kernels


def _rasterise(points: np.ndarray) -> np.ndarray:
    """Bilinear rasterisation of path samples ``(x, y)`` (y up, centred on 0) into an odd square
    kernel (not normalised)."""
    half = math.ceil(float(np.abs(points).max())) + 1 if len(points) else 1
    size = 2 * half + 1
    cols = points[:, 0] + half
    rows = half - points[:, 1]
    c0, r0 = np.floor(cols).astype(np.int64), np.floor(rows).astype(np.int64)
    fc, fr = cols - c0, rows - r0
    kernel = np.zeros((size, size), dtype=np.float64)
    for dr, dc, w in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                      (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        np.add.at(kernel, (r0 + dr, c0 + dc), w)
    return kernel


def _polyline_samples(vertices: np.ndarray) -> np.ndarray:
    """Points every ``1 / _SAMPLES_PER_PX`` px along a polyline (its vertices included)."""
    seg = np.diff(vertices, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1])
    out = [vertices[:1]]
    for start, d, n in zip(vertices[:-1], seg, np.ceil(lengths * _SAMPLES_PER_PX).astype(int)):
        if n > 0:
            t = np.arange(1, n + 1, dtype=np.float64)[:, None] / n
            out.append(start + t * d)
    return np.concatenate(out)


def line_kernel(length: float, angle: float) -> np.ndarray:
    """A straight motion-blur kernel: a segment of ``length`` px (its extent) at ``angle``
    degrees (counterclockwise from horizontal), rasterised bilinearly, normalised to sum 1."""
    a = math.radians(angle)
    half = max(float(length) - 1.0, 0.0) / 2.0
    ends = np.array([[-half * math.cos(a), -half * math.sin(a)], [half * math.cos(a), half * math.sin(a)]])
    kernel = _rasterise(_polyline_samples(ends))
    return kernel / kernel.sum()


def _trajectory(rng: np.random.Generator, length: float, r: dict[str, Any]) -> tuple[np.ndarray, dict]:
    steps = int(r["trajectory_steps"])
    turn = _uniform(rng, r["turn"])
    heading = rng.uniform(0.0, 2.0 * math.pi) + np.cumsum(rng.normal(0.0, turn, steps))
    step = rng.uniform(r["step"][0], r["step"][1], steps)
    moves = step[:, None] * np.stack([np.cos(heading), np.sin(heading)], 1)
    xy = np.concatenate([[[0.0, 0.0]], np.cumsum(moves, 0)])
    extent = float((xy.max(0) - xy.min(0)).max())
    xy = xy * ((length - 1.0) / extent if extent > 0 else 0.0)
    xy = xy - _polyline_samples(xy).mean(0)  # centroid of the path at the kernel centre: no shift
    xy = np.round(xy, 3)
    return xy, {"turn": turn, "vertices": xy.tolist()}


def trajectory_kernel(vertices: np.ndarray | list) -> np.ndarray:
    """The motion-blur kernel of a camera path given by its vertices ``(x, y)`` (y up)."""
    kernel = _rasterise(_polyline_samples(np.asarray(vertices, dtype=np.float64)))
    return kernel / kernel.sum()


def _draw_kernel(rng: np.random.Generator, r: dict[str, Any]) -> tuple[np.ndarray, dict]:
    length = _uniform(rng, r["length"])
    if rng.random() < r["trajectory_prob"]:
        vertices, extra = _trajectory(rng, length, r)
        return trajectory_kernel(vertices), {"type": "trajectory", "length": length, **extra}
    angle = _uniform(rng, r["angle"])
    return line_kernel(length, angle), {"type": "line", "length": length, "angle": angle}


def _convolve(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """True convolution (not correlation) with a reflected border."""
    k = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32)
    return cv2.filter2D(x, -1, k, borderType=_BORDER)


# ----------------------------------------------------------------------------- shared pieces


def _sensor_noise(rng: np.random.Generator, x: np.ndarray, shot: float, read: float,
                  correlation: float = 0.0) -> np.ndarray:
    """Poisson-Gaussian noise (Gaussian approximation): ``x + sqrt(s^2 x + r^2) * n``, with
    ``s``, ``r`` on the 0..255 scale and ``n`` unit-variance noise, optionally spatially
    correlated by a Gaussian of s.d. ``correlation`` px."""
    n = rng.standard_normal(x.shape).astype(np.float32)
    if correlation > 0:
        radius = max(1, math.ceil(3 * correlation))
        g = cv2.getGaussianKernel(2 * radius + 1, correlation, cv2.CV_64F)
        n = cv2.sepFilter2D(n, -1, g.astype(np.float32), g.astype(np.float32), borderType=_BORDER)
        n /= np.float32(float((g ** 2).sum()))  # 2-D variance factor is (sum g^2)^2
    var = (shot / 255.0) ** 2 * np.clip(x, 0.0, 1.0) + (read / 255.0) ** 2
    return x + np.sqrt(var).astype(np.float32) * n


def jpeg_roundtrip(img: np.ndarray, quality: int, sampling: str = "420") -> np.ndarray:
    """Encode a ``uint8`` RGB image as JPEG (OpenCV, ``quality`` 0..100, chroma ``sampling``
    420/422/444) and decode it again."""
    bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality),
                                          cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _SAMPLING[sampling]])
    if not ok:
        raise DataError(f"JPEG encoding failed for an image of shape {img.shape}")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _mild_jpeg(rng: np.random.Generator, x: np.ndarray, params: dict) -> np.ndarray:
    q = _integer(rng, MILD_JPEG)
    params["jpeg_quality"] = q
    return jpeg_roundtrip(_to_uint8(x), q)


def _low_frequency(rng: np.random.Generator, h: int, w: int, grid: int) -> np.ndarray:
    """A smooth field in ``[0, 1]``: a ``grid`` x ``grid`` grid of uniform values, bicubically
    enlarged to ``h`` x ``w`` and rescaled to its full range."""
    coarse = rng.random((grid, grid)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).reshape(h, w)
    lo, hi = float(field.min()), float(field.max())
    return (field - lo) / (hi - lo) if hi > lo else np.zeros_like(field)


def _ramp(h: int, w: int, angle: float) -> np.ndarray:
    """A linear ramp in ``[0, 1]`` increasing towards ``angle`` (degrees, counterclockwise from
    +x, y up)."""
    a = math.radians(angle)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    proj = xs * np.float32(math.cos(a)) - ys * np.float32(math.sin(a))
    lo, hi = float(proj.min()), float(proj.max())
    return (proj - lo) / (hi - lo) if hi > lo else np.zeros_like(proj)


def _depth(rng: np.random.Generator, h: int, w: int, r: dict[str, Any], params: dict) -> np.ndarray:
    angle = _uniform(rng, r["depth_angle"])
    weight = _uniform(rng, r["depth_noise"])
    grid = _integer(rng, r["depth_grid"])
    params.update(depth_angle=angle, depth_noise=weight, depth_grid=grid)
    d = (1.0 - weight) * _ramp(h, w, angle) + weight * _low_frequency(rng, h, w, grid)
    lo, hi = float(d.min()), float(d.max())
    return ((d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)).astype(np.float32)


def _streaks(rng: np.random.Generator, h: int, w: int, density: float, length: float, tilt: float,
             seed_value: tuple[float, float]) -> np.ndarray:
    """A rain-streak layer in ``[0, 1]``: sparse seeds smeared along a line at ``tilt``."""
    seeds = np.zeros((h, w), dtype=np.float32)
    mask = rng.random((h, w)) < density
    seeds[mask] = rng.uniform(seed_value[0], seed_value[1], int(mask.sum()))
    kernel = line_kernel(length, 90.0 - tilt) * max(length, 1.0)  # ~1 px wide, peak ~1
    return np.clip(_convolve(seeds, kernel), 0.0, 1.0)


# ----------------------------------------------------------------------------- degradations


def _blur(rng, x, family, r):
    params: dict[str, Any] = {}
    if family == "synthetic":
        kernel, params["kernel"] = _draw_kernel(rng, r)
        out = _convolve(x, kernel)
        params["noise_sigma"] = r["noise_sigma"]
        noise = rng.standard_normal(out.shape).astype(np.float32) * np.float32(r["noise_sigma"] / 255.0)
        return out + noise, params
    k1, p1 = _draw_kernel(rng, r)
    k2, p2 = _draw_kernel(rng, r)
    ramp_angle, steepness = _uniform(rng, r["ramp_angle"]), _uniform(rng, r["steepness"])
    params.update(kernels=[p1, p2], ramp_angle=ramp_angle, steepness=steepness)
    weight = np.clip((_ramp(*x.shape[:2], ramp_angle) - 0.5) * steepness + 0.5, 0.0, 1.0)[..., None]
    out = weight * _convolve(x, k1) + (1.0 - weight) * _convolve(x, k2)
    shot, read = _uniform(rng, r["shot_sigma"]), _uniform(rng, r["read_sigma"])
    params.update(shot_sigma=shot, read_sigma=read)
    out = _sensor_noise(rng, out, shot, read)
    return _mild_jpeg(rng, out, params), params


def _rain(rng, x, family, r):
    h, w = x.shape[:2]
    params: dict[str, Any] = {}
    if family == "synthetic":
        density, length = _uniform(rng, r["density"]), _uniform(rng, r["length"])
        tilt, intensity = _uniform(rng, r["tilt"]), _uniform(rng, r["intensity"])
        params.update(density=density, length=length, tilt=tilt, intensity=intensity)
        layer = _streaks(rng, h, w, density, length, tilt, r["seed_value"])
        return x + intensity * layer[..., None], params
    base_tilt = _uniform(rng, r["tilt"])
    layers, total = [], np.zeros((h, w), dtype=np.float32)
    for _ in range(_integer(rng, r["layers"])):
        p = {"tilt": round(base_tilt + _uniform(rng, r["tilt_jitter"]), _DIGITS),
             "density": _uniform(rng, r["density"]), "length": _uniform(rng, r["length"]),
             "width": _uniform(rng, r["width"]), "intensity": _uniform(rng, r["intensity"])}
        layer = _streaks(rng, h, w, p["density"], p["length"], p["tilt"], r["seed_value"])
        # widen the streaks; the factor keeps the peak of a 1 px line about unchanged
        gain = max(1.0, p["width"] * math.sqrt(2.0 * math.pi))
        layer = cv2.GaussianBlur(layer, (0, 0), p["width"], borderType=_BORDER) * np.float32(gain)
        total += np.float32(p["intensity"]) * np.clip(layer, 0.0, 1.0)
        layers.append(p)
    params.update(tilt=base_tilt, layers=layers)
    beta, airlight = _uniform(rng, r["veil_beta"]), _uniform(rng, r["airlight"])
    params.update(veil_beta=beta, airlight=airlight)
    t = np.exp(-beta * _depth(rng, h, w, r, params))[..., None]
    out = t * (x + total[..., None]) + (1.0 - t) * np.float32(airlight)
    return _mild_jpeg(rng, out, params), params


def _haze(rng, x, family, r):
    h, w = x.shape[:2]
    params: dict[str, Any] = {}
    beta = _uniform(rng, r["beta"])
    params["beta"] = beta
    if family == "synthetic":
        airlight = _uniform(rng, r["airlight"])
        params["airlight"] = airlight
        t = np.exp(-beta * _depth(rng, h, w, r, params))[..., None]
        return x * t + np.float32(airlight) * (1.0 - t), params
    gamma, grid = _uniform(rng, r["gamma"]), _integer(rng, r["density_grid"])
    base = _uniform(rng, r["airlight"])
    tint = [_uniform(rng, r["tint"]) for _ in range(3)]
    airlight = [round(min(1.0, max(0.0, base + c)), _DIGITS) for c in tint]
    params.update(gamma=gamma, density_grid=grid, airlight_base=base, tint=tint, airlight=airlight)
    z = _low_frequency(rng, h, w, grid)
    m = np.exp(gamma * (z - z.mean()))
    m = m / m.mean()
    t = np.exp(-beta * m * _depth(rng, h, w, r, params))[..., None]
    out = x * t + np.asarray(airlight, dtype=np.float32) * (1.0 - t)
    return _mild_jpeg(rng, out, params), params


def _noise(rng, x, family, r):
    params: dict[str, Any] = {}
    if family == "synthetic":
        sigma = _uniform(rng, r["sigma"])
        params["sigma"] = sigma
        return x + rng.standard_normal(x.shape).astype(np.float32) * np.float32(sigma / 255.0), params
    shot, read = _uniform(rng, r["shot_sigma"]), _uniform(rng, r["read_sigma"])
    corr = _uniform(rng, r["correlation"])
    params.update(shot_sigma=shot, read_sigma=read, correlation=corr)
    out = _sensor_noise(rng, x, shot, read, corr)
    return _mild_jpeg(rng, out, params), params


def _jpeg(rng, x, family, r):
    params: dict[str, Any] = {}
    if family == "synthetic":
        q = _integer(rng, r["quality"])
        params["quality"] = q
        return jpeg_roundtrip(_to_uint8(x), q), params
    shot, read = _uniform(rng, r["shot_sigma"]), _uniform(rng, r["read_sigma"])
    corr = _uniform(rng, r["correlation"])
    q1 = _integer(rng, r["quality1"])
    sampling = str(r["sampling"][int(rng.integers(len(r["sampling"])))])
    dy, dx = _integer(rng, r["grid_shift"]), _integer(rng, r["grid_shift"])
    q = _integer(rng, r["quality"])
    params.update(shot_sigma=shot, read_sigma=read, correlation=corr, quality1=q1, sampling=sampling,
                  grid_shift=[dy, dx], quality=q)
    first = jpeg_roundtrip(_to_uint8(_sensor_noise(rng, x, shot, read, corr)), q1, sampling)
    h, w = first.shape[:2]
    padded = cv2.copyMakeBorder(first, dy, 0, dx, 0, _BORDER) if (dy or dx) else first
    return jpeg_roundtrip(np.ascontiguousarray(padded), q)[dy:dy + h, dx:dx + w], params


def _gaussian_kernel(sigma_major: float, sigma_minor: float, angle: float) -> np.ndarray:
    """A normalised anisotropic Gaussian kernel, s.d. ``sigma_major`` along ``angle`` (degrees,
    counterclockwise from the x axis, y up) and ``sigma_minor`` across it."""
    radius = max(1, math.ceil(3 * max(sigma_major, sigma_minor)))
    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float64)
    yy = -yy  # rows grow downwards; the angle is measured with y up
    t = math.radians(angle)
    u = xx * math.cos(t) + yy * math.sin(t)
    v = -xx * math.sin(t) + yy * math.cos(t)
    k = np.exp(-0.5 * ((u / sigma_major) ** 2 + (v / sigma_minor) ** 2))
    return (k / k.sum()).astype(np.float32)


def _down_up(x: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic down by ``factor`` (MATLAB imresize, antialiased) and back up to the same size."""
    h, w = x.shape[:2]
    small = imresize(x.astype(np.float64), output_shape=(max(1, round(h / factor)), max(1, round(w / factor))))
    return imresize(small, output_shape=(h, w)).astype(np.float32)


def _realsr(rng, x, family, r):
    params: dict[str, Any] = {}
    s = SCALE_OF_KIND["realsr"]
    if family == "synthetic":
        sigma = _uniform(rng, r["noise_sigma"])
        params["noise_sigma"] = sigma
        lr = imresize(x.astype(np.float64), scale=1.0 / s).astype(np.float32)
        return lr + rng.standard_normal(lr.shape).astype(np.float32) * np.float32(sigma / 255.0), params
    major, minor = _uniform(rng, r["sigma_major"]), _uniform(rng, r["sigma_minor"])
    angle = _uniform(rng, r["kernel_angle"])
    shot, read = _uniform(rng, r["shot_sigma"]), _uniform(rng, r["read_sigma"])
    corr = _uniform(rng, r["correlation"])
    q = _integer(rng, r["jpeg_quality"])
    params.update(sigma_major=major, sigma_minor=minor, kernel_angle=angle, shot_sigma=shot, read_sigma=read,
                  correlation=corr, jpeg_quality=q)
    blurred = _convolve(x, _gaussian_kernel(major, minor, angle))
    lr = imresize(blurred.astype(np.float64), scale=1.0 / s).astype(np.float32)
    return jpeg_roundtrip(_to_uint8(_sensor_noise(rng, lr, shot, read, corr)), q), params


def _camera(rng, x, family, r):
    params: dict[str, Any] = {}
    factor = _integer(rng, r["factor"])
    params["factor"] = factor
    if family == "synthetic":
        return _down_up(x, factor), params
    sigma = _uniform(rng, r["sigma"])
    shot, read = _uniform(rng, r["shot_sigma"]), _uniform(rng, r["read_sigma"])
    params.update(sigma=sigma, shot_sigma=shot, read_sigma=read)
    out = _down_up(_convolve(x, _gaussian_kernel(sigma, sigma, 0.0)), factor)
    return _mild_jpeg(rng, _sensor_noise(rng, out, shot, read), params), params


_APPLY = {"blur": _blur, "rain": _rain, "haze": _haze, "noise": _noise, "jpeg": _jpeg, "realsr": _realsr,
          "camera": _camera}


# ----------------------------------------------------------------------------- public API


def check_kind(kind: str, family: str = "synthetic") -> None:
    """Raise :class:`~cir.errors.ConfigError` naming the value and the allowed ones."""
    if kind not in KINDS:
        raise ConfigError(f"degradation kind {kind!r} is not allowed; allowed values: {', '.join(KINDS)}")
    if family not in FAMILIES:
        raise ConfigError(f"degradation family {family!r} is not allowed; "
                          f"allowed values: {', '.join(FAMILIES)}")


def degrade(img: np.ndarray, kind: str, family: str = "synthetic", *,
            rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Degrade a clean ``uint8`` ``H x W x 3`` image; returns ``(degraded uint8 image of the same
    shape -- a quarter of it for ``realsr``, whose input must be mod-cropped to 4 --,
    JSON-serialisable dict of the random parameters drawn)``. See the module docstring
    for what each ``kind``/``family`` does."""
    check_kind(kind, family)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"degrade: rng must be a numpy.random.Generator; got {type(rng).__name__}")
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 \
            or img.shape[0] < 1 or img.shape[1] < 1:
        raise DataError(f"degrade expects a uint8 HxWx3 image; got "
                        f"{getattr(img, 'dtype', type(img).__name__)} {getattr(img, 'shape', '')}")
    s = SCALE_OF_KIND.get(kind, 1)
    if img.shape[0] % s or img.shape[1] % s:
        raise DataError(f"degradation {kind!r} makes x{s} pairs: the clean image ({img.shape[0]}x{img.shape[1]}) "
                        f"must be mod-cropped to {s} first")
    out, params = _APPLY[kind](rng, _to_float(img), family, RANGES[family][kind])
    if out.dtype != np.uint8:
        out = _to_uint8(out)
    return np.ascontiguousarray(out), params


def stem_key(stem: str) -> int:
    """A 32-bit number derived from an image's file stem (stable across runs and machines)."""
    return int(hashlib.sha256(stem.encode("utf-8")).hexdigest()[:8], 16)


def image_rng(seed: int, stem: str) -> np.random.Generator:
    """The generator of one image: seeded from ``(seed, stem)``, so adding or removing other
    images of a folder does not change this image's degradation."""
    return np.random.default_rng([int(seed), stem_key(stem)])


def make_synthetic_pairs(clean_dir: str | os.PathLike, out_dir: str | os.PathLike, kind: str,
                         family: str = "synthetic", seed: int = 0) -> Path:
    """Pair every clean image of ``clean_dir`` with its degraded version.

    Writes ``out_dir/HR/<stem>.png`` (the clean image as read, re-encoded as PNG; mod-cropped to 4
    for ``realsr``), ``out_dir/LR/<stem>.png`` (the degraded image, same size; a quarter for
    ``realsr``) and ``out_dir/manifest.json`` (the
    kind, family, seed and, per image, every random parameter). Images are taken in name order;
    each is degraded with :func:`image_rng` ``(seed, stem)``. The folder is built next to
    ``out_dir`` and renamed into place, so a failure leaves ``out_dir`` as it was.

    Raises :class:`~cir.errors.ConfigError` for an unknown kind/family or a bad seed, and a
    :class:`~cir.errors.CirError` subclass naming the file or folder for unusable input (a
    missing or empty folder, an undecodable image, two images with the same stem).
    """
    check_kind(kind, family)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer; got {seed!r}")
    seed = int(seed)
    by_stem: dict[str, Path] = {}
    for f in list_images(clean_dir):
        if f.stem in by_stem:
            raise DataError(f"two clean images share the name {f.stem!r}: {by_stem[f.stem]} and {f}")
        by_stem[f.stem] = f
    out_dir = Path(out_dir)
    entries = []
    with atomic_dir(out_dir) as tmp:
        for stem, f in by_stem.items():
            clean = np.ascontiguousarray(mod_crop(read_image(f), SCALE_OF_KIND.get(kind, 1)))
            degraded, params = degrade(clean, kind, family, rng=image_rng(seed, stem))
            write_image(tmp / "HR" / f"{stem}.png", clean)
            write_image(tmp / "LR" / f"{stem}.png", degraded)
            entries.append({
                "name": stem,
                "source": f.name,
                "size": [int(clean.shape[0]), int(clean.shape[1])],
                "params": {"seed_entropy": [seed, stem_key(stem)], **params},
            })
        write_json(tmp / "manifest.json", {
            "scale": SCALE_OF_KIND.get(kind, 1),
            "task": TASK_OF_KIND[kind],
            "degradation": kind,
            "family": family,
            "seed": seed,
            "synthetic": True,
            "source_dir": str(clean_dir),
            "ranges": _jsonable(RANGES[family][kind]),
            "images": entries,
        })
    return out_dir


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
