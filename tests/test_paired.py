"""SR pair preparation, pair loading and the deterministic patch sampler."""

from __future__ import annotations

import json
import os
import pickle
import runpy
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from cir.data import paired
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


@pytest.mark.parametrize("augment", [True, False, "hflip"])
def test_crops_aligned_and_augmented_identically(code_dir: Path, augment: bool | str) -> None:
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
    if augment == "hflip":  # DehazeFormer's RESIDE-6K loader: horizontal flips only
        assert seen == {(1, 1, False), (1, -1, False)}
    elif augment:
        assert len(seen) == 8  # all flips/rotations occur
    else:
        assert seen == {(1, 1, False)}
    with pytest.raises(ValueError, match="augment must be true, false or 'hflip'; got 'vflip'"):
        PatchSampler([code_dir], scale=scale, lr_patch=p, batch_size=4, seed=2, augment="vflip")


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


# ------------------------------------------------------------------------------ storage


def _assert_same_batches(a: PatchSampler, b: PatchSampler, steps, world_size: int = 1) -> None:
    for step in steps:
        for rank in range(world_size):
            x, y = a.batch(step, rank, world_size), b.batch(step, rank, world_size)
            assert torch.equal(x["lq"], y["lq"]) and torch.equal(x["gt"], y["gt"]), (step, rank)


def _entries(cache: Path) -> dict[Path, int]:
    return {f: f.stat().st_mtime_ns for f in cache.rglob("*") if f.is_file()}


@pytest.fixture
def scale1_dir(tmp_path: Path) -> Path:
    return write_code_pairs(tmp_path / "set1", 1, {"a": (40, 52), "b": (48, 40), "c": (36, 64)})


def test_auto_storage_follows_the_decoded_size(code_dir: Path, tmp_path: Path) -> None:
    decoded = 3 * sum(h * w * (1 + 9) for h, w in ((20, 30), (25, 18), (40, 40)))
    small = PatchSampler([code_dir], scale=3, lr_patch=8, batch_size=4, seed=0, cache_dir=tmp_path)
    assert small.storage == "memory" and small.decoded_bytes == decoded
    assert not any(tmp_path.iterdir())
    large = PatchSampler([code_dir], scale=3, lr_patch=8, batch_size=4, seed=0, cache_dir=tmp_path,
                         memory_limit=decoded)
    assert large.storage == "disk"
    with pytest.raises(ValueError, match="storage must be one of"):
        PatchSampler([code_dir], scale=3, lr_patch=8, batch_size=4, seed=0, storage="ram")


def test_disk_validation_reads_headers_only(scale1_dir: Path, tmp_path: Path, monkeypatch) -> None:
    def no_decoding(path):
        raise AssertionError(f"decoded {path}")

    monkeypatch.setattr(paired, "read_image", no_decoding)
    s = PatchSampler([scale1_dir], scale=1, lr_patch=16, batch_size=4, seed=0, storage="disk",
                     cache_dir=tmp_path / "cache")
    assert [p.lr_size for p in s.pairs] == [(40, 52), (48, 40), (36, 64)]
    with pytest.raises(ValueError, match=r"set1/a is 40x52, smaller than the LR patch 44x44"):
        PatchSampler([scale1_dir], scale=1, lr_patch=44, batch_size=4, seed=0, storage="disk",
                     cache_dir=tmp_path / "cache")
    write_image(tmp_path / "odd" / "LR" / "x.png", np.zeros((10, 12, 3), np.uint8))
    write_image(tmp_path / "odd" / "HR" / "x.png", np.zeros((10, 13, 3), np.uint8))
    with pytest.raises(ValueError, match=r"size mismatch at scale 1: HR .*x\.png is 10x13"):
        PatchSampler([tmp_path / "odd"], scale=1, lr_patch=4, batch_size=4, seed=0, storage="disk")


@pytest.mark.parametrize("scale", [1, 3])
def test_disk_batches_equal_memory_batches(tmp_path: Path, scale: int) -> None:
    root = write_code_pairs(tmp_path / "set", scale, {"one": (20, 30), "two": (25, 18), "three": (40, 40)})
    sched = [(0, 6, 4), (3, 8, 8), (5, 12, 2)]
    for kw in ({"schedule": None}, {"schedule": sched}):
        mem = PatchSampler([root], scale=scale, lr_patch=8, batch_size=4, seed=4, storage="memory", **kw)
        disk = PatchSampler([root], scale=scale, lr_patch=8, batch_size=4, seed=4, storage="disk",
                            cache_dir=tmp_path / "cache", **kw)
        _assert_same_batches(mem, disk, range(8), world_size=2)
        for i in range(len(mem)):
            for a, b in zip(mem.images(i), disk.images(i), strict=True):
                assert isinstance(b, np.memmap) and np.array_equal(a, b)


