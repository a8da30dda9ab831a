"""dvc.yaml is the Snakemake DAG of the default preset: the same jobs and command lines."""

import shlex
from pathlib import Path

import pytest
import yaml

from cir.dvc_export import DVC_TARGETS, render_jobs, snakemake_jobs

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow   # a Snakemake dry run of the whole demo DAG (about a minute)


@pytest.fixture(scope="module")
def jobs():
    """The demo DAG's jobs, read once for the module (cir.dvc_export.render reads the same)."""
    return snakemake_jobs(DVC_TARGETS, "demo", ROOT)


def test_committed_dvc_yaml_matches_the_snakemake_dag(jobs):
    committed = (ROOT / "dvc.yaml").read_text()
    assert committed == render_jobs(jobs, "demo", ROOT), (
        "dvc.yaml is out of date with rules/*.smk; run: python workflow_scripts/export_dvc.py --preset demo")


def test_every_snakemake_command_is_a_dvc_stage_command(jobs):
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    dvc_cmds = {s["cmd"][-1] for s in stages.values()}
    sm_cmds = {j["cmd"] for j in jobs}
    assert sm_cmds == dvc_cmds
    assert len(jobs) == len(stages)
    # each stage's outputs are its job's outputs, and each stage runs a workflow_scripts CLI
    for stage in stages.values():
        assert "  " not in stage["cmd"][-1], "dvc.lock folds double spaces: the stage would never be up to date"
        words = shlex.split(stage["cmd"][-1])
        assert words[0] == "python" and words[1].startswith("workflow_scripts/")


def test_each_stage_depends_on_the_code_it_runs_only():
    """Per-stage code dependencies: editing DCKD's module invalidates the DCKD and DCKD* training
    stages (DCKD* builds on DCKD) and nothing else; only spec stages read config.yaml, each the keys
    of its own experiment and the preset."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    using_dckd = {name for name, s in stages.items() if "cir/methods/dckd.py" in s["deps"]}
    dckd_jobs = [("x4", b, e) for b in ("swinir", "rcan") for e in ("dckd", "dckd_star")]
    dckd_jobs += [("deblur", "nafnet", "dckd"), ("deblur", "restormer", "dckd"), ("derain", "restormer", "dckd")]
    assert using_dckd == {f"train_student-runs_demo_{t}_{b}_{e}_model_pt" for t, b, e in dckd_jobs}, using_dckd
    assert all("cir/engine/trainer.py" not in s["deps"] for n, s in stages.items() if n.startswith("builtin_photos"))
    with_params = {name for name, s in stages.items() if "params" in s}
    assert with_params == {n for n in stages if n.startswith("job_spec-")}
    params = stages["job_spec-runs_demo_x4_rcan_logits_spec_json"]["params"][0]["config.yaml"]
    assert "experiments.logits" in params and not any(p.startswith("experiments.") and p != "experiments.logits"
                                                      for p in params)
    assert "presets.demo.models.rcan" in params and "presets.demo.models.swinir" not in params
