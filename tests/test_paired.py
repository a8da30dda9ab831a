"""SR pair preparation, pair loading and the deterministic patch sampler."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch

from cir.data.bicubic import bicubic_downsample_uint8
from cir.data.images import ImageReadError, read_image, write_image
from cir.data.paired import PatchSampler, load_pairs
from cir.data.prepare import prepare_sr_pairs

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow_scripts"


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth random colour image (sum of a few low-frequency waves)."""
    yy, xx = np.mgrid[0:h, 0:w] / 16.0
    chans = []
    for _ in range(3):
        a, b, c, d = rng.uniform(0.2, 1.0, size=4)
        chans.append(0.5 + 0.25 * np.sin(a * yy + b * xx + c) + 0.2 * np.cos(d * xx - a * yy))
    return np.clip(np.stack(chans, axis=-1) * 255 + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def hr_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for name, (h, w) in {"alpha": (67, 83), "beta": (96, 64), "gamma": (81, 100)}.items():
        write_image(d / f"{name}.png", smooth_image(rng, h, w))
    return d


@pytest.fixture(scope="module")
def pairs_x4(hr_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare_sr_pairs(hr_dir, 4, tmp_path_factory.mktemp("pairs") / "x4")


def write_code_pairs(root: Path, scale: int, sizes: dict[str, tuple[int, int]]) -> Path:
    """Pairs whose pixels encode their own coordinates: LR (y, x, id), HR (Y//s, X//s, id)."""
    for ident, (name, (h, w)) in enumerate(sizes.items()):
        yy, xx = np.mgrid[0:h, 0:w]
        lr = np.stack([yy, xx, np.full_like(yy, ident)], axis=-1).astype(np.uint8)
        hr = lr.repeat(scale, axis=0).repeat(scale, axis=1)
        write_image(root / "LR" / f"{name}.png", lr)
        write_image(root / "HR" / f"{name}.png", hr)
    return root


# ------------------------------------------------------------------------------ preparation


def test_prepare_sizes_and_manifest(hr_dir: Path, pairs_x4: Path) -> None:
    manifest = json.loads((pairs_x4 / "manifest.json").read_text())
    assert manifest["scale"] == 4
    sizes = {e["name"]: (e["hr_size"], e["lr_size"]) for e in manifest["images"]}
    assert sizes == {
        "alpha": ([64, 80], [16, 20]),
        "beta": ([96, 64], [24, 16]),
        "gamma": ([80, 100], [20, 25]),
    }
    for name, (hr_size, lr_size) in sizes.items():
        hr = read_image(pairs_x4 / "HR" / f"{name}.png")
        lr = read_image(pairs_x4 / "LR" / f"{name}.png")
        assert list(hr.shape[:2]) == hr_size and list(lr.shape[:2]) == lr_size
        source = read_image(hr_dir / f"{name}.png")
        np.testing.assert_array_equal(hr, source[: hr_size[0], : hr_size[1]])
        np.testing.assert_array_equal(lr, bicubic_downsample_uint8(hr, 4))
    assert sorted(p.name for p in pairs_x4.parent.iterdir()) == ["x4"]


def test_prepare_leaves_nothing_on_failure(hr_dir: Path, tmp_path: Path) -> None:
    bad_dir = tmp_path / "hr"
    bad_dir.mkdir()
    for f in hr_dir.iterdir():
        (bad_dir / f.name).write_bytes(f.read_bytes())
    (bad_dir / "zeta.png").write_bytes(b"\x89PNG truncated")
    out = tmp_path / "pairs"
    with pytest.raises(ImageReadError, match="zeta.png"):
        prepare_sr_pairs(bad_dir, 2, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hr"]
    # an existing output is left untouched by a failed rebuild
    prepare_sr_pairs(hr_dir, 2, out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    with pytest.raises(ImageReadError, match="zeta.png"):
        prepare_sr_pairs(bad_dir, 2, out)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hr", "pairs"]


def test_prepare_cli(hr_dir: Path, tmp_path: Path) -> None:
    main = runpy.run_path(str(SCRIPTS / "prepare_sr.py"))["main"]
    main(["--hr-dir", str(hr_dir), "--scale", "3", "--out", str(tmp_path / "x3")])
    assert json.loads((tmp_path / "x3" / "manifest.json").read_text())["scale"] == 3
    assert read_image(tmp_path / "x3" / "LR" / "alpha.png").shape == (22, 27, 3)


# ------------------------------------------------------------------------------ load_pairs


def test_load_pairs(pairs_x4: Path) -> None:
    pairs = load_pairs(pairs_x4)
    assert [p.name for p in pairs] == ["alpha", "beta", "gamma"]
    for p in pairs:
        assert p.hr.shape == (p.lr.shape[0] * 4, p.lr.shape[1] * 4, 3)


def test_load_pairs_size_mismatch_names_both_files(tmp_path: Path) -> None:
    write_image(tmp_path / "LR" / "img.png", np.zeros((10, 12, 3), dtype=np.uint8))
    write_image(tmp_path / "HR" / "img.png", np.zeros((40, 44, 3), dtype=np.uint8))
    with pytest.raises(ValueError) as err:
        load_pairs(tmp_path, scale=4)
    msg = str(err.value)
    assert str(tmp_path / "LR" / "img.png") in msg and str(tmp_path / "HR" / "img.png") in msg
    assert "40x44" in msg and "10x12" in msg


def test_load_pairs_unmatched_name(tmp_path: Path) -> None:
    write_code_pairs(tmp_path, 2, {"a": (8, 8)})
    write_image(tmp_path / "HR" / "lonely.png", np.zeros((16, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="HR only: .*lonely.png"):
        load_pairs(tmp_path)


# ------------------------------------------------------------------------------ PatchSampler


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("codes")
    return write_code_pairs(root, 3, {"one": (20, 30), "two": (25, 18), "three": (40, 40)})


def test_sampler_shapes_and_range(code_dir: Path) -> None:
    s = PatchSampler([code_dir], scale=3, lr_patch=8, batch_size=6, seed=0)
    b = s.batch(0)
    assert b["lq"].shape == (6, 3, 8, 8) and b["gt"].shape == (6, 3, 24, 24)
    assert b["lq"].dtype == torch.float32 and b["gt"].dtype == torch.float32
    assert 0.0 <= float(b["gt"].min()) and float(b["gt"].max()) <= 1.0


def test_sampler_is_a_pure_function_of_seed_and_step(code_dir: Path) -> None:
    s = PatchSampler([code_dir], scale=3, lr_patch=8, batch_size=8, seed=5)
    first = s.batch(7)
    s.batch(3)
    again = s.batch(7)
    resumed = PatchSampler([code_dir], scale=3, lr_patch=8, batch_size=8, seed=5).batch(7)
    for b in (again, resumed):
        assert torch.equal(b["lq"], first["lq"]) and torch.equal(b["gt"], first["gt"])
    assert not torch.equal(s.batch(8)["lq"], first["lq"])
    other_seed = PatchSampler([code_dir], scale=3, lr_patch=8, batch_size=8, seed=6).batch(7)
    assert not torch.equal(other_seed["lq"], first["lq"])


def test_rank_slices_concatenate_to_global_batch(code_dir: Path) -> None:
    s = PatchSampler([code_dir], scale=3, lr_patch=8, batch_size=8, seed=1)
    full = s.batch(4)
    parts = [s.batch(4, rank=r, world_size=2) for r in range(2)]
    for key in ("lq", "gt"):
        assert torch.equal(torch.cat([p[key] for p in parts]), full[key])
    assert parts[0]["lq"].shape[0] == 4
    with pytest.raises(ValueError, match="not divisible by world_size 3"):
        s.batch(0, rank=0, world_size=3)
    with pytest.raises(ValueError, match="rank 2"):
        s.batch(0, rank=2, world_size=2)


def _orientation(lq_codes: np.ndarray) -> tuple[int, int, bool]:
    """Direction of LR row/column codes across the patch: (dy sign, dx sign, transposed)."""
    y, x = lq_codes[0].astype(int), lq_codes[1].astype(int)
    if y[1, 0] != y[0, 0]:  # row code changes down the patch: not transposed
        return int(np.sign(y[1, 0] - y[0, 0])), int(np.sign(x[0, 1] - x[0, 0])), False
    return int(np.sign(y[0, 1] - y[0, 0])), int(np.sign(x[1, 0] - x[0, 0])), True


@pytest.mark.parametrize("augment", [True, False])
def test_crops_aligned_and_augmented_identically(code_dir: Path, augment: bool) -> None:
    scale, p = 3, 6
    s = PatchSampler([code_dir], scale=scale, lr_patch=p, batch_size=32, seed=2, augment=augment)
    seen = set()
    for step in range(4):
        b = s.batch(step)
        lq = np.rint(b["lq"].numpy() * 255).astype(np.uint8)
        gt = np.rint(b["gt"].numpy() * 255).astype(np.uint8)
        for i in range(lq.shape[0]):
            # every s x s HR block carries exactly the code of the LR pixel at the same place
            blocks = gt[i].reshape(3, p, scale, p, scale)
            assert (blocks == lq[i][:, :, None, :, None]).all()
            assert (lq[i, 2] == lq[i, 2, 0, 0]).all()  # a single source image per patch
            # the LR patch is a contiguous window of its source image (up to the transform)
            ys, xs = lq[i, 0].astype(int), lq[i, 1].astype(int)
            assert ys.max() - ys.min() == p - 1 and xs.max() - xs.min() == p - 1
            seen.add(_orientation(lq[i]))
    if augment:
        assert len(seen) == 8  # all flips/rotations occur
    else:
        assert seen == {(1, 1, False)}


def test_gt_downsampled_matches_lq(pairs_x4: Path) -> None:
    s = PatchSampler([pairs_x4], scale=4, lr_patch=12, batch_size=8, seed=3)
    b = s.batch(0)
    lq = np.rint(b["lq"].numpy() * 255).astype(int)
    gt = np.rint(b["gt"].numpy() * 255).astype(np.uint8)
    for i in range(8):
        down = bicubic_downsample_uint8(np.ascontiguousarray(gt[i].transpose(1, 2, 0)), 4)
        inner = (slice(2, -2), slice(2, -2))  # patch borders see mirrored instead of real neighbours
        diff = np.abs(down.transpose(2, 0, 1).astype(int) - lq[i])[:, inner[0], inner[1]]
        assert diff.max() <= 1


def test_sampler_errors_name_the_image(code_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"two.*25x18.*smaller than the LR patch 20x20"):
        PatchSampler([code_dir], scale=3, lr_patch=20, batch_size=4, seed=0)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        PatchSampler([tmp_path / "nowhere"], scale=3, lr_patch=4, batch_size=4, seed=0)