def test_default_cache_location(scale1_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("CIR_CACHE_DIR", raising=False)
    s = PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=2, seed=0, storage="disk")
    assert s.fill_cache() == 6
    folder = tmp_path / ".cir-decoded" / "set1"
    assert sorted(f.parent.name for f in _entries(folder)) == ["HR"] * 3 + ["LR"] * 3
    assert sorted(p.name for p in scale1_dir.iterdir()) == ["HR", "LR"]  # nothing inside the pair folder
    monkeypatch.setenv("CIR_CACHE_DIR", str(tmp_path / "env"))
    assert paired.cache_folder(scale1_dir) == tmp_path / "env" / "set1"
    assert paired.cache_folder(scale1_dir, tmp_path / "arg") == tmp_path / "arg" / "set1"
    with pytest.raises(ValueError, match="inside the pair folder"):
        paired.cache_folder(scale1_dir, scale1_dir / "cache")


def test_cache_is_reused_and_invalidated(scale1_dir: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    kw = {"scale": 1, "lr_patch": 8, "batch_size": 8, "seed": 1, "storage": "disk", "cache_dir": cache}
    first = PatchSampler([scale1_dir], **kw)
    assert first.fill_cache() == 6
    written = _entries(cache)
    assert len(written) == 6 and all(f.suffix == ".npy" for f in written)
    second = PatchSampler([scale1_dir], **kw)
    _assert_same_batches(first, second, range(3))
    assert second.fill_cache() == 0 and _entries(cache) == written  # nothing rewritten

    # a changed source image gets a new entry; the outdated one is removed
    hr_b = scale1_dir / "HR" / "b.png"
    changed = 255 - read_image(hr_b)
    write_image(hr_b, changed)
    os.utime(hr_b, ns=(hr_b.stat().st_atime_ns, hr_b.stat().st_mtime_ns + 10**9))
    third = PatchSampler([scale1_dir], **kw)
    assert third.fill_cache() == 1
    now = _entries(cache)
    removed, added = set(written) - set(now), set(now) - set(written)
    assert len(now) == 6 and len(removed) == len(added) == 1
    assert [(f.parent.name, f.name[:2]) for f in removed | added] == [("HR", "b.")] * 2
    assert np.array_equal(third.images(1)[1], changed)
    mem = PatchSampler([scale1_dir], **{**kw, "storage": "memory"})
    _assert_same_batches(mem, third, range(3))


def test_corrupt_cache_entry_is_rewritten(scale1_dir: Path, tmp_path: Path) -> None:
    s = PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=2, seed=0, storage="disk",
                     cache_dir=tmp_path / "cache")
    s.fill_cache()
    entry = s.caches[0].entry(scale1_dir / "LR" / "a.png", "LR")
    entry.write_bytes(entry.read_bytes()[:100])
    again = PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=2, seed=0, storage="disk",
                         cache_dir=tmp_path / "cache")
    assert again.fill_cache() == 1
    assert np.array_equal(again.images(0)[0], read_image(scale1_dir / "LR" / "a.png"))


def test_concurrent_writers_leave_one_valid_entry(scale1_dir: Path, tmp_path: Path, monkeypatch) -> None:
    """Two writers decode the same image at the same time (both miss the cache, then both write):
    the cache ends with one complete entry and no temporary files."""
    barrier = threading.Barrier(2, timeout=20)
    real_read = paired.read_image

    def read_together(path):
        img = real_read(path)
        barrier.wait()  # both writers have decoded before either writes
        return img

    monkeypatch.setattr(paired, "read_image", read_together)
    source = scale1_dir / "HR" / "c.png"
    caches = [paired.DecodedCache(tmp_path / "cache") for _ in range(2)]
    results: list = [None, None]

    def work(k: int) -> None:
        results[k] = np.array(caches[k].get(source, "HR", (36, 64)))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = real_read(source)
    assert all(r is not None and np.array_equal(r, expected) for r in results)
    assert caches[0].writes == caches[1].writes == 1
    files = [f for f in (tmp_path / "cache").rglob("*") if f.is_file()]
    assert len(files) == 1 and np.array_equal(np.load(files[0]), expected)


