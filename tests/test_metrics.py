"""PSNR/SSIM against an independent numpy implementation of the published formulas.

The reference follows BasicSR's ``calculate_psnr``/``calculate_ssim`` (and MATLAB's ``ssim_index``
for the SSIM formula): Y = 16 + 65.481 R + 128.553 G + 24.966 B on [0, 1] RGB, not rounded;
PSNR on the [0, 255] scale after cropping ``crop_border`` pixels; SSIM with an 11x11 Gaussian
window (sigma 1.5), C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2, valid-mode filtering, mean of
the map. It uses numpy only (explicit sliding windows, no OpenCV, no torch).

Tolerance: PSNR within 1e-5 dB, SSIM within 1e-7. The metrics run in float64, but pyiqa
builds its BT.601 matrix as a float32 tensor (65.481 becomes 65.48100281), which moves Y by up to
~1e-5 levels; measured differences are <= 3e-7 dB and <= 5e-9 SSIM, with float64 or float32
inputs alike (float32 stores k / 255 with relative error <= 6e-8, a smaller effect). The bounds
still catch any change of convention: rounding Y alone moves PSNR by ~1e-2 dB and SSIM by ~1e-3
on natural images, YIQ instead of YCbCr luma moves PSNR by ~1.3 dB.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cir.errors import CirError, ConfigError, UnknownNameError
from cir.eval.metrics import (
    CONVENTIONS,
    MetricSpec,
    build_metric,
    convention_specs,
    ensure_torch_home,
    metric_convention,
    parse_metric_names,
    sr_metric_specs,
)

PSNR_TOL = 1e-5
SSIM_TOL = 1e-7


# ----------------------------------------------------------------------------- reference

def ref_y(img: np.ndarray, round_y: bool = False) -> np.ndarray:
    x = img.astype(np.float64) / 255.0
    y = 16.0 + 65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]
    return np.floor(y + 0.5) if round_y else y


def ref_crop(img: np.ndarray, border: int) -> np.ndarray:
    return img[border:-border, border:-border] if border else img


def ref_psnr(sr: np.ndarray, hr: np.ndarray, crop_border: int, y_channel: bool = True) -> float:
    a = ref_y(sr) if y_channel else sr.astype(np.float64)
    b = ref_y(hr) if y_channel else hr.astype(np.float64)
    a, b = ref_crop(a, crop_border), ref_crop(b, crop_border)
    mse = np.mean((a - b) ** 2)
    return float(10.0 * np.log10(255.0**2 / mse))


def ref_window() -> np.ndarray:
    t = np.arange(11, dtype=np.float64) - 5.0
    g = np.exp(-(t**2) / (2 * 1.5**2))
    w = np.outer(g, g)
    return w / w.sum()


def ref_filter_valid(img: np.ndarray, w: np.ndarray) -> np.ndarray:
    patches = np.lib.stride_tricks.sliding_window_view(img, w.shape)
    return np.einsum("ijkl,kl->ij", patches, w)


def ref_ssim_plane(a: np.ndarray, b: np.ndarray, clamp_cs: bool = False) -> float:
    w = ref_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = ref_filter_valid(a, w), ref_filter_valid(b, w)
    var_a = ref_filter_valid(a * a, w) - mu_a**2
    var_b = ref_filter_valid(b * b, w) - mu_b**2
    cov = ref_filter_valid(a * b, w) - mu_a * mu_b
    cs = (2 * cov + c2) / (var_a + var_b + c2)
    if clamp_cs:
        cs = np.maximum(cs, 0.0)
    return float(np.mean((2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1) * cs))


def ref_ssim(sr: np.ndarray, hr: np.ndarray, crop_border: int, y_channel: bool = True,
             round_y: bool = False, clamp_cs: bool = False) -> float:
    if y_channel:
        a, b = ref_y(sr, round_y), ref_y(hr, round_y)
        return ref_ssim_plane(ref_crop(a, crop_border), ref_crop(b, crop_border), clamp_cs)
    a, b = ref_crop(sr.astype(np.float64), crop_border), ref_crop(hr.astype(np.float64), crop_border)
    return float(np.mean([ref_ssim_plane(a[..., c], b[..., c], clamp_cs) for c in range(3)]))


# ----------------------------------------------------------------------------- test images

def to_batch(*imgs: np.ndarray, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """uint8 H x W x 3 images -> N x 3 x H x W in [0, 1]; float64 holds k / 255 to 1e-16."""
    return torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).to(dtype) / 255.0


def structured_hr(h: int = 40, w: int = 48) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(xx / 5.0) * np.cos(yy / 7.0)
    g = 255 * xx / (w - 1)
    b = np.where(((xx // 6 + yy // 6) % 2) == 0, 40.0, 210.0)
    disk = (xx - w / 2) ** 2 + (yy - h / 2) ** 2 < (min(h, w) / 4) ** 2
    b[disk] = 120
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).round().astype(np.uint8)


def degrade(hr: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    noise = rng.normal(0.0, sigma, hr.shape)
    return np.clip(hr.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)


def image_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    hr_struct = structured_hr()
    hr_rand = rng.integers(0, 256, size=(36, 44, 3), dtype=np.uint8)
    return [
        ("structured+noise", degrade(hr_struct, rng, 6.0), hr_struct),
        ("random+noise", degrade(hr_rand, rng, 20.0), hr_rand),
        ("independent random", rng.integers(0, 256, size=(36, 44, 3), dtype=np.uint8), hr_rand),
    ]


PAIRS = image_pairs()


# ----------------------------------------------------------------------------- tests

@pytest.mark.parametrize("crop", [0, 2, 4])
@pytest.mark.parametrize("label,sr,hr", PAIRS, ids=[p[0] for p in PAIRS])
def test_psnr_y_matches_reference(label: str, sr: np.ndarray, hr: np.ndarray, crop: int) -> None:
    metric = build_metric(MetricSpec("psnr", True, crop))
    got = float(metric(to_batch(sr), to_batch(hr))[0])
    assert got == pytest.approx(ref_psnr(sr, hr, crop), abs=PSNR_TOL)


@pytest.mark.parametrize("crop", [0, 3])
@pytest.mark.parametrize("label,sr,hr", PAIRS, ids=[p[0] for p in PAIRS])
def test_ssim_y_matches_reference(label: str, sr: np.ndarray, hr: np.ndarray, crop: int) -> None:
    metric = build_metric(MetricSpec("ssim", True, crop))
    got = float(metric(to_batch(sr), to_batch(hr))[0])
    assert got == pytest.approx(ref_ssim(sr, hr, crop), abs=SSIM_TOL)


@pytest.mark.parametrize("label,sr,hr", PAIRS, ids=[p[0] for p in PAIRS])
def test_rgb_variants_match_reference(label: str, sr: np.ndarray, hr: np.ndarray) -> None:
    psnr = build_metric(MetricSpec("psnr", False, 2))
    ssim = build_metric(MetricSpec("ssim", False, 2))
    x, y = to_batch(sr), to_batch(hr)
    assert float(psnr(x, y)[0]) == pytest.approx(ref_psnr(sr, hr, 2, y_channel=False), abs=PSNR_TOL)
    assert float(ssim(x, y)[0]) == pytest.approx(ref_ssim(sr, hr, 2, y_channel=False), abs=SSIM_TOL)


@pytest.mark.parametrize("label,sr,hr", PAIRS, ids=[p[0] for p in PAIRS])
def test_float32_inputs_agree(label: str, sr: np.ndarray, hr: np.ndarray) -> None:
    x, y = to_batch(sr, dtype=torch.float32), to_batch(hr, dtype=torch.float32)
    psnr = float(build_metric(MetricSpec("psnr", True, 2))(x, y)[0])
    ssim = float(build_metric(MetricSpec("ssim", True, 2))(x, y)[0])
    assert psnr == pytest.approx(ref_psnr(sr, hr, 2), abs=PSNR_TOL)
    assert ssim == pytest.approx(ref_ssim(sr, hr, 2), abs=SSIM_TOL)


def test_batches_score_each_image() -> None:
    (_, sr1, hr1), (_, sr2, hr2) = PAIRS[0], PAIRS[1]
    sr2, hr2 = sr2[:40, :44], hr2[:40, :44]
    sr1, hr1 = sr1[:36, :44], hr1[:36, :44]
    x, y = to_batch(sr1, sr2), to_batch(hr1, hr2)
    psnr = build_metric(MetricSpec("psnr", True, 2))(x, y)
    ssim = build_metric(MetricSpec("ssim", True, 2))(x, y)
    assert psnr.shape == ssim.shape == (2,)
    for i, (s, h) in enumerate([(sr1, hr1), (sr2, hr2)]):
        assert float(psnr[i]) == pytest.approx(ref_psnr(s, h, 2), abs=PSNR_TOL)
        assert float(ssim[i]) == pytest.approx(ref_ssim(s, h, 2), abs=SSIM_TOL)


def test_pyiqa_default_yiq_luma_differs() -> None:
    """pyiqa's default Y is YIQ (full range 0.299/0.587/0.114), ~1.3 dB away from BT.601 studio range."""
    import pyiqa

    _, sr, hr = PAIRS[0]
    x, y = to_batch(sr), to_batch(hr)
    yiq = float(pyiqa.create_metric("psnr", test_y_channel=True, crop_border=2, device="cpu")(x, y))
    ycbcr = float(build_metric(MetricSpec("psnr", True, 2))(x, y)[0])
    assert ycbcr == pytest.approx(ref_psnr(sr, hr, 2), abs=PSNR_TOL)
    assert abs(yiq - ycbcr) > 1.0


