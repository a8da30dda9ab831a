"""Visual comparison figure: image and crop choice, panel assembly from saved outputs and CSVs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from cir.data.bicubic import bicubic_downsample_uint8, imresize_uint8
from cir.data.images import read_image, write_image
from cir.errors import CirError
from cir.report.visual import (
    Crop,
    choose_crop,
    choose_image,
    crop_score_map,
    draw_visual,
    make_visual,
    psnr_y,
)


def test_spread_crop_finds_where_methods_disagree():
    hr = np.full((64, 64, 3), 120, np.uint8)
    good = hr.copy()
    bad = hr.copy()
    bad[40:48, 8:16] = 200  # only one method is wrong here
    both = [good, bad]
    good[0:8, 30:38] = 10  # both wrong in the same way here: no spread
    bad[0:8, 30:38] = 10
    assert choose_crop(hr, both, 8, stride=1) == Crop(40, 8, 8)
    # the error rule prefers the block where both are wrong (mean error 110 vs 40 per pixel)
    assert choose_crop(hr, both, 8, stride=1, rule="error") == Crop(0, 30, 8)
    # ... unless that block lies inside the border the metrics ignore
    assert choose_crop(hr, both, 8, stride=1, rule="error", border=8) == Crop(40, 8, 8)
    # a single method: spread falls back to the error map
    np.testing.assert_array_equal(crop_score_map(hr, [bad], "spread"), crop_score_map(hr, [bad], "error"))
    with pytest.raises(CirError, match="does not fit"):
        choose_crop(hr, both, 62, border=2)
    with pytest.raises(CirError, match="crop rule"):
        choose_crop(hr, both, 8, rule="largest")


def test_crop_ties_go_to_the_first_window_in_raster_order():
    hr = np.zeros((32, 32, 3), np.uint8)
    out = hr.copy()
    out[4:8, 20:24] = 50
    out[20:24, 4:8] = 50
    assert choose_crop(hr, [out], 4, stride=1) == Crop(4, 20, 4)


def test_image_choice_is_the_largest_psnr_spread():
    psnrs = {"teacher": {"a": 30.0, "b": 28.0, "c": 31.0},
             "scratch": {"a": 29.0, "b": 25.0, "c": 30.0}}
    assert choose_image(psnrs) == "b"
    assert choose_image({"teacher": {"b": 1.0, "a": 1.0}}) == "a"  # tie -> first name
    with pytest.raises(CirError, match="every method"):
        choose_image({"teacher": {"a": 1.0}, "scratch": {"b": 1.0}})


def _fixture(tmp_path: Path):
    """A 2-image test set and two evaluated 'methods' whose saved outputs differ in one block."""
    rng = np.random.default_rng(0)
    pair_dir = tmp_path / "data/sr/tiny/x2"
    images = {}
    for name in ("a", "b"):
        hr = cv2.GaussianBlur(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (5, 5), 1.5)
        lr = bicubic_downsample_uint8(hr, 2)
        write_image(pair_dir / "HR" / f"{name}.png", hr)
        write_image(pair_dir / "LR" / f"{name}.png", lr)
        images[name] = (hr, lr)
    summaries = []
    psnrs = {"teacher": {"a": 31.5, "b": 30.0}, "logits": {"a": 30.5, "b": 26.0}}  # spread: b
    for exp in ("teacher", "logits"):
        d = tmp_path / f"results/eval/x2/swinir/{exp}"
        for name, (hr, lr) in images.items():
            out = hr.copy()
            if exp == "logits":
                out[30:42, 40:52] = 255 - out[30:42, 40:52]
            write_image(d / "tiny" / f"{name}.png", out)
        pd.DataFrame({"image": ["a", "b"], "psnr": [psnrs[exp]["a"], psnrs[exp]["b"]],
                      "ssim": [0.9, 0.8]}).to_csv(d / "tiny.csv", index=False)
        summary = {"preset": "smoke", "scale": 2, "backbone": "swinir", "method": exp,
                   "model_file": f"runs/{exp}/model.pt", "parameters": 10, "stand_ins": ["a stand-in"],
                   "test_sets": {"tiny": {"n_images": 2, "psnr": 30.0, "ssim": 0.9,
                                          "per_image_csv": str(d / "tiny.csv"), "sec_per_image": 0.1}}}
        (d / "summary.json").write_text(json.dumps(summary))
        summaries.append(f"{exp}={d / 'summary.json'}")
    return pair_dir, summaries, images


def test_visual_figure_from_saved_outputs(tmp_path):
    pair_dir, summaries, images = _fixture(tmp_path)
    png = tmp_path / "figures/visual_x2_swinir.png"
    fig = make_visual(summaries, f"tiny={pair_dir}", png, crop_fraction=0.25)
    assert fig.image == "b" and fig.test_set == "tiny" and fig.rule == "spread"
    # a 12 px window (48 * 0.25) inside the 2 px border, overlapping the block where the methods differ
    c = fig.crop
    assert c.size == 12 and 2 <= c.top and c.top + 12 <= 46 and 2 <= c.left and c.left + 12 <= 62
    assert 30 - 12 < c.top < 42 and 40 - 12 < c.left < 52
    assert [p.label for p in fig.panels] == ["HR", "Bicubic", "Teacher", "Logits"]
    assert [p.psnr for p in fig.panels[2:]] == [30.0, 26.0]  # from the per-image CSVs
    hr, lr = images["b"]
    bicubic = imresize_uint8(lr, 2)
    assert fig.panels[0].psnr is None
    assert fig.panels[1].psnr == pytest.approx(psnr_y(bicubic, hr, 2))
    np.testing.assert_array_equal(fig.panels[0].crop, c.of(hr))
    np.testing.assert_array_equal(fig.panels[1].crop, c.of(bicubic))
    saved = read_image(tmp_path / "results/eval/x2/swinir/logits/tiny/b.png")
    np.testing.assert_array_equal(fig.panels[3].crop, c.of(saved))
    # the PNG: the full image beside 4 panels in 2 rows of 2; a 5th panel adds a column, not a row
    img = read_image(png)
    assert img.shape[0] > 300 and img.shape[1] > img.shape[0]
    width, height = draw_visual(fig, hr, tmp_path / "again.png", title="t", footer="f")
    assert read_image(tmp_path / "again.png").shape[:2] == (height, width)
    five = replace(fig, panels=[*fig.panels, fig.panels[-1]])
    width5, height5 = draw_visual(five, hr, tmp_path / "five.png", title="t", footer="f")
    assert height5 == height and width5 > width
    assert read_image(tmp_path / "five.png").shape[:2] == (height5, width5)
    table = pd.read_csv(png.with_suffix(".csv"))
    assert table.label.tolist() == ["HR", "Bicubic", "Teacher", "Logits"]
    assert table.crop_size_px.unique().tolist() == [12] and table.image.unique().tolist() == ["b"]


def test_visual_options_and_errors(tmp_path):
    pair_dir, summaries, _ = _fixture(tmp_path)
    png = tmp_path / "v.png"
    fig = make_visual(summaries, f"tiny={pair_dir}", png, image="a", crop="4,6,10")
    assert (fig.image, fig.crop, fig.rule) == ("a", Crop(4, 6, 10), "given")
    with pytest.raises(CirError, match="outside"):
        make_visual(summaries, f"tiny={pair_dir}", png, image="a", crop="40,6,10")
    with pytest.raises(CirError, match="TOP,LEFT,SIZE"):
        make_visual(summaries, f"tiny={pair_dir}", png, crop="4,6")
    with pytest.raises(CirError, match="test_sets.other"):
        make_visual(summaries, f"other={pair_dir}", png)
    missing = tmp_path / "results/eval/x2/swinir/logits/tiny/b.png"
    missing.unlink()
    with pytest.raises(CirError, match=r"logits/tiny/b\.png.*--save-images"):
        make_visual(summaries, f"tiny={pair_dir}", png)