def test_sampler_pickles_without_its_memory_maps(scale1_dir: Path, tmp_path: Path) -> None:
    s = PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=4, seed=3, storage="disk",
                     cache_dir=tmp_path / "cache")
    before = s.batch(2)
    copy = pickle.loads(pickle.dumps(s))
    assert torch.equal(copy.batch(2)["gt"], before["gt"])


# ------------------------------------------------------------------------------ patch schedule


def test_schedule_switches_patch_and_batch(scale1_dir: Path) -> None:
    sched = [(0, 8, 8), (10, 16, 4), (25, 32, 2)]
    s = PatchSampler([scale1_dir], scale=1, lr_patch=99, batch_size=3, seed=0, schedule=sched)
    assert [s.patch_at(k) for k in (0, 9, 10, 24, 25, 10**6)] == \
        [(8, 8), (8, 8), (16, 4), (16, 4), (32, 2), (32, 2)]
    for step, (p, b) in {0: (8, 8), 9: (8, 8), 10: (16, 4), 30: (32, 2)}.items():
        assert s.plan(step).shape == (b, 6)
        assert s.batch(step)["lq"].shape == (b, 3, p, p)
        assert s.batch(step, rank=1, world_size=2)["gt"].shape == (b // 2, 3, p, p)
    again = PatchSampler([scale1_dir], scale=1, lr_patch=99, batch_size=3, seed=0, schedule=sched)
    _assert_same_batches(s, again, (11, 3, 27))
    constant = PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=8, seed=0)
    _assert_same_batches(constant, PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=8, seed=0,
                                                schedule=[(0, 8, 8)]), range(4))
    _assert_same_batches(constant, s, range(3))


@pytest.mark.parametrize("sched, message", [
    ([(5, 8, 4)], r"row 0 \(start 5, patch 8, batch 4\): the first row must start at step 0"),
    ([(0, 8, 4), (20, 12, 4), (10, 16, 2)],
     r"row 2 \(start 10, patch 16, batch 2\): start steps must increase"),
    ([(0, 8, 4), (0, 12, 4)], r"row 1 \(start 0, patch 12, batch 4\): start steps must increase"),
    ([(0, 8, 0)], r"row 0 .*at least 1"),
    ([(0, 8)], r"row 0 \(0, 8\): expected \(start_step, lr_patch, batch_size\)"),
    ([], "no rows"),
])
def test_bad_schedule_names_the_row(scale1_dir: Path, sched, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=4, seed=0, schedule=sched)


def test_schedule_world_size_checked_for_every_row(scale1_dir: Path) -> None:
    sched = [(0, 8, 8), (100, 12, 4), (200, 16, 2), (300, 20, 1)]
    message = r"schedule row 3 \(start 300, patch 20, batch 1\): batch 1 is not divisible by world_size 2"
    with pytest.raises(ValueError, match=message):
        PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=8, seed=0, schedule=sched, world_size=2)
    s = PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=8, seed=0, schedule=sched)
    with pytest.raises(ValueError, match=message):
        s.batch(0, rank=0, world_size=2)  # fails at the first step, not at step 300
    with pytest.raises(ValueError, match=r"row 2 .*batch 2 is not divisible by world_size 4"):
        s.batch(0, rank=0, world_size=4)


def test_image_smaller_than_the_largest_scheduled_patch(scale1_dir: Path) -> None:
    message = (r"LR image .*set1/a is 40x52, smaller than the LR patch 44x44 "
               r"\(the largest of the patch schedule, from step 50\)")
    for storage in ("memory", "disk"):
        with pytest.raises(ValueError, match=message):
            PatchSampler([scale1_dir], scale=1, lr_patch=8, batch_size=4, seed=0, storage=storage,
                         schedule=[(0, 8, 4), (50, 44, 2), (90, 16, 2)])


