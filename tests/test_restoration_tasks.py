"""Scale-1 restoration tasks in the configuration and the job spec: data sets per task, the
teachers' recipes per backbone, the reconstruction losses and schedules the recipes name."""

import math

import pytest
import torch
from conftest import ROOT

from cir import config as cfgmod
from cir import spec as spec_mod
from cir.engine.optim import build_scheduler, cosine_restart_factor
from cir.errors import ConfigError
from cir.losses import l1, psnr_loss, reconstruction_loss
from cir.tasks import parse_synthetic_set, parse_task, synthetic_set_name


@pytest.fixture(scope="module")
def cfg():
    return cfgmod.load_and_validate(ROOT / "config.yaml")


def test_tasks_scale_convention_and_degradation():
    assert parse_task("deblur").scale == 1 and parse_task("deblur").default_convention == "deblur_rgb"
    assert parse_task("derain").default_convention == "derain_y"
    assert parse_task("x4").degradation is None and parse_task("derain").degradation == "rain"
    assert synthetic_set_name("skimage_test", "deblur") == "skimage_test_blur"
    assert synthetic_set_name("skimage_test", "dehaze", "real_like") == "skimage_test_haze_real"
    assert parse_synthetic_set("skimage_train_rain_real", ["skimage_train"]) == ("skimage_train", "rain", "real_like")
    assert parse_synthetic_set("Rain13K", ["skimage_train"]) is None
    with pytest.raises(ConfigError, match="x4: SR pairs are bicubic"):
        synthetic_set_name("skimage_test", "x4")


def test_demo_restoration_jobs_read_their_task_data_and_recipe(cfg):
    spec = spec_mod.job_spec(cfg, "demo", "deblur", "nafnet", "dckd")
    assert spec["scale"] == 1 and spec["model"] == {"arch": "nafnet", "scale": 1,
                                                    "params": cfg["presets"]["demo"]["models"]["nafnet"]["student"]}
    assert spec["data"]["train"] == ["skimage_train_blur"] and spec["data"]["val"] == "skimage_test_blur"
    assert spec["convention"] == "deblur_rgb"
    assert spec["train"]["rec_loss"] == "psnr" and spec["train"]["optimizer"]["name"] == "adamw"
    assert spec["data"]["lr_patch"] == 48
    rain = spec_mod.job_spec(cfg, "demo", "derain", "restormer", "teacher")
    assert rain["data"]["train"] == ["skimage_train_rain"] and rain["convention"] == "derain_y"
    assert rain["train"]["grad_clip"] == 0.01 and rain["train"]["rec_loss"] == "l1"
    # the SR jobs of the same preset are untouched by the restoration recipes
    sr = spec_mod.job_spec(cfg, "demo", "x4", "rcan", "dckd")
    assert sr["data"]["train"] == ["skimage_train"] and sr["train"]["rec_loss"] == "l1"
    assert sr["data"]["lr_patch"] == 12 and sr["train"]["optimizer"]["name"] == "adam"


def test_paper_preset_holds_the_teachers_original_recipes(cfg):
    naf = spec_mod.job_spec(cfg, "paper", "deblur", "nafnet", "scratch")
    t = naf["train"]
    assert naf["data"]["train"] == ["GoPro_train"] and naf["data"]["val"] == "GoPro_test"
    assert t["iterations"] == 200_000 and t["batch_size"] == 32 and naf["data"]["lr_patch"] == 256
    assert t["optimizer"] == {"name": "adamw", "lr": 1e-3, "betas": [0.9, 0.9], "weight_decay": 0.0}
    assert t["scheduler"] == {"name": "cosine", "t_max": 200_000, "eta_min": 1e-7}
    assert t["rec_loss"] == "psnr" and t["autocast"] == "none"
    res = spec_mod.job_spec(cfg, "paper", "derain", "restormer", "dckd")
    assert res["data"]["train"] == ["Rain13K"]
    assert res["data"]["patch_schedule"][0] == [0, 128, 64] and res["data"]["patch_schedule"][-1] == [276000, 384, 8]
    assert res["data"]["pad_small"] is True and naf["data"]["pad_small"] is False
    assert res["train"]["scheduler"]["name"] == "cosine_restart" and res["train"]["grad_clip"] == 0.01
    assert res["train"]["iterations"] == 300_000
    # DCKD's history schedule is stated for 2.5e5 iterations: scaled by the recipe's own length
    assert res["options"]["iteration_scale"] == pytest.approx(300_000 / 250_000)
    assert "presets.paper.recipes" in spec_mod.config_keys_read(cfg, "paper", "restormer", "dckd")


