"""Uni-Removal in the configuration: adapt sets and visual sets checked by name, teachers trained at
other tasks, unpaired specs, seed replicas that start from the same seed's start, recipes validated
as the trainer layers them, the registry's RealBlur-J training pairs, the input rows' scoring."""

import copy
import json

import numpy as np
import pytest
from conftest import ROOT
from test_config import bad as _with

from cir import config as cfgmod
from cir.errors import ConfigError
from cir.spec import job_spec


@pytest.fixture(scope="module")
def cfg():
    return cfgmod.load_yaml(ROOT / "config.yaml")


UNIFIED = ("presets", "demo", "data", "per_task", "unified")


@pytest.mark.parametrize("path, value, message", [
    ((*UNIFIED, "adapt", "degraded"), ["skimage_adapt_haze_real", "RTTS"],
     r"per_task\.unified\.adapt\.degraded\.1: 'RTTS' is not a builtin data set of task 'unified'"),
    ((*UNIFIED, "adapt", "clear"), ["nope"], r"per_task\.unified\.adapt\.clear\.0: 'nope'"),
    (("presets", "demo", "data", "per_task", "dehaze_ur", "visual"), "skimage_test_rain",
     r"per_task\.dehaze_ur\.visual: 'skimage_test_rain' is not one of the task's test sets"),
    (("experiments", "ur_kt", "teachers", "haze"), {"experiment": "ur_teacher", "task": "unblur"},
     r"experiments\.ur_kt\.teachers\.haze: .*'unblur'.* is not valid"),
    (("experiments", "ur_kt", "teachers", "haze"), {"experiment": "nope", "task": "dehaze_ur"},
     r"experiments\.ur_kt\.teachers\.haze: 'nope' is not another experiment"),
    (("experiments", "ur_kt", "data"), "paired_somehow", r"experiments\.ur_kt\.data"),
])
def test_bad_uniremoval_values_name_the_key(cfg, path, value, message):
    with pytest.raises(ConfigError, match=message):
        cfgmod.validate(_with(cfg, path, value))


def test_unpaired_experiment_needs_the_tasks_adapt_sets(cfg):
    conf = cfgmod.validate(copy.deepcopy(cfg))
    del conf["presets"]["demo"]["data"]["per_task"]["unified"]["adapt"]
    with pytest.raises(ConfigError, match=r"experiments\.ur_da\.data: unpaired needs presets\.demo\.data\.per_task\."
                                          r"unified\.adapt"):
        job_spec(conf, "demo", "unified", "mprnet", "ur_da")


def test_demo_specs_route_teachers_and_data(cfg):
    conf = cfgmod.validate(copy.deepcopy(cfg))
    kt = job_spec(conf, "demo", "unified", "mprnet", "ur_kt")
    assert kt["data"]["kind"] == "labelled" and "clear" not in kt["data"]
    assert kt["data"]["train"] == ["skimage_train_haze", "skimage_train_rain", "skimage_train_blur"]
    assert kt["teachers"]["rain"]["task"] == "derain_ur" and kt["teachers"]["rain"]["experiment"] == "ur_teacher"
    da = job_spec(conf, "demo", "unified", "mprnet", "ur_da")
    assert da["data"] == {**da["data"], "kind": "unpaired", "clear": ["skimage_clear"],
                          "train": ["skimage_adapt_haze_real", "skimage_adapt_rain_real", "skimage_adapt_blur_real"]}
    assert da["train"]["optimizer"]["betas"] == [0.5, 0.999] and da["train"]["iterations"] == 100
    assert da["options"]["discriminator"] == {"ndf": 16, "n_layers": 2, "norm": "instance"}
    assert cfgmod.task_visual_set(cfgmod.preset(conf, "demo"), "derain_ur") == "skimage_test_rain_real"
    assert cfgmod.teacher_ref("teacher") == ("teacher", None)


