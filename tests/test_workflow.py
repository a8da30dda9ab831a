"""The whole DAG at the smoke preset, through the snakemake CLI and through `dvc repro`."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from _project import copy_project

ROOT = Path(__file__).resolve().parents[1]
OURS = ["skimage_test_psnr_ours", "skimage_test_ssim_ours"]


def run(cmd, cwd, timeout=900):
    # the rules call `python`: make it this interpreter even when its virtualenv is not activated
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def check_table(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    assert set(df["preset"].dropna()) == {"smoke"}
    ours = df[df["status"] == "ours"]
    assert sorted(zip(ours.backbone, ours.method)) == sorted(
        (b, m) for b in ("swinir", "rcan") for m in ("teacher", "scratch", "logits"))
    assert (ours["scale"] == 2).all()
    assert ours[OURS].notna().all().all()
    # numbers on built-in photos never appear in the paper's columns
    assert df["Set5_psnr_ours"].isna().all()
    assert (path.with_suffix(".md")).exists()
    return ours.set_index(["backbone", "method"])[OURS].sort_index()


@pytest.mark.slow
def test_smoke_dag_snakemake_and_dvc_agree(tmp_path):
    sm = copy_project(tmp_path / "snakemake")
    run([sys.executable, "-m", "snakemake", "--cores", "2", "results/tables/table2.csv",
         "--config", "preset=smoke"], sm)
    ours_sm = check_table(sm / "results/tables/table2.csv")
    assert (sm / "benchmarks/smoke/train/x2_swinir_logits.tsv").exists()
    assert (sm / "runs/smoke/x2/rcan/logits/train_log.csv").exists()

    dv = copy_project(tmp_path / "dvc")
    run(["git", "init", "-q"], dv)
    run([sys.executable, "-m", "dvc", "init", "-q"], dv)
    run([sys.executable, "workflow_scripts/export_dvc.py", "--preset", "smoke"], dv)
    run([sys.executable, "-m", "dvc", "repro", "-q"], dv)
    ours_dvc = check_table(dv / "results/tables/table2.csv")
    # same command lines, same seeds, CPU: the same numbers
    pd.testing.assert_frame_equal(ours_sm, ours_dvc)
    # a second `dvc repro` has nothing to do
    out = run([sys.executable, "-m", "dvc", "status"], dv).stdout
    assert "up to date" in out.lower() or out.strip() == "", out
