"""MCIR's metric conventions against independent references.

* ``derain_y_matlab`` (IDT's ``evaluaterain.m``): Y of MATLAB ``rgb2ycbcr`` on uint8 images, which
  returns uint8, i.e. rounded levels; PSNR ``20 log10(255 / rmse)`` and Wang's ``ssim_index``
  (11x11 Gaussian, sigma 1.5, valid filtering) on it. Reference: numpy, written from the MATLAB
  script.
* ``dehaze_rgb`` (DehazeFormer's ``test.py``): PSNR ``10 log10(1 / mse)`` of the float output
  clamped to [0, 1], and ``pytorch_msssim.ssim(..., data_range=1)`` of both images average-pooled
  to ``(int(H / r), int(W / r))`` with ``r = max(1, round(min(H, W) / 256))``. Reference: the
  pytorch-msssim package itself, called as DehazeFormer calls it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_evaluate import make_pairs

from cir.errors import ConfigError
from cir.eval.evaluate import evaluate, quantize
from cir.eval.metrics import CONVENTIONS, MetricSpec, build_metric, convention_specs, rounds_output
from cir.tasks import CONVENTION_NAMES, RESTORATION_TASKS


def matlab_y(img: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr(uint8)(:, :, 1): 16 + (65.481 R + 128.553 G + 24.966 B) / 255, rounded."""
    x = img.astype(np.float64)
    return np.floor(16.0 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255.0 + 0.5)


def matlab_psnr(a: np.ndarray, b: np.ndarray) -> float:
    d = matlab_y(a) - matlab_y(b)
    return float(20 * np.log10(255.0 / np.sqrt(np.mean(d * d))))


def matlab_ssim(a: np.ndarray, b: np.ndarray) -> float:
    t = np.arange(11, dtype=np.float64) - 5.0
    g = np.exp(-(t * t) / (2 * 1.5 ** 2))
    w = np.outer(g, g)
    w /= w.sum()

    def filt(x: np.ndarray) -> np.ndarray:
        return np.einsum("ijkl,kl->ij", np.lib.stride_tricks.sliding_window_view(x, w.shape), w)

    x, y = matlab_y(a), matlab_y(b)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x * x) - mx * mx, filt(y * y) - my * my, filt(x * y) - mx * my
    return float(np.mean((2 * mx * my + c1) * (2 * sxy + c2) / ((mx * mx + my * my + c1) * (sxx + syy + c2))))


