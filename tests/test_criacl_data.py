"""Cria-CL's data: the registry entries (RealSR V3, NTIRE 2020 track 1, City100, RealSR-Zero, weights)
extracted from tiny fake archives served on 127.0.0.1, the x4 size check/crop, offline messages, the
Impressionism pair recipe and noise pool, noise injection, and the sampler's noise pool."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from _http import local_server, serve, tar_gz_bytes, zip_bytes

from cir.data import registry
from cir.data.bicubic import imresize
from cir.data.download import (
    ExtractionError,
    MissingDataError,
    ensure_asset,
    ensure_paired_dataset,
    extract_pairs,
)
from cir.data.images import read_image, write_image
from cir.data.impressionism import (
    collect_noise_pool,
    flat_patches,
    inject_noise,
    make_impressionism_pairs,
    to_uint8,
)
from cir.data.paired import PatchSampler, load_pairs
from cir.errors import DataError

REPO = Path(__file__).resolve().parents[1]
FAST = {"retries": 0, "backoff": 0.0, "timeout": 5.0, "progress": False}


@pytest.fixture
def server(tmp_path):
    with local_server(tmp_path) as srv:
        yield srv


def _png(h: int, w: int, seed: int = 0, ext: str = ".png") -> bytes:
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(ext, img)
    assert ok
    return buf.tobytes()


def _served(monkeypatch, server, name: str, archives: dict[str, bytes], **changes) -> registry.PairedDatasetEntry:
    """The registry entry ``name`` with its sources' URLs on the local server (checksums of the fakes)."""
    entry = registry.PAIRED_DATASETS[name]
    sources = []
    for src in entry.sources:
        data = archives[src.filename]
        digest = hashlib.new(src.hash_algo, data).hexdigest() if src.checksum else None
        sources.append(dataclasses.replace(src, urls=(serve(server, src.filename.replace("(", "_").replace(
            ")", "_"), data),), checksum=digest))
    source = tuple(sources) if isinstance(entry.source, tuple) else sources[0]
    new = dataclasses.replace(entry, source=source, **changes)
    monkeypatch.setitem(registry.PAIRED_DATASETS, name, new)
    return new


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


# --- RealSR V3 (x4, HR off by a few pixels) ------------------------------------------

def _realsr_v3() -> dict[str, bytes]:
    top = "RealSR(V3)/Canon"
    return {
        f"{top}/Test/4/Canon_001_HR.png": _png(40, 48, 1), f"{top}/Test/4/Canon_001_LR4.png": _png(10, 12, 2),
        # HR 3 rows and 2 columns more than 4 x LR: cropped to 40 x 48
        f"{top}/Test/4/Canon_002_HR.png": _png(43, 50, 3), f"{top}/Test/4/Canon_002_LR4.png": _png(10, 12, 4),
        # LR one row more than HR supports (LR = ceil(HR / 4)): LR cropped to 9 rows, HR to 36
        f"{top}/Test/4/Canon_003_HR.png": _png(38, 48, 5), f"{top}/Test/4/Canon_003_LR4.png": _png(10, 12, 6),
        f"{top}/Test/2/Canon_001_HR.png": _png(20, 24, 7), f"{top}/Test/2/Canon_001_LR2.png": _png(10, 12, 8),
        f"{top}/Train/4/Canon_004_HR.png": _png(40, 48, 9), f"{top}/Train/4/Canon_004_LR4.png": _png(10, 12, 10),
        f"{top}/Train/4/Canon_005_HR.png": _png(40, 48, 11), f"{top}/Train/4/Canon_005_LR4.png": _png(10, 12, 12),
        "RealSR(V3)/Nikon/Test/4/Nikon_001_HR.png": _png(40, 48, 13),
        "RealSR(V3)/Nikon/Test/4/Nikon_001_LR4.png": _png(10, 12, 14),
    }


