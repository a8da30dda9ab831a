"""Built-in scikit-image photo splits."""

from __future__ import annotations

import hashlib
import json
import runpy
from pathlib import Path

import numpy as np
import pytest

from cir.data.builtin import (
    MAX_SIDE,
    SPLITS,
    centre_crop_box,
    load_builtin,
    skimage_data_dir,
    write_builtin_split,
)
from cir.data.images import list_images, read_image

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow_scripts"
SYNTHETIC = {"color.png", "phantom.png", "chessboard_RGB.png", "chessboard_GRAY.png"}


def test_split_lists_are_disjoint_real_photos() -> None:
    train, test = set(SPLITS["train"]), set(SPLITS["test"])
    assert not train & test
    assert not (train | test) & SYNTHETIC
    # the stereo pair must never straddle the split
    motorcycle = {"motorcycle_left.png", "motorcycle_right.png"}
    assert not (motorcycle & train and motorcycle & test)
    assert "coffee.png" in test
    for name in train | test:
        assert (skimage_data_dir() / name).is_file(), name


def test_centre_crop_box() -> None:
    box = centre_crop_box(1411, 1411)
    assert (box.top, box.left, box.height, box.width) == (449, 449, 512, 512)
    box = centre_crop_box(427, 640)
    assert (box.top, box.left, box.height, box.width) == (0, 64, 427, 512)
    box = centre_crop_box(300, 451)
    assert (box.top, box.left, box.height, box.width) == (0, 0, 300, 451)


@pytest.mark.parametrize("file_name", SPLITS["train"] + SPLITS["test"])
def test_builtin_images_are_rgb_and_cropped(file_name: str) -> None:
    img, box, source_shape = load_builtin(file_name)
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[:2] == (min(source_shape[0], MAX_SIDE), min(source_shape[1], MAX_SIDE))
    assert img.std() > 10  # a real picture, not a flat field
    source = read_image(skimage_data_dir() / file_name)
    np.testing.assert_array_equal(
        img, source[box.top : box.top + box.height, box.left : box.left + box.width]
    )


def test_write_test_split(tmp_path: Path) -> None:
    out = write_builtin_split("test", tmp_path / "skimage_test")
    names = [p.stem for p in list_images(out)]
    assert names == sorted(Path(f).stem for f in SPLITS["test"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["split"] == "test"
    for entry in manifest["images"]:
        png = out / f"{entry['name']}.png"
        assert hashlib.sha256(png.read_bytes()).hexdigest() == entry["sha256"]
        assert list(read_image(png).shape[:2]) == entry["size"]
        assert entry["source_file"].startswith("skimage/data/")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["skimage_test"]


def test_unknown_split_lists_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="'val'.*train, test"):
        write_builtin_split("val", tmp_path / "x")
    assert list(tmp_path.iterdir()) == []


def test_cli(tmp_path: Path) -> None:
    main = runpy.run_path(str(SCRIPTS / "builtin_photos.py"))["main"]
    main(["--split", "test", "--out", str(tmp_path / "t")])
    assert (tmp_path / "t" / "coffee.png").is_file()
    with pytest.raises(SystemExit):
        main(["--split", "val", "--out", str(tmp_path / "v")])
