"""DRCNet's tables through the DAG: the demo preset's whole DRCNet DAG and the paper preset's in dry
runs (every training job, data set and recipe), and every DRCNet table, the sensitivity figure and
the visual comparisons built offline from a few training iterations per job."""

import json
import sys

import pandas as pd
import pytest
import yaml
from _project import copy_project
from test_workflow import dry_run_outputs, run

SF_DEMO = ("t070", "t075", "t080")
EA_DEMO = ("d1e2", "d1e4", "d1e6")
ALPHA_DEMO = ("a001", "", "a05")   # 0.01, 0.05 (the main table's experiment), 0.5


def _set_preset(project, name, tables=None, **train):
    conf = yaml.safe_load((project / "config.yaml").read_text())
    conf["preset"] = name
    if train:
        conf["presets"][name]["recipes"]["drcnet"].update(train)
    if tables:
        conf["presets"][name]["tables"] = tables
    (project / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))


def _replicas(exp, seeds=(0, 1, 2)):
    return [exp if s == 0 else f"{exp}_seed{s}" for s in seeds]


def _demo_trainings():
    runs = {f"denoise/drcnet/{e}" for e in ("drcnet_intra", "drcnet_extra", "drcnet_none", "drcnet_no_ea")}
    runs |= {f"deblur/drcnet/{e}" for e in ("drcnet_intra", "drcnet_extra", "drcnet_none", "drcnet_no_ea")}
    runs |= {f"derain/drcnet/{e}" for e in ("drcnet_none", "drcnet_no_ea")}
    runs |= {f"derain/drcnet/{r}" for t in SF_DEMO for r in _replicas(f"drcnet_sf_{t}")}
    runs |= {f"derain/drcnet/drcnet_ea_{d}" for d in EA_DEMO}
    runs |= {f"derain/drcnet/{r}" for cr in ("intra", "extra") for a in ALPHA_DEMO
             for r in _replicas(f"drcnet_{cr}_{a}" if a else f"drcnet_{cr}")}
    return {f"runs/demo/{r}/model.pt" for r in runs}


@pytest.mark.slow
def test_demo_and_paper_dry_runs_list_every_drcnet_job(tmp_path):
    project = copy_project(tmp_path / "p")
    outs = dry_run_outputs(run([sys.executable, "-m", "snakemake", "-n", "drcnet_all"], project).stdout)
    for t in ("drcnet_main", "drcnet_table1", "drcnet_table2", "drcnet_table3", "drcnet_table4", "drcnet_table5"):
        assert f"results/tables/{t}.csv" in outs, t
    assert "results/figures/drcnet_sensitivity.png" in outs
    assert {f"results/figures/visual_{t}_drcnet.png" for t in ("derain", "denoise", "deblur")} <= outs
    trained = {o for o in outs if o.startswith("runs/demo/") and o.endswith("/model.pt")}
    assert trained == _demo_trainings()
    assert "data/pairs/skimage_train_noise" in outs or (project / "data/pairs/skimage_train_noise").exists()

    _set_preset(project, "paper")
    outs = dry_run_outputs(run([sys.executable, "-m", "snakemake", "-n", "drcnet_all"], project).stdout)
    for ds in ("Rain13K", "Test100", "Rain100H", "Rain100L", "Test2800", "Test1200", "SIDD_train", "SIDD_val",
               "GoPro_train", "GoPro_test", "HIDE_test", "RealBlur_J_test"):
        assert f"data/pairs/{ds}" in outs, ds
    assert "data/weights/vgg19-dcbb9e9d.pth" in outs   # Intra-CR's VGG19 (encoder_init: official)
    trained = {o for o in outs if o.startswith("runs/paper/") and o.endswith("/model.pt")}
    sweeps = {f"runs/paper/{task}/drcnet/{r}/model.pt" for task in ("derain", "denoise", "deblur")
              for t in range(50, 100, 5) for r in _replicas(f"drcnet_sf_t{t:03d}")}
    sweeps |= {f"runs/paper/{task}/drcnet/drcnet_ea_d1e{k}/model.pt" for task in ("derain", "denoise", "deblur")
               for k in range(1, 8)}
    assert sweeps <= trained and len(trained) == 145   # 12 main + 90 t + 21 delta + 22 sensitivity
    from cir import config as cfgmod
    from cir.spec import job_spec

    spec = job_spec(cfgmod.load_and_validate(project / "config.yaml"), "paper", "derain", "drcnet",
                    "drcnet_sf_t070_seed2")
    assert spec["model"]["params"] == {"energy_attention": False, "t": 0.7}
    assert spec["options"]["loss_weight"] == 0.5 and spec["train"]["grad_clip"] == 0.01
    assert spec["train"]["scheduler"]["warmup"] == 1000 and spec["train"]["seed"] == 2
    assert spec["data"]["train"] == ["Rain13K"] and spec["train"]["iterations"] == 400000


