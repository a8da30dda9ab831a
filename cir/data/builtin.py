"""Built-in offline photographs for the demo preset, taken from scikit-image's wheel.

The files are read directly from the installed ``skimage/data`` folder; the
``skimage.data`` loader functions are not used because some of them download files.

Selection (only real RGB photographs; synthetic or gray images are excluded):

* excluded: ``color.png`` (synthetic colour wheel), ``phantom.png`` and ``chessboard_RGB.png``
  (synthetic), ``motorcycle_right.png`` (near duplicate of ``motorcycle_left.png``: the other
  view of a stereo pair; kept out entirely so it can never leak across the split), the gray
  images (``camera``, ``moon``, ``brick``, ...) and the RGBA drawings (``horse``, ``logo``).
* train (6): astronaut, rocket, motorcycle_left, hubble_deep_field, ihc, retina.
* adapt (3) / clear (3): the train photos split in two disjoint halves (astronaut, rocket,
  motorcycle_left / hubble_deep_field, ihc, retina) for Uni-Removal's domain adaptation: degraded
  images from the first, clear images from the second.
* test (2): coffee, chelsea. Test images should look like ordinary photographs (a cup on a
  wooden table, a cat's fur and eyes); the train set keeps the less typical images (a deep-sky
  survey, a micrograph, a fundus photograph) where they add texture variety to training.

Crops: every image is centre-cropped to at most ``MAX_SIDE`` x ``MAX_SIDE`` (512) pixels to keep
the demo fast; the crop box is ``top = (H - h) // 2``, ``left = (W - w) // 2``. Resulting sizes:
astronaut 512x512 (uncropped), rocket 427x512, motorcycle_left 500x512, hubble_deep_field
512x512, ihc 512x512 (uncropped), retina 512x512 (centre: macula and vessels), coffee 400x512,
chelsea 300x451 (uncropped).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cir.data.images import atomic_dir, read_image, write_image
from cir.utils.io import write_json

MAX_SIDE = 512

SPLITS: dict[str, tuple[str, ...]] = {
    "train": (
        "astronaut.png",
        "rocket.jpg",
        "motorcycle_left.png",
        "hubble_deep_field.jpg",
        "ihc.png",
        "retina.jpg",
    ),
    "test": ("coffee.png", "chelsea.png"),
    # Uni-Removal's domain adaptation offline: "real-like" degraded images made from three train
    # photographs and clear images of the other three (disjoint scenes, as its real clear set X_C)
    "adapt": ("astronaut.png", "rocket.jpg", "motorcycle_left.png"),
    "clear": ("hubble_deep_field.jpg", "ihc.png", "retina.jpg"),
}


@dataclass(frozen=True)
class CropBox:
    top: int
    left: int
    height: int
    width: int


def skimage_data_dir() -> Path:
    """The ``data`` folder of the installed scikit-image package."""
    import skimage

    return Path(skimage.__file__).resolve().parent / "data"


def centre_crop_box(height: int, width: int, max_side: int = MAX_SIDE) -> CropBox:
    h, w = min(height, max_side), min(width, max_side)
    return CropBox(top=(height - h) // 2, left=(width - w) // 2, height=h, width=w)


def load_builtin(file_name: str) -> tuple[np.ndarray, CropBox, tuple[int, int]]:
    """Read one built-in photo: (cropped uint8 RGB image, crop box, original (H, W))."""
    path = skimage_data_dir() / file_name
    if not path.is_file():
        raise FileNotFoundError(
            f"built-in photo {file_name} not found at {path}; the installed scikit-image "
            "package does not ship its sample images"
        )
    img = read_image(path)
    box = centre_crop_box(*img.shape[:2])
    crop = img[box.top : box.top + box.height, box.left : box.left + box.width]
    return np.ascontiguousarray(crop), box, (int(img.shape[0]), int(img.shape[1]))


def write_builtin_split(split: str, out_dir: str | os.PathLike) -> Path:
    """Write the HR PNGs of a built-in split to ``out_dir`` (replaced as a whole) with a manifest."""
    if split not in SPLITS:
        raise KeyError(f"unknown built-in split {split!r}; valid splits: {', '.join(SPLITS)}")
    import skimage

    out_dir = Path(out_dir)
    entries = []
    with atomic_dir(out_dir) as tmp:
        for file_name in SPLITS[split]:
            img, box, source_shape = load_builtin(file_name)
            name = Path(file_name).stem
            target = tmp / f"{name}.png"
            write_image(target, img)
            entries.append(
                {
                    "name": name,
                    "source_file": f"skimage/data/{file_name}",
                    "source_size": list(source_shape),
                    "crop_box": {"top": box.top, "left": box.left, "height": box.height, "width": box.width},
                    "size": [box.height, box.width],
                    "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
                }
            )
        write_json(
            tmp / "manifest.json",
            {"split": split, "source": f"scikit-image {skimage.__version__}", "images": entries},
        )
    return out_dir
