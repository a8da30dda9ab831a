"""Seeded synthetic degradations (cir.data.synthetic) and the synth_pairs CLI."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from cir.data.builtin import skimage_data_dir
from cir.data.images import ImageReadError, read_image, write_image
from cir.data.synthetic import (
    FAMILIES,
    KINDS,
    MILD_JPEG,
    RANGES,
    SCALE_OF_KIND,
    TASK_OF_KIND,
    degrade,
    image_rng,
    line_kernel,
    make_synthetic_pairs,
    trajectory_kernel,
)
from cir.errors import ConfigError, DataError
from cir.tasks import RESTORATION_TASKS

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "workflow_scripts" / "synth_pairs.py"
CASES = [(k, f) for k in KINDS for f in FAMILIES]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A textured 96x96 crop of a real photograph (the astronaut's face and suit)."""
    return np.ascontiguousarray(read_image(skimage_data_dir() / "astronaut.png")[60:156, 160:256])


def _gradient(h: int = 96, w: int = 96, lo: float = 100, hi: float = 156) -> np.ndarray:
    """A smooth horizontal gray ramp (no texture, so a residual is the degradation alone)."""
    row = np.linspace(lo, hi, w)
    return np.repeat(np.round(np.tile(row, (h, 1)))[..., None], 3, axis=2).astype(np.uint8)


def _laplacian_var(img: np.ndarray) -> float:
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F)[2:-2, 2:-2].var())


