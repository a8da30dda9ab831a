"""Image reading/writing, directory listing and uint8 <-> tensor conversion."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cir.data.images import (
    ImageReadError,
    atomic_dir,
    list_images,
    read_image,
    to_tensor,
    to_uint8,
    write_image,
)


def test_write_read_roundtrip(tmp_path: Path) -> None:
    img = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    write_image(tmp_path / "a.png", img)
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.shape == (7, 5, 3)
    np.testing.assert_array_equal(back, img)
    # stored as BGR on disk, i.e. channel order is really RGB in memory
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "a.png"))[..., ::-1], img)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_gray_alpha_and_16bit(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), np.repeat(gray[..., None], 3, axis=2))

    bgra = np.zeros((2, 2, 4), dtype=np.uint8)
    bgra[..., 0], bgra[..., 2], bgra[..., 3] = 10, 30, 7  # B=10, R=30, alpha=7
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    rgb = read_image(tmp_path / "a.png")
    assert rgb.shape == (2, 2, 3) and tuple(rgb[0, 0]) == (30, 0, 10)

    deep = np.full((2, 2, 3), 257 * 100 + 128, dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    np.testing.assert_array_equal(read_image(tmp_path / "d.png"), 100)


def test_read_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageReadError, match="missing.png"):
        read_image(missing)
    bogus = tmp_path / "bogus.png"
    bogus.write_text("not an image")
    with pytest.raises(ImageReadError, match="bogus.png"):
        read_image(bogus)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.jpg"):
        read_image(empty)
    with pytest.raises(ImageReadError, match=str(tmp_path)):
        read_image(tmp_path)  # a directory


def test_write_image_validation(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="x.jpg"):
        write_image(tmp_path / "x.jpg", np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="float"):
        write_image(tmp_path / "x.png", np.zeros((2, 2, 3), dtype=np.float32))
    assert list(tmp_path.iterdir()) == []


def test_list_images(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere"):
        list_images(tmp_path / "nothere")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        list_images(tmp_path)
    for name in ["b.PNG", "a.jpg", "c.jpeg", "d.bmp", "e.tif", ".hidden.png", "f.gif"]:
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.png").mkdir()
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.PNG", "c.jpeg", "d.bmp", "e.tif"]


def test_tensor_conversion_roundtrip() -> None:
    img = np.arange(256, dtype=np.uint8).reshape(8, 32)[..., None].repeat(3, axis=2)
    t = to_tensor(img)
    assert t.dtype == torch.float32 and t.shape == (3, 8, 32)
    assert float(t.min()) == 0.0 and float(t.max()) == 1.0
    np.testing.assert_array_equal(to_uint8(t), img)
    batch = torch.stack([t, t.flip(-1)])
    out = to_uint8(batch)
    assert out.shape == (2, 8, 32, 3)
    np.testing.assert_array_equal(out[1], img[:, ::-1])


def test_to_uint8_rounds_half_away_and_clamps() -> None:
    values = torch.tensor([-0.2, 0.5 / 255, 1.5 / 255, 2.5 / 255, 254.49 / 255, 1.3], dtype=torch.float64)
    out = to_uint8(values.view(1, 1, -1))
    assert out.shape == (1, 6, 1)
    assert out[0, :, 0].tolist() == [0, 1, 2, 3, 254, 255]


def test_atomic_dir(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (target / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("two")
        raise RuntimeError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    with atomic_dir(target) as tmp:
        (tmp / "c.txt").write_text("three")
    assert sorted(p.name for p in target.iterdir()) == ["c.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
