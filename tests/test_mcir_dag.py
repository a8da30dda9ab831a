"""MCIR's tables through the DAG: the demo preset's whole MCIR DAG in a dry run, and two of its
tables trained for a few iterations and built (offline: synthetic haze, a random VGG16 stand-in)."""

import json
import sys

import pandas as pd
import pytest
import yaml
from _project import copy_project
from test_workflow import dry_run_outputs, run


def _short_demo(project, iterations=4):
    """The demo preset with a few training iterations (the DAG and the numbers' plumbing, not results)."""
    conf = yaml.safe_load((project / "config.yaml").read_text())
    conf["preset"] = "demo"
    train = conf["presets"]["demo"]["train"]
    train.update(student_iterations=iterations, checkpoint_every=iterations, val_every=iterations,
                 log_every=1)
    (project / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))


@pytest.mark.slow
def test_demo_prints_every_mcir_table_and_its_trainings(tmp_path):
    project = copy_project(tmp_path / "p")
    dry = run([sys.executable, "-m", "snakemake", "-n", "mcir_all"], project).stdout
    outs = dry_run_outputs(dry)
    for i in range(1, 10):
        assert f"results/tables/mcir_table{i}.csv" in outs, i
    trained = {o for o in outs if o.startswith("runs/demo/") and o.endswith("/model.pt")}
    expected = {f"runs/demo/x4/{b}/{e}/model.pt" for b in ("edsr", "swinir_light", "swinir_m") for e in ("baseline", "spn")}
    expected |= {f"runs/demo/{t}/{b}/{e}/model.pt" for t, b in (("derain", "idt"), ("dehaze", "ffanet"),
                                                                  ("dehaze", "dehazeformer_t"), ("deblur", "nafnet_w32"))
                 for e in ("baseline", "spn")}
    expected |= {f"runs/demo/x4/swinir_light/{e}/model.pt" for e in ("spn_neg_random", "spn_neg_pretrained")}
    expected |= {f"runs/demo/dehaze/ffanet/spn_s{s}/model.pt" for s in (100, 500, 1000, 2000)}
    expected |= {f"runs/demo/x4/edsr/spn_{k}/model.pt" for k in ("lam1e2", "lam1e3", "lam5e4", "lam1e5", "alpha0",
                                                                 "alpha001", "alpha05", "alpha09", "alpha0999")}
    assert trained == expected
    assert "runs/demo/x2/edsr/baseline/model.pt" not in outs   # the demo has no x2: those rows say "not run"
    assert "data/pairs/skimage_train_haze/manifest.json" in outs or "data/pairs/skimage_train_haze" in outs


@pytest.mark.slow
def test_two_mcir_tables_train_and_build_offline(tmp_path):
    project = copy_project(tmp_path / "p")
    _short_demo(project)
    run([sys.executable, "-m", "snakemake", "--cores", "2", "results/tables/mcir_table3.csv",
         "results/tables/mcir_table6.csv"], project)
    t3 = pd.read_csv(project / "results/tables/mcir_table3.csv")
    ours = t3[t3.status == "ours"]
    assert sorted(zip(ours.backbone, ours.method)) == sorted(
        (b, m) for b in ("ffanet", "dehazeformer_t") for m in ("baseline", "spn"))
    assert ours["skimage_test_haze_psnr_ours"].notna().all() and t3["SOTS-indoor_psnr_ours"].isna().all()
    assert set(t3[t3.status.str.startswith("paper only: reference")].backbone) == {"aecr_net", "sfnet", "cpnet"}
    spn_rows = ours[ours.method == "spn"]
    assert spn_rows["stand_ins"].str.contains("VGG16 encoder: random initialisation").all()
    t6 = pd.read_csv(project / "results/tables/mcir_table6.csv")
    assert list(t6[t6.status == "ours"].method) == ["baseline", "spn_neg_random", "spn_neg_pretrained", "spn"]
    spec = json.loads((project / "runs/demo/x4/swinir_light/spn_neg_pretrained/spec.json").read_text())
    assert spec["teachers"] == {"negative": {"experiment": "baseline", "task": "x4",
                                             "model": {"arch": "swinir", "scale": 4}}}
    assert spec["options"]["step_scale"] == 0.05 and spec["model"]["arch"] == "swinir"
    log = pd.read_csv(project / "runs/demo/dehaze/ffanet/spn/train_log.csv")
    assert (log["neg"] < 0).all() and (log["neg_distance"] > 0).all()


