"""Paired (scale-1) data sets of the download registry: pairing rules, the LR/HR/manifest layout,
counts, atomicity, offline messages and checksums, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from _http import local_server, serve, tar_gz_bytes, zip_bytes

from cir.data import download, registry
from cir.data.download import (
    ChecksumError,
    ExtractionError,
    MissingDataError,
    ensure_paired_dataset,
    extract_pairs,
    pair_stem,
)
from cir.data.registry import (
    ARCHIVE_TYPES,
    HASH_ALGOS,
    MAT_BLOCKS,
    PAIRED_ARCHIVE_TYPES,
    PAIRED_TASKS,
    PAIRING_KINDS,
    SAME_NAME,
    SORTED,
    SPLITS,
    PairedDatasetEntry,
    Source,
    list_pairing,
    regex_pairing,
    side_by_side,
)

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "workflow_scripts" / "download.py"
DEAD_URL = "http://127.0.0.1:9/unreachable.bin"  # discard port: nothing listens there
FAST = {"retries": 0, "backoff": 0.0, "timeout": 5.0, "progress": False}


@pytest.fixture
def server(tmp_path):
    with local_server(tmp_path) as srv:
        yield srv


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _source(filename: str, urls=(DEAD_URL,), checksum=None, manual="") -> Source:
    return Source(filename, tuple(urls), checksum, checksum_note="test archive, no published checksum",
                  manual=manual)


def _entry(source, archive="zip", lq_glob="Toy/input/*", gt_glob="Toy/target/*", count=3, **kw) -> PairedDatasetEntry:
    return PairedDatasetEntry("Toy", kw.pop("task", "derain"), kw.pop("split", "test"), source, archive,
                              lq_glob, gt_glob, count, "toy paired set", **kw)


def _register(monkeypatch, entry: PairedDatasetEntry) -> PairedDatasetEntry:
    monkeypatch.setitem(registry.PAIRED_DATASETS, entry.name, entry)
    return entry


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


SAME = {
    "Toy/input/1.png": b"rainy-1", "Toy/input/2.png": b"rainy-2", "Toy/input/10.jpg": b"rainy-10",
    "Toy/target/1.png": b"clean-1", "Toy/target/2.png": b"clean-2", "Toy/target/10.jpg": b"clean-10",
    "Toy/readme.txt": b"not an image", "Toy/input/.DS_Store": b"x", "__MACOSX/Toy/input/._1.png": b"fork",
}


# --- layouts per pairing rule ------------------------------------------------------

def test_same_name_pairs_downloaded_into_lr_hr_with_manifest(server, tmp_path, monkeypatch, capsys):
    data = zip_bytes(SAME)
    url = serve(server, "toy.zip", data)
    _register(monkeypatch, _entry(_source("toy.zip", [url], checksum=_sha(data)), split="train"))
    out = tmp_path / "data" / "pairs" / "Toy"
    assert ensure_paired_dataset("Toy", out, tmp_path / "cache", **FAST) == out
    assert _files(out / "LR") == {"1.png": b"rainy-1", "10.jpg": b"rainy-10", "2.png": b"rainy-2"}
    assert _files(out / "HR") == {"1.png": b"clean-1", "10.jpg": b"clean-10", "2.png": b"clean-2"}
    m = _manifest(out)
    assert {k: m[k] for k in ("scale", "task", "dataset", "split", "synthetic", "reference_free", "pairing")} == {
        "scale": 1, "task": "derain", "dataset": "Toy", "split": "train", "synthetic": False,
        "reference_free": False, "pairing": "same_name"}
    assert m["pairs"] == [
        {"name": "1", "lq_member": "Toy/input/1.png", "gt_member": "Toy/target/1.png"},
        {"name": "10", "lq_member": "Toy/input/10.jpg", "gt_member": "Toy/target/10.jpg"},
        {"name": "2", "lq_member": "Toy/input/2.png", "gt_member": "Toy/target/2.png"},
    ]
    assert m["sources"] == ["toy.zip"] and m["pair_count"] == 3
    assert sorted(p.name for p in out.parent.iterdir()) == ["Toy"]  # no temporary folder left
    assert "warning" not in capsys.readouterr().err  # pinned checksum: nothing to print


def test_pair_folder_loads_with_the_pair_reader(tmp_path):
    """The written layout is what cir.data.paired reads (stems match, scale 1 from the manifest)."""
    from cir.data.paired import index_pairs

    img = np.zeros((4, 6, 3), np.uint8)
    png = cv2.imencode(".png", img)[1].tobytes()
    archive = tmp_path / "toy.zip"
    archive.write_bytes(zip_bytes({"Toy/input/a.png": png, "Toy/target/a.png": png, "Toy/input/b.png": png,
                              "Toy/target/b.png": png}))
    out = extract_pairs([archive], _entry(_source("toy.zip"), count=2), tmp_path / "Toy")
    assert [p.name for p in index_pairs(out)] == ["a", "b"]


def test_regex_many_to_one_tar_gz_hard_links_clean_images(tmp_path):
    files = {f"ITS/hazy/{k}_{i}_0.{k}{i}.png": f"hazy {k} {i}".encode() for k in (1, 2) for i in (1, 2, 3)}
    files.update({"ITS/clear/1.png": b"clear 1", "ITS/clear/2.png": b"clear 2", "ITS/trans/1_1.png": b"t"})
    archive = tmp_path / "its.tar.gz"
    archive.write_bytes(tar_gz_bytes(files))
    entry = _entry(_source("its.tar.gz"), "tar.gz", "**/hazy/*.png", "**/clear/*.png", 6,
                   pairing=regex_pairing(r"^(\d+)_.*(\.png)$", r"\1\2"), gt_count=2)
    out = extract_pairs(archive, entry, tmp_path / "out")
    assert sorted(p.name for p in (out / "LR").iterdir()) == sorted(p.name for p in (out / "HR").iterdir())
    for k in (1, 2):
        for i in (1, 2, 3):
            stem = f"{k}_{i}_0.{k}{i}"
            assert (out / "LR" / f"{stem}.png").read_bytes() == f"hazy {k} {i}".encode()
            assert (out / "HR" / f"{stem}.png").read_bytes() == f"clear {k}".encode()
    inodes = {(out / "HR" / f"1_{i}_0.1{i}.png").stat().st_ino for i in (1, 2, 3)}
    assert len(inodes) == 1  # one clean image, hard-linked under each pair's name
    assert _manifest(out)["pairs"][0] == {"name": "1_1_0.11", "lq_member": "ITS/hazy/1_1_0.11.png",
                                          "gt_member": "ITS/clear/1.png"}
    with pytest.raises(ExtractionError, match=r"use 2 distinct clean members matching '\*\*/clear/\*\.png', expected 3"):
        extract_pairs(archive, dataclasses.replace(entry, gt_count=3), tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_hard_link_falls_back_to_copy(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError("hard links not supported here")

    monkeypatch.setattr(download.os, "link", no_links)
    archive = tmp_path / "d.zip"
    archive.write_bytes(zip_bytes({"d/rainy_image/7_1.jpg": b"r1", "d/rainy_image/7_2.jpg": b"r2",
                              "d/ground_truth/7.jpg": b"gt"}))
    entry = _entry(_source("d.zip"), "zip", "**/rainy_image/*", "**/ground_truth/*", 2,
                   pairing=regex_pairing(r"^(\d+)_\d+(\.[^.]+)$", r"\1\2"), gt_count=1)
    out = extract_pairs(archive, entry, tmp_path / "out")
    assert _files(out / "HR") == {"7_1.jpg": b"gt", "7_2.jpg": b"gt"}
    assert (out / "HR" / "7_1.jpg").stat().st_ino != (out / "HR" / "7_2.jpg").stat().st_ino


GOPRO = {
    f"GOPRO_Large/test/{seq}/{folder}/{frame}.png": f"{seq} {folder} {frame}".encode()
    for seq in ("GOPR0384_11_00", "GOPR0385_11_01") for folder in ("blur", "blur_gamma", "sharp")
    for frame in ("000001", "000002")
}


def test_nested_sequences_get_path_stems(tmp_path):
    archive = tmp_path / "GOPRO_Large.zip"
    archive.write_bytes(zip_bytes(GOPRO))
    real = registry.PAIRED_DATASETS["GoPro_test"]
    entry = dataclasses.replace(real, source=_source("GOPRO_Large.zip"), pair_count=4)
    out = extract_pairs(archive, entry, tmp_path / "GoPro_test")
    names = ["GOPR0384_11_00-000001", "GOPR0384_11_00-000002", "GOPR0385_11_01-000001", "GOPR0385_11_01-000002"]
    assert sorted(p.stem for p in (out / "LR").iterdir()) == names
    for n in names:
        seq, frame = n.split("-")
        assert (out / "LR" / f"{n}.png").read_bytes() == f"{seq} blur {frame}".encode()
        assert (out / "HR" / f"{n}.png").read_bytes() == f"{seq} sharp {frame}".encode()
    # Without the pair-name rule the frame numbers collide across sequences: an error names both.
    with pytest.raises(ExtractionError, match=r"GOPR0384_11_00/blur/000001.png' and .*GOPR0385_11_01/blur/"
                                              r"000001.png' both get the pair name '000001'"):
        extract_pairs(archive, dataclasses.replace(entry, stem=""), tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_list_file_pairing(tmp_path):
    root = "RealBlur-J_ECC_IMCORR_centroid_itensity_ref"
    files = {f"{root}/scene{s:03d}/{k}/{k}_{i}.png": f"{s} {k} {i}".encode()
             for s in (1, 2) for k in ("blur", "gt") for i in (1, 2)}
    lines = [f"{root}/scene{s:03d}/gt/gt_{i}.png {root}/scene{s:03d}/blur/blur_{i}.png" for s in (1, 2) for i in (1,)]
    files["RealBlur_J_test_list.txt"] = ("\n".join(lines) + "\n\n").encode()
    files["RealBlur_J_train_list.txt"] = b"ignored"
    archive = tmp_path / "RealBlur.tar.gz"
    archive.write_bytes(tar_gz_bytes(files))
    entry = dataclasses.replace(registry.PAIRED_DATASETS["RealBlur_J_test"], source=_source("RealBlur.tar.gz"),
                                pair_count=2)
    out = extract_pairs(archive, entry, tmp_path / "rb")
    assert _files(out / "LR") == {"scene001-blur_1.png": b"1 blur 1", "scene002-blur_1.png": b"2 blur 1"}
    assert _files(out / "HR") == {"scene001-blur_1.png": b"1 gt 1", "scene002-blur_1.png": b"2 gt 1"}
    # A listed image that is not in the archive is named with its pair.
    files["RealBlur_J_test_list.txt"] = f"{root}/scene009/gt/gt_1.png {root}/scene009/blur/blur_1.png\n".encode()
    archive.write_bytes(tar_gz_bytes(files))
    with pytest.raises(ExtractionError, match=r"line 1 names the degraded image .*scene009/blur/blur_1.png"):
        extract_pairs(archive, dataclasses.replace(entry, pair_count=1), tmp_path / "rb2")


def test_reference_free_set_has_inputs_only(tmp_path):
    archive = tmp_path / "RTTS.zip"
    archive.write_bytes(zip_bytes({"RTTS/JPEGImages/a.png": b"a", "RTTS/JPEGImages/b.png": b"b",
                              "RTTS/Annotations/a.xml": b"<x/>"}))
    entry = dataclasses.replace(registry.PAIRED_DATASETS["RTTS"], source=_source("RTTS.zip"), pair_count=2)
    out = extract_pairs(archive, entry, tmp_path / "RTTS")
    assert sorted(p.name for p in out.iterdir()) == ["LR", "manifest.json"]
    m = _manifest(out)
    assert m["reference_free"] is True and m["pairs"] == [
        {"name": "a", "lq_member": "RTTS/JPEGImages/a.png"}, {"name": "b", "lq_member": "RTTS/JPEGImages/b.png"}]
    from cir.eval.evaluate import reference_free

    assert reference_free(out)


def test_sorted_pairing_with_different_names(tmp_path):
    archive = tmp_path / "t.zip"
    archive.write_bytes(zip_bytes({"test/Rain100H/input/rain-001.png": b"r1", "test/Rain100H/input/rain-002.png": b"r2",
                              "test/Rain100H/target/norain-001.png": b"c1",
                              "test/Rain100H/target/norain-002.png": b"c2"}))
    entry = dataclasses.replace(registry.PAIRED_DATASETS["Rain100H"], source=_source("t.zip"), pair_count=2)
    out = extract_pairs(archive, entry, tmp_path / "Rain100H")
    assert _files(out / "HR") == {"rain-001.png": b"c1", "rain-002.png": b"c2"}
    with zipfile.ZipFile(archive, "a") as zf:
        zf.writestr("test/Rain100H/target/norain-003.png", b"c3")
    with pytest.raises(ExtractionError, match=r"2 members match '\*\*/test/Rain100H/input/\*' and 3 match"):
        extract_pairs(archive, entry, tmp_path / "again")


def test_side_by_side_images_are_split(tmp_path):
    rng = np.random.default_rng(0)
    rainy, clean = rng.integers(0, 256, (2, 6, 5, 3), dtype=np.uint8)
    both = np.concatenate([rainy, clean], axis=1)  # BGR, as cv2 writes and reads it
    jpg_free = cv2.imencode(".png", both)[1].tobytes()  # lossless, so the halves compare exactly
    archive = tmp_path / "did.tar"
    with tarfile.open(archive, "w") as tf:
        for name in ("DID-MDN-training/Rain_Heavy/train2018new/0.jpg", "DID-MDN-training/Rain_Light/train2018new/0.jpg"):
            info = tarfile.TarInfo(name)
            info.size = len(jpg_free)
            tf.addfile(info, io.BytesIO(jpg_free))
    entry = dataclasses.replace(registry.PAIRED_DATASETS["DID_train"], source=_source("did.tar"), pair_count=2)
    assert entry.archive == "auto"  # a tar is recognised by its content
    out = extract_pairs(archive, entry, tmp_path / "DID")
    assert sorted(p.name for p in (out / "LR").iterdir()) == ["Rain_Heavy-0.png", "Rain_Light-0.png"]
    lr = cv2.imread(str(out / "LR" / "Rain_Heavy-0.png"), cv2.IMREAD_COLOR)
    hr = cv2.imread(str(out / "HR" / "Rain_Heavy-0.png"), cv2.IMREAD_COLOR)
    assert np.array_equal(lr, rainy) and np.array_equal(hr, clean)
    assert _manifest(out)["pairs"][0]["gt_member"].endswith("(right half)")


def test_mat_blocks_become_png_pairs(tmp_path):
    rng = np.random.default_rng(1)
    noisy, gt = rng.integers(0, 256, (2, 2, 3, 4, 5, 3), dtype=np.uint8)
    mats = {}
    for key, arr in (("ValidationNoisyBlocksSrgb", noisy), ("ValidationGtBlocksSrgb", gt)):
        buf = io.BytesIO()
        scipy.io.savemat(buf, {key: arr})
        mats[f"test/SIDD/{key}.mat"] = buf.getvalue()
    archive = tmp_path / "sidd.zip"
    archive.write_bytes(zip_bytes(mats))
    entry = dataclasses.replace(registry.PAIRED_DATASETS["SIDD_val"], source=_source("sidd.zip"), pair_count=6)
    assert entry.pairing == MAT_BLOCKS
    out = extract_pairs(archive, entry, tmp_path / "SIDD_val")
    names = [f"{i:02d}_{j:02d}" for i in range(2) for j in range(3)]
    assert sorted(p.stem for p in (out / "LR").iterdir()) == names
    rgb = cv2.cvtColor(cv2.imread(str(out / "HR" / "01_02.png"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(rgb, gt[1, 2])
    rgb = cv2.cvtColor(cv2.imread(str(out / "LR" / "00_01.png"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(rgb, noisy[0, 1])
    assert _manifest(out)["pairs"][1] == {"name": "00_01", "lq_member": "test/SIDD/ValidationNoisyBlocksSrgb.mat[0,1]",
                                          "gt_member": "test/SIDD/ValidationGtBlocksSrgb.mat[0,1]"}
    with pytest.raises(ExtractionError, match=r"6 blocks \(2 x 3\) in .* for SIDD_val, expected 7"):
        extract_pairs(archive, dataclasses.replace(entry, pair_count=7), tmp_path / "x")


def test_loose_mat_files_as_two_sources(server, tmp_path, monkeypatch):
    """The official SIDD blocks are two bare .mat files: archive kind "file", one source each."""
    rng = np.random.default_rng(2)
    arrays = dict(zip(("ValidationNoisyBlocksSrgb", "ValidationGtBlocksSrgb"),
                      rng.integers(0, 256, (2, 1, 2, 4, 4, 3), dtype=np.uint8)))
    sources = []
    for key, arr in arrays.items():
        buf = io.BytesIO()
        scipy.io.savemat(buf, {key: arr})
        sources.append(_source(f"{key}.mat", [serve(server, f"{key}.mat", buf.getvalue())]))
    real = registry.PAIRED_DATASETS["SIDD_val"]
    _register(monkeypatch, dataclasses.replace(real, name="Toy", source=tuple(sources), archive="file",
                                               lq_glob="ValidationNoisyBlocksSrgb.mat",
                                               gt_glob="ValidationGtBlocksSrgb.mat", pair_count=2))
    out = ensure_paired_dataset("Toy", tmp_path / "val", tmp_path / "cache", **FAST)
    rgb = cv2.cvtColor(cv2.imread(str(out / "HR" / "00_01.png"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(rgb, arrays["ValidationGtBlocksSrgb"][0, 1])
    assert _manifest(out)["sources"] == ["ValidationNoisyBlocksSrgb.mat", "ValidationGtBlocksSrgb.mat"]


def test_two_archives_of_one_set(server, tmp_path, monkeypatch):
    """RESIDE ITS comes as hazy.zip and clear.zip: a tuple of sources, all fetched, then paired."""
    hazy = zip_bytes({f"hazy/{k}_{i}_0.9.png": f"h{k}{i}".encode() for k in (1, 2) for i in (1, 2)})
    clear = zip_bytes({"clear/1.png": b"c1", "clear/2.png": b"c2"})
    sources = (_source("its_hazy.zip", [serve(server, "h.zip", hazy)], checksum=_sha(hazy)),
               _source("its_clear.zip", [serve(server, "c.zip", clear)], checksum=_sha(clear)))
    real = registry.PAIRED_DATASETS["RESIDE_ITS"]
    _register(monkeypatch, dataclasses.replace(real, name="Toy", source=sources, pair_count=4, gt_count=2))
    out = ensure_paired_dataset("Toy", tmp_path / "ITS", tmp_path / "cache", **FAST)
    assert _files(out / "HR")["2_1_0.9.png"] == b"c2" and len(_files(out / "LR")) == 4
    assert _manifest(out)["sources"] == ["its_hazy.zip", "its_clear.zip"]
    with pytest.raises(download.CirError, match=r"--url replaces the mirrors of one file, but Toy needs 2 files"):
        ensure_paired_dataset("Toy", tmp_path / "ITS2", tmp_path / "cache", urls=["http://x/y"], **FAST)


def test_registry_rules_on_the_published_file_names():
    """Each real entry's pairing and naming rule on the file names its sources describe."""
    def gt_name(name, lq):
        rule = registry.PAIRED_DATASETS[name].pairing
        target = lq if rule.on == "path" else lq.rsplit("/", 1)[-1]
        return re.sub(rule.pattern, rule.repl, target)

    assert gt_name("GoPro_train", "GOPRO_Large/train/GOPR0372_07_00/blur/000047.png") == \
        "GOPRO_Large/train/GOPR0372_07_00/sharp/000047.png"
    assert gt_name("RESIDE_ITS", "hazy/1400_1_0.90179.png") == "1400.png"
    assert gt_name("RESIDE_OTS", "hazy/0025_0.8_0.1.jpg") == "0025.jpg"
    assert gt_name("SOTS_indoor", "SOTS/indoor/hazy/1400_10.png") == "1400.png"
    assert gt_name("SOTS_outdoor", "SOTS/outdoor/hazy/0019_0.8_0.16.jpg") == "0019.png"
    assert gt_name("DDN_train", "Rain1400/training/rainy_image/900_14.jpg") == "900.jpg"
    assert gt_name("SIDD_train", "train/0001_001_S6/0001_NOISY_SRGB_010.PNG") == "0001_GT_SRGB_010.PNG"
    stem = pair_stem
    assert stem(registry.PAIRED_DATASETS["GoPro_train"], "x/train/GOPR0372_07_00/blur/000047.png") == \
        "GOPR0372_07_00-000047"
    assert stem(registry.PAIRED_DATASETS["RealBlur_J_test"],
                "RealBlur-J_ECC_IMCORR_centroid_itensity_ref/scene230/blur/blur_7.png") == "scene230-blur_7"
    assert stem(registry.PAIRED_DATASETS["DID_train"],
                "DID-MDN-training/Rain_Medium/train2018new/3999.jpg") == "Rain_Medium-3999"
    assert stem(registry.PAIRED_DATASETS["SOTS_outdoor"], "SOTS/outdoor/hazy/0019_0.8_0.16.jpg") == "0019_0.8_0.16"