def test_a_recipe_for_task_and_backbone_overrides_the_backbone_recipe(cfg):
    preset = cfgmod.preset(cfg, "demo")
    preset["recipes"]["deblur/nafnet"] = {"batch_size": 2}
    t = cfgmod.train_settings(preset, "deblur", "nafnet")
    assert t["batch_size"] == 2 and t["rec_loss"] == "psnr"
    assert cfgmod.train_settings(preset, "derain", "nafnet")["batch_size"] == preset["train"]["batch_size"]


def test_psnr_loss_by_hand():
    pred = torch.zeros(2, 1, 2, 2)
    gt = torch.tensor([[0.1, 0.1, 0.1, 0.1], [0.2, 0.0, 0.0, 0.0]]).view(2, 1, 2, 2)
    # image 0: MSE 0.01 -> -20 dB; image 1: MSE 0.01 -> -20 dB
    assert float(psnr_loss(pred, gt, eps=0.0)) == pytest.approx(-20.0, abs=1e-4)
    gt2 = gt.clone()
    gt2[1] = 1.0  # MSE 1 -> 0 dB; mean -10
    assert float(psnr_loss(pred, gt2, eps=0.0)) == pytest.approx(-10.0, abs=1e-4)
    assert reconstruction_loss("l1") is l1 and reconstruction_loss("psnr") is psnr_loss
    with pytest.raises(ValueError, match="train.rec_loss: 'l2'"):
        reconstruction_loss("l2")


def test_restormer_cyclic_cosine_schedule():
    periods, floors = [92_000, 208_000], [3e-4, 1e-6]
    assert cosine_restart_factor(0, 3e-4, periods, floors) == pytest.approx(3e-4)
    assert cosine_restart_factor(91_999, 3e-4, periods, floors) == pytest.approx(3e-4)   # held for 92k
    assert cosine_restart_factor(92_000, 3e-4, periods, floors) == pytest.approx(3e-4)
    mid = 92_000 + 104_000
    assert cosine_restart_factor(mid, 3e-4, periods, floors) == pytest.approx(1e-6 + (3e-4 - 1e-6) / 2)
    assert cosine_restart_factor(300_000, 3e-4, periods, floors) == pytest.approx(1e-6)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, {"name": "cosine_restart", "periods": [2, 4], "eta_mins": [0.5, 0.0]}, 6)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1.0) and lrs[1] == pytest.approx(0.75)
    assert lrs[2] == pytest.approx(1.0) and lrs[4] == pytest.approx(0.5) and lrs[5] == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 4)))


def test_cosine_period_of_its_own():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = build_scheduler(opt, {"name": "cosine", "t_max": 4, "eta_min": 0.0}, 100)
    for _ in range(2):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5)


def test_task_variants_train_the_same_restoration_on_other_data():
    t = parse_task("dehaze_its")
    assert (t.name, t.kind, t.scale) == ("dehaze_its", "dehaze", 1)
    assert t.default_convention == parse_task("dehaze").default_convention and t.degradation == "haze"
    assert synthetic_set_name("skimage_train", "derain_rain200h") == "skimage_train_rain"
    for bad in ("dehaze_", "dehaze_ITS", "dejpeg_x", "x4_its"):
        with pytest.raises(ConfigError, match="is not a task"):
            parse_task(bad)
    import re

    from cir.tasks import TASK_PATTERN

    assert re.fullmatch(TASK_PATTERN, "derain_rain200l") and not re.fullmatch(TASK_PATTERN, "derain-x")
