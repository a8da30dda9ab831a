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


def use_preset(project: Path, preset: str) -> None:
    """Set the project copy's config.yaml to run ``preset`` (the file, not an override)."""
    import yaml

    conf = yaml.safe_load((project / "config.yaml").read_text())
    conf["preset"] = preset
    (project / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))


def dry_run_outputs(proc_stdout: str) -> set[str]:
    """The first output of every job a Snakemake dry run lists."""
    return {line.split("output: ")[1].split(", ")[0] for line in proc_stdout.splitlines()
            if line.startswith("    output: ")}


@pytest.mark.slow
def test_smoke_dag_snakemake_and_dvc_agree(tmp_path):
    """The whole smoke DAG through the snakemake CLI, and Table 2's part of it through `dvc repro`
    (the other stages are the same generated commands; tests/test_dvc_sync.py keeps dvc.yaml equal
    to the DAG): the same numbers; then one experiment's option changes, and both rerun exactly
    that experiment's spec, training and evaluation and what is built from them, nothing else. An
    override given with --configfile reaches the job through its spec."""
    import json

    import yaml

    from cir.dvc_export import DVC_TARGETS, _stage_name

    sm = copy_project(tmp_path / "snakemake")
    use_preset(sm, "smoke")
    run([sys.executable, "-m", "snakemake", "--cores", "2", *DVC_TARGETS], sm)
    ours_sm = check_table(sm / "results/tables/table2.csv")
    assert (sm / "benchmarks/smoke/train/x2_swinir_logits.tsv").exists()
    assert (sm / "runs/smoke/x2/rcan/logits/train_log.csv").exists()
    assert "Nothing to be done" in run([sys.executable, "-m", "snakemake", "-n", *DVC_TARGETS], sm).stdout
    from test_restoration_dag import check_tables_3_and_4  # (that module imports this one)

    check_tables_3_and_4(sm)

    dv = copy_project(tmp_path / "dvc")
    use_preset(dv, "smoke")
    run(["git", "init", "-q"], dv)
    run([sys.executable, "-m", "dvc", "init", "-q"], dv)
    run([sys.executable, "workflow_scripts/export_dvc.py", "--preset", "smoke"], dv)
    table2 = _stage_name({"rule": "paper_table", "outs": ["results/tables/table2.csv"]})
    run([sys.executable, "-m", "dvc", "repro", "-q", table2], dv)
    ours_dvc = check_table(dv / "results/tables/table2.csv")
    # same command lines, same seeds, CPU: the same numbers
    pd.testing.assert_frame_equal(ours_sm, ours_dvc)
    # a second `dvc repro` has nothing to do
    out = run([sys.executable, "-m", "dvc", "status", "--with-deps", table2], dv).stdout
    assert "up to date" in out.lower() or out.strip() == "", out

    # change one option of one experiment in both copies
    for p in (sm, dv):
        conf = yaml.safe_load((p / "config.yaml").read_text())
        conf["experiments"]["logits"]["options"]["w_kd"] = 0.5
        (p / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))
    everything = dry_run_outputs(run([sys.executable, "-m", "snakemake", "-n", *DVC_TARGETS], sm).stdout)
    jobs = [("x2", "swinir"), ("x2", "rcan"), ("deblur", "nafnet"), ("deblur", "restormer"), ("derain", "restormer")]
    logits = {f"runs/smoke/{t}/{b}/logits/{f}" for t, b in jobs for f in ("spec.json", "model.pt")}
    logits |= {f"results/smoke/eval/{t}/{b}/logits/summary.json" for t, b in jobs}
    assert logits < everything and all("/logits/" in o or o.startswith("results/") for o in everything), everything
    assert not any(("/scratch/" in o or "/teacher/" in o) for o in everything), everything
    dry = run([sys.executable, "-m", "snakemake", "-n", "results/tables/table2.csv"], sm).stdout
    outs = dry_run_outputs(dry)
    assert outs == {o for o in everything if "/x2/" in o} | {"results/tables/table2.csv"}, outs

    run([sys.executable, "workflow_scripts/export_dvc.py", "--preset", "smoke"], dv)
    status = run([sys.executable, "-m", "dvc", "status", "--with-deps", table2], dv).stdout
    changed = {line.strip().rstrip(":") for line in status.splitlines() if line and not line.startswith("\t")}
    assert changed == {f"job_spec-runs_smoke_x2_{b}_logits_spec_json" for b in ("swinir", "rcan")}, status
    repro = run([sys.executable, "-m", "dvc", "repro", table2], dv).stdout
    ran = {line.split("'")[1] for line in repro.splitlines() if line.startswith("Running stage '")}
    assert ran == {_stage_name({"rule": rule_of(dry, o), "outs": [o]}) for o in outs}, (ran, outs)

    # an override file reaches the job through its spec (the job never reads config.yaml)
    nine = tmp_path / "nine.yaml"
    nine.write_text(yaml.safe_dump({"presets": {"smoke": {"train": {"student_iterations": 9}}}}))
    spec = "runs/smoke/x2/rcan/scratch/spec.json"
    run([sys.executable, "-m", "snakemake", "--cores", "1", spec, "--configfile", "config.yaml", str(nine)], sm)
    assert json.loads((sm / spec).read_text())["train"]["iterations"] == 9


def rule_of(dry: str, output: str) -> str:
    """The rule of the dry-run job whose first output is ``output``."""
    rule = None
    for line in dry.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif line.startswith("    output: ") and line.split("output: ")[1].split(", ")[0] == output:
            return rule
    raise AssertionError(f"no job with output {output}")
