"""Cria-CL's tables through the DAG: the demo preset's whole Cria-CL DAG and the paper preset's in dry
runs (every training job, data set, weight file and recipe), and every Cria-CL table, the Fig. 1
curves and the visual comparisons built offline from a few training iterations per job."""

import json
import sys

import pandas as pd
import pytest
import yaml
from _project import copy_project
from test_workflow import dry_run_outputs, run

TABLE_V = ("criacl_plain", "criacl_wsum", "criacl_wsum_align", "criacl_wsum_unif", "criacl_wsum_align_unif",
           "criacl_svp_wsum", "criacl")
OUTPUTS = ([f"results/tables/criacl_table{n}.csv" for n in range(1, 8)]
           + ["results/figures/criacl_fig1.png", "results/tables/criacl_all.md"])


def _set_preset(project, name, tables=None, **train):
    conf = yaml.safe_load((project / "config.yaml").read_text())
    conf["preset"] = name
    for key, recipe in conf["presets"][name]["recipes"].items():
        if key == "criacl" or key.endswith("/criacl/criacl_psnr"):
            recipe.update(train)
    if tables:
        conf["presets"][name]["tables"] = tables
    (project / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))


@pytest.mark.slow
def test_demo_and_paper_dry_runs_list_every_criacl_job(tmp_path):
    project = copy_project(tmp_path / "p")
    outs = dry_run_outputs(run([sys.executable, "-m", "snakemake", "-n", "criacl_all"], project).stdout)
    assert set(OUTPUTS) <= outs
    assert {"results/figures/visual_realsr_criacl.png", "results/figures/visual_camerasr_criacl.png"} <= outs
    trained = {o for o in outs if o.startswith("runs/demo/") and o.endswith("/model.pt")}
    expected = {f"runs/demo/realsr/criacl/{e}/model.pt"
                for e in (*TABLE_V, "criacl_anchor_per", "criacl_anchor_adv", "criacl_psnr")}
    expected |= {f"runs/demo/camerasr/criacl/{e}/model.pt" for e in ("criacl", "criacl_psnr")}
    assert trained == expected
    assert "data/noise/skimage_train_realsr_real-p16" in outs or \
        (project / "data/noise/skimage_train_realsr_real-p16").exists()

    _set_preset(project, "paper")
    outs = dry_run_outputs(run([sys.executable, "-m", "snakemake", "-n", "criacl_all"], project).stdout)
    for ds in ("RealSR_Canon_train", "RealSR_Canon_test", "NTIRE2020_T1_valid", "RealSR_Zero", "NTIRE2020_T1_train",
               "City100_iPhoneX_train", "City100_iPhoneX_test"):
        assert f"data/pairs/{ds}" in outs, ds
    assert {"data/raw/NTIRE2020_T1_source", "data/raw/NTIRE2020_T1_target", "data/noise/NTIRE2020_T1_source"} <= outs
    assert {"data/weights/vgg19-dcbb9e9d.pth", "data/weights/ESRGAN_PSNR_SRx4_DF2K_official-150ff491.pth",
            "data/weights/RealSR-CCL_NTIRE.pth"} <= outs
    trained = {o for o in outs if o.startswith("runs/paper/") and o.endswith("/model.pt")}
    students = {f"runs/paper/realsr_ntire/criacl/{e}/model.pt" for e in (*TABLE_V, "criacl_anchor_per",
                                                                        "criacl_anchor_adv")}
    students |= {"runs/paper/realsr_canon/criacl/criacl/model.pt", "runs/paper/camerasr/criacl/criacl/model.pt"}
    assert trained == students | {"runs/paper/realsr_ntire/criacl/official/model.pt"}   # the imported release

    from cir import config as cfgmod
    from cir.spec import job_spec

    cfg = cfgmod.load_and_validate(project / "config.yaml")
    spec = job_spec(cfg, "paper", "realsr_ntire", "criacl", "criacl")
    assert spec["train"]["iterations"] == 1_000_000 and spec["train"]["batch_size"] == 16
    assert spec["train"]["scheduler"]["milestones"] == [200_000, 400_000, 600_000, 800_000]
    assert spec["init"] == {"asset": "ESRGAN_PSNR_SRx4_DF2K_official-150ff491.pth"}
    assert spec["data"]["noise_pool"] == "NTIRE2020_T1_source" and spec["convention"] == "criacl_realsr"
    assert spec["model"]["params"] == {"head": "paper"} and spec["scale"] == 4
    code = job_spec(cfg, "paper", "realsr_ntire", "criacl", "criacl_code")   # the public code's schedule
    assert code["train"]["iterations"] == 150_000 and code["model"]["params"] == {"head": "code"}
    assert code["options"]["assignment"] == "code" and code["options"]["w_unif"] == 0.001
    assert job_spec(cfg, "paper", "camerasr", "criacl", "criacl")["scale"] == 1