# --- failures ----------------------------------------------------------------------

def test_count_mismatch_names_archive_glob_and_count(tmp_path):
    archive = tmp_path / "toy.zip"
    archive.write_bytes(zip_bytes(SAME))
    out = tmp_path / "out" / "Toy"
    with pytest.raises(ExtractionError) as err:
        extract_pairs(archive, _entry(_source("toy.zip"), count=4), out)
    msg = str(err.value)
    assert str(archive) in msg and "3 members match 'Toy/input/*' for Toy, expected 4" in msg
    assert not out.exists() and not any((tmp_path / "out").glob("*"))  # nothing left behind


def test_missing_clean_member_names_both(tmp_path):
    files = {k: v for k, v in SAME.items() if k != "Toy/target/2.png"}
    archive = tmp_path / "toy.zip"
    archive.write_bytes(zip_bytes(files))
    with pytest.raises(ExtractionError, match=r"toy.zip: Toy: the degraded member 'Toy/input/2.png' has no clean "
                                              r"member '2.png' \(pairing same_name; .*'Toy/target/\*'\)"):
        extract_pairs(archive, _entry(_source("toy.zip")), tmp_path / "Toy")


def test_failed_extraction_keeps_the_old_folder(tmp_path):
    archive = tmp_path / "toy.zip"
    archive.write_bytes(zip_bytes(SAME))
    out = extract_pairs(archive, _entry(_source("toy.zip")), tmp_path / "Toy")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = tmp_path / "broken.zip"
    broken.write_bytes(zip_bytes({k: v for k, v in SAME.items() if k != "Toy/target/10.jpg"}))
    with pytest.raises(ExtractionError, match="has no clean member"):
        extract_pairs(broken, _entry(_source("broken.zip")), out)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Toy", "broken.zip", "toy.zip"]


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch):
    archive = tmp_path / "toy.zip"
    archive.write_bytes(zip_bytes(SAME))
    calls = []

    def failing_copy(src, dst):
        calls.append(dst)
        if len(calls) == 4:
            raise OSError("disk full")
        with src, open(dst, "wb") as f:
            f.write(src.read())

    monkeypatch.setattr(download, "_copy_stream", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        extract_pairs(archive, _entry(_source("toy.zip")), tmp_path / "out" / "Toy")
    assert list((tmp_path / "out").iterdir()) == []


def test_corrupt_archive_is_reported(tmp_path):
    bad = tmp_path / "toy.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ExtractionError, match="toy.zip is not a readable archive"):
        extract_pairs(bad, _entry(_source("toy.zip")), tmp_path / "out")
    with pytest.raises(ExtractionError, match="toy.zip is neither a zip nor a tar archive"):
        extract_pairs(bad, _entry(_source("toy.zip"), archive="auto"), tmp_path / "out")


# --- cache, checksums, offline -----------------------------------------------------

def test_offline_message_names_file_place_urls_and_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    manual = "Download toy.zip from the Toy authors' drive folder and keep it zipped."
    _register(monkeypatch, _entry(_source("toy.zip", ["https://example.org/toy.zip"], manual=manual)))
    with pytest.raises(MissingDataError) as err:
        ensure_paired_dataset("Toy", "data/pairs/Toy", "data/downloads", offline=True)
    msg = str(err.value)
    assert "paired data set 'Toy' (derain, test) needs the file toy.zip" in msg and "offline mode" in msg
    assert str(tmp_path / "data" / "downloads" / "toy.zip") in msg
    assert "https://example.org/toy.zip" in msg and manual in msg
    assert "test archive, no published checksum" in msg
    assert "dvc add data/downloads/toy.zip" in msg
    assert "(rule download_pairs):\n  snakemake --cores 1 data/pairs/Toy" in msg
    assert not (tmp_path / "data").exists()


def test_manual_only_source_is_not_fetched(tmp_path, monkeypatch):
    """A cloud-drive folder has no link: even online the message says what to get and where."""
    real = registry.PAIRED_DATASETS["RESIDE_ITS"]
    _register(monkeypatch, dataclasses.replace(real, name="Toy"))
    with pytest.raises(MissingDataError) as err:
        ensure_paired_dataset("Toy", tmp_path / "pairs" / "Toy", tmp_path / "cache", **FAST)
    msg = str(err.value)
    assert "needs 2 files" in msg and "ITS_v2_hazy.zip" in msg and "ITS_v2_clear.zip" in msg
    assert "It has no direct download link." in msg and "https://bit.ly/3iwHmh0" in msg
    assert str(tmp_path / "cache" / "ITS_v2_hazy.zip") in msg
    assert f"snakemake --cores 1 {tmp_path / 'pairs' / 'Toy'}" in msg


def test_unreachable_mirror_and_html_page_raise_missing_data(server, tmp_path, monkeypatch):
    _register(monkeypatch, _entry(_source("toy.zip", [DEAD_URL])))
    with pytest.raises(MissingDataError, match="could not download toy.zip"):
        ensure_paired_dataset("Toy", tmp_path / "Toy", tmp_path / "cache", **FAST)
    url = serve(server, "toy.zip", b"<!DOCTYPE html><html>sign in</html>")
    server.state.content_type = "text/html; charset=utf-8"
    _register(monkeypatch, _entry(_source("toy.zip", [url])))
    with pytest.raises(MissingDataError, match="sent a web page instead of the file"):
        ensure_paired_dataset("Toy", tmp_path / "Toy", tmp_path / "cache", **FAST)
    assert not (tmp_path / "cache" / "toy.zip").exists()


def test_checksum_mismatch_on_download_and_in_cache(server, tmp_path, monkeypatch):
    data = zip_bytes(SAME)
    url = serve(server, "toy.zip", data)
    _register(monkeypatch, _entry(_source("toy.zip", [url], checksum="0" * 64)))
    with pytest.raises(ChecksumError) as err:
        ensure_paired_dataset("Toy", tmp_path / "Toy", tmp_path / "cache", **FAST)
    assert "toy.zip" in str(err.value) and _sha(data) in str(err.value)
    assert not (tmp_path / "cache" / "toy.zip").exists() and not (tmp_path / "Toy").exists()
    (tmp_path / "cache" / "toy.zip").write_bytes(data)  # copied by hand: kept, and reported
    with pytest.raises(ChecksumError, match="delete or replace the cached file"):
        ensure_paired_dataset("Toy", tmp_path / "Toy", tmp_path / "cache", offline=True)
    assert (tmp_path / "cache" / "toy.zip").exists()


def test_unpinned_archive_prints_its_sha256(server, tmp_path, monkeypatch, capsys):
    data = tar_gz_bytes(SAME)
    url = serve(server, "toy.tar.gz", data)
    _register(monkeypatch, _entry(_source("toy.tar.gz", [url]), archive="tar.gz"))
    ensure_paired_dataset("Toy", tmp_path / "Toy", tmp_path / "cache", **FAST)
    err = capsys.readouterr().err
    assert "warning: no published checksum for toy.tar.gz" in err and _sha(data) in err
    assert "pin it in cir/data/registry.py" in err


def test_complete_folder_is_kept_without_network(server, tmp_path, monkeypatch):
    data = zip_bytes(SAME)
    _register(monkeypatch, _entry(_source("toy.zip", [serve(server, "toy.zip", data)], checksum=_sha(data))))
    out = ensure_paired_dataset("Toy", tmp_path / "Toy", tmp_path / "cache", **FAST)
    (tmp_path / "cache" / "toy.zip").unlink()
    assert ensure_paired_dataset("Toy", out, tmp_path / "cache", offline=True) == out
    (out / "HR" / "2.png").unlink()  # incomplete: rebuilt, which needs the archive again
    with pytest.raises(MissingDataError, match="offline mode"):
        ensure_paired_dataset("Toy", out, tmp_path / "cache", offline=True)
    assert len(server.state.log) == 1


# --- command line ------------------------------------------------------------------

def _cli():
    spec = importlib.util.spec_from_file_location("download_cli", CLI)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_writes_a_pair_folder_for_a_paired_name(server, tmp_path, monkeypatch, capsys):
    data = zip_bytes(SAME)
    _register(monkeypatch, _entry(_source("toy.zip", ["https://mirror.invalid/toy.zip"], checksum=_sha(data))))
    cli, out, cache = _cli(), tmp_path / "data" / "pairs" / "Toy", tmp_path / "downloads"
    args = ["--dataset", "Toy", "--out", str(out), "--cache", str(cache), "--quiet", "--retries", "0"]
    assert cli.main(args + ["--url", serve(server, "toy.zip", data)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert sorted(p.name for p in out.iterdir()) == ["HR", "LR", "manifest.json"]
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--dataset", "Toy", "--out", "data/pairs/Toy2", "--cache", "elsewhere", "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: paired data set 'Toy'") and "snakemake --cores 1 data/pairs/Toy2" in err
    assert cli.main(["--dataset", "Nope", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert "unknown data set 'Nope'" in err and "Set5" in err and "GoPro_train" in err


# --- the registry ------------------------------------------------------------------

def test_paired_registry_entries_are_well_formed():
    from cir.data.images import IMAGE_SUFFIXES

    assert download.IMAGE_SUFFIXES == IMAGE_SUFFIXES
    assert not set(registry.DATASETS) & set(registry.PAIRED_DATASETS), "names are unique across both tables"
    sources: dict[str, Source] = {}
    for e in list(registry.DATASETS.values()) + list(registry.ASSETS.values()):
        sources.setdefault(e.source.filename, e.source)
    for name, e in registry.PAIRED_DATASETS.items():
        where = f"{name}: "
        assert e.name == name and re.fullmatch(r"[A-Za-z0-9_]+", name), where + "name (a wildcard value)"
        assert e.task in PAIRED_TASKS and e.split in SPLITS, where + "task/split"
        assert e.archive in PAIRED_ARCHIVE_TYPES and e.pairing.kind in PAIRING_KINDS, where + "archive/pairing"
        assert len(e.description) > 10, where + "description"
        if e.pair_count is None:  # no public source states it: the note must say so
            assert "count" in e.note and "unknown" in e.note, where + "an unknown count needs a note"
        else:
            assert e.pair_count > 0, where + "count"
        assert e.gt_count is None or 0 < e.gt_count <= (e.pair_count or e.gt_count), where + "gt_count"
        assert isinstance(e.scale, int) and e.scale >= 1 and e.size_slack >= 0, where + "scale/size_slack"
        assert e.scale == 1 or e.task == "realsr", where + "only real-world SR sets have HR larger than LR"
        assert e.size_slack == 0 or e.scale > 1, where + "size_slack is for scale > 1"
        if e.lq_filter:
            re.compile(e.lq_filter)
        no_gt = e.reference_free or e.pairing.kind == "side_by_side"
        assert (e.gt_glob is None) == no_gt, where + "a GT glob exactly where there are separate GT members"
        for glob in (e.lq_glob, e.gt_glob, e.pairing.list_glob):
            assert glob is None or (not glob.startswith("/") and ".." not in glob.split("/")), where + "glob"
        assert e.lq_glob, where + "lq_glob"
        if e.pairing.kind == "regex":
            re.compile(e.pairing.pattern)
            assert e.pairing.on in ("name", "path")
        if e.pairing.kind == "list":
            assert e.pairing.list_glob
        if e.pairing.kind == "side_by_side":
            assert e.pairing.lq_half in ("left", "right")
        if e.stem:
            assert re.compile(e.stem).groups >= 1, where + "a stem rule has groups"
        for s in e.sources:
            assert s.filename and "/" not in s.filename, where + "filename"
            assert all(u.startswith("https://") for u in s.urls), where + "https URLs"
            assert s.urls or len(s.manual) > 40, where + "a source without a link needs manual instructions"
            assert s.hash_algo in HASH_ALGOS
            if s.checksum is None:
                assert len(s.checksum_note) > 20, where + "a missing checksum needs a note"
            else:
                assert re.fullmatch(f"[0-9a-f]{{{HASH_ALGOS[s.hash_algo]}}}", s.checksum), where + "checksum"
            assert sources.setdefault(s.filename, s) == s, where + "one file name, one source"
        assert e.archive != "file" or all(s.filename.endswith(".mat") for s in e.sources)
    assert ARCHIVE_TYPES == PAIRED_ARCHIVE_TYPES[: len(ARCHIVE_TYPES)]
    counts = {n: e.pair_count for n, e in registry.PAIRED_DATASETS.items()}
    assert {k: counts[k] for k in ("GoPro_train", "GoPro_test", "HIDE_test", "RealBlur_J_test", "Rain13K",
                                   "Test100", "Rain100H", "Rain100L", "Test2800", "Test1200", "RESIDE_ITS",
                                   "RESIDE_OTS", "SOTS_indoor", "SOTS_outdoor", "RTTS", "URHI", "SIDD_train",
                                   "SIDD_val")} == {
        "GoPro_train": 2103, "GoPro_test": 1111, "HIDE_test": 2025, "RealBlur_J_test": 980, "Rain13K": 13711,
        "Test100": 100, "Rain100H": 100, "Rain100L": 100, "Test2800": 2800, "Test1200": 1200,
        "RESIDE_ITS": 13990, "RESIDE_OTS": 313950, "SOTS_indoor": 500, "SOTS_outdoor": 500, "RTTS": 4322,
        "URHI": 4809, "SIDD_train": 320, "SIDD_val": 1280}
    assert registry.PAIRED_DATASETS["RTTS"].reference_free and registry.PAIRED_DATASETS["URHI"].reference_free
    assert registry.PAIRED_DATASETS["SIDD_val"].pairing == MAT_BLOCKS
    assert registry.PAIRED_DATASETS["Rain13K"].pairing == SAME_NAME
    assert registry.PAIRED_DATASETS["Test100"].pairing == SORTED
    assert isinstance(list_pairing("x", 1, 0), registry.Pairing) and side_by_side("right").lq_half == "right"


def test_paper_preset_data_sets_are_registered():
    """Every downloaded data set a preset names for a restoration task is a paired registry entry (or a
    pair set made here from registry image sets: NTIRE 2020 track 1's Impressionism pairs)."""
    import yaml

    from cir.tasks import RESTORATION_TASKS, parse_task

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    for pname, preset in cfg["presets"].items():
        data = preset.get("data", {})
        if data.get("source") != "download":
            continue
        for task, sets in data.get("per_task", {}).items():
            for split in ("train", "test"):
                for ds in sets.get(split, []):
                    kind = parse_task(task).kind
                    kinds = set(RESTORATION_TASKS[kind].mixes) or {kind}   # a mixture (Uni-Removal's unified)
                    if ds in registry.IMPRESSIONISM_PAIRS:
                        assert kind == "realsr" and all(s in registry.DATASETS for s in registry.IMPRESSIONISM_PAIRS[ds])
                        continue
                    e = registry.get_paired_dataset(ds)  # a task variant (dehaze_its) uses its kind's sets
                    assert e.task in kinds, f"presets.{pname}.data.per_task.{task}: {ds} is a {e.task} set"