def test_bench_data_cli(tmp_path: Path, capsys) -> None:
    main = runpy.run_path(str(SCRIPTS / "bench_data.py"))["main"]
    out = tmp_path / "bench.json"
    assert main(["--make-fake", "3", "--size", "48x40", "--pair-dir", str(tmp_path / "fake"), "--patch", "16",
                 "--batch", "2", "--storage", "disk", "--steps", "2", "--cache-dir", str(tmp_path / "cache"),
                 "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["pairs"] == 3 and r["storage"] == "disk" and r["decoded_bytes"] == 3 * 2 * 48 * 40 * 3
    assert r["cold_first_pass"]["steps"] == r["warm"]["steps"] == 2 and r["fill_cache"]["cache_bytes"] > 0
    assert "warm cache:" in capsys.readouterr().out
    assert main(["--pair-dir", str(tmp_path / "fake"), "--patch", "16", "--batch", "2", "--steps", "2"]) == 0
    assert "memory:" in capsys.readouterr().out


def test_hard_linked_images_share_one_cache_entry(tmp_path: Path) -> None:
    """Sets where several degraded images share one clean image (RESIDE ITS) hard-link the clean file."""
    root = write_code_pairs(tmp_path / "linked", 1, {"a": (30, 30), "b": (30, 30), "c": (30, 30)})
    hr = read_image(root / "HR" / "a.png")
    hr[..., 2] = 200
    write_image(root / "HR" / "a.png", hr)
    for name in ("b", "c"):
        (root / "HR" / f"{name}.png").unlink()
        os.link(root / "HR" / "a.png", root / "HR" / f"{name}.png")
    kw = {"scale": 1, "lr_patch": 8, "batch_size": 6, "seed": 2}
    disk = PatchSampler([root], **kw, storage="disk", cache_dir=tmp_path / "cache")
    assert disk.fill_cache() == 4  # three LR images, one HR
    assert len(list((tmp_path / "cache" / "linked" / "HR").iterdir())) == 1
    _assert_same_batches(PatchSampler([root], **kw, storage="memory"), disk, range(4))


def test_pad_small_pads_by_reflection_and_keeps_determinism(scale1_dir: Path) -> None:
    # set1/a is 40x52: a 44-pixel patch needs 4 rows of padding, which repeat the edge rows
    kwargs = {"scale": 1, "lr_patch": 44, "batch_size": 6, "seed": 3, "augment": False, "pad_small": True}
    memory = PatchSampler([scale1_dir], storage="memory", **kwargs)
    disk = PatchSampler([scale1_dir], storage="disk", **kwargs)
    for step in range(4):
        a, b = memory.batch(step), disk.batch(step)
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])
    names = [p.name for p in memory.pairs]
    small = names.index(next(n for n in names if n.endswith("a")))
    lr, _hr = memory.images(small)
    assert lr.shape[:2] == (40, 52)
    found = False
    for step in range(40):
        for row, (image, y, x, *_flips) in enumerate(memory.plan(step)):
            if image != small:
                continue
            assert y == 0  # the only position in the padded height
            patch = (memory.batch(step)["lq"][row] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            assert (patch[:40] == lr[:, x:x + 44]).all()
            assert (patch[40:44] == lr[39:35:-1, x:x + 44]).all()  # BORDER_REFLECT: rows 39, 38, 37, 36
            found = True
    assert found
    with pytest.raises(ValueError, match="pad_small"):
        PatchSampler([scale1_dir], scale=1, lr_patch=44, batch_size=2, seed=0)


def test_labelled_sampler_draws_tasks_uniformly_and_labels_every_sample(tmp_path: Path) -> None:
    """Uni-Removal's mixture: one folder per task, the folder drawn first (a 1-pair folder is drawn
    as often as a 3-pair one), every sample labelled with its folder; reproducible per step."""
    big = write_code_pairs(tmp_path / "haze", 1, {"a": (40, 52), "b": (48, 40), "c": (36, 64)})
    small = write_code_pairs(tmp_path / "rain", 1, {"d": (40, 40)})
    s = PatchSampler([big, small], scale=1, lr_patch=16, batch_size=8, seed=3, labelled=True)
    counts = np.zeros(2)
    for step in range(200):
        rows, b = s.plan(step), s.batch(step)
        expected = (rows[:, 0] >= 3).astype(np.int64)   # images 0-2 are haze's, 3 is rain's
        assert b["task"].dtype == torch.int64 and b["task"].tolist() == expected.tolist()
        counts += np.bincount(expected, minlength=2)
    assert abs(counts[1] / counts.sum() - 0.5) < 0.05            # uniform over tasks, not over images
    again = PatchSampler([big, small], scale=1, lr_patch=16, batch_size=8, seed=3, labelled=True)
    assert torch.equal(again.batch(7)["task"], s.batch(7)["task"])
    halves = [s.batch(7, r, 2)["task"] for r in (0, 1)]          # ranks' shares concatenate
    assert torch.equal(torch.cat(halves), s.batch(7)["task"])
    plain = PatchSampler([big, small], scale=1, lr_patch=16, batch_size=8, seed=3)
    assert "task" not in plain.batch(0)
