"""``cir metrics``: pairs, folders, no-reference folders, options, CSV, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from cir.data.builtin import skimage_data_dir
from cir.data.images import read_image, write_image
from cir.eval.cli import main
from cir.eval.metrics import MetricSpec, build_metric

REPO = Path(__file__).resolve().parents[1]


def _t(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None].to(torch.float64) / 255.0


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for name in ("coffee", "chelsea"):
        hr = read_image(skimage_data_dir() / f"{name}.png")[:64, :80]
        out[name] = hr
        out[name + "_deg"] = np.clip(hr + rng.normal(0, 6, hr.shape), 0, 255).round().astype(np.uint8)
    return out


@pytest.fixture()
def folders(tmp_path: Path, images: dict[str, np.ndarray]) -> tuple[Path, Path]:
    for name in ("coffee", "chelsea"):
        write_image(tmp_path / "hr" / f"{name}.png", images[name])
        write_image(tmp_path / "sr" / f"{name}.png", images[name + "_deg"])
    return tmp_path / "sr", tmp_path / "hr"


def run(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    code = main(["metrics", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_pair_scores_psnr_ssim_on_y_by_default(folders, images, capsys) -> None:
    sr, hr = folders
    code, out, err = run(capsys, sr / "coffee.png", hr / "coffee.png")
    assert code == 0 and err == ""
    result = json.loads(out)
    x, y = _t(images["coffee_deg"]), _t(images["coffee"])
    expected_psnr = float(build_metric(MetricSpec("psnr", True, 0))(x, y)[0])
    expected_ssim = float(build_metric(MetricSpec("ssim", True, 0))(x, y)[0])
    assert result["images"] == [{"image": "coffee.png", "psnr": pytest.approx(expected_psnr, abs=1e-12),
                                 "ssim": pytest.approx(expected_ssim, abs=1e-12)}]
    assert result["mean"] == {"psnr": pytest.approx(expected_psnr, abs=1e-12),
                              "ssim": pytest.approx(expected_ssim, abs=1e-12)}
    assert "Y (BT.601 studio range)" in result["metrics"]


def test_folders_rgb_crop_and_csv(folders, images, capsys, tmp_path: Path) -> None:
    sr, hr = folders
    csv = tmp_path / "scores" / "s.csv"
    code, out, _ = run(capsys, sr, hr, "--metrics", "psnr,ssim", "--rgb", "--crop-border", "3", "--csv", csv)
    assert code == 0 and out.strip() == str(csv)
    table = pd.read_csv(csv)
    assert list(table.columns) == ["image", "psnr", "ssim"]
    assert list(table["image"]) == ["chelsea.png", "coffee.png", "mean"]
    for i, name in enumerate(("chelsea", "coffee")):
        x, y = _t(images[name + "_deg"]), _t(images[name])
        assert table.loc[i, "psnr"] == pytest.approx(float(build_metric(MetricSpec("psnr", False, 3))(x, y)[0]))
    assert table.loc[2, "psnr"] == pytest.approx(table.loc[:1, "psnr"].mean())
    assert [p.name for p in csv.parent.iterdir()] == ["s.csv"]  # written atomically, nothing left over


def test_folders_match_by_name_across_extensions(folders, images, capsys) -> None:
    sr, hr = folders
    (hr / "coffee.png").unlink()
    import cv2

    cv2.imwrite(str(hr / "coffee.bmp"), cv2.cvtColor(images["coffee"], cv2.COLOR_RGB2BGR))
    code, out, _ = run(capsys, sr, hr, "--convention", "dckd_sr", "--scale", "2")
    assert code == 0
    result = json.loads(out)
    assert [r["image"] for r in result["images"]] == ["chelsea.png", "coffee.png"]
    assert result["convention"] == "dckd_sr" and "crop border 2" in result["metrics"]


def test_no_reference_folder(folders, capsys) -> None:
    sr, _ = folders
    code, out, _ = run(capsys, sr, "--metrics", "piqe")
    assert code == 0
    result = json.loads(out)
    assert [sorted(r) for r in result["images"]] == [["image", "piqe"], ["image", "piqe"]]
    assert 0 <= result["mean"]["piqe"] <= 100


def test_identical_images_give_inf_psnr_as_a_string(folders, capsys) -> None:
    _, hr = folders
    code, out, _ = run(capsys, hr / "coffee.png", hr / "coffee.png", "--metrics", "psnr")
    assert code == 0 and json.loads(out)["images"][0]["psnr"] == "inf"


def test_unavailable_metric_fails_or_is_reported(folders, capsys, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    sr, _ = folders
    code, out, err = run(capsys, sr, "--convention", "uniremoval_real")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "brisque_matlab.mat is missing" in err and "snakemake --cores 1 assets" in err
    code, out, err = run(capsys, sr, "--convention", "uniremoval_real", "--allow-unavailable")
    assert code == 0
    result = json.loads(out)
    assert result["mean"]["brisque_matlab"] == "unavailable: missing brisque_matlab.mat (snakemake --cores 1 assets)"
    assert isinstance(result["mean"]["piqe"], float)


@pytest.mark.parametrize("case,needle", [
    ("missing", "nothere.png: no such file or folder"),
    ("size", "size mismatch"),
    ("unknown", "unknown metric 'psnr-y'"),
    ("fr_without_ref", "psnr, ssim need a reference image"),
    ("unmatched", "unmatched image names"),
    ("mixed", "give two files or two folders"),
    ("scale", "give the SR scale"),
    ("crop", "--crop-border: expected an integer >= 0, got -2"),
    ("y_on_nr", None),
])
def test_bad_input_is_one_line_and_exit_2(folders, images, capsys, tmp_path: Path, case: str,
                                           needle: str | None) -> None:
    sr, hr = folders
    if case == "missing":
        args = [tmp_path / "nothere.png", hr / "coffee.png"]
    elif case == "size":
        write_image(tmp_path / "small.png", images["coffee"][:32, :40])
        args = [tmp_path / "small.png", hr / "coffee.png"]
        needle = f"{tmp_path / 'small.png'} is 40x32, {hr / 'coffee.png'} is 80x64"
    elif case == "unknown":
        args = [sr, hr, "--metrics", "psnr-y"]
    elif case == "fr_without_ref":
        args = [sr, "--metrics", "psnr,ssim,piqe"]
    elif case == "unmatched":
        write_image(hr / "extra.png", images["coffee"])
        args = [sr, hr]
        needle = f"in {hr} only: extra.png"
    elif case == "mixed":
        args = [sr, hr / "coffee.png"]
    elif case == "scale":
        args = [sr, hr, "--convention", "dckd_sr"]
    elif case == "crop":
        args = [sr, hr, "--crop-border", "-2"]
    else:  # --y-channel only changes PSNR/SSIM; a no-reference metric keeps MATLAB's gray image
        code, out, _ = run(capsys, sr, "--metrics", "piqe", "--y-channel")
        assert code == 0 and "PIQE on MATLAB rgb2gray" in json.loads(out)["metrics"]
        return
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1 and needle in err, err


def test_argument_errors_are_one_line(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["metrics", "a.png", "--metrics", "psnr", "--convention", "dckd_sr"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not allowed with argument" in err


@pytest.mark.slow
def test_console_command_runs_without_traceback(folders) -> None:
    sr, hr = folders
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "cir.eval.cli", "metrics", str(sr / "coffee.png"), str(hr / "nope.png")],
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {hr / 'nope.png'}: no such file or folder"
