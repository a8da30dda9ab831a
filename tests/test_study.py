"""The multi-seed study: seed replicas in the configuration and the study table."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from cir import config as cfgmod
from cir.errors import CirError, ConfigError
from cir.report.study import build_study_table, render_study_markdown, write_study_table


def _summary(tmp_path, exp, seed, psnr, ssim=0.9, preset="study", stand_ins=()):
    path = tmp_path / f"{exp}_{seed}.json"
    path.write_text(json.dumps({
        "preset": preset, "scale": 4, "backbone": "rcan", "method": exp, "model_file": "m.pt",
        "parameters": 10, "stand_ins": list(stand_ins),
        "test_sets": {"skimage_test": {"n_images": 2, "psnr": psnr, "ssim": ssim,
                                       "per_image_csv": "x.csv", "sec_per_image": 0.1}}}))
    return path


def test_seed_replicas_resolve_to_their_base_experiment():
    cfg = cfgmod.load_and_validate("config.yaml")
    preset = cfgmod.preset(cfg, "study")
    assert cfgmod.preset_seeds(preset) == [0, 1, 2]
    exp = cfgmod.experiment(cfg, "dckd_seed2")
    assert exp["method"] == "dckd" and exp["seed"] == 2 and exp["replica_of"] == "dckd"
    assert cfgmod.replica_name("dckd", 0, preset) == "dckd"  # the preset's own seed: the base run
    names = cfgmod.experiments_with_replicas(cfg, preset)
    assert {"scratch_seed1", "scratch_seed2", "dckd_seed1"} <= set(names)
    assert "teacher_seed1" not in names and "scratch_seed0" not in names
    with pytest.raises(ConfigError, match="teacher"):
        cfgmod.experiment(cfg, "teacher_seed1")
    with pytest.raises(ConfigError, match="nosuch_seed1"):
        cfgmod.experiment(cfg, "nosuch_seed1")
    # presets without `seeds` run their one train.seed
    assert cfgmod.preset_seeds(cfgmod.preset(cfg, "demo")) == [0]


def test_seed_replica_trains_with_its_seed():
    from cir.jobs.train import train_settings
    from cir.spec import job_spec

    cfg = cfgmod.load_and_validate("config.yaml")
    assert train_settings(job_spec(cfg, "study", "x4", "rcan", "logits"), "cpu").seed == 0
    assert train_settings(job_spec(cfg, "study", "x4", "rcan", "logits_seed2"), "cpu").seed == 2


def test_study_table_means_stds_and_paired_gains(tmp_path):
    entries = [("scratch", s, _summary(tmp_path, "scratch", s, p)) for s, p in [(0, 30.0), (1, 31.0), (2, 29.0)]]
    entries += [("dckd", s, _summary(tmp_path, "dckd", s, p, stand_ins=["enc: random"]))
                for s, p in [(0, 30.5), (1, 31.1), (2, 28.9)]]
    entries += [("teacher", 0, _summary(tmp_path, "teacher", 0, 32.0))]
    df = build_study_table(entries)
    scratch = df[df.experiment == "scratch"].iloc[0]
    dckd = df[df.experiment == "dckd"].iloc[0]
    teacher = df[df.experiment == "teacher"].iloc[0]
    assert scratch["skimage_test_psnr_mean"] == pytest.approx(30.0)
    assert scratch["skimage_test_psnr_std"] == pytest.approx(1.0)  # sample std of 30, 31, 29
    assert math.isnan(scratch["skimage_test_psnr_gain_mean"])
    # gains paired by seed: +0.5, +0.1, -0.1 -> mean 0.1667, 2 of 3 positive
    assert dckd["skimage_test_psnr_gain_mean"] == pytest.approx(0.5 / 3)
    assert dckd["skimage_test_psnr_gain_std"] == pytest.approx(pd.Series([0.5, 0.1, -0.1]).std())
    assert dckd["skimage_test_psnr_gain_wins"] == "2/3"
    assert dckd["skimage_test_psnr_per_seed"] == "30.500 31.100 28.900"
    assert teacher["n_seeds"] == 1 and math.isnan(teacher["skimage_test_psnr_std"])
    md = render_study_markdown(df, "t")
    assert "+0.167 ± 0.306 (2/3)" in md and "enc: random" in md and "not comparable" in md
    write_study_table(df, tmp_path / "study.csv", tmp_path / "study.md")
    assert pd.read_csv(tmp_path / "study.csv").shape[0] == 3


def test_study_table_rejects_mixed_presets_and_duplicates(tmp_path):
    a = _summary(tmp_path, "scratch", 0, 30.0)
    b = _summary(tmp_path, "logits", 0, 30.0, preset="demo")
    with pytest.raises(CirError, match="preset 'demo'"):
        build_study_table([("scratch", 0, a), ("logits", 0, b)])
    with pytest.raises(CirError, match="seed 0 given twice"):
        build_study_table([("scratch", 0, a), ("scratch", 0, a)])
    with pytest.raises(CirError, match="not found"):
        build_study_table([("scratch", 0, tmp_path / "missing.json")])


def test_study_table_with_lower_is_better_metrics(tmp_path):
    """Uni-Removal's evidence: PIQE first (lower is better: a drop is a win), BRISQUE unavailable offline."""
    def summ(exp, seed, piqe):
        path = tmp_path / f"{exp}_{seed}.json"
        path.write_text(json.dumps({
            "preset": "study_uniremoval", "scale": 1, "backbone": "mprnet", "method": exp, "model_file": "m.pt",
            "parameters": 10, "stand_ins": [], "task": "unified",
            "test_sets": {"real": {"n_images": 2, "piqe": piqe, "brisque_matlab": "unavailable: missing x.mat",
                                   "per_image_csv": "x.csv", "sec_per_image": 0.1}}}))
        return path

    entries = [("ur_kt", s, summ("ur_kt", s, v)) for s, v in [(0, 40.0), (1, 42.0), (2, 41.0)]]
    entries += [("ur_da", s, summ("ur_da", s, v)) for s, v in [(0, 38.0), (1, 43.0), (2, 40.0)]]
    df = build_study_table(entries, baseline="ur_kt", metrics=("piqe", "brisque_matlab"))
    da = df[df.experiment == "ur_da"].iloc[0]
    assert da["real_piqe_mean"] == pytest.approx(121 / 3)
    assert da["real_piqe_gain_mean"] == pytest.approx(-2 / 3) and da["real_piqe_gain_wins"] == "2/3"
    assert math.isnan(da["real_brisque_matlab_mean"])
    md = render_study_markdown(df, "t")
    assert "real PIQE" in md and "real ΔPIQE vs ur_kt (wins)" in md and "-0.667 ± 1.528 (2/3)" in md
    assert "lower PIQE" in md