# the test's share of the demo: every table and figure, a few rows each, one seed, synthetic rain
# (4 trainings; the demo's three seeds per row and its three tasks are in the dry run above; the
# mean and spread of seeds and the rows merged over tasks in tests/test_drcnet_tables.py)
SHORT = {"drcnet_main": {"rows": ["drcnet_intra", "drcnet_no_ea"], "tasks": ["derain"]},
         "drcnet_table1": {"rows": ["drcnet_sf_t075"], "tasks": ["derain"], "runs": 1},
         "drcnet_table2": {"rows": ["drcnet_ea_d1e6"], "tasks": ["derain"]},
         "drcnet_sensitivity": {"rows": ["drcnet_intra"], "runs": 1}}


@pytest.mark.slow
def test_every_drcnet_table_builds_offline(tmp_path):
    project = copy_project(tmp_path / "p")
    _set_preset(project, "demo", tables=SHORT, student_iterations=3, checkpoint_every=3, val_every=3, lr_patch=16)
    run([sys.executable, "-m", "snakemake", "--cores", "2", "drcnet_all"], project)
    trained = {str(p.relative_to(project / "runs/demo")) for p in (project / "runs/demo").rglob("model.pt")}
    assert len(trained) == 4, sorted(trained)
    main = pd.read_csv(project / "results/tables/drcnet_main.csv")
    assert list(main.method) == ["drcnet_intra", "drcnet_no_ea"]
    assert set(main.status) == {"ours only: not in paper"}
    assert main["skimage_test_rain_psnr_ours"].notna().all()
    assert main.metric_convention.str.startswith("derain_y").all(), main.metric_convention[0]
    assert "not available" in (project / "results/tables/drcnet_main.md").read_text()

    t1 = pd.read_csv(project / "results/tables/drcnet_table1.csv")
    ours = t1[t1.status == "ours"]
    assert list(ours.t) == [0.75] and (ours.runs_ours == 1).all() and len(t1) == 10
    assert ours["skimage_test_rain_psnr_sd"].isna().all()   # one run: no spread
    assert (t1[t1.status != "ours"].status == "paper only: not run in this preset").all()
    t2 = pd.read_csv(project / "results/tables/drcnet_table2.csv")
    assert list(t2[t2.status == "ours"].delta) == [1e-6] and len(t2) == 7
    for n in (3, 4, 5):
        t = pd.read_csv(project / f"results/tables/drcnet_table{n}.csv")
        ours = t[t.backbone == "drcnet"].iloc[0]
        assert ours.params_ours == 18_975_798 and ours.flops_g_paper == 124.2
    sens = pd.read_csv(project / "results/figures/drcnet_sensitivity.csv")
    assert set(sens.series) == {"Intra-CR"} and set(sens.x) == {0.05}
    assert (sens.runs == 1).all() and sens.stand_ins.str.contains("VGG19").all()
    assert "PSNR range" in (project / "results/figures/drcnet_sensitivity.md").read_text()
    spec = json.loads((project / "runs/demo/derain/drcnet/drcnet_no_ea/spec.json").read_text())
    assert spec["model"]["params"] == {"width": 8, "depth": 3, "energy_attention": False}
    index = (project / "results/tables/drcnet_all.md").read_text()
    assert "drcnet_table1" in index and "visual_derain_drcnet" in index
    assert not (project / "results/figures/visual_denoise_drcnet.png").exists()
