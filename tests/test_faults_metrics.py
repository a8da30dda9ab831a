"""PSNR/SSIM on huge images: banded computation equal to the whole image, bounded memory, and a
metric that still fails names the image file."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cir.data.images import write_image
from cir.errors import CirError
from cir.eval import metrics
from cir.eval.metrics import PSNR, SSIM, MetricSpec, build_metric

REPO = Path(__file__).resolve().parents[1]


def _batch(n: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Random uint8 levels in [0, 1], float64."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, h, w), generator=g).to(torch.float64) / 255.0


def _noisy(x: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (x + torch.randint(-12, 13, x.shape, generator=g) / 255.0).clamp(0, 1)


def _ssim_whole_image(sr: torch.Tensor, hr: torch.Tensor, y_channel: bool, crop: int) -> torch.Tensor:
    """SSIM written out on the whole image with the 2-D 11x11 window: the untiled reference."""
    from pyiqa.utils.color_util import to_y_channel

    if crop:
        sr, hr = sr[..., crop:-crop, crop:-crop], hr[..., crop:-crop, crop:-crop]
    if y_channel:
        x, y = to_y_channel(sr, 1.0, "ycbcr") * 255.0, to_y_channel(hr, 1.0, "ycbcr") * 255.0
    else:
        x, y = sr * 255.0, hr * 255.0
    t = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-(t * t) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(x.shape[1], 1, 11, 11)

    def blur(a: torch.Tensor) -> torch.Tensor:
        return F.conv2d(a, window, groups=a.shape[1])

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    m = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return m.mean(dim=(1, 2, 3))


@pytest.mark.parametrize("y_channel", [True, False])
@pytest.mark.parametrize("crop", [0, 3])
@pytest.mark.parametrize("rows", [1, 3, 7, 38, 10_000])
def test_ssim_bands_equal_the_whole_image(y_channel: bool, crop: int, rows: int) -> None:
    hr = _batch(2, 53, 67, seed=1)
    sr = _noisy(hr, seed=2)
    expected = _ssim_whole_image(sr, hr, y_channel, crop)
    banded = SSIM(y_channel, crop, band_rows=rows)(sr, hr)
    assert banded.dtype == torch.float64 and banded.shape == (2,)
    torch.testing.assert_close(banded, expected, rtol=0, atol=1e-9)
    torch.testing.assert_close(SSIM(y_channel, crop)(sr, hr), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("y_channel", [True, False])
@pytest.mark.parametrize("rows", [1, 4, 29])
def test_psnr_bands_equal_pyiqa(y_channel: bool, rows: int) -> None:
    hr = _batch(2, 41, 37, seed=3)
    sr = _noisy(hr, seed=4)
    whole = build_metric(MetricSpec("psnr", y_channel, 2))
    assert whole(sr, hr).shape == (2,)
    banded = PSNR(y_channel, 2, torch.device("cpu"), band_rows=rows)
    torch.testing.assert_close(banded(sr, hr), whole(sr, hr), rtol=0, atol=1e-9)
    assert torch.isinf(banded(hr, hr)).all()  # eps = 0: an exact match scores inf, as unbanded


def test_band_rows_bound_the_band_size() -> None:
    assert metrics.band_rows(3, 6000) * 3 * 6000 <= metrics.BAND_VALUES
    assert metrics.band_rows(3, 64) >= 64  # small images are one band
    assert metrics.band_rows(3, 10**9) == 1
    with pytest.raises(CirError, match="band_rows"):
        SSIM(True, 0, band_rows=0)


def test_large_image_is_scored_in_bounded_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above one band's worth of rows, SSIM never filters more than one band (+ window) at a
    time, and the banded score equals the one-band (untiled) score."""
    h, w = 1200, 900
    hr = _batch(1, h, w, seed=5)
    sr = _noisy(hr, seed=6)
    untiled = SSIM(False, 0, band_rows=h)(sr, hr)
    seen: list[tuple[int, ...]] = []
    real = metrics._ssim_map

    def spy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return real(x, y)

    monkeypatch.setattr(metrics, "BAND_VALUES", 3 * w * 100)
    monkeypatch.setattr(metrics, "_ssim_map", spy)
    banded = SSIM(False, 0)(sr, hr)
    assert len(seen) == -(-(h - 10) // 100)
    assert all(shape[2] <= 100 + 10 and shape[3] == w for shape in seen)
    assert sum(shape[2] - 10 for shape in seen) == h - 10
    torch.testing.assert_close(banded, untiled, rtol=0, atol=1e-9)


@pytest.mark.slow
def test_peak_memory_of_a_large_image_is_bounded() -> None:
    """A 2400x2400 RGB pair: SSIM on the whole image needs ~2 GB on top of its inputs (15 float64
    maps of the image, filtered twice); in bands it stays far below that."""
    script = textwrap.dedent("""
        import resource
        import torch
        from cir.eval.metrics import MetricSpec, build_metric
        torch.set_num_threads(2)
        ssim = build_metric(MetricSpec("ssim", False, 0))
        psnr = build_metric(MetricSpec("psnr", True, 0))
        g = torch.Generator().manual_seed(0)
        sr = torch.rand(1, 3, 2400, 2400, dtype=torch.float64, generator=g)
        hr = torch.rand(1, 3, 2400, 2400, dtype=torch.float64, generator=g)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ssim(sr, hr)
        psnr(sr, hr)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    extra_mb = float(proc.stdout.strip().splitlines()[-1])
    assert extra_mb < 1200, f"PSNR/SSIM of a 2400x2400 pair took {extra_mb:.0f} MB beyond the inputs"


def _out_of_memory(*args: object) -> torch.Tensor:
    raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                       "you tried to allocate 3456000000 bytes. Error code 12 (Cannot allocate memory)")


def test_out_of_memory_is_a_metric_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_ssim_map", _out_of_memory)
    hr = _batch(1, 32, 40, seed=7)
    with pytest.raises(metrics.MetricFailedError, match=r"ssim ran out of memory on an image of 32x40"):
        build_metric(MetricSpec("ssim"))(hr, hr)

    def memory_error(*args: object) -> torch.Tensor:
        raise MemoryError()

    monkeypatch.setattr(metrics, "_ssim_map", memory_error)
    with pytest.raises(CirError, match="ran out of memory"):
        build_metric(MetricSpec("ssim"))(hr, hr)


def test_cir_metrics_names_the_image_that_ran_out_of_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture) -> None:
    from cir.eval.cli import main

    img = (np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "sr.png", img)
    write_image(tmp_path / "hr.png", img[::-1].copy())
    monkeypatch.setattr(metrics, "_ssim_map", _out_of_memory)
    code = main(["metrics", str(tmp_path / "sr.png"), str(tmp_path / "hr.png"), "--metrics", "psnr,ssim"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert str(tmp_path / "sr.png") in err and "ssim ran out of memory" in err


def test_evaluate_names_the_image_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cir.eval.evaluate import evaluate

    rng = np.random.default_rng(1)
    hr = (rng.random((32, 40, 3)) * 255).astype(np.uint8)
    write_image(tmp_path / "SetA" / "HR" / "big.png", hr)
    write_image(tmp_path / "SetA" / "LR" / "big.png", hr[::2, ::2].copy())
    monkeypatch.setattr(metrics, "_ssim_map", _out_of_memory)
    with pytest.raises(CirError) as err:
        evaluate(nn.Upsample(scale_factor=2), {"SetA": tmp_path / "SetA"}, 2, "cpu", tmp_path / "out",
                 metrics=[MetricSpec("psnr"), MetricSpec("ssim")])
    msg = str(err.value)
    assert "'SetA'" in msg and str(tmp_path / "SetA" / "HR" / "big.png") in msg
    assert str(tmp_path / "SetA" / "LR" / "big.png") in msg and "ssim ran out of memory" in msg
    assert "\n" not in msg


def _imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_assets_never_imports_metrics() -> None:
    """cir.eval.metrics uses cir.eval.assets; the reverse import would close a loop."""
    assert not {m for m in _imported_modules(REPO / "cir" / "eval" / "assets.py")
                if m == "cir.eval.metrics" or m.startswith("cir.eval.metrics.")}
    assert "cir.eval.assets" in _imported_modules(REPO / "cir" / "eval" / "metrics.py")
    from cir.eval.assets import MetricUnavailableError, ensure_torch_home, project_cache_dir
    from cir.eval.metrics import MetricUnavailableError as again
    from cir.eval.metrics import ensure_torch_home as home_again
    from cir.eval.metrics import project_cache_dir as cache_again

    assert (again, home_again, cache_again) == (MetricUnavailableError, ensure_torch_home, project_cache_dir)