@pytest.mark.slow
def test_paper_preset_prints_the_mcir_dag_with_its_data_and_recipes(tmp_path):
    project = copy_project(tmp_path / "p")
    conf = yaml.safe_load((project / "config.yaml").read_text())
    conf["preset"] = "paper"
    (project / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))
    dry = run([sys.executable, "-m", "snakemake", "-n", "mcir_all"], project).stdout
    outs = dry_run_outputs(dry)
    for ds in ("RESIDE_ITS", "SOTS_indoor", "RESIDE6K_train", "RESIDE6K_test", "Rain200L_train", "Rain200H_test",
               "DID_train", "DDN_test", "SPA_train", "GoPro_train"):
        assert f"data/pairs/{ds}" in outs, ds
    assert "data/weights/vgg16-397923af.pth" in outs   # SPN's VGG16 (encoder_init: official)
    for task, backbone in (("x2", "edsr"), ("x4", "edsr"), ("x4", "swinir_light"), ("x4", "swinir_m"),
                           ("dehaze_its", "ffanet"), ("dehaze_6k", "ffanet"), ("dehaze_6k", "dehazeformer_b"),
                           ("derain_spa", "idt"), ("deblur", "nafnet_w32")):
        for exp in ("baseline", "spn"):
            assert f"runs/paper/{task}/{backbone}/{exp}/model.pt" in outs, (task, backbone, exp)
    assert "runs/paper/x2/swinir_light/spn/model.pt" not in outs   # Table 1 has SwinIR-light at x4 only
    # the baseline rows' published models, imported and evaluated beside the paper's numbers
    official = {("x2", "edsr", "edsr_baseline_x2-1bc95232.pt"), ("x4", "edsr", "edsr_baseline_x4-6b446fab.pt"),
                ("x4", "swinir_light", "002_lightweightSR_DIV2K_s64w8_SwinIR-S_x4.pth"),
                ("x4", "swinir_m", "001_classicalSR_DIV2K_s48w8_SwinIR-M_x4.pth"),
                ("dehaze_its", "ffanet", "its_train_ffa_3_19.pk"),
                ("deblur", "nafnet_w32", "NAFNet-GoPro-width32.pth"),
                *((t, f"dehazeformer_{v}", f"dehazeformer-{v}_{f}.pth") for v in "tsb"
                  for t, f in (("dehaze_its", "indoor"), ("dehaze_6k", "reside6k"))),
                *((f"derain_{t}", "idt", f"IDT_{n}.pth") for t, n in (("rain200l", "Rain200L"), ("rain200h", "Rain200H"),
                                                                     ("did", "DID-Data"), ("ddn", "DDN-Data"),
                                                                     ("spa", "SPA-Data")))}
    imported = {o for o in outs if "/official/" in o and o.endswith("/model.pt")}
    assert imported == {f"runs/paper/{t}/{b}/official/model.pt" for t, b, _ in official}
    for task, backbone, weights in official:
        assert f"data/weights/{weights}" in outs
        assert f"results/paper/eval/{task}/{backbone}/official/summary.json" in outs
    # FFA-Net has no published RESIDE-6K model: no such row
    assert "runs/paper/dehaze_6k/ffanet/official/model.pt" not in outs
    assert "import_teacher" in dry


def test_paper_preset_holds_each_backbones_original_recipe():
    from cir import config as cfgmod
    from cir import spec as spec_mod
    from conftest import ROOT

    cfg = cfgmod.load_and_validate(ROOT / "config.yaml")
    idt = spec_mod.job_spec(cfg, "paper", "derain_rain200h", "idt", "spn")
    assert idt["data"]["train"] == ["Rain200H_train"] and idt["data"]["val"] == "Rain200H_test"
    assert idt["train"]["rec_loss"] == "neg_ssim" and idt["train"]["iterations"] == 180_000
    assert idt["train"]["scheduler"] == {"name": "multistep", "milestones": [45_000, 112_500, 157_500], "gamma": 0.1}
    assert idt["options"] == {"encoder_stand_in": False}  # the paper's SPN settings, official VGG16
    dt = spec_mod.job_spec(cfg, "paper", "dehaze_its", "dehazeformer_t", "baseline")
    assert dt["model"] == {"arch": "dehazeformer", "scale": 1, "params": {"variant": "t"}}
    assert dt["train"]["batch_size"] == 32 and dt["train"]["optimizer"]["lr"] == 4e-4
    assert dt["data"]["augment"] is True
    assert spec_mod.job_spec(cfg, "paper", "dehaze_6k", "dehazeformer_t", "spn")["data"]["augment"] == "hflip"
    naf = spec_mod.job_spec(cfg, "paper", "deblur", "nafnet_w32", "spn")
    assert naf["model"]["params"]["width"] == 32 and naf["train"]["rec_loss"] == "psnr"
    assert idt["convention"] == "derain_y_matlab"   # IDT's evaluaterain.m: rounded Y
    assert dt["convention"] == "dehaze_rgb"         # DehazeFormer's test
    assert spec_mod.job_spec(cfg, "paper", "derain", "restormer", "teacher")["convention"] == "derain_y"  # DCKD's
    assert spec_mod.job_spec(cfg, "paper", "x4", "edsr", "official")["role"] == "teacher"
    # the option: +SPN fine-tuned from the published weights instead of trained from scratch
    assert spec_mod.job_spec(cfg, "paper", "x4", "edsr", "spn_from_official")["init"] == {"experiment": "official"}
    ffa = spec_mod.job_spec(cfg, "paper", "dehaze_its", "ffanet", "spn_code")
    assert ffa["options"]["lambda_neg"] == 1e-3 and ffa["options"]["steps"] == [100, 200, 500, 1000]
    assert ffa["train"]["iterations"] == 500_000 and ffa["data"]["lr_patch"] == 240
