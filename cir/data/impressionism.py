"""The NTIRE 2020 "Impressionism" training recipe that Cria-CL's public training config uses.

Impressionism (Ji et al., "Real-World Super-Resolution via Kernel Estimation and Noise Injection",
CVPRW 2020; the NTIRE 2020 Real-World SR winner) makes x4 training pairs for an unknown real
degradation from unpaired data, and injects real noise into the LR patches while training. The
Cria-CL authors' training code base (github.com/House-Leo/RWSR-EDL, ``codes/preprocess/
create_bicubic_dataset.py`` and ``collect_noise.py``, ``codes/data/data_loader.py`` and
``LQGT_dataset.py``; its ``options/df2k/train_ntire.yml`` sets ``aug: noise``) runs the bicubic
part of it; the kernel-estimation part (``create_kernel_dataset.py``) is not used by that config.
This module re-implements those steps from their description:

* :func:`make_impressionism_pairs`: a *source* image (NTIRE 2020 track 1's corrupted Flickr2K
  images) is cleaned up by a MATLAB-bicubic x1/2 downscale, mod-cropped to the scale and becomes
  the HR image; its bicubic x1/scale downscale is the LR image. A *target* image (the clean DIV2K
  training images) is the HR image as it is and its bicubic downscale the LR image.
* :func:`collect_noise_pool`: patches of the source images flat enough to be mostly noise.
* :func:`inject_noise`: a zero-mean noise patch added to an LR training patch
  (:class:`cir.data.paired.PatchSampler`'s ``noise_pool``; the function lives in
  :mod:`cir.data.paired`, so that the sampler does not import this module, and is re-exported here).

Differences from the authors' code, all deliberate and small: the resize is
:func:`cir.data.bicubic.imresize` in float64 (theirs: ESRGAN's torch port of MATLAB's ``imresize``
in float32; the same formula, so values differ by float rounding only, which can move a pixel
across an integer boundary and change it by one level); a target image is mod-cropped to the
scale before its downscale (theirs is not, which gives an LR of ``ceil(size / scale)`` and
``HR != LR x scale`` for sizes that do not divide; DIV2K's sizes are said to be multiples of 12, so
this should be a no-op there); pair names carry the side they come from (``src_``, ``tgt_``; theirs
keep the file names, so a source and a target image of the same name would overwrite each other).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cir.data.bicubic import imresize, mod_crop
from cir.data.images import atomic_dir, list_images, read_image, write_image
from cir.data.paired import inject_noise  # defined beside the sampler that uses it (no import cycle)
from cir.errors import ConfigError, DataError
from cir.utils.io import write_json

QUANTIZE = ("truncate", "round")
SOURCE_PREFIX, TARGET_PREFIX = "src_", "tgt_"
MANIFEST = "manifest.json"
__all__ = ["collect_noise_pool", "flat_patches", "inject_noise", "make_impressionism_pairs", "source_to_pair",
           "target_to_pair", "to_uint8"]


def to_uint8(img: np.ndarray, quantize: str = "truncate") -> np.ndarray:
    """Float image in ``[0, 1]`` -> uint8, clipping first.

    ``"truncate"``: ``floor(v * 255)``, what the authors' script gets from torchvision's
    ``to_pil_image`` on a float tensor (``(pic * 255).astype(uint8)``, formerly
    ``pic.mul(255).byte()``): on average half a grey level darker than rounding, and a value
    computed as ``k / 255`` minus a float epsilon lands on ``k - 1``. ``"round"``: round half up
    (MATLAB's ``im2uint8``, cir's convention elsewhere).
    """
    if quantize not in QUANTIZE:
        raise ConfigError(f"quantize must be one of {', '.join(QUANTIZE)}; got {quantize!r}")
    scaled = np.clip(img, 0.0, 1.0) * 255.0
    return np.floor(scaled if quantize == "truncate" else scaled + 0.5).astype(np.uint8)


def source_to_pair(img: np.ndarray, scale: int = 4, cleanup: int = 2,
                   quantize: str = "truncate") -> tuple[np.ndarray, np.ndarray]:
    """``(LR, HR)`` uint8 of one source-domain image (uint8 ``H x W x 3``).

    HR = mod_crop(clip(imresize(img / 255, 1 / cleanup)), scale); LR = clip(imresize(HR, 1 / scale)),
    both computed in float and quantized at the end; the LR is made from the unquantized HR, as
    in the authors' script. The HR is ``floor(ceil(H / cleanup) / scale) * scale`` high.
    """
    clean = np.clip(imresize(img.astype(np.float64) / 255.0, scale=1.0 / cleanup), 0.0, 1.0)
    hr = mod_crop(clean, scale)
    if hr.shape[0] == 0 or hr.shape[1] == 0:
        raise DataError(f"image of {img.shape[0]}x{img.shape[1]} pixels is too small for a x{cleanup} cleanup "
                        f"and x{scale} pairs")
    lr = np.clip(imresize(hr, scale=1.0 / scale), 0.0, 1.0)
    return to_uint8(lr, quantize), to_uint8(hr, quantize)


def target_to_pair(img: np.ndarray, scale: int = 4, quantize: str = "truncate") -> tuple[np.ndarray, np.ndarray]:
    """``(LR, HR)`` uint8 of one target-domain (clean) image: HR = the mod-cropped image, pixels
    unchanged; LR = its bicubic x1/scale downscale, quantized."""
    hr = mod_crop(img, scale)
    if hr.shape[0] == 0 or hr.shape[1] == 0:
        raise DataError(f"image of {img.shape[0]}x{img.shape[1]} pixels is smaller than the scale {scale}")
    lr = np.clip(imresize(hr.astype(np.float64) / 255.0, scale=1.0 / scale), 0.0, 1.0)
    return to_uint8(lr, quantize), np.ascontiguousarray(hr)


def _stems(folder: str | os.PathLike) -> list[tuple[str, Path]]:
    seen: dict[str, Path] = {}
    for f in list_images(folder):
        if f.stem in seen:
            raise DataError(f"two images share the name {f.stem!r}: {seen[f.stem]} and {f}")
        seen[f.stem] = f
    return list(seen.items())


def make_impressionism_pairs(
    source_dir: str | os.PathLike | None,
    target_dir: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    scale: int = 4,
    *,
    cleanup: int = 2,
    quantize: str = "truncate",
) -> Path:
    """Write the Impressionism training pairs of ``source_dir`` and ``target_dir`` to ``out_dir``.

    ``out_dir/HR/<name>.png``, ``out_dir/LR/<name>.png`` (``HR = LR x scale`` exactly) and
    ``out_dir/manifest.json`` (``scale``, the recipe's settings and every pair's origin and
    sizes). ``<name>`` is ``src_<stem>`` for a source image (see :func:`source_to_pair`) and
    ``tgt_<stem>`` for a target image (:func:`target_to_pair`). Either folder may be ``None``,
    not both. The folder is built next to ``out_dir`` and renamed into place, so a failure leaves
    no partial output; unreadable images raise :class:`~cir.data.images.ImageReadError`.
    """
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ConfigError(f"scale must be a positive integer; got {scale!r}")
    if not isinstance(cleanup, int) or isinstance(cleanup, bool) or cleanup < 1:
        raise ConfigError(f"cleanup must be a positive integer; got {cleanup!r}")
    if quantize not in QUANTIZE:
        raise ConfigError(f"quantize must be one of {', '.join(QUANTIZE)}; got {quantize!r}")
    if source_dir is None and target_dir is None:
        raise ConfigError("make_impressionism_pairs needs a source folder, a target folder or both")
    sources = _stems(source_dir) if source_dir is not None else []
    targets = _stems(target_dir) if target_dir is not None else []
    out_dir = Path(out_dir)
    records = []
    with atomic_dir(out_dir) as tmp:
        for origin, prefix, items in (("source", SOURCE_PREFIX, sources), ("target", TARGET_PREFIX, targets)):
            for stem, f in items:
                img = read_image(f)
                try:
                    if origin == "source":
                        lr, hr = source_to_pair(img, scale, cleanup, quantize)
                    else:
                        lr, hr = target_to_pair(img, scale, quantize)
                except DataError as exc:
                    raise DataError(f"{f}: {exc}") from None
                name = prefix + stem
                write_image(tmp / "HR" / f"{name}.png", hr)
                write_image(tmp / "LR" / f"{name}.png", lr)
                records.append({"name": name, "origin": origin, "file": f.name,
                                "input_size": [int(img.shape[0]), int(img.shape[1])],
                                "hr_size": [int(hr.shape[0]), int(hr.shape[1])],
                                "lr_size": [int(lr.shape[0]), int(lr.shape[1])]})
        write_json(tmp / MANIFEST, {
            "scale": scale,
            "recipe": "impressionism_bicubic",
            "cleanup_factor": cleanup,
            "quantize": quantize,
            "source_dir": None if source_dir is None else str(source_dir),
            "target_dir": None if target_dir is None else str(target_dir),
            "synthetic": False,
            "pair_count": len(records),
            "pairs": records,
        })
    return out_dir


def flat_patches(rgb: np.ndarray, patch: int = 256, max_variance: float = 20.0,
                 min_mean: float = 0.0) -> list[tuple[int, int, float, float]]:
    """``(y, x, variance, mean)`` of the patches of ``rgb`` (uint8 ``H x W x 3``) that the authors'
    ``collect_noise.py`` keeps.

    The rule, as in that script: the image is turned into gray by Pillow's ``convert("L")``
    (ITU-R 601-2 luma; Pillow 13 computes ``(19595 R + 38470 G + 7471 B + 32768) >> 16`` in
    integers, checked here on random pixels; the authors' older Pillow may differ by a level); non-overlapping
    ``patch x patch`` windows start at ``y = 0, patch, 2 patch, ...`` while ``y < H - patch`` and
    likewise in ``x`` (so the last full window of a side whose length is a multiple of ``patch`` is
    left out, as their ``range(0, h - sp, sp)`` does); a window is kept if the population variance
    of its gray values is **below** ``max_variance`` and their mean is **above** ``min_mean``
    (strict; their DF2K/NTIRE setting is patch 256, variance 20, mean 0; for DPED they use mean 50).
    One variance on the gray image, not one per channel.
    """
    from PIL import Image

    gray = np.asarray(Image.fromarray(np.ascontiguousarray(rgb), "RGB").convert("L"))
    h, w = gray.shape
    kept = []
    for y in range(0, h - patch, patch):
        for x in range(0, w - patch, patch):
            window = gray[y : y + patch, x : x + patch]
            var, mean = float(np.var(window)), float(np.mean(window))
            if var < max_variance and mean > min_mean:
                kept.append((y, x, var, mean))
    return kept


def collect_noise_pool(
    image_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    patch: int = 256,
    max_variance: float = 20.0,
    *,
    min_mean: float = 0.0,
) -> Path:
    """Write the flat patches (:func:`flat_patches`) of every image in ``image_dir`` to ``out_dir``.

    Each kept patch is the RGB window, written losslessly as ``out_dir/<stem>_<k>.png`` (``k``
    counts the kept patches of one image from 000, the authors' naming), plus
    ``out_dir/manifest.json`` (the settings and every patch's source image, position, gray
    variance and mean). Built next to ``out_dir`` and renamed into place. When no patch of any image
    qualifies, a :class:`~cir.errors.DataError` names the folder and the settings.
    """
    if not isinstance(patch, int) or isinstance(patch, bool) or patch < 1:
        raise ConfigError(f"patch must be a positive integer; got {patch!r}")
    out_dir = Path(out_dir)
    files = _stems(image_dir)
    records = []
    largest = (0, 0)
    with atomic_dir(out_dir) as tmp:
        for stem, f in files:
            rgb = read_image(f)
            largest = max(largest, rgb.shape[:2])
            for k, (y, x, var, mean) in enumerate(flat_patches(rgb, patch, max_variance, min_mean)):
                name = f"{stem}_{k:03d}"
                write_image(tmp / f"{name}.png", np.ascontiguousarray(rgb[y : y + patch, x : x + patch]))
                records.append({"name": name, "source": f.name, "y": y, "x": x,
                                "gray_variance": round(var, 6), "gray_mean": round(mean, 6)})
        if not records:
            raise DataError(
                f"no noise patch in {image_dir}: none of its {len(files)} images has a {patch}x{patch} window "
                f"(non-overlapping, starting below size - {patch}) whose gray variance is below {max_variance} "
                f"and mean above {min_mean} (largest image {largest[0]}x{largest[1]}); use images with flat "
                f"regions, a smaller --patch or a larger --max-variance")
        write_json(tmp / MANIFEST, {
            "kind": "noise_pool",
            "recipe": "impressionism collect_noise",
            "image_dir": str(image_dir),
            "patch": patch,
            "stride": patch,
            "max_variance": max_variance,
            "min_mean": min_mean,
            "gray": "PIL convert('L')",
            "patch_count": len(records),
            "patches": records,
        })
    return out_dir
