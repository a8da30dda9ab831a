"""Uni-Removal's tables through the DAG: the demo preset's whole Uni-Removal DAG and the paper preset's
in dry runs (three teachers, three knowledge-transfer students, three domain-adaptation jobs in the
adapt stage, every data set and weight file, the recipes), and all five tables, the input rows and
the visual comparisons built offline from a few training iterations per job."""

import json
import sys

import pandas as pd
import pytest
import yaml
from _project import copy_project
from test_workflow import dry_run_outputs, run

KT = ("ur_kt_bkt", "ur_kt_icl", "ur_kt")
DA = ("ur_da_bda", "ur_da_eicl", "ur_da")
TASKS = ("dehaze_ur", "derain_ur", "deblur_ur")
OUTPUTS = ([f"results/tables/uniremoval_table{n}.csv" for n in range(1, 6)]
           + [f"results/figures/visual_{t}_mprnet.png" for t in TASKS] + ["results/tables/uniremoval_all.md"])


def _set_preset(project, name, tables=None, **train):
    conf = yaml.safe_load((project / "config.yaml").read_text())
    conf["preset"] = name
    for key, recipe in conf["presets"][name]["recipes"].items():
        if key == "mprnet" or key.startswith("unified/mprnet/"):
            recipe.update(train)
    if tables:
        conf["presets"][name]["tables"] = tables
    (project / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))


def _jobs(stdout, rule):
    """The outputs of the dry run's jobs of ``rule``."""
    outs, current = set(), None
    for line in stdout.splitlines():
        s = line.strip()
        if s.startswith(("rule ", "localrule ")):
            current = s.split()[1].rstrip(":")
        elif s.startswith("output:") and current == rule:
            outs |= {o.strip() for o in s[len("output:"):].split(",")}
    return outs


@pytest.mark.slow
def test_demo_and_paper_dry_runs_list_every_uniremoval_job(tmp_path):
    project = copy_project(tmp_path / "p")
    out = run([sys.executable, "-m", "snakemake", "-n", "uniremoval_all"], project).stdout
    outs = dry_run_outputs(out)
    assert set(OUTPUTS) <= outs
    assert _jobs(out, "train_teacher") == {f"runs/demo/{t}/mprnet/ur_teacher/model.pt" for t in TASKS}
    assert _jobs(out, "train_student") == {f"runs/demo/unified/mprnet/{e}/model.pt" for e in KT}
    assert _jobs(out, "adapt") == {f"runs/demo/unified/mprnet/{e}/model.pt" for e in DA}   # the adapt stage
    assert _jobs(out, "evaluate_inputs") == {f"results/demo/eval/{t}/input/input/summary.json" for t in (*TASKS, "unified")}
    for ds in ("skimage_adapt_haze_real", "skimage_adapt_rain_real", "skimage_adapt_blur_real",
               "skimage_test_haze_real", "skimage_train_blur"):
        assert f"data/pairs/{ds}" in outs or (project / f"data/pairs/{ds}").exists(), ds

    _set_preset(project, "paper")
    out = run([sys.executable, "-m", "snakemake", "-n", "uniremoval_all"], project).stdout
    outs = dry_run_outputs(out)
    assert set(OUTPUTS) <= outs
    assert _jobs(out, "adapt") == {f"runs/paper/unified/mprnet/{e}/model.pt" for e in DA}
    assert _jobs(out, "train_student") == {f"runs/paper/unified/mprnet/{e}/model.pt" for e in KT}
    for ds in ("RESIDE_OTS", "DDN_train", "GoPro_train", "SOTS_outdoor", "DDN_test", "GoPro_test", "RTTS", "SPA_test",
               "RealBlur_J_test", "URHI", "SPA_train", "RealBlur_J_train"):
        assert f"data/pairs/{ds}" in outs, ds
    assert {"data/raw/DIV2K_train_HR", "data/weights/vgg19-dcbb9e9d.pth"} <= outs   # clear images, VGG19
    # the option: the official MPRNet releases as rain and blur teachers, imported at their own width and range
    out = run([sys.executable, "-m", "snakemake", "-n", "-p", "runs/paper/unified/mprnet/ur_kt_official/model.pt"],
              project).stdout
    assert _jobs(out, "import_teacher") == {"runs/paper/derain_ur/mprnet/ur_teacher_official_rain/model.pt",
                                            "runs/paper/deblur_ur/mprnet/ur_teacher_official_blur/model.pt"}
    assert {"data/weights/model_deraining.pth", "data/weights/model_deblurring.pth"} <= dry_run_outputs(out)
    assert '"n_feat": 96' in out and '"value_range": "0_1"' in out

    from cir import config as cfgmod
    from cir.spec import job_spec

    cfg = cfgmod.load_and_validate(project / "config.yaml")
    kt = job_spec(cfg, "paper", "unified", "mprnet", "ur_kt")
    assert kt["train"]["iterations"] == 52_800 and kt["train"]["batch_size"] == 16 and kt["data"]["lr_patch"] == 128
    assert kt["train"]["optimizer"]["lr"] == 2e-5 and kt["train"]["optimizer"]["betas"] == [0.9, 0.999]
    assert kt["options"]["steps_per_epoch"] == 132
    assert kt["data"]["kind"] == "labelled" and kt["data"]["train"] == ["RESIDE_OTS", "DDN_train", "GoPro_train"]
    assert {n: t["task"] for n, t in kt["teachers"].items()} == {"haze": "dehaze_ur", "rain": "derain_ur",
                                                                "blur": "deblur_ur"}
    da = job_spec(cfg, "paper", "unified", "mprnet", "ur_da")
    assert da["train"]["iterations"] == 9_400 and da["train"]["optimizer"]["lr"] == 5e-6
    assert da["train"]["optimizer"]["betas"] == [0.5, 0.999] and da["options"]["steps_per_epoch"] == 235
    assert da["data"]["kind"] == "unpaired" and da["data"]["train"] == ["URHI", "SPA_train", "RealBlur_J_train"]
    assert da["data"]["clear"] == ["DIV2K_train_HR"] and da["init"] == {"experiment": "ur_kt"}
    teacher = job_spec(cfg, "paper", "deblur_ur", "mprnet", "ur_teacher")
    assert teacher["train"]["iterations"] == 396_000 and teacher["model"]["params"]["n_feat"] == 40
    assert teacher["convention"] == "uniremoval"


