"""Build a paired SR folder (``HR/``, ``LR/``, ``manifest.json``) from a folder of HR images."""

from __future__ import annotations

import os
from pathlib import Path

from cir.data.bicubic import bicubic_downsample_uint8, mod_crop
from cir.data.images import atomic_dir, list_images, read_image, write_image
from cir.errors import ConfigError, DataError
from cir.utils.io import write_json


def prepare_sr_pairs(
    hr_dir: str | os.PathLike, scale: int, out_dir: str | os.PathLike, mode: str = "double"
) -> Path:
    """Mod-crop every HR image to a multiple of ``scale`` and pair it with its bicubic LR image.

    Writes ``out_dir/HR/<stem>.png``, ``out_dir/LR/<stem>.png`` and ``out_dir/manifest.json``.
    The folder is built next to ``out_dir`` and renamed into place at the end, so a failure
    leaves no partial output. ``mode`` selects the bicubic recipe (see
    :func:`cir.data.bicubic.bicubic_downsample_uint8`). Unusable input raises a
    :class:`~cir.errors.CirError` subclass naming the file (:class:`~cir.data.images.ImageReadError`
    for an image that cannot be decoded).
    """
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1:
        raise ConfigError(f"scale must be a positive integer; got {scale!r}")
    files = list_images(hr_dir)
    by_stem: dict[str, Path] = {}
    for f in files:
        if f.stem in by_stem:
            raise DataError(f"two HR images share the name {f.stem!r}: {by_stem[f.stem]} and {f}")
        by_stem[f.stem] = f
    out_dir = Path(out_dir)
    entries = []
    with atomic_dir(out_dir) as tmp:
        for stem, f in by_stem.items():
            hr = mod_crop(read_image(f), scale)
            if hr.shape[0] == 0 or hr.shape[1] == 0:
                raise DataError(f"HR image {f} is smaller than the scale factor {scale}")
            lr = bicubic_downsample_uint8(hr, scale, mode=mode)
            write_image(tmp / "HR" / f"{stem}.png", hr)
            write_image(tmp / "LR" / f"{stem}.png", lr)
            entries.append(
                {
                    "name": stem,
                    "source": f.name,
                    "hr_size": [int(hr.shape[0]), int(hr.shape[1])],
                    "lr_size": [int(lr.shape[0]), int(lr.shape[1])],
                }
            )
        write_json(
            tmp / "manifest.json",
            {"scale": scale, "bicubic": mode, "hr_dir": str(hr_dir), "images": entries},
        )
    return out_dir