def pair(h: int, w: int, sigma: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    hr = np.stack([128 + 100 * np.sin(xx / (4 + c) + c) * np.cos(yy / (5 + c)) for c in range(3)], axis=-1)
    hr = np.clip(hr, 0, 255).round().astype(np.uint8)
    sr = np.clip(hr + rng.normal(0, sigma, hr.shape), 0, 255).round().astype(np.uint8)
    return sr, hr


def batch(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].to(torch.float64) / 255.0


def test_the_conventions_are_the_tasks_list() -> None:
    assert set(CONVENTIONS) == set(CONVENTION_NAMES)
    assert RESTORATION_TASKS["dehaze"].convention == "dehaze_rgb"
    assert not rounds_output("dehaze_rgb") and rounds_output("derain_y_matlab") and rounds_output(None)


@pytest.mark.parametrize("sigma,seed", [(3.0, 0), (12.0, 1)])
def test_derain_y_matlab_matches_evaluaterain(sigma: float, seed: int) -> None:
    sr, hr = pair(40, 52, sigma, seed)
    psnr, ssim = (build_metric(s) for s in convention_specs("derain_y_matlab"))
    assert float(psnr(batch(sr), batch(hr))[0]) == pytest.approx(matlab_psnr(sr, hr), abs=1e-9)
    assert float(ssim(batch(sr), batch(hr))[0]) == pytest.approx(matlab_ssim(sr, hr), abs=1e-9)
    # the rounding is a different number from derain_y's real-valued Y
    real = build_metric(convention_specs("derain_y")[0])
    assert abs(float(real(batch(sr), batch(hr))[0]) - matlab_psnr(sr, hr)) > 1e-4


def test_derain_y_matlab_banded_psnr_equals_whole() -> None:
    from cir.eval.metrics import PSNR

    sr, hr = pair(40, 52, 6.0, 2)
    whole = PSNR(True, 0, torch.device("cpu"), y_rounded=True)
    banded = PSNR(True, 0, torch.device("cpu"), band_rows=7, y_rounded=True)
    assert float(banded(batch(sr), batch(hr))[0]) == pytest.approx(float(whole(batch(sr), batch(hr))[0]), abs=1e-9)


@pytest.mark.parametrize("h,w", [(460, 620), (300, 200), (120, 90)])
def test_dehaze_rgb_matches_dehazeformer(h: int, w: int) -> None:
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    torch.manual_seed(h)
    target = quantize(torch.rand(1, 3, h, w, dtype=torch.float64) * 0.2 + 0.4 +
                      0.3 * torch.sin(torch.arange(w, dtype=torch.float64) / 9))
    output = (target + 0.03 * torch.randn_like(target)).clamp(0, 1)  # a float output, never rounded
    psnr, ssim = (build_metric(s) for s in convention_specs("dehaze_rgb"))
    ref_psnr = float(10 * torch.log10(1 / F.mse_loss(output, target)))
    r = max(1, round(min(h, w) / 256))
    size = (int(h / r), int(w / r))
    a, b = F.adaptive_avg_pool2d(output, size), F.adaptive_avg_pool2d(target, size)
    ref_ssim = float(pytorch_msssim.ssim(a, b, data_range=1, size_average=False)[0])
    # pytorch-msssim builds its Gaussian window in float32 (~4e-7 of SSIM); with the same window
    # in float64 the two agree to rounding
    t = torch.arange(11, dtype=torch.float64) - 5
    win = torch.exp(-t * t / (2 * 1.5 ** 2))
    win = (win / win.sum()).view(1, 1, 1, -1).repeat(3, 1, 1, 1)
    ref_ssim64 = float(pytorch_msssim.ssim(a, b, data_range=1, size_average=False, win=win)[0])
    assert float(psnr(output, target)[0]) == pytest.approx(ref_psnr, abs=1e-9)
    assert float(ssim(output, target)[0]) == pytest.approx(ref_ssim64, abs=1e-12)
    assert float(ssim(output, target)[0]) == pytest.approx(ref_ssim, abs=1e-6)
    if r > 1:  # the pooling matters
        plain = build_metric(MetricSpec("ssim", False, 0))
        assert abs(float(plain(output, target)[0]) - ref_ssim) > 1e-3


def test_unrounded_outputs_are_scored_unrounded(tmp_path) -> None:
    """dehaze_rgb scores the network's float output; the other conventions the saved uint8 image."""
    pairs = make_pairs(tmp_path / "SetA", 1, seed=5, hr_size=32, scale=1)

    class Dim(torch.nn.Module):  # output = 0.9 x input: not on the uint8 grid
        def forward(self, x):
            return 0.9 * x

    specs = [MetricSpec("psnr", False, 0)]
    rounded = evaluate(Dim(), {"SetA": pairs}, 1, "cpu", tmp_path / "r", metrics=specs)
    exact = evaluate(Dim(), {"SetA": pairs}, 1, "cpu", tmp_path / "e", metrics=specs, round_output=False)
    from cir.data.images import read_image

    lr, hr = batch(read_image(pairs / "LR" / "img00.png")), batch(read_image(pairs / "HR" / "img00.png"))
    out = (0.9 * lr.float()).clamp(0, 1).double()  # the network runs in float32
    assert exact["SetA"]["psnr"] == pytest.approx(float(10 * torch.log10(1 / F.mse_loss(out, hr))), abs=1e-9)
    assert rounded["SetA"]["psnr"] == pytest.approx(float(10 * torch.log10(1 / F.mse_loss(quantize(out), hr))),
                                                    abs=1e-9)
    assert rounded["SetA"]["psnr"] != pytest.approx(exact["SetA"]["psnr"], abs=1e-4)


def test_bad_options_name_the_field() -> None:
    with pytest.raises(ConfigError, match="y_rounded"):
        MetricSpec("psnr", False, 0, y_rounded=True)
    with pytest.raises(ConfigError, match="y_rounded"):
        MetricSpec("niqe", None, 0, y_rounded=True)
    with pytest.raises(ConfigError, match="pool_to"):
        MetricSpec("psnr", False, 0, pool_to=256)
    with pytest.raises(ConfigError, match="pool_to"):
        MetricSpec("ssim", False, 0, pool_to=-1)
    assert "rounded" in MetricSpec("ssim", True, 0, y_rounded=True).describe()
    assert "pooling" in MetricSpec("ssim", False, 0, pool_to=256).describe()