def test_seed_replicas_start_from_the_same_seeds_start(cfg):
    conf = cfgmod.validate(copy.deepcopy(cfg))
    assert job_spec(conf, "study_uniremoval", "unified", "mprnet", "ur_da")["init"] == {"experiment": "ur_kt"}
    rep = job_spec(conf, "study_uniremoval", "unified", "mprnet", "ur_da_seed2")
    assert rep["init"] == {"experiment": "ur_kt_seed2"} and rep["train"]["seed"] == 2
    assert job_spec(conf, "study_uniremoval", "unified", "mprnet", "ur_kt_seed1")["init"] == "random"


def test_recipes_are_validated_as_the_trainer_layers_them(cfg):
    """An experiment's recipe without a scheduler keeps its backbone recipe's: a milestone of the
    preset's train block beyond the experiment's iterations is not an error, one of its own is."""
    recipes = ("presets", "paper", "recipes")
    conf = cfgmod.validate(copy.deepcopy(cfg))   # the paper preset's DA recipe: 9,400 iterations, constant lr
    assert job_spec(conf, "paper", "unified", "mprnet", "ur_da")["train"]["scheduler"] == {"name": "constant"}
    own = copy.deepcopy(cfg["presets"]["paper"]["recipes"]["unified/mprnet/ur_da"])
    own["scheduler"] = {"name": "multistep", "milestones": [20000], "gamma": 0.5}
    with pytest.raises(ConfigError, match=r"recipes\.unified/mprnet/ur_da\.scheduler\.milestones: 20000 is beyond"):
        cfgmod.validate(_with(cfg, (*recipes, "unified/mprnet/ur_da"), own))


def test_realblur_j_training_pairs_are_listed_by_their_list_file():
    from cir.data.registry import PAIRED_DATASETS

    train, test = PAIRED_DATASETS["RealBlur_J_train"], PAIRED_DATASETS["RealBlur_J_test"]
    assert (train.pair_count, test.pair_count) == (3758, 980) and train.task == "deblur" and train.split == "train"
    assert train.source == test.source   # one archive, two list files
    assert "RealBlur_J_train_list.txt" in repr(train.pairing) and "RealBlur_J_test_list.txt" in repr(test.pairing)


def test_input_rows_score_the_degraded_images(tmp_path):
    from cir.data.images import write_image
    from cir.eval.evaluate import evaluate_inputs

    rng = np.random.default_rng(0)
    for side in ("LR", "HR"):
        (tmp_path / "set" / side).mkdir(parents=True)
    clean = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    noisy = np.clip(clean.astype(int) + rng.integers(-8, 9, clean.shape), 0, 255).astype(np.uint8)
    write_image(tmp_path / "set/HR/a.png", clean)
    write_image(tmp_path / "set/LR/a.png", noisy)
    summary = evaluate_inputs({"set": tmp_path / "set"}, tmp_path / "out/summary.json", preset="demo",
                              convention="uniremoval", task="unified", device="cpu")
    mse = np.mean((clean.astype(float) - noisy.astype(float)) ** 2)
    assert summary["test_sets"]["set"]["psnr"] == pytest.approx(10 * np.log10(255 ** 2 / mse), abs=1e-3)
    assert summary["backbone"] == summary["method"] == "input" and summary["parameters"] == 0
    assert json.loads((tmp_path / "out/summary.json").read_text())["task"] == "unified"


def test_dvc_yaml_has_the_adapt_stage():
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    adapt = {k: v for k, v in stages.items() if k.startswith("adapt-")}
    assert set(adapt) == {f"adapt-runs_demo_unified_mprnet_{e}_model_pt" for e in ("ur_da_bda", "ur_da_eicl", "ur_da")}
    cmd = adapt["adapt-runs_demo_unified_mprnet_ur_da_model_pt"]["cmd"][-1]
    assert "--clear-dir data/raw/skimage_clear" in cmd and "--init runs/demo/unified/mprnet/ur_kt/model.pt" in cmd
    assert "runs/demo/unified/mprnet/ur_kt/model.pt" in adapt["adapt-runs_demo_unified_mprnet_ur_da_model_pt"]["deps"]