# the test's share of the demo: every table, the figure and the visuals, from 6 short trainings
# (the demo's 12 are listed in the dry run above)
SHORT = {"criacl_table5": {"rows": ["criacl_wsum", "criacl"]}, "criacl_table6": {"rows": ["criacl"]},
         "criacl_table7": {"rows": ["criacl"]}, "criacl_fig1": {"rows": ["criacl", "criacl_wsum"]}}


@pytest.mark.slow
def test_every_criacl_table_builds_offline(tmp_path):
    project = copy_project(tmp_path / "p")
    _set_preset(project, "demo", tables=SHORT, student_iterations=4, checkpoint_every=2, val_every=2)
    run([sys.executable, "-m", "snakemake", "--cores", "2", "criacl_all"], project)
    trained = {str(p.relative_to(project / "runs/demo")) for p in (project / "runs/demo").rglob("model.pt")}
    assert trained == {"realsr/criacl/criacl_psnr/model.pt", "realsr/criacl/criacl/model.pt",
                       "realsr/criacl/criacl_wsum/model.pt", "camerasr/criacl/criacl_psnr/model.pt",
                       "camerasr/criacl/criacl/model.pt"}, sorted(trained)
    col = "skimage_test_realsr_real"
    t3 = pd.read_csv(project / "results/tables/criacl_table3.csv")
    ours = t3[t3.status == "ours"]
    assert list(ours.method) == ["criacl"] and ours[f"{col}_psnr_ours"].notna().all()
    assert ours.metric_convention.iloc[0].startswith("criacl_realsr") and "VGG19" in ours.stand_ins.iloc[0]
    assert ours[f"{col}_lpips_ours"].iloc[0].startswith("unavailable")     # AlexNet weights are not shipped
    assert (t3[t3.method == "usr_da"].status == "paper only: reference model, not reproduced").all()
    t1 = pd.read_csv(project / "results/tables/criacl_table1.csv")
    niqe = str(t1[t1.status == "ours"][f"{col}_niqe_ours"].iloc[0])   # offline: the LIVE model file is absent
    assert niqe.startswith("unavailable: missing niqe_modelparameters.mat") or float(niqe) > 0
    t5 = pd.read_csv(project / "results/tables/criacl_table5.csv")
    assert set(t5[t5.status == "ours"].method) == {"wsum", "full"} and len(t5) == 7
    t4 = pd.read_csv(project / "results/tables/criacl_table4.csv")
    assert t4[t4.status == "ours"]["skimage_test_camera_real_psnr_ours"].notna().all()
    t7 = pd.read_csv(project / "results/tables/criacl_table7.csv")
    ours = t7[t7.status == "ours"].iloc[0]
    assert ours.method == "criacl" and ours.time_s_ours > 0 and ours.params_ours > 0
    assert ours.params_m_paper_net == pytest.approx(17.284397)   # the paper preset's network (paper head)
    assert t7[t7.method == "esrgan"].params_m_paper_net.iloc[0] == pytest.approx(16.697987)
    fig = pd.read_csv(project / "results/figures/criacl_fig1.csv")
    assert set(fig.label) == {"Cria-CL", "weighted sum (eq. 2)"} and set(fig.metric) == {"psnr"}
    assert "not measured" in (project / "results/figures/criacl_fig1.md").read_text()   # LPIPS offline
    spec = json.loads((project / "runs/demo/realsr/criacl/criacl/spec.json").read_text())
    assert spec["init"] == {"experiment": "criacl_psnr"}
    assert spec["data"]["noise_pool"] == "skimage_train_realsr_real-p16"
    assert (project / "data/noise/skimage_train_realsr_real-p16/manifest.json").exists()
    index = (project / "results/tables/criacl_all.md").read_text()
    assert "criacl_table7" in index and "criacl_fig1" in index and "visual_camerasr_criacl" in index