def test_pyiqa_stock_ssim_is_the_rounded_clamped_variant() -> None:
    """pyiqa's own ``ssim`` rounds Y and clamps the contrast-structure term at 0; the table
    convention does neither, which is why SSIM is not taken from ``create_metric('ssim')``."""
    import pyiqa

    stock = pyiqa.create_metric("ssim", test_y_channel=True, color_space="ycbcr", crop_border=2,
                                device="cpu")
    ours = build_metric(MetricSpec("ssim", True, 2))
    for _, sr, hr in PAIRS:
        x, y = to_batch(sr), to_batch(hr)
        got_stock = float(stock(x, y))
        assert got_stock == pytest.approx(ref_ssim(sr, hr, 2, round_y=True, clamp_cs=True), abs=1e-6)
        assert float(ours(x, y)[0]) != pytest.approx(got_stock, abs=1e-5)


def test_crop_border_removes_border_artefact() -> None:
    rng = np.random.default_rng(1)
    hr = structured_hr()
    sr = degrade(hr, rng, 2.0)
    sr[:2] = 255 - sr[:2]  # a 2-pixel corrupted frame, as from zero padding
    sr[-2:] = 0
    sr[:, :2] = 255
    psnr0 = float(build_metric(MetricSpec("psnr", True, 0))(to_batch(sr), to_batch(hr))[0])
    psnr2 = float(build_metric(MetricSpec("psnr", True, 2))(to_batch(sr), to_batch(hr))[0])
    ssim0 = float(build_metric(MetricSpec("ssim", True, 0))(to_batch(sr), to_batch(hr))[0])
    ssim2 = float(build_metric(MetricSpec("ssim", True, 2))(to_batch(sr), to_batch(hr))[0])
    assert psnr2 == pytest.approx(ref_psnr(sr, hr, 2), abs=PSNR_TOL)
    assert psnr2 > psnr0 + 10.0
    assert ssim2 == pytest.approx(ref_ssim(sr, hr, 2), abs=SSIM_TOL)
    assert psnr0 == pytest.approx(ref_psnr(sr, hr, 0), abs=PSNR_TOL)
    assert ssim2 > ssim0 + 0.02


