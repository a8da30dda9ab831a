# The `study` table: every student experiment of the preset trained once per seed of the
# preset's `seeds` (replicas <experiment>_seed<N>), mean and spread over seeds, and the
# per-seed gain over the preset's `study_baseline` (default Scratch; see cir/report/study.py) in the
# preset's `study_metrics` (default PSNR, SSIM; the first gives the paired change).
# `backbone_tasks` keeps a backbone to some of the preset's tasks (EDSR: SR only).

from cir.config import preset_seeds, replica_name

def _study_seeds(exp):
    """Students run once per seed; a teacher (shared by all seeds) once."""
    return preset_seeds(PRESET) if EXPERIMENTS[exp]["role"] == "student" else [PRESET["train"]["seed"]]


STUDY_RUNS = [(t, b, e, seed) for t in TASKS for b in PRESET["backbones"] for e in PRESET["experiments"]
              for seed in _study_seeds(e) if runs_at(e, t) and t in PRESET.get("backbone_tasks", {}).get(b, [t])]


rule study_table:
    input:
        [summary_file(s, b, replica_name(e, seed, PRESET)) for s, b, e, seed in STUDY_RUNS],
    output:
        csv=report(f"{RESULTS}/tables/study.csv", category="Tables"),
        md=report(f"{RESULTS}/tables/study.md", category="Tables"),
    log:
        f"logs/{P}/report/study.log",
    benchmark:
        f"benchmarks/{P}/report/study.tsv"
    params:
        runs=lambda wc, input: " ".join(f"--summary {e}:{seed}={f}" for (s, b, e, seed), f in zip(STUDY_RUNS, input)),
        baseline=PRESET.get("study_baseline", "scratch"),
        metrics=" ".join(f"--metric {m}" for m in PRESET.get("study_metrics", ["psnr", "ssim"])),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_study_table.py --preset {P} {params.runs} --baseline {params.baseline} {params.metrics} "
        "--out {output.csv} > {log} 2>&1"
