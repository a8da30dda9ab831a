"""Download, resume, verification and extraction against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest
from _http import local_server, serve

from cir.data import registry
from cir.data.download import (
    ChecksumError,
    DownloadError,
    ExtractionError,
    MissingDataError,
    ensure_asset,
    ensure_dataset,
    ensure_source,
    extract_images,
    fetch,
    glob_match,
)
from cir.data.registry import ARCHIVE_TYPES, HASH_ALGOS, AssetEntry, DatasetEntry, Source
from cir.tasks import parse_task

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / "workflow_scripts" / "download.py"
DEAD_URL = "http://127.0.0.1:9/unreachable.bin"  # discard port: nothing listens there
FAST = {"retries": 0, "backoff": 0.0, "timeout": 5.0, "progress": False}


# --- local server (tests/_http.py) -------------------------------------------------

@pytest.fixture
def server(tmp_path):
    with local_server(tmp_path) as srv:
        yield srv


_serve = serve


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


PAYLOAD = os.urandom(300_000)


# --- fetch -------------------------------------------------------------------------

def test_full_download_verifies_checksum(server, tmp_path, capsys):
    url = _serve(server, "blob.bin", PAYLOAD)
    dest = tmp_path / "dl" / "blob.bin"
    out = fetch([url], dest, checksum=_sha(PAYLOAD), **{**FAST, "progress": True})
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert not dest.with_name("blob.bin.part").exists()
    assert server.state.log == [("/blob.bin", None, 200)]
    assert "blob.bin" in capsys.readouterr().err  # progress line


def test_md5_checksum(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    fetch([url], tmp_path / "blob.bin", checksum=hashlib.md5(PAYLOAD).hexdigest(), algo="md5", **FAST)
    assert (tmp_path / "blob.bin").read_bytes() == PAYLOAD


def test_resume_of_partial_file_uses_range(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    dest = tmp_path / "blob.bin"
    dest.with_name("blob.bin.part").write_bytes(PAYLOAD[:100_000])
    fetch([url], dest, checksum=_sha(PAYLOAD), **FAST)
    assert server.state.log == [("/blob.bin", "bytes=100000-", 206)]
    assert _sha(dest.read_bytes()) == _sha(PAYLOAD)


def test_cut_response_is_resumed_on_retry(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    server.state.cut_next = 1
    dest = tmp_path / "blob.bin"
    fetch([url], dest, checksum=_sha(PAYLOAD), **{**FAST, "retries": 2})
    first, second = server.state.log
    assert first[1] is None and second[2] == 206
    resumed_at = int(re.fullmatch(r"bytes=(\d+)-", second[1]).group(1))
    assert 0 < resumed_at <= len(PAYLOAD) // 2
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    server.state.ignore_range = True
    dest = tmp_path / "blob.bin"
    dest.with_name("blob.bin.part").write_bytes(PAYLOAD[:5000])
    fetch([url], dest, checksum=_sha(PAYLOAD), **FAST)
    assert server.state.log == [("/blob.bin", "bytes=5000-", 200)]
    assert dest.read_bytes() == PAYLOAD


def test_stale_partial_file_is_redownloaded(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    dest = tmp_path / "blob.bin"
    dest.with_name("blob.bin.part").write_bytes(b"x" * 1000)  # not a prefix of the served file
    fetch([url], dest, checksum=_sha(PAYLOAD), **FAST)
    assert [r[1] for r in server.state.log] == ["bytes=1000-", None]
    assert dest.read_bytes() == PAYLOAD


def test_complete_partial_file_is_not_downloaded_again(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    dest = tmp_path / "blob.bin"
    dest.with_name("blob.bin.part").write_bytes(PAYLOAD)
    fetch([url], dest, checksum=_sha(PAYLOAD), **FAST)
    assert server.state.log == [("/blob.bin", f"bytes={len(PAYLOAD)}-", 416)]
    assert dest.read_bytes() == PAYLOAD


def test_oversized_partial_file_restarts_from_zero(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    dest = tmp_path / "blob.bin"
    dest.with_name("blob.bin.part").write_bytes(PAYLOAD + b"tail")
    fetch([url], dest, checksum=_sha(PAYLOAD), **FAST)
    assert [r[2] for r in server.state.log] == [416, 200]
    assert dest.read_bytes() == PAYLOAD


def test_retry_after_transient_failures(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    server.state.fail_next = 2
    fetch([url], tmp_path / "blob.bin", checksum=_sha(PAYLOAD), **{**FAST, "retries": 3})
    assert [r[2] for r in server.state.log] == [503, 503, 200]


def test_gives_up_after_retries(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    server.state.fail_next = 10
    with pytest.raises(DownloadError, match=r"HTTP 503") as err:
        fetch([url], tmp_path / "blob.bin", **{**FAST, "retries": 1})
    assert url in str(err.value) and len(server.state.log) == 2
    assert not (tmp_path / "blob.bin").exists()


def test_wrong_checksum_names_file_and_hashes(server, tmp_path):
    url = _serve(server, "blob.bin", PAYLOAD)
    dest = tmp_path / "blob.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        fetch([url], dest, checksum=wrong, **FAST)
    msg = str(err.value)
    assert "blob.bin" in msg and wrong in msg and _sha(PAYLOAD) in msg
    assert not dest.exists() and not dest.with_name("blob.bin.part").exists()


def test_mirror_fallback(server, tmp_path):
    good = _serve(server, "blob.bin", PAYLOAD)
    dest = tmp_path / "blob.bin"
    fetch([DEAD_URL, server.url("missing.bin"), good], dest, checksum=_sha(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r[2] for r in server.state.log] == [404, 200]


def test_missing_checksum_prints_computed_sha256(server, tmp_path, capsys):
    url = _serve(server, "blob.bin", PAYLOAD)
    fetch([url], tmp_path / "blob.bin", checksum=None, **FAST)
    err = capsys.readouterr().err
    assert "warning" in err and _sha(PAYLOAD) in err


# --- extraction --------------------------------------------------------------------

IMAGES = {"a.png": b"image-a", "b.png": b"image-b", "c.png": b"image-c"}


def _layout() -> dict[str, bytes]:
    files = {f"Toy/HR/{k}": v for k, v in IMAGES.items()}
    files.update({"Toy/LR_bicubic/X2/a.png": b"lr", "Toy/HR/extra/d.png": b"nested", "Toy/readme.txt": b"t"})
    return files


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, files: dict[str, bytes], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _entry(archive: str, filename: str, urls=("https://example.org/x",), checksum=None, count=3, glob="Toy/HR/*.png"):
    source = Source(filename=filename, urls=tuple(urls), checksum=checksum, checksum_note="test archive")
    return DatasetEntry("Toy", source, archive, glob, count)


@pytest.mark.parametrize("kind", ["zip", "tar", "tar.gz"])
def test_extract_nested_layout_to_flat_folder(tmp_path, kind):
    if kind == "zip":
        archive = _zip(tmp_path / "toy.zip", _layout())
    else:
        archive = _tar(tmp_path / f"toy.{kind}", _layout(), "w:gz" if kind == "tar.gz" else "w")
    out = tmp_path / "out" / "Toy"
    extract_images(archive, _entry(kind, archive.name), out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == IMAGES
    assert sorted(p.name for p in out.parent.iterdir()) == ["Toy"]  # no temp folder left


def test_extract_replaces_existing_folder(tmp_path):
    archive = _zip(tmp_path / "toy.zip", _layout())
    out = tmp_path / "Toy"
    out.mkdir()
    (out / "stale.png").write_bytes(b"old")
    extract_images(archive, _entry("zip", "toy.zip"), out)
    assert sorted(p.name for p in out.iterdir()) == sorted(IMAGES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Toy", "toy.zip"]


def test_extract_count_mismatch_writes_nothing(tmp_path):
    archive = _zip(tmp_path / "toy.zip", _layout())
    with pytest.raises(ExtractionError, match=r"3 members match 'Toy/HR/\*\.png' for Toy, expected 4"):
        extract_images(archive, _entry("zip", "toy.zip", count=4), tmp_path / "out" / "Toy")
    assert not (tmp_path / "out" / "Toy").exists()


@pytest.mark.parametrize("bad", ["../evil.png", "/abs/evil.png", "Toy/HR/../../evil.png"])
def test_path_traversal_member_refused(tmp_path, bad):
    archive = _zip(tmp_path / "toy.zip", {**_layout(), bad: b"evil"})
    with pytest.raises(ExtractionError, match="unsafe member path"):
        extract_images(archive, _entry("zip", "toy.zip", glob="**/*.png", count=6), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil.png").exists()


def test_tar_traversal_and_links_refused(tmp_path):
    archive = _tar(tmp_path / "evil.tar.gz", {**_layout(), "../evil.png": b"evil"})
    with pytest.raises(ExtractionError, match="unsafe member path"):
        extract_images(archive, _entry("tar.gz", archive.name), tmp_path / "out")
    linked = tmp_path / "link.tar"
    with tarfile.open(linked, "w") as tf:
        info = tarfile.TarInfo("Toy/HR/a.png")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(info)
    with pytest.raises(ExtractionError, match="link member"):
        extract_images(linked, _entry("tar", linked.name, count=1), tmp_path / "out")


def test_corrupt_archive_is_reported(tmp_path):
    bad = tmp_path / "toy.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ExtractionError, match="toy.zip is not a readable archive"):
        extract_images(bad, _entry("zip", "toy.zip"), tmp_path / "out")


def test_glob_match_is_segment_wise():
    assert glob_match("DIV2K_train_HR/0001.png", "DIV2K_train_HR/*.png")
    assert not glob_match("DIV2K_train_HR/sub/0001.png", "DIV2K_train_HR/*.png")
    assert not glob_match("x/DIV2K_train_HR/0001.png", "DIV2K_train_HR/*.png")
    assert glob_match("RCAN_BIX2.pt", "**/RCAN_BIX2.pt")
    assert glob_match("models_ECCV2018RCAN/RCAN_BIX2.pt", "**/RCAN_BIX2.pt")
    assert not glob_match("models/RCAN_BIX3.pt", "**/RCAN_BIX2.pt")


# --- registry, cache and offline ---------------------------------------------------

def test_offline_missing_archive_explains_how_to_provide_it(tmp_path):
    cache, out = tmp_path / "downloads", tmp_path / "data" / "Set5"
    with pytest.raises(MissingDataError) as err:
        ensure_dataset("Set5", out, cache, offline=True)
    msg = str(err.value)
    assert "benchmark.tar" in msg and str((cache / "benchmark.tar").absolute()) in msg
    assert "https://cv.snu.ac.kr/research/EDSR/benchmark.tar" in msg
    assert "md5 4ace41d33c2384b97e6b320cd0afd6ba" in msg
    assert "dvc add" in msg and "dvc push" in msg
    assert f"snakemake --cores 1 {out}" in msg
    assert not cache.exists() or not any(cache.iterdir())


def test_unreachable_mirror_raises_missing_data(tmp_path, monkeypatch):
    monkeypatch.setitem(registry.DATASETS, "Toy", _entry("zip", "toy.zip", urls=[DEAD_URL]))
    with pytest.raises(MissingDataError, match="toy.zip") as err:
        ensure_dataset("Toy", tmp_path / "Toy", tmp_path / "cache", **FAST)
    assert DEAD_URL in str(err.value) and "could not download" in str(err.value)


def test_cached_archive_used_without_network(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    data = _zip(cache / "toy.zip", _layout()).read_bytes()
    monkeypatch.setitem(registry.DATASETS, "Toy", _entry("zip", "toy.zip", urls=[DEAD_URL], checksum=_sha(data)))
    out = ensure_dataset("Toy", tmp_path / "Toy", cache, offline=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(IMAGES)


def test_parallel_jobs_download_a_shared_archive_once(server, tmp_path):
    data = _zip(server.root / "toy.zip", _layout()).read_bytes()
    source = Source("toy.zip", (server.url("toy.zip"),), _sha(data))
    results, errors = [], []

    def job():
        try:
            results.append(ensure_source(source, tmp_path / "cache", what="test", target="x", **FAST))
        except (OSError, RuntimeError) as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=job) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    assert [r[2] for r in server.state.log] == [200]


def test_cached_archive_with_wrong_checksum_is_kept_and_reported(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    data = _zip(cache / "toy.zip", _layout()).read_bytes()
    monkeypatch.setitem(registry.DATASETS, "Toy", _entry("zip", "toy.zip", checksum="f" * 64))
    with pytest.raises(ChecksumError) as err:
        ensure_dataset("Toy", tmp_path / "Toy", cache, offline=True)
    assert "toy.zip" in str(err.value) and "f" * 64 in str(err.value) and _sha(data) in str(err.value)
    assert (cache / "toy.zip").exists()


def test_unknown_names_list_valid_ones(tmp_path):
    with pytest.raises(LookupError) as err:
        ensure_dataset("Set6", tmp_path / "x", tmp_path / "cache")
    assert "Set6" in str(err.value) and all(n in str(err.value) for n in registry.DATASETS)
    with pytest.raises(LookupError) as err:
        ensure_asset("EDSR_x4", tmp_path / "x.pth", tmp_path / "cache")
    assert "EDSR_x4" in str(err.value) and all(n in str(err.value) for n in registry.ASSETS)


def test_registry_entries_are_well_formed():
    sources: dict[str, Source] = {}
    entries = list(registry.DATASETS.values()) + list(registry.ASSETS.values())
    for e in entries:
        s = e.source
        where = f"{e.name}: "
        assert s.urls or s.manual, where + "urls, or instructions for a file only a person can fetch"
        assert all(u.startswith("https://") for u in s.urls), where + "urls"
        assert s.filename and "/" not in s.filename, where + "filename"
        assert s.hash_algo in HASH_ALGOS, where + "hash_algo"
        if s.checksum is None:
            assert len(s.checksum_note) > 20, where + "a missing checksum needs a note"
        else:
            assert re.fullmatch(f"[0-9a-f]{{{HASH_ALGOS[s.hash_algo]}}}", s.checksum), where + "checksum"
        assert s.size is None or s.size > 0, where + "size"
        assert sources.setdefault(s.filename, s) == s, where + "one file name, one source"
        if isinstance(e, DatasetEntry):
            assert e.archive in ARCHIVE_TYPES and e.image_count > 0, where + "archive/count"
            assert e.member_glob and not e.member_glob.startswith("/") and ".." not in e.member_glob
        else:
            assert isinstance(e, AssetEntry) and e.kind in registry.ASSET_KINDS
            if e.kind == "teacher":
                task = parse_task(e.task)  # SR factor, scale-1 restoration task or real-world SR
                assert e.scale == task.scale, where + "scale and task agree"
                assert e.backbone in ("swinir", "rcan", "restormer", "nafnet", "edsr", "swinir_light", "ffanet",
                                      "dehazeformer_t", "dehazeformer_s", "dehazeformer_b", "idt", "criacl", "mprnet")
                assert e.name.endswith((".pth", ".pt", ".pk")), where + "weight loaders pick the reader by extension"
            elif e.kind == "init":  # weights a trained network starts from: a scale, no task
                assert e.scale is not None and e.scale >= 1 and e.task is None, where + "init scale/task"
                assert e.name.endswith((".pth", ".pt")), where + "weight loaders pick the reader by extension"
            else:
                assert e.scale is None and e.task is None
            assert (e.archive is None) == (e.member_glob is None), where + "archive and member go together"
            assert e.archive is None or e.archive in ARCHIVE_TYPES
    counts = {n: e.image_count for n, e in registry.DATASETS.items()}
    assert counts == {"DIV2K_train_HR": 800, "DIV2K_valid_HR": 100, "Set5": 5, "Set14": 14,
                      "BSD100": 100, "Urban100": 100, "Manga109": 109, "Flickr2K": 2650,
                      "NTIRE2020_T1_source": 2650, "NTIRE2020_T1_target": 800}
    for backbone in ("swinir", "rcan"):
        for scale in (2, 3, 4):
            entry = registry.get_asset(registry.official_teacher_asset(backbone, f"x{scale}"))
            assert (entry.backbone, entry.scale, entry.task) == (backbone, scale, f"x{scale}")
    assert registry.official_teacher_asset("swinir", "x4") == "001_classicalSR_DIV2K_s48w8_SwinIR-M_x4.pth"
    assert registry.official_teacher_asset("rcan", "x2") == "RCAN_BIX2.pt"
    assert registry.official_teacher_asset("restormer", "deblur") == "motion_deblurring.pth"
    assert registry.official_teacher_asset("restormer", "derain") == "deraining.pth"
    assert registry.official_teacher_asset("nafnet", "deblur") == "NAFNet-GoPro-width32.pth"
    # MCIR's baselines: a backbone's own entry, else its architecture's (SwinIR-M, NAFNet-width32)
    assert registry.official_teacher_asset("edsr", "x4", "edsr") == "edsr_baseline_x4-6b446fab.pt"
    assert registry.official_teacher_asset("swinir_light", "x4", "swinir") == "002_lightweightSR_DIV2K_s64w8_SwinIR-S_x4.pth"
    assert registry.official_teacher_asset("swinir_m", "x4", "swinir") == "001_classicalSR_DIV2K_s48w8_SwinIR-M_x4.pth"
    assert registry.official_teacher_asset("nafnet_w32", "deblur", "nafnet") == "NAFNet-GoPro-width32.pth"
    assert registry.official_teacher_asset("dehazeformer_s", "dehaze_6k", "dehazeformer") == "dehazeformer-s_reside6k.pth"
    assert registry.official_teacher_asset("idt", "derain_spa", "idt") == "IDT_SPA-Data.pth"
    assert registry.official_teacher_asset("ffanet", "dehaze_its", "ffanet") == "its_train_ffa_3_19.pk"
    with pytest.raises(LookupError, match=r"unknown released teacher 'ffanet dehaze_6k'"):
        registry.official_teacher_asset("ffanet", "dehaze_6k", "ffanet")   # none published
    with pytest.raises(LookupError, match=r"unknown released teacher 'edsr x3'; valid released teachers: "):
        registry.official_teacher_asset("edsr", "x3")
    with pytest.raises(LookupError, match=r"unknown released teacher 'nafnet derain'"):
        registry.official_teacher_asset("nafnet", "derain")


# --- command line ------------------------------------------------------------------

def _cli():
    spec = importlib.util.spec_from_file_location("download_cli", CLI)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_dataset_end_to_end(server, tmp_path, monkeypatch, capsys):
    data = _zip(server.root / "toy.zip", _layout()).read_bytes()
    # The registry mirror is not reachable; --url points at the local copy of the same file.
    monkeypatch.setitem(registry.DATASETS, "Toy",
                        _entry("zip", "toy.zip", urls=["https://mirror.invalid/toy.zip"], checksum=_sha(data)))
    cli, out, cache = _cli(), tmp_path / "data" / "Toy", tmp_path / "downloads"
    args = ["--dataset", "Toy", "--out", str(out), "--cache", str(cache), "--quiet", "--retries", "0"]
    assert cli.main(args + ["--url", server.url("toy.zip")]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == IMAGES
    assert (cache / "toy.zip").read_bytes() == data
    # Second run: offline, from the cache; then with the folder gone it is rebuilt from the cache.
    assert cli.main(args + ["--offline"]) == 0
    for p in out.iterdir():
        p.unlink()
    out.rmdir()
    assert cli.main(args + ["--offline"]) == 0 and len(list(out.iterdir())) == 3
    assert len(server.state.log) == 1


def test_cli_assets_end_to_end(server, tmp_path, monkeypatch):
    weights = os.urandom(5000)
    url = _serve(server, "w.pth", weights)
    bundle = _zip(server.root / "bundle.zip", {"bundle/M_x2.pt": weights[:100], "bundle/M_x3.pt": b"3"})
    monkeypatch.setitem(registry.ASSETS, "toy_x2.pth", AssetEntry(
        "toy_x2.pth", Source("w.pth", (url,), _sha(weights)), backbone="swinir", scale=2))
    monkeypatch.setitem(registry.ASSETS, "M_x2.pt", AssetEntry(
        "M_x2.pt", Source("bundle.zip", (server.url(bundle.name),), None, checksum_note="test bundle"),
        backbone="rcan", scale=2, archive="zip", member_glob="**/M_x2.pt"))
    cli, cache = _cli(), tmp_path / "cache"
    assert cli.main(["--asset", "toy_x2.pth", "--out", str(tmp_path / "w" / "t.pth"), "--cache", str(cache),
                     "--quiet"]) == 0
    assert (tmp_path / "w" / "t.pth").read_bytes() == weights
    assert cli.main(["--asset", "M_x2.pt", "--out", str(tmp_path / "w" / "b.pt"), "--cache", str(cache),
                     "--quiet"]) == 0
    assert (tmp_path / "w" / "b.pt").read_bytes() == weights[:100]
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["b.pt", "t.pth"]


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(CLI), *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.slow
def test_cli_process_failures_exit_nonzero(tmp_path):
    res = _run_cli("--dataset", "Set6", "--out", "data/Set6", cwd=tmp_path)
    assert res.returncode == 2 and "unknown data set 'Set6'" in res.stderr and "Urban100" in res.stderr
    res = _run_cli("--dataset", "DIV2K_valid_HR", "--out", "data/DIV2K_valid_HR", "--offline", cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith("error: ") and "Traceback" not in res.stderr
    assert str(tmp_path / "data" / "downloads" / "DIV2K_valid_HR.zip") in res.stderr
    assert "dvc add data/downloads/DIV2K_valid_HR.zip" in res.stderr
    assert "snakemake --cores 1 data/DIV2K_valid_HR" in res.stderr
    assert not (tmp_path / "data" / "DIV2K_valid_HR").exists()


def test_a_weight_file_whose_name_carries_a_wrong_hash_prefix_is_refused(tmp_path):
    """EDSR's (and torchvision's) file names carry the first hex digits of their sha256; a cached
    file that does not hash to them is refused, naming it."""
    from cir.errors import CirError

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "edsr_baseline_x4-6b446fab.pt").write_bytes(b"not the EDSR weights")
    with pytest.raises(CirError, match=r"edsr_baseline_x4-6b446fab.pt: sha256 [0-9a-f]{64} does not start with 6b446fab"):
        ensure_asset("edsr_baseline_x4-6b446fab.pt", tmp_path / "out.pt", cache, offline=True)
    assert not (tmp_path / "out.pt").exists()