def test_identical_images_score_inf_and_one() -> None:
    _, _, hr = PAIRS[0]
    x = to_batch(hr)
    assert float(build_metric(MetricSpec("psnr", True, 2))(x, x.clone())[0]) == float("inf")
    assert float(build_metric(MetricSpec("ssim", True, 2))(x, x.clone())[0]) == pytest.approx(1.0, abs=1e-12)


def test_sr_metric_specs_and_convention() -> None:
    assert sr_metric_specs(3) == [MetricSpec("psnr", True, 3), MetricSpec("ssim", True, 3)]
    assert sr_metric_specs(3) == convention_specs("dckd_sr", 3)
    assert MetricSpec("psnr") == MetricSpec("psnr", True, 0)  # luma is the default for PSNR/SSIM
    assert MetricSpec("lpips") == MetricSpec("lpips", False, 0)
    import pyiqa

    assert metric_convention(4) == (
        f"PSNR/SSIM on Y (BT.601 studio range), crop border = 4, pyiqa {pyiqa.__version__}")


def test_bad_specs_and_inputs_are_named() -> None:
    with pytest.raises(ConfigError, match="fsim"):
        MetricSpec("fsim")
    with pytest.raises(ConfigError, match="lpips is computed on RGB"):
        MetricSpec("lpips", True)
    with pytest.raises(ConfigError, match="niqe is computed on MATLAB's rgb2gray"):
        MetricSpec("niqe", y_channel=True)
    with pytest.raises(ConfigError, match="crop_border"):
        MetricSpec("ssim", True, True)
    with pytest.raises(ConfigError, match="crop_border"):
        MetricSpec("psnr", True, -1)
    ssim = build_metric(MetricSpec("ssim", True, 4))
    small = torch.rand(1, 3, 16, 16)
    with pytest.raises(CirError, match="SSIM needs at least 11x11"):
        ssim(small, small)
    with pytest.raises(CirError, match="equal shape"):
        ssim(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 30))