def _is_plain_json(obj) -> bool:
    if isinstance(obj, dict):
        return all(type(k) is str and _is_plain_json(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(_is_plain_json(v) for v in obj)
    return type(obj) in (int, float, str, bool) or obj is None


def _in(value, bounds) -> bool:
    return bounds[0] <= value <= bounds[1]


# ----------------------------------------------------------------------------- degrade()


@pytest.mark.parametrize("kind,family", CASES)
def test_same_seed_same_bytes_other_seed_differs(photo, kind, family) -> None:
    a, pa = degrade(photo, kind, family, rng=np.random.default_rng(5))
    b, pb = degrade(photo, kind, family, rng=np.random.default_rng(5))
    c, pc = degrade(photo, kind, family, rng=np.random.default_rng(6))
    assert a.tobytes() == b.tobytes() and pa == pb
    assert a.tobytes() != c.tobytes() and pa != pc
    s = SCALE_OF_KIND.get(kind, 1)
    assert a.dtype == np.uint8 and a.shape == (photo.shape[0] // s, photo.shape[1] // s, 3)
    assert a.tobytes() != photo.tobytes()
    assert _is_plain_json(pa) and json.loads(json.dumps(pa)) == pa


def test_families_differ_and_real_like_ends_in_mild_jpeg(photo) -> None:
    for kind in KINDS:
        syn, _ = degrade(photo, kind, "synthetic", rng=np.random.default_rng(1))
        real, params = degrade(photo, kind, "real_like", rng=np.random.default_rng(1))
        assert syn.tobytes() != real.tobytes()
        if kind == "realsr":   # the real-world SR chain ends in a stronger JPEG of its own range
            assert _in(params["jpeg_quality"], RANGES["real_like"]["realsr"]["jpeg_quality"]), params
        elif kind != "jpeg":
            assert _in(params["jpeg_quality"], MILD_JPEG), (kind, params)


def test_tiny_images_work() -> None:
    for h, w in ((1, 1), (3, 5), (9, 2)):
        img = np.full((h, w, 3), 90, dtype=np.uint8)
        for kind, family in CASES:
            s = SCALE_OF_KIND.get(kind, 1)
            if s > 1:   # an x4 kind takes mod-cropped images: the smallest is 4x4, and others are refused
                with pytest.raises(DataError, match=f"mod-cropped to {s}"):
                    degrade(img, kind, family, rng=np.random.default_rng(0))
                img4 = np.full((4 * h, 4 * w, 3), 90, dtype=np.uint8)
                out, _ = degrade(img4, kind, family, rng=np.random.default_rng(0))
                assert out.shape == img.shape and out.dtype == np.uint8
                continue
            out, _ = degrade(img, kind, family, rng=np.random.default_rng(0))
            assert out.shape == img.shape and out.dtype == np.uint8


def test_bad_kind_family_and_image() -> None:
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    with pytest.raises(ConfigError, match=r"'snow'.*blur, rain, haze, noise, jpeg"):
        degrade(img, "snow", rng=np.random.default_rng(0))
    with pytest.raises(ConfigError, match=r"'real'.*synthetic, real_like"):
        degrade(img, "blur", "real", rng=np.random.default_rng(0))
    with pytest.raises(DataError, match="uint8 HxWx3"):
        degrade(img[..., 0], "blur", rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="Generator"):
        degrade(img, "blur", rng=0)


def test_task_names() -> None:
    assert TASK_OF_KIND == {"blur": "deblur", "rain": "derain", "haze": "dehaze", "noise": "denoise",
                            "jpeg": "dejpeg", "realsr": "realsr", "camera": "camerasr"}
    for task, spec in RESTORATION_TASKS.items():  # the task table and this module agree
        if spec.mixes:   # a mixture of tasks (Uni-Removal's unified) has no degradation of its own
            assert spec.degradation is None and all(t in RESTORATION_TASKS for t in spec.mixes)
            continue
        assert TASK_OF_KIND[spec.degradation] == task
        assert SCALE_OF_KIND.get(spec.degradation, 1) == spec.scale


# ----------------------------------------------------------------------------- blur


def test_kernels_are_normalised_and_oriented() -> None:
    k = line_kernel(9, 0)
    assert k.shape[0] % 2 == 1 and abs(k.sum() - 1) < 1e-12
    c = k.shape[0] // 2
    row = k[c]
    assert row.sum() > 1 - 1e-12 and np.flatnonzero(row).tolist() == list(range(c - 4, c + 5))  # 9 px
    assert np.allclose(row[c - 3:c + 4], row[c]) and row[c - 4] < row[c]  # flat, softer ends
    v = line_kernel(9, 90)
    assert np.allclose(v, k.T)
    t = trajectory_kernel([[0, 0], [3, 1], [4, -2]])
    assert abs(t.sum() - 1) < 1e-12 and (t >= 0).all()


@pytest.mark.parametrize("family", FAMILIES)
def test_blur_removes_high_frequencies(photo, family) -> None:
    for seed in range(3):
        out, params = degrade(photo, "blur", family, rng=np.random.default_rng(seed))
        assert _laplacian_var(out) < 0.7 * _laplacian_var(photo), params
        kernels = [params["kernel"]] if family == "synthetic" else params["kernels"]
        assert len(kernels) == (1 if family == "synthetic" else 2)
        for k in kernels:
            assert _in(k["length"], RANGES[family]["blur"]["length"]) and k["type"] in ("line", "trajectory")


def test_blur_is_the_recorded_kernel(photo) -> None:
    """The synthetic blur equals the convolution with the kernel rebuilt from the manifest
    parameters, up to the sigma-1 noise."""
    types = set()
    x = photo.astype(np.float32) / 255
    for seed in range(6):
        out, params = degrade(photo, "blur", rng=np.random.default_rng(seed))
        p = params["kernel"]
        types.add(p["type"])
        k = line_kernel(p["length"], p["angle"]) if p["type"] == "line" else trajectory_kernel(p["vertices"])
        ref = cv2.filter2D(x, -1, np.ascontiguousarray(k[::-1, ::-1], dtype=np.float32),
                           borderType=cv2.BORDER_REFLECT) * 255
        rmse = float(np.sqrt(((out - ref) ** 2).mean()))
        assert 0.8 < rmse < 1.3, (seed, rmse)  # sigma 1 noise plus rounding
    assert types == {"line", "trajectory"}


# ----------------------------------------------------------------------------- rain


def test_rain_adds_bright_streaks_along_the_recorded_tilt() -> None:
    flat = np.full((128, 128, 3), 70, dtype=np.uint8)
    for seed in range(4):
        out, p = degrade(flat, "rain", rng=np.random.default_rng(seed))
        diff = out.astype(np.float64) - flat
        assert diff.min() >= 0 and np.ptp(diff, axis=2).max() == 0  # only adds, the same on all channels
        changed = (diff[..., 0] > 10).mean()
        assert 0.005 < changed < 0.6, (p, changed)
        # structure tensor: the mean gradient direction is normal to the streaks, i.e. at `tilt`
        s = cv2.GaussianBlur(diff[..., 0], (0, 0), 1.0)
        gc, gr = cv2.Sobel(s, cv2.CV_64F, 1, 0), cv2.Sobel(s, cv2.CV_64F, 0, 1)
        jcc, jrr, jcr = (gc ** 2).sum(), (gr ** 2).sum(), (gc * gr).sum()
        tilt = 0.5 * np.degrees(np.arctan2(2 * jcr, jcc - jrr))
        coherence = np.hypot(jcc - jrr, 2 * jcr) / (jcc + jrr)
        assert abs(tilt - p["tilt"]) < 3.5 and coherence > 0.5, (p, tilt, coherence)
        assert _in(p["tilt"], (-20, 20)) and _in(p["density"], RANGES["synthetic"]["rain"]["density"])


def test_real_like_rain_has_layers_of_varying_width_and_a_veil() -> None:
    flat = np.full((96, 96, 3), 60, dtype=np.uint8)
    out, p = degrade(flat, "rain", "real_like", rng=np.random.default_rng(3))
    assert 2 <= len(p["layers"]) <= 3
    assert len({layer["width"] for layer in p["layers"]}) == len(p["layers"])
    assert all(abs(layer["tilt"] - p["tilt"]) <= 5 for layer in p["layers"])
    # the veil lifts even the streak-free pixels towards the airlight
    assert np.percentile(out, 10) > 60 + 2


# ----------------------------------------------------------------------------- haze


@pytest.mark.parametrize("family", FAMILIES)
def test_haze_lowers_contrast_and_moves_towards_the_airlight(photo, family) -> None:
    for seed in range(3):
        out, p = degrade(photo, "haze", family, rng=np.random.default_rng(seed))
        a = np.broadcast_to(np.asarray(p["airlight"], dtype=np.float64) * 255, (3,))
        assert _laplacian_var(out) < 0.8 * _laplacian_var(photo)
        before, after = np.abs(photo.mean((0, 1)) - a), np.abs(out.mean((0, 1)) - a)
        assert after.sum() < before.sum() and (after < before + 1.5).all(), (p, before, after)
        if family == "synthetic":  # every pixel lies between the scene and the airlight
            lo, hi = np.minimum(photo, a), np.maximum(photo, a)
            assert ((out >= np.floor(lo) - 1) & (out <= np.ceil(hi) + 1)).all()
            assert isinstance(p["airlight"], float)
        else:
            assert len(p["airlight"]) == 3 and len(set(p["airlight"])) > 1  # coloured
        assert _in(p["beta"], RANGES[family]["haze"]["beta"])


# ----------------------------------------------------------------------------- noise


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_noise_sigma_matches_the_recorded_sigma(seed) -> None:
    clean = _gradient(128, 128)
    out, p = degrade(clean, "noise", rng=np.random.default_rng(seed))
    residual = out.astype(np.float64) - clean
    assert _in(p["sigma"], (15, 50))
    assert abs(residual.std() / p["sigma"] - 1) < 0.06, (p, residual.std())
    assert abs(residual.mean()) < 1.0


def _dark_bright_variance(out: np.ndarray, clean: np.ndarray) -> tuple[float, float]:
    residual = out.astype(np.float64) - clean
    w = clean.shape[1]
    return float(residual[:, : w // 3].var()), float(residual[:, -w // 3:].var())


def test_real_like_noise_is_signal_dependent_synthetic_is_not() -> None:
    clean = _gradient(128, 192, lo=30, hi=200)
    for seed in range(3):
        dark, bright = _dark_bright_variance(
            degrade(clean, "noise", "synthetic", rng=np.random.default_rng(seed))[0], clean)
        assert 0.7 < bright / dark < 1.4
        out, p = degrade(clean, "noise", "real_like", rng=np.random.default_rng(seed))
        dark, bright = _dark_bright_variance(out, clean)
        assert bright / dark > 1.6, (p, dark, bright)
        assert _in(p["shot_sigma"], (15, 50)) and _in(p["read_sigma"], (2, 10))


# ----------------------------------------------------------------------------- jpeg


def _blockiness(img: np.ndarray) -> np.ndarray:
    """Mean absolute difference between columns j and j+1, by the phase j mod 8."""
    d = np.abs(np.diff(img.astype(np.float64).mean(2), axis=1)).mean(0)
    return np.array([d[p::8].mean() for p in range(8)])


def test_jpeg_is_a_cv2_round_trip_at_the_recorded_quality(photo) -> None:
    for seed in range(3):
        out, p = degrade(photo, "jpeg", rng=np.random.default_rng(seed))
        assert _in(p["quality"], (10, 60))
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(photo, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, p["quality"]])
        assert ok
        ref = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert out.tobytes() == ref.tobytes()


def test_jpeg_blocking_on_the_8x8_grid_and_shifted_for_real_like() -> None:
    yy, xx = np.mgrid[0:128, 0:128]
    smooth = np.stack([90 + 60 * np.sin(xx / 13.0) * np.cos(yy / 17.0)] * 3, axis=2)
    smooth = np.round(smooth + np.array([0, 10, -10])).astype(np.uint8)
    out, _ = degrade(smooth, "jpeg", rng=np.random.default_rng(0))
    b = _blockiness(out)
    assert b.argmax() == 7 and b[7] > 1.5 * np.delete(b, 7).mean()
    seen = set()
    for seed in range(4):
        out, p = degrade(smooth, "jpeg", "real_like", rng=np.random.default_rng(seed))
        dx = p["grid_shift"][1]
        seen.add(dx)
        assert _blockiness(out).argmax() == (-dx - 1) % 8, p
        assert p["sampling"] in ("420", "422", "444") and _in(p["quality1"], (50, 90))
    assert len(seen) > 1


# ----------------------------------------------------------------------------- pair folders


@pytest.fixture()
def clean_dir(tmp_path: Path, photo: np.ndarray) -> Path:
    d = tmp_path / "clean"
    write_image(d / "beta.png", photo[:64, :48])
    write_image(d / "alpha.png", photo[16:80, 16:80])
    coffee = read_image(skimage_data_dir() / "coffee.png")[100:148, 200:260]
    _, data = cv2.imencode(".jpg", cv2.cvtColor(coffee, cv2.COLOR_RGB2BGR))
    (d / "gamma.jpg").write_bytes(data.tobytes())
    return d


def test_make_synthetic_pairs_writes_pairs_and_manifest(clean_dir: Path, tmp_path: Path) -> None:
    out = make_synthetic_pairs(clean_dir, tmp_path / "pairs", "haze", "real_like", seed=3)
    m = json.loads((out / "manifest.json").read_text())
    keys = ("scale", "task", "degradation", "family", "seed", "synthetic", "source_dir")
    assert {k: m[k] for k in keys} == {
        "scale": 1, "task": "dehaze", "degradation": "haze", "family": "real_like", "seed": 3,
        "synthetic": True, "source_dir": str(clean_dir)}
    assert [e["name"] for e in m["images"]] == ["alpha", "beta", "gamma"]
    assert sorted(p.name for p in (out / "HR").iterdir()) == ["alpha.png", "beta.png", "gamma.png"]
    assert sorted(p.name for p in (out / "LR").iterdir()) == ["alpha.png", "beta.png", "gamma.png"]
    for e in m["images"]:
        clean = read_image(next(clean_dir.glob(e["name"] + ".*")))
        hr, lr = read_image(out / "HR" / f"{e['name']}.png"), read_image(out / "LR" / f"{e['name']}.png")
        assert hr.tobytes() == clean.tobytes() and lr.shape == hr.shape
        assert e["size"] == list(hr.shape[:2])
        # the recorded parameters and generator entropy reproduce the degraded image
        again, params = degrade(clean, "haze", "real_like", rng=image_rng(3, e["name"]))
        assert again.tobytes() == lr.tobytes()
        assert e["params"] == {"seed_entropy": e["params"]["seed_entropy"], **params}
        assert e["params"]["seed_entropy"][0] == 3
    assert _is_plain_json(m)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_pairs_are_reproducible_and_per_image(clean_dir: Path, tmp_path: Path, photo: np.ndarray) -> None:
    a = make_synthetic_pairs(clean_dir, tmp_path / "a", "rain", seed=0)
    b = make_synthetic_pairs(clean_dir, tmp_path / "b", "rain", seed=0)
    c = make_synthetic_pairs(clean_dir, tmp_path / "c", "rain", seed=1)
    for name in ("alpha", "beta", "gamma"):
        assert (a / "LR" / f"{name}.png").read_bytes() == (b / "LR" / f"{name}.png").read_bytes()
        assert (a / "LR" / f"{name}.png").read_bytes() != (c / "LR" / f"{name}.png").read_bytes()
    # an added image (sorted first) does not change the others
    write_image(clean_dir / "aaa.png", photo[:32, :32])
    d = make_synthetic_pairs(clean_dir, tmp_path / "d", "rain", seed=0)
    for name in ("alpha", "beta", "gamma"):
        assert (a / "LR" / f"{name}.png").read_bytes() == (d / "LR" / f"{name}.png").read_bytes()


def test_pair_errors_name_the_value_or_file_and_leave_nothing(clean_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs"
    with pytest.raises(ConfigError, match=r"'smoke'.*allowed values: blur, rain, haze, noise, jpeg"):
        make_synthetic_pairs(clean_dir, out, "smoke")
    with pytest.raises(ConfigError, match=r"'realistic'.*allowed values: synthetic, real_like"):
        make_synthetic_pairs(clean_dir, out, "blur", family="realistic")
    with pytest.raises(ConfigError, match="seed"):
        make_synthetic_pairs(clean_dir, out, "blur", seed=-1)
    assert not out.exists()
    make_synthetic_pairs(clean_dir, out, "noise")
    before = (out / "manifest.json").read_bytes()
    bad = clean_dir / "zeta.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(ImageReadError, match="zeta.png"):
        make_synthetic_pairs(clean_dir, out, "blur")
    assert (out / "manifest.json").read_bytes() == before  # the old folder is untouched
    bad.unlink()
    (clean_dir / "alpha.bmp").write_bytes((clean_dir / "beta.png").read_bytes())
    with pytest.raises(DataError, match="alpha"):
        make_synthetic_pairs(clean_dir, out, "blur")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# ----------------------------------------------------------------------------- CLI


def _cli():
    return runpy.run_path(str(SCRIPT))["main"]


def test_cli_writes_pairs(clean_dir: Path, tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    code = _cli()(["--clean-dir", str(clean_dir), "--out", str(tmp_path / "o"), "--kind", "jpeg",
                   "--family", "real_like", "--seed", "4"])
    assert code == 0 and capfd.readouterr().err == ""
    m = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert (m["task"], m["family"], m["seed"]) == ("dejpeg", "real_like", 4)


@pytest.mark.parametrize("case", ["empty", "missing", "kind", "family"])
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, clean_dir: Path, case: str,
                                          capfd: pytest.CaptureFixture) -> None:
    folder, kind, family = clean_dir, "blur", "synthetic"
    if case == "empty":
        folder = tmp_path / "empty"
        folder.mkdir()
    elif case == "missing":
        folder = tmp_path / "nowhere"
    elif case == "kind":
        kind = "fog"
    else:
        family = "realish"
    code = _cli()(["--clean-dir", str(folder), "--out", str(tmp_path / "o"), "--kind", kind,
                   "--family", family])
    out, err = capfd.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    expected = {"empty": str(folder), "missing": str(folder), "kind": "'fog'", "family": "'realish'"}[case]
    assert expected in err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_cli_process_has_no_traceback(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, str(SCRIPT), "--clean-dir", str(tmp_path / "empty"), "--out",
                           str(tmp_path / "o"), "--kind", "noise"], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
