"""Write dvc.yaml from the Snakemake DAG, so `dvc repro` runs the same command lines.

A forced dry run of Snakemake (``-n -p --forceall``) lists every job of the DAG with its
rule, inputs, outputs, log and exact shell command. Each job becomes one DVC stage whose
``cmd`` is that shell command
(preceded by creating the log folder, which Snakemake does itself), whose ``deps`` are the
job's inputs plus the code it runs, and whose ``params`` are the preset's section of
config.yaml. tests/test_dvc_sync.py regenerates the file and compares, so the two
descriptions of the pipeline cannot drift apart.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from cir.errors import CirError

HEADER = """\
# Generated from the Snakemake DAG by `python workflow_scripts/export_dvc.py --preset {preset}`.
# Do not edit by hand: change rules/*.smk and regenerate; tests/test_dvc_sync.py checks that
# this file and the Snakemake DAG run the same command lines.
"""


# What `dvc repro` builds: Table 2 and, through the aggregate rule `all_figures` of
# rules/report.smk, the efficiency table, visual comparisons and training curves.
DVC_TARGETS: tuple[str, ...] = ("results/tables/table2.csv", "all_figures")


def snakemake_jobs(targets: str | Sequence[str], preset: str, workdir: str | Path = ".") -> list[dict]:
    """Every job of the DAG that builds ``targets`` at ``preset``: rule, shell command, inputs,
    outputs and log, read from a forced dry run (``snakemake -n -p --forceall``).

    A target that names an aggregate rule (no outputs, no command) is not a job of its own.
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    cmd = [sys.executable, "-m", "snakemake", *targets, "--dry-run", "--printshellcmds", "--forceall",
           "--config", f"scale={preset}"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise CirError(f"snakemake dry run failed:\n{proc.stderr[-3000:]}{proc.stdout[-3000:]}")
    jobs: list[dict] = []
    job: dict | None = None
    for line in proc.stdout.splitlines():
        head = re.match(r"^(local)?rule (\w+):$", line)
        if head:
            job = {"rule": head.group(2), "deps": [], "outs": [], "log": None, "cmd": None}
            jobs.append(job)
        elif job is not None and line.startswith("    input: "):
            job["deps"] = line[len("    input: "):].split(", ")
        elif job is not None and line.startswith("    output: "):
            job["outs"] = line[len("    output: "):].split(", ")
        elif job is not None and line.startswith("    log: "):
            job["log"] = line[len("    log: "):].split(", ")[0]
        elif job is not None and line.startswith("Shell command: "):
            job["cmd"] = line[len("Shell command: "):].strip()
    jobs = [j for j in jobs if not (j["rule"] in targets and not j["outs"] and j["cmd"] in (None, "None"))]
    missing = [j["rule"] for j in jobs if not j["cmd"] or not j["outs"]]
    if not jobs or missing:
        raise CirError(f"could not read the jobs of the dry run (rules without command/output: {missing})")
    return jobs


def _stage_name(job: dict) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", job["outs"][0]).strip("_")
    return f"{job['rule']}-{slug}"


def _scripts(cmd: str) -> list[str]:
    return [w for w in shlex.split(cmd) if w.startswith("workflow_scripts/") and w.endswith(".py")]


def dvc_stages(jobs: list[dict], preset: str) -> dict:
    stages: dict[str, dict] = {}
    for job in sorted(jobs, key=_stage_name):
        cmds = []
        if job["log"]:
            cmds.append(f"mkdir -p {os.path.dirname(job['log'])}")
        cmds.append(job["cmd"])
        stage: dict = {
            "cmd": cmds,
            "deps": sorted(set(job["deps"]) | set(_scripts(job["cmd"])) | {"cir"}),
            "params": [{"config.yaml": ["scale", "experiments", f"presets.{preset}"]}],
            "outs": sorted(job["outs"]),
        }
        if job["rule"].startswith("train_"):
            run_dir = os.path.dirname(job["outs"][0])
            stage["plots"] = [
                {f"{run_dir}/train_log.csv": {"cache": False, "persist": True, "x": "step", "y": "loss"}},
                {f"{run_dir}/val_log.csv": {"cache": False, "persist": True, "x": "step", "y": "psnr"}},
            ]
        stages[_stage_name(job)] = stage
    return {"stages": stages}


def render(preset: str, targets: str | Sequence[str] = DVC_TARGETS, workdir: str | Path = ".") -> str:
    doc = dvc_stages(snakemake_jobs(targets, preset, workdir), preset)
    return HEADER.format(preset=preset) + yaml.safe_dump(doc, sort_keys=False, width=1000)
