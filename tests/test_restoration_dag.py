"""DCKD's restoration tables through the DAG: the checks of Tables 3-4 trained and evaluated at the
smoke preset (synthetic blur and rain made from the built-in photos; the run is
tests/test_workflow.py's), the paper preset's full DAG in a dry run, Table 1 from the configured
network sizes."""

import sys

import pandas as pd
import pytest
from _project import copy_project
from test_workflow import dry_run_outputs, run, use_preset


def check_tables_3_and_4(project):
    """Tables 3-4 built offline at the smoke preset (tests/test_workflow.py builds the whole smoke
    DAG, these tables included, and calls this): rows, columns, synthetic-data manifests, specs."""
    t3 = pd.read_csv(project / "results/tables/table3.csv")
    ours = t3[t3.status == "ours"]
    assert sorted(zip(ours.backbone, ours.method)) == sorted(
        (b, m) for b in ("nafnet", "restormer") for m in ("teacher", "scratch", "logits", "dckd"))
    # our numbers sit under the synthetic set's own columns, never under GoPro
    assert ours["skimage_test_blur_psnr_ours"].notna().all() and t3["GoPro_psnr_ours"].isna().all()
    refs = t3[t3.status.str.startswith("paper only: reference")]
    assert list(refs.backbone) == ["mt_rnn", "dmphn"]
    assert t3.loc[t3.backbone == "nafnet", "params_m_paper"].tolist()[0] == 17.1
    t4 = pd.read_csv(project / "results/tables/table4.csv")
    assert set(t4[t4.status == "ours"].method) == {"teacher", "scratch", "logits", "dckd"}
    assert t4["skimage_test_rain_psnr_ours"].notna().sum() == 4 and t4["Rain100L_psnr_ours"].isna().all()
    md = (project / "results/tables/table4.md").read_text()
    assert "NOT COMPARABLE TO THE PAPER" in md and "MPRNet" in md
    # the synthetic pairs record every random parameter
    import json

    manifest = json.loads((project / "data/pairs/skimage_train_rain/manifest.json").read_text())
    assert manifest["synthetic"] is True and manifest["degradation"] == "rain" and manifest["images"][0]["params"]
    spec = json.loads((project / "runs/smoke/deblur/nafnet/scratch/spec.json").read_text())
    assert spec["train"]["rec_loss"] == "psnr" and spec["convention"] == "deblur_rgb"
    summary = json.loads((project / "results/smoke/eval/derain/restormer/logits/summary.json").read_text())
    assert summary["task"] == "derain" and "Y" in summary["metric_convention"]
    assert (project / "results/figures/visual_deblur_nafnet.png").stat().st_size > 0


@pytest.mark.slow
def test_paper_preset_prints_the_full_restoration_dag(tmp_path):
    project = copy_project(tmp_path / "p")
    use_preset(project, "paper")
    dry = run([sys.executable, "-m", "snakemake", "-n", "results/tables/table3.csv", "results/tables/table4.csv",
               "results/tables/table1.csv"], project).stdout
    outs = dry_run_outputs(dry)
    for ds in ("GoPro_train", "GoPro_test", "Rain13K", "Test100", "Rain100H", "Rain100L", "Test2800", "Test1200"):
        assert f"data/pairs/{ds}" in outs, ds
    for task, backbone in (("deblur", "nafnet"), ("deblur", "restormer"), ("derain", "restormer")):
        for exp in ("scratch", "logits", "dckd"):
            assert f"runs/paper/{task}/{backbone}/{exp}/model.pt" in outs
        # the teachers are the official releases, imported
        assert f"runs/paper/{task}/{backbone}/teacher/model.pt" in outs
    assert "rule import_teacher" in dry and "rule train_teacher" not in dry
    assert "runs/paper/derain/nafnet/teacher/model.pt" not in outs   # Table 4 has Restormer only
    assert "data/weights/vqgan_imagenet_f16_1024.ckpt" in outs


@pytest.mark.slow
def test_table1_counts_the_configured_networks(tmp_path):
    project = copy_project(tmp_path / "p")
    run([sys.executable, "-m", "snakemake", "--cores", "1", "results/tables/table1.csv"], project)
    t1 = pd.read_csv(project / "results/tables/table1.csv").set_index(["backbone", "role"])
    assert t1.loc[("nafnet", "teacher"), "params_m_ours"] == pytest.approx(17.11, abs=0.01)
    assert t1.loc[("restormer", "student"), "params_m_ours"] == pytest.approx(3.81, abs=0.01)
    assert (t1["diff_pct"].abs() <= 5).all(), t1
    assert t1["params_m_demo"].notna().all()