def test_metrics_never_download(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyiqa.utils import download_util

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"unexpected download: {args}")

    monkeypatch.setattr(download_util, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    _, sr, hr = PAIRS[0]
    for spec in sr_metric_specs(2):
        build_metric(spec)(to_batch(sr), to_batch(hr))


def test_ensure_torch_home(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("TORCH_HOME", raising=False)
    home = ensure_torch_home()
    assert home.name == "torch" and home.parent.name == ".cache"
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert ensure_torch_home() == tmp_path


def test_conventions_state_the_papers_choices() -> None:
    def table(name: str, scale: int | None = None) -> list[tuple[str, bool, int]]:
        return [(s.name, s.y_channel, s.crop_border) for s in convention_specs(name, scale)]

    assert table("dckd_sr", 4) == [("psnr", True, 4), ("ssim", True, 4)]
    assert table("deblur_rgb") == [("psnr", False, 0), ("ssim", False, 0)]
    assert table("derain_y") == [("psnr", True, 0), ("ssim", True, 0)]
    # Cria-CL: the authors' scripts (RGB, a fixed 4-pixel border, also at x1); Y with crop = scale an option
    assert table("criacl_realsr") == [("psnr", False, 4), ("ssim", False, 4), ("lpips", False, 0), ("niqe", False, 0)]
    assert table("criacl_realsr", 1) == table("criacl_realsr")
    assert table("criacl_realsr_y", 4) == [("psnr", True, 4), ("ssim", True, 4), ("lpips", False, 0),
                                           ("niqe", False, 0)]
    assert table("uniremoval_real") == [("brisque_matlab", False, 0), ("piqe", False, 0)]
    # Uni-Removal's tables (ours: the paper states no PSNR/SSIM convention): RGB, no crop; the no-reference pair
    assert table("uniremoval") == [("psnr", False, 0), ("ssim", False, 0), ("brisque_matlab", False, 0),
                                   ("piqe", False, 0)]
    assert [(s.name, s.y_rounded) for s in convention_specs("derain_y_matlab")] == [("psnr", True), ("ssim", True)]
    assert [(s.name, s.y_channel, s.pool_to) for s in convention_specs("dehaze_rgb")] == [
        ("psnr", False, 0), ("ssim", False, 256)]
    assert set(CONVENTIONS) == {"dckd_sr", "deblur_rgb", "derain_y", "derain_y_matlab", "dehaze_rgb",
                                "criacl_realsr", "criacl_realsr_y", "uniremoval", "uniremoval_real"}
    with pytest.raises(ConfigError, match="dckd_sr.*--scale"):
        convention_specs("dckd_sr")
    with pytest.raises(UnknownNameError, match="'sr'.*dckd_sr"):
        convention_specs("sr", 2)


def test_parse_metric_names_names_the_bad_value() -> None:
    assert parse_metric_names(" PSNR, ssim ,lpips") == ["psnr", "ssim", "lpips"]
    with pytest.raises(UnknownNameError, match="'psnr_y'"):
        parse_metric_names("psnr_y")
    with pytest.raises(ConfigError, match="twice"):
        parse_metric_names("psnr,psnr")
    with pytest.raises(ConfigError, match="no metric names"):
        parse_metric_names(" , ")


def test_full_reference_metrics_need_a_reference() -> None:
    _, sr, _ = PAIRS[0]
    for name in ("psnr", "ssim"):
        with pytest.raises(CirError, match=f"{name} is a full-reference metric"):
            build_metric(MetricSpec(name))(to_batch(sr))