def test_realsr_v3_x4_pairs_are_checked_cropped_and_named(server, tmp_path, monkeypatch):
    files = _realsr_v3()
    _served(monkeypatch, server, "RealSR_Canon_test", {"RealSR(V3).tar.gz": tar_gz_bytes(files)}, pair_count=3)
    out = tmp_path / "data" / "pairs" / "RealSR_Canon_test"
    assert ensure_paired_dataset("RealSR_Canon_test", out, tmp_path / "cache", **FAST) == out
    assert sorted(p.name for p in (out / "LR").iterdir()) == ["Canon_001.png", "Canon_002.png", "Canon_003.png"]
    # an exact pair keeps its bytes
    assert (out / "HR" / "Canon_001.png").read_bytes() == files["RealSR(V3)/Canon/Test/4/Canon_001_HR.png"]
    assert (out / "LR" / "Canon_001.png").read_bytes() == files["RealSR(V3)/Canon/Test/4/Canon_001_LR4.png"]
    m = _manifest(out)
    assert (m["scale"], m["task"], m["pair_count"]) == (4, "realsr", 3)
    rec = {r["name"]: r for r in m["pairs"]}
    assert "cropped_from" not in rec["Canon_001"]
    assert rec["Canon_002"]["cropped_from"] == {"lr": [10, 12], "hr": [43, 50]}
    assert (rec["Canon_002"]["lr_size"], rec["Canon_002"]["hr_size"]) == ([10, 12], [40, 48])
    assert (rec["Canon_003"]["lr_size"], rec["Canon_003"]["hr_size"]) == ([9, 12], [36, 48])
    # the crop keeps the top-left pixels
    hr2 = cv2.imdecode(np.frombuffer(files["RealSR(V3)/Canon/Test/4/Canon_002_HR.png"], np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(read_image(out / "HR" / "Canon_002.png"), cv2.cvtColor(hr2[:40, :48], cv2.COLOR_BGR2RGB))
    lr3 = cv2.imdecode(np.frombuffer(files["RealSR(V3)/Canon/Test/4/Canon_003_LR4.png"], np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(read_image(out / "LR" / "Canon_003.png"), cv2.cvtColor(lr3[:9], cv2.COLOR_BGR2RGB))
    pairs = load_pairs(out)  # the scale comes from the manifest; HR = LR x 4 for every pair
    assert [p.hr.shape[:2] for p in pairs] == [(40, 48), (40, 48), (36, 48)]


def test_realsr_pair_beyond_the_slack_is_refused(tmp_path):
    files = _realsr_v3()
    files["RealSR(V3)/Canon/Test/4/Canon_002_HR.png"] = _png(52, 48, 3)  # 12 rows more than 4 x LR
    archive = tmp_path / "RealSR(V3).tar.gz"
    archive.write_bytes(tar_gz_bytes(files))
    entry = dataclasses.replace(registry.PAIRED_DATASETS["RealSR_Canon_test"], pair_count=3)
    out = tmp_path / "out"
    with pytest.raises(ExtractionError, match=r"pair 'Canon_002'.*Canon_002_HR\.png' is 52x48.*LR4\.png' is 10x12.*"
                                              r"at most 8 HR pixels"):
        extract_pairs(archive, entry, out)
    assert not out.exists()


def test_unknown_pair_count_is_accepted_printed_and_kept(server, tmp_path, monkeypatch, capsys):
    entry = _served(monkeypatch, server, "RealSR_Canon_train", {"RealSR(V3).tar.gz": tar_gz_bytes(_realsr_v3())})
    assert entry.pair_count is None
    out = tmp_path / "pairs" / "RealSR_Canon_train"
    ensure_paired_dataset("RealSR_Canon_train", out, tmp_path / "cache", **FAST)
    assert "RealSR_Canon_train: 2 pairs extracted; no verified pair count" in capsys.readouterr().err
    m = _manifest(out)
    assert (m["pair_count"], m["pair_count_registered"], [r["name"] for r in m["pairs"]]) == (
        2, None, ["Canon_004", "Canon_005"])
    # complete: kept without the archive or network
    (tmp_path / "cache" / "RealSR(V3).tar.gz").unlink()
    assert ensure_paired_dataset("RealSR_Canon_train", out, tmp_path / "cache", offline=True) == out


# --- NTIRE 2020 track 1 validation (two zips, paired on the 4-digit id) ------------------

def test_ntire20_valid_zips_pair_by_their_ids(server, tmp_path, monkeypatch):
    inputs = {f"track1-valid-input/08{i:02d}x4.png": _png(6, 8, i) for i in (1, 2, 3)}
    gts = {f"track1-valid-gt/08{i:02d}.png": _png(24, 32, 10 + i) for i in (1, 2, 3)}
    _served(monkeypatch, server, "NTIRE2020_T1_valid",
            {"track1-valid-input.zip": zip_bytes(inputs), "track1-valid-gt.zip": zip_bytes(gts)}, pair_count=3)
    out = tmp_path / "pairs" / "NTIRE2020_T1_valid"
    ensure_paired_dataset("NTIRE2020_T1_valid", out, tmp_path / "cache", **FAST)
    assert sorted(p.name for p in (out / "HR").iterdir()) == ["0801.png", "0802.png", "0803.png"]
    assert (out / "LR" / "0802.png").read_bytes() == inputs["track1-valid-input/0802x4.png"]
    assert (out / "HR" / "0802.png").read_bytes() == gts["track1-valid-gt/0802.png"]
    m = _manifest(out)
    assert m["scale"] == 4 and m["sources"] == ["track1-valid-input.zip", "track1-valid-gt.zip"]
    assert len(load_pairs(out)) == 3


def test_ntire20_valid_has_no_size_slack(tmp_path):
    (tmp_path / "in.zip").write_bytes(zip_bytes({"track1-valid-input/0801.png": _png(6, 8)}))
    (tmp_path / "gt.zip").write_bytes(zip_bytes({"track1-valid-gt/0801.png": _png(25, 32)}))
    entry = dataclasses.replace(registry.PAIRED_DATASETS["NTIRE2020_T1_valid"], pair_count=1)
    with pytest.raises(ExtractionError, match=r"tolerates at most 0 HR pixels"):
        extract_pairs([tmp_path / "in.zip", tmp_path / "gt.zip"], entry, tmp_path / "out")


# --- City100 iPhone X inside a GitHub archive of ngchc/CameraSR ----------------------------

def test_city100_github_archive_splits_001_020_and_021_100(server, tmp_path, monkeypatch):
    top = "CameraSR-336cac11f5ba409134b2bc5165e9ad6aa4a07e65"
    files = {f"{top}/City100/City100_iPhoneX/{i:03d}{s}.PNG": _png(3, 4, 2 * i + (s == "H"))
             for i in range(1, 101) for s in "HL"}
    files.update({f"{top}/City100/City100_NikonD5500/001L.PNG": _png(3, 4), f"{top}/Models/VDSR/testset/001L.PNG":
                  _png(3, 4), f"{top}/Models/VDSR/testset/001H.PNG": _png(3, 4), f"{top}/README.md": b"readme"})
    archive = zip_bytes(files)
    for name in ("City100_iPhoneX_test", "City100_iPhoneX_train"):
        _served(monkeypatch, server, name, {registry.CAMERASR_REPO.filename: archive})
    test_out, train_out = tmp_path / "pairs" / "test", tmp_path / "pairs" / "train"
    ensure_paired_dataset("City100_iPhoneX_test", test_out, tmp_path / "cache", **FAST)
    ensure_paired_dataset("City100_iPhoneX_train", train_out, tmp_path / "cache", **FAST)
    assert sorted(p.stem for p in (test_out / "LR").iterdir()) == [f"{i:03d}" for i in range(1, 21)]
    assert sorted(p.stem for p in (train_out / "HR").iterdir()) == [f"{i:03d}" for i in range(21, 101)]
    assert (test_out / "LR" / "007.png").read_bytes() == files[f"{top}/City100/City100_iPhoneX/007L.PNG"]
    assert (test_out / "HR" / "007.png").read_bytes() == files[f"{top}/City100/City100_iPhoneX/007H.PNG"]
    m = _manifest(test_out)
    assert (m["scale"], m["task"], m["split"]) == (1, "camerasr", "test")
    assert len(load_pairs(train_out)) == 80


# --- offline and by-hand messages -------------------------------------------------------

def test_offline_drive_only_archive_says_what_is_missing_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = Path("data/pairs/RealSR_Canon_test")
    with pytest.raises(MissingDataError) as err:
        ensure_paired_dataset("RealSR_Canon_test", out, "data/downloads", offline=True)
    msg = str(err.value)
    assert "paired data set 'RealSR_Canon_test' (realsr, test) needs the file RealSR(V3).tar.gz" in msg
    assert "offline mode" in msg
    assert str(tmp_path / "data/downloads/RealSR(V3).tar.gz") in msg
    assert "id=17ZMjo-zwFouxnm_aFM6CUHBwgRrLZqIM" in msg  # the Drive link
    assert "By hand: Open https://drive.google.com/file/d/17ZMjo-zwFouxnm_aFM6CUHBwgRrLZqIM/view" in msg
    assert "It must have md5 83e946bf4b5c22b30d1663231bb2e53e." in msg
    assert "dvc add 'data/downloads/RealSR(V3).tar.gz'" in msg  # quoted for the shell
    assert "snakemake --cores 1 data/pairs/RealSR_Canon_test" in msg and "(rule download_pairs)" in msg


def test_offline_messages_of_realsr_zero_and_the_init_weights(tmp_path):
    with pytest.raises(MissingDataError) as err:
        ensure_paired_dataset("RealSR_Zero", tmp_path / "zero", tmp_path / "cache", offline=True)
    msg = str(err.value)
    assert "realsr-zero.zip" in msg and "pwd=ljdr (code ljdr)" in msg and "1A7wyIuSEBe4zzK9n05e81AD8Xz6LHAU9" in msg
    assert "7c5f5d955fd43c283e38ec3d472ffb19bc26a6a2" in msg  # the git blob that identifies an intact copy
    with pytest.raises(MissingDataError) as err:
        ensure_asset("ESRGAN_PSNR_SRx4_DF2K_official-150ff491.pth", tmp_path / "w.pth", tmp_path / "cache",
                     offline=True)
    msg = str(err.value)
    assert "1swaV5iBMFfg-DL6ZyiARztbhutDCWXMM" in msg and "sha256 prefix 150ff491" in msg


def test_realsr_zero_is_reference_free_at_x4(server, tmp_path, monkeypatch):
    files = {f"realsr-zero/{i:02d}.png": _png(5, 7, i) for i in range(1, 46)}
    files["__MACOSX/realsr-zero/._01.png"] = b"fork"
    _served(monkeypatch, server, "RealSR_Zero", {"realsr-zero.zip": zip_bytes(files)})
    out = tmp_path / "pairs" / "RealSR_Zero"
    ensure_paired_dataset("RealSR_Zero", out, tmp_path / "cache", **FAST)
    assert len(list((out / "LR").iterdir())) == 45 and not (out / "HR").exists()
    m = _manifest(out)
    assert m["reference_free"] and m["scale"] == 4


def test_the_registry_holds_the_criacl_data_and_weights():
    p = registry.PAIRED_DATASETS
    assert {"realsr", "camerasr"} <= set(registry.PAIRED_TASKS)
    assert {n: (p[n].task, p[n].split, p[n].scale, p[n].pair_count) for n in (
        "RealSR_Canon_train", "RealSR_Canon_test", "NTIRE2020_T1_valid", "RealSR_Zero", "City100_iPhoneX_train",
        "City100_iPhoneX_test")} == {
        "RealSR_Canon_train": ("realsr", "train", 4, None), "RealSR_Canon_test": ("realsr", "test", 4, 50),
        "NTIRE2020_T1_valid": ("realsr", "test", 4, 100), "RealSR_Zero": ("realsr", "test", 4, 45),
        "City100_iPhoneX_train": ("camerasr", "train", 1, 80), "City100_iPhoneX_test": ("camerasr", "test", 1, 20)}
    assert p["RealSR_Canon_test"].source.checksum == "83e946bf4b5c22b30d1663231bb2e53e"
    assert [s.filename for s in p["NTIRE2020_T1_valid"].sources] == ["track1-valid-input.zip", "track1-valid-gt.zip"]
    d = registry.DATASETS
    assert (d["Flickr2K"].image_count, d["Flickr2K"].source.checksum) == (2650, "5d3f39443d5e9489bff8963f8f26cb03")
    assert (d["NTIRE2020_T1_source"].image_count, d["NTIRE2020_T1_target"].image_count) == (2650, 800)
    init = registry.get_asset("ESRGAN_PSNR_SRx4_DF2K_official-150ff491.pth")
    assert (init.kind, init.backbone, init.scale, init.task) == ("init", "criacl", 4, None)
    teacher = registry.get_asset(registry.official_teacher_asset("criacl", "realsr_ntire"))
    assert (teacher.name, teacher.scale, teacher.member_glob) == ("RealSR-CCL_NTIRE.pth", 4, "**/NTIRE.pth")
    assert teacher.source.urls == ("https://github.com/House-Leo/RealSR-CCL/releases/download/Premodel/model.zip",)


# --- the Impressionism recipe ------------------------------------------------------------

def _smooth(h: int, w: int, seed: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w] / 7.0
    phase = np.random.default_rng(seed).uniform(0, 3, 3)
    return np.stack([127 + 100 * np.sin(yy + xx * 0.7 + c) for c in phase], -1).round().astype(np.uint8)


def test_impressionism_pairs_sizes_cleanup_and_names(tmp_path):
    src, tgt = tmp_path / "source", tmp_path / "target"
    source_img, target_img = _smooth(50, 70, 0), _smooth(41, 30, 1)
    write_image(src / "0001.png", source_img)
    write_image(tgt / "0001.png", target_img)  # the same name on both sides stays two pairs
    out = make_impressionism_pairs(src, tgt, tmp_path / "pairs", scale=4)
    pairs = {p.name: p for p in load_pairs(out)}
    assert sorted(pairs) == ["src_0001", "tgt_0001"]
    # source: x1/2 clean-up (ceil(50/2) x ceil(70/2) = 25 x 35), mod-crop 4 -> 24 x 32, LR 6 x 8
    assert pairs["src_0001"].hr.shape[:2] == (24, 32) and pairs["src_0001"].lr.shape[:2] == (6, 8)
    clean = np.clip(imresize(source_img / 255.0, scale=0.5), 0, 1)[:24, :32]
    assert np.array_equal(pairs["src_0001"].hr, np.floor(clean * 255).astype(np.uint8))
    lr = np.clip(imresize(clean, scale=0.25), 0, 1)  # from the float HR, as the authors do
    assert np.array_equal(pairs["src_0001"].lr, np.floor(lr * 255).astype(np.uint8))
    # target: no clean-up, mod-crop 4 -> 40 x 28 with the pixels unchanged, LR 10 x 7
    assert np.array_equal(pairs["tgt_0001"].hr, target_img[:40, :28])
    assert pairs["tgt_0001"].lr.shape[:2] == (10, 7)
    m = _manifest(out)
    assert (m["scale"], m["cleanup_factor"], m["quantize"], m["pair_count"]) == (4, 2, "truncate", 2)
    assert {r["name"]: r["origin"] for r in m["pairs"]} == {"src_0001": "source", "tgt_0001": "target"}


def test_quantize_truncates_like_the_authors_or_rounds():
    x = np.array([0.0, 0.5, 100.6 / 255, 1.0, 1.2, -0.1])
    assert to_uint8(x, "truncate").tolist() == [0, 127, 100, 255, 255, 0]
    assert to_uint8(x, "round").tolist() == [0, 128, 101, 255, 255, 0]


def test_noise_pool_keeps_flat_patches_only(tmp_path):
    img = np.zeros((300, 600, 3), np.uint8)
    # window (0, 0): gray values 116 and 124 in equal parts, variance 16 < 20: kept
    img[:, :256] = 116
    img[::2, :256] = 124
    # window (0, 256): texture, rejected; the rest of the image is never a window (y < 300 - 256 only 0;
    # x < 600 - 256: 0 and 256)
    img[:, 256:] = np.random.default_rng(0).integers(0, 256, (300, 344, 3), dtype=np.uint8)
    write_image(tmp_path / "imgs" / "a.png", img)
    out = collect_noise_pool(tmp_path / "imgs", tmp_path / "pool", patch=256, max_variance=20.0)
    assert sorted(p.name for p in out.iterdir()) == ["a_000.png", "manifest.json"]
    assert np.array_equal(read_image(out / "a_000.png"), img[:256, :256])
    m = _manifest(out)
    assert m["patches"] == [{"name": "a_000", "source": "a.png", "y": 0, "x": 0, "gray_variance": 16.0,
                             "gray_mean": 120.0}]


def test_noise_pool_rule_details_match_the_authors_script():
    flat = np.full((8, 8, 3), 120, np.uint8)
    flat[::2] = 129  # variance 20.25: not below 20
    assert flat_patches(flat[:, :, :], patch=4, max_variance=20.0) == []
    flat[::2] = 128  # variance 16
    assert [k[:2] for k in flat_patches(np.pad(flat, ((0, 1), (0, 1), (0, 0)), mode="edge"), 4, 20.0)] == [
        (0, 0), (0, 4), (4, 0), (4, 4)]
    # the last full window of a side whose length is a multiple of the patch is left out (range(0, h - sp, sp))
    assert [k[:2] for k in flat_patches(flat, patch=4, max_variance=20.0)] == [(0, 0)]
    # the mean must be strictly above min_mean: a black window is no noise patch at min_mean 0
    assert flat_patches(np.zeros((9, 9, 3), np.uint8), patch=4) == []
    # one variance on the gray (Pillow "L") image, not per channel: rows of (100, 100, 100) and
    # (200, 68, 0) have the same luma 100, so the window is flat although R and G swing by 100 and 32
    rgb = np.full((5, 5, 3), 100, np.uint8)
    rgb[::2] = (200, 68, 0)
    assert flat_patches(rgb, patch=4, max_variance=20.0) == [(0, 0, 0.0, 100.0)]


def test_noise_pool_without_a_qualifying_patch_names_the_folder(tmp_path):
    write_image(tmp_path / "imgs" / "t.png", np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"no noise patch in .*imgs: none of its 1 images has a 16x16 window"):
        collect_noise_pool(tmp_path / "imgs", tmp_path / "pool", patch=16)
    assert not (tmp_path / "pool").exists()


def test_inject_noise_removes_each_channels_mean_and_clamps():
    lr = torch.tensor([[[0.5, 0.5], [0.5, 0.5]], [[0.95, 0.05], [0.5, 0.5]], [[0.2, 0.4], [0.6, 0.8]]])
    noise = torch.tensor([[[0.1, 0.3], [0.5, 0.7]], [[0.2, 0.0], [0.0, 0.2]], [[0.9, 0.9], [0.9, 0.9]]])
    out = inject_noise(lr, noise)
    # channel 0: mean 0.4 -> -0.3, -0.1, 0.1, 0.3; channel 1: mean 0.1 -> +-0.1, clamped at 1 and 0;
    # channel 2: a constant noise patch adds nothing
    expected = torch.tensor([[[0.2, 0.4], [0.6, 0.8]], [[1.0, 0.0], [0.4, 0.6]], [[0.2, 0.4], [0.6, 0.8]]])
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.equal(lr[1, 0], torch.tensor([0.95, 0.05]))  # the input is not changed
    # a batch, and uint8 noise (read as k / 255): 51, 102, 153, 204 are 0.2 ... 0.8, mean 0.5
    noise_u8 = torch.tensor([[[51, 102], [153, 204]], [[51, 0], [0, 51]], [[230, 230], [230, 230]]],
                            dtype=torch.uint8)
    assert torch.allclose(inject_noise(lr.unsqueeze(0), noise_u8.unsqueeze(0))[0], expected, atol=1e-6)
    with pytest.raises(ValueError, match="does not match"):
        inject_noise(lr, noise[:, :1])


# --- the sampler's noise pool ------------------------------------------------------------

@pytest.fixture
def sampler_data(tmp_path):
    pairs = tmp_path / "pairs"
    rng = np.random.default_rng(0)
    for name, (h, w) in {"a": (12, 14), "b": (16, 12)}.items():
        lr = rng.integers(60, 200, (h, w, 3), dtype=np.uint8)
        write_image(pairs / "LR" / f"{name}.png", lr)
        write_image(pairs / "HR" / f"{name}.png", lr.repeat(2, 0).repeat(2, 1))
    pool = tmp_path / "pool"
    for k, (h, w) in enumerate([(10, 10), (12, 9), (9, 15)]):
        write_image(pool / f"n_{k:03d}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return pairs, pool


def _sampler(pairs, pool=None, **kw):
    return PatchSampler([pairs], scale=2, lr_patch=6, batch_size=4, seed=7, noise_pool=pool, **kw)


def test_sampler_noise_is_a_function_of_seed_and_step(sampler_data, tmp_path):
    pairs, pool = sampler_data
    plain, noisy = _sampler(pairs), _sampler(pairs, pool)
    b1, b2 = noisy.batch(5), _sampler(pairs, pool).batch(5)  # a fresh sampler: a resumed run
    assert torch.equal(b1["lq"], b2["lq"]) and torch.equal(b1["gt"], b2["gt"])
    assert torch.equal(noisy.batch(5)["lq"], b1["lq"])  # repeated call
    assert not torch.equal(noisy.batch(6)["lq"], b1["lq"])
    assert not np.array_equal(noisy.noise_plan(5), noisy.noise_plan(6))
    # the crops and the GT are those of the sampler without noise; the LR gets exactly the planned noise
    ref = plain.batch(5)
    assert np.array_equal(noisy.plan(5), plain.plan(5)) and torch.equal(ref["gt"], b1["gt"])
    noise = []
    for image, y, x in noisy.noise_plan(5):
        patch = read_image(sorted(pool.glob("*.png"))[image])[y : y + 6, x : x + 6]
        noise.append(torch.from_numpy(patch.transpose(2, 0, 1).copy()))
    assert torch.allclose(b1["lq"], inject_noise(ref["lq"], torch.stack(noise)), atol=1e-6)
    assert not torch.equal(b1["lq"], ref["lq"])
    # data-parallel ranks take consecutive halves of the same global batch, noise included
    halves = [noisy.batch(5, rank=r, world_size=2)["lq"] for r in (0, 1)]
    assert torch.equal(torch.cat(halves), b1["lq"])
    # the disk cache gives the same batches
    disk = _sampler(pairs, pool, storage="disk", cache_dir=tmp_path / "cache")
    assert torch.equal(disk.batch(5)["lq"], b1["lq"])


def test_sampler_without_a_pool_is_unchanged(sampler_data):
    pairs, _ = sampler_data
    a, b = _sampler(pairs), PatchSampler([pairs], scale=2, lr_patch=6, batch_size=4, seed=7)
    for step in (0, 3):
        ba, bb = a.batch(step), b.batch(step)
        assert torch.equal(ba["lq"], bb["lq"]) and torch.equal(ba["gt"], bb["gt"])
    # the LR without noise is the uint8 crop: multiples of 1/255
    assert torch.equal((ba["lq"] * 255).round() / 255, ba["lq"])
    with pytest.raises(ValueError, match="no noise pool"):
        a.noise_plan(0)


def test_pool_images_must_hold_the_largest_patch(sampler_data):
    pairs, pool = sampler_data
    with pytest.raises(DataError, match=r"noise pool image .*n_000\.png is 10x10, smaller than the LR patch 11x11"):
        PatchSampler([pairs], scale=2, lr_patch=4, batch_size=2, seed=0, noise_pool=pool,
                     schedule=[(0, 4, 2), (10, 11, 2)])


# --- the command line --------------------------------------------------------------------

def test_prepare_impressionism_cli_both_modes(tmp_path, capsys):
    import runpy

    cli = runpy.run_path(str(REPO / "workflow_scripts" / "prepare_impressionism.py"))["main"]
    write_image(tmp_path / "src" / "s.png", _smooth(40, 40, 2))
    write_image(tmp_path / "tgt" / "t.png", _smooth(16, 16, 3))
    assert cli(["--source-dir", str(tmp_path / "src"), "--target-dir", str(tmp_path / "tgt"),
                "--out", str(tmp_path / "pairs")]) == 0
    assert sorted(p.name for p in (tmp_path / "pairs" / "LR").iterdir()) == ["src_s.png", "tgt_t.png"]
    flat = np.full((20, 20, 3), 90, np.uint8)
    write_image(tmp_path / "flat" / "f.png", flat)
    assert cli(["--noise-pool", "--image-dir", str(tmp_path / "flat"), "--patch", "8",
                "--out", str(tmp_path / "pool")]) == 0
    assert sorted(p.name for p in (tmp_path / "pool").glob("*.png")) == ["f_000.png", "f_001.png", "f_002.png",
                                                                         "f_003.png"]
    assert cli(["--noise-pool", "--image-dir", str(tmp_path / "src"), "--patch", "64",
                "--out", str(tmp_path / "none")]) == 2
    assert "error: no noise patch in" in capsys.readouterr().err
