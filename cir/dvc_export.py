"""Write dvc.yaml from the Snakemake DAG, so `dvc repro` runs the same command lines.

A forced dry run of Snakemake (``-n -p --forceall``) lists every job of the DAG with its
rule, inputs, outputs, log and exact shell command. Each job becomes one DVC stage whose
``cmd`` is that shell command (preceded by creating the log folder, which Snakemake does itself)
and whose ``deps`` are the job's inputs plus the code it runs: its workflow script and every
``cir`` module that script imports, directly or through other ``cir`` modules (found by reading
the imports, plus the method module a training job loads by name). Only the spec stages read
config.yaml; their ``params`` are the keys :func:`cir.spec.config_keys_read` names. So `dvc status`
and Snakemake agree on what is stale: a changed experiment rewrites its own spec (and DVC, which
compares contents, reruns only the jobs whose spec changed), a changed module reruns the stages
that import it. tests/test_dvc_sync.py regenerates the file and compares, so the two descriptions
of the pipeline cannot drift apart.
"""

from __future__ import annotations

import functools
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


# What `dvc repro` builds: Tables 1-4 and, through the aggregate rule `all_figures` of
# rules/report.smk, the efficiency table, visual comparisons and training curves.
DVC_TARGETS: tuple[str, ...] = ("results/tables/table2.csv", "results/tables/table1.csv", "results/tables/table3.csv",
                                 "results/tables/table4.csv", "all_figures", "mcir_all", "drcnet_all",
                                 "criacl_all", "uniremoval_all")


def snakemake_jobs(targets: str | Sequence[str], preset: str, workdir: str | Path = ".") -> list[dict]:
    """Every job of the DAG that builds ``targets`` at ``preset``: rule, shell command, inputs,
    outputs and log, read from a forced dry run (``snakemake -n -p --forceall``).

    A target that names an aggregate rule (no outputs, no command) is not a job of its own.
    """
    targets = [targets] if isinstance(targets, str) else list(targets)
    cmd = [sys.executable, "-m", "snakemake", *targets, "--dry-run", "--printshellcmds", "--forceall",
           "--config", f"preset={preset}"]
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


def _module_file(root: Path, module: str) -> Path | None:
    base = root / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> frozenset[str]:
    """The ``cir`` modules a Python file imports (anywhere in it, functions included); parsed once
    per file version (every stage's code dependencies walk the same modules)."""
    return _imports_of(str(path), path.stat().st_mtime_ns)


@functools.cache
def _imports_of(path: str, _mtime_ns: int) -> frozenset[str]:
    import ast

    names: set[str] = set()
    for node in ast.walk(ast.parse(Path(path).read_text(), path)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "cir")
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "cir":
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)   # `from cir.x import module`
    return frozenset(names)


def code_deps(entry_files: Sequence[str | Path], extra_modules: Sequence[str] = (), root: str | Path = ".") -> list[str]:
    """Every file of the ``cir`` package that ``entry_files`` import, transitively (with the
    ``__init__.py`` of each package on the way), plus ``extra_modules`` and what they import."""
    root = Path(root)
    seen: set[Path] = set()
    todo = [root / f for f in entry_files]
    for module in extra_modules:
        f = _module_file(root, module)
        if f is not None:
            todo.append(f)
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        for module in _imports(f):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):          # the packages on the way are imported too
                g = _module_file(root, ".".join(parts[:i]))
                if g is not None and g not in seen:
                    todo.append(g)
    return sorted(str(p.relative_to(root)) for p in seen)


def _job_method_module(job: dict, cfg: dict) -> list[str]:
    """The method module a training job loads by name (cir/methods/__init__.py's registry)."""
    from cir import config as cfgmod
    from cir.methods import _METHODS

    if not job["rule"].startswith("train_"):
        return []
    exp = Path(job["outs"][0]).parent.name
    method = cfgmod.experiment(cfg, exp)["method"]
    return [_METHODS[method].split(":")[0]]


def _spec_params(job: dict, cfg: dict, preset: str) -> list[dict]:
    """The config keys a spec stage reads (the keys of cir.spec.config_keys_read)."""
    from cir.spec import config_keys_read

    words = shlex.split(job["cmd"])
    arg = {words[i]: words[i + 1] for i in range(len(words) - 1) if words[i].startswith("--")}
    return [{"config.yaml": config_keys_read(cfg, preset, arg["--backbone"], arg["--experiment"])}]


def dvc_stages(jobs: list[dict], preset: str, workdir: str | Path = ".") -> dict:
    from cir import config as cfgmod

    cfg = cfgmod.load_and_validate(Path(workdir) / "config.yaml")
    stages: dict[str, dict] = {}
    for job in sorted(jobs, key=_stage_name):
        cmds = []
        if job["log"]:
            cmds.append(f"mkdir -p {os.path.dirname(job['log'])}")
        cmds.append(job["cmd"])
        code = code_deps(_scripts(job["cmd"]), _job_method_module(job, cfg), workdir)
        if "cir/paper/__init__.py" in code or "cir/paper/defs.py" in code:     # the papers' numbers and tables
            code += [str(p.relative_to(workdir)) for p in sorted(Path(workdir, "cir", "paper").glob("*/*"))
                     if p.suffix in (".csv", ".yaml")]
        stage: dict = {"cmd": cmds, "deps": sorted(set(job["deps"]) | set(_scripts(job["cmd"])) | set(code))}
        if job["rule"] == "job_spec":
            stage["params"] = _spec_params(job, cfg, preset)
        stage["outs"] = sorted(job["outs"])
        if job["rule"].startswith("train_"):
            run_dir = os.path.dirname(job["outs"][0])
            stage["plots"] = [
                {f"{run_dir}/train_log.csv": {"cache": False, "persist": True, "x": "step", "y": "loss"}},
                {f"{run_dir}/val_log.csv": {"cache": False, "persist": True, "x": "step", "y": "psnr"}},
            ]
        stages[_stage_name(job)] = stage
    return {"stages": stages}


def render_jobs(jobs: list[dict], preset: str, workdir: str | Path = ".") -> str:
    """dvc.yaml's text for the jobs of :func:`snakemake_jobs`."""
    doc = dvc_stages(jobs, preset, workdir)
    return HEADER.format(preset=preset) + yaml.safe_dump(doc, sort_keys=False, width=1000)


def render(preset: str, targets: str | Sequence[str] = DVC_TARGETS, workdir: str | Path = ".") -> str:
    return render_jobs(snakemake_jobs(targets, preset, workdir), preset, workdir)