# the test's share of the demo: all five tables, the input rows and the visuals from 5 short trainings
# (the demo's 9 are listed in the dry run above)
SHORT = {"uniremoval_table4": {"rows": ["ur_teacher", "ur_kt"]}, "uniremoval_table5": {"rows": ["ur_kt", "ur_da"]}}


@pytest.mark.slow
def test_every_uniremoval_table_builds_offline(tmp_path):
    project = copy_project(tmp_path / "p")
    _set_preset(project, "demo", tables=SHORT, teacher_iterations=4, student_iterations=4, checkpoint_every=2,
                val_every=2)
    run([sys.executable, "-m", "snakemake", "--cores", "2", "uniremoval_all"], project)
    trained = {str(p.relative_to(project / "runs/demo")) for p in (project / "runs/demo").rglob("model.pt")}
    assert trained == {*(f"{t}/mprnet/ur_teacher/model.pt" for t in TASKS), "unified/mprnet/ur_kt/model.pt",
                       "unified/mprnet/ur_da/model.pt"}, sorted(trained)
    t1 = pd.read_csv(project / "results/tables/uniremoval_table1.csv")
    assert list(t1[t1.status == "ours"].method) == ["input", "mprnet", "uniremoval"]
    col = "skimage_test_haze_real_piqe_ours"
    assert t1[t1.status == "ours"][col].astype(float).gt(0).all()
    brisque = str(t1[t1.status == "ours"]["skimage_test_haze_real_brisque_ours"].iloc[0])
    assert brisque.startswith("unavailable") or float(brisque) > -50   # MATLAB's BRISQUE model is an asset
    assert t1["RTTS_piqe_paper"].notna().any() and t1["RTTS_piqe_ours"].isna().all()   # no RTTS number of ours offline
    t4 = pd.read_csv(project / "results/tables/uniremoval_table4.csv")
    ours = t4[t4.status == "ours"]
    assert list(ours.method) == ["teacher", "bkt_icl_fcl"]
    for c in ("skimage_test_haze_psnr_ours", "skimage_test_rain_psnr_ours", "skimage_test_blur_ssim_ours"):
        assert ours[c].astype(float).gt(0).all(), c
    assert "VGG19" in ours.stand_ins.iloc[1]
    t5 = pd.read_csv(project / "results/tables/uniremoval_table5.csv")
    ours = t5[t5.status == "ours"]
    assert list(ours.method) == ["input", "kt", "kt_bda_eicl_efcl"]
    assert {"skimage_test_rain_real_piqe_ours", "skimage_test_blur_real_piqe_ours"} <= set(t5.columns)
    spec = json.loads((project / "runs/demo/unified/mprnet/ur_da/spec.json").read_text())
    assert spec["init"] == {"experiment": "ur_kt"} and spec["data"]["kind"] == "unpaired"
    assert spec["data"]["clear"] == ["skimage_clear"]
    import torch

    meta = torch.load(project / "runs/demo/unified/mprnet/ur_da/model.pt", map_location="cpu", weights_only=False)["meta"]
    assert meta["clear_sets"] == ["data/raw/skimage_clear"] and meta["init_file"].endswith("ur_kt/model.pt")
    assert meta["options"]["discriminator"] == {"ndf": 16, "n_layers": 2, "norm": "instance"}
    index = (project / "results/tables/uniremoval_all.md").read_text()
    assert "uniremoval_table5" in index and "visual_deblur_ur_mprnet" in index
