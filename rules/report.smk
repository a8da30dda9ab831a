# Stage 6: paper tables with our numbers beside the paper's. Which runs a table needs is data:
# cir/paper/<paper>/tables.yaml (rows -> experiments, tasks, backbones).


def table_runs(tid):
    """(task, backbone, experiment) of every cell group of table ``tid``. A table whose rows come
    from the preset (Table 2) runs the preset's experiments at the preset's tasks and backbones;
    the others (ablations) run their own rows at their own task and backbone in any preset."""
    d = table_def(tid)
    if d.get("rows_from_preset"):
        tasks = [t for t in TASKS if t in d["tasks"]]
        backbones = [b for b in PRESET["backbones"] if b in d["backbones"]]
        rows = [e for e in PRESET["experiments"] if e in d["rows"]]
    else:
        tasks, backbones, rows = d["tasks"], list(d["backbones"]), list(d["rows"])
    return [(t, b, e) for t in tasks for b in backbones for e in rows if runs_at(e, t)]


TABLE_IDS = list(cir_table_defs())


rule paper_table:
    input:
        lambda wc: [summary_file(t, b, e) for t, b, e in table_runs(wc.table)],
    output:
        csv=report(f"{RESULTS}/tables/{{table}}.csv", category="Tables", caption="report/table.rst"),
        md=report(f"{RESULTS}/tables/{{table}}.md", category="Tables", caption="report/table.rst"),
    wildcard_constraints:
        table=alternation(TABLE_IDS),
    log:
        f"logs/{P}/report/{{table}}.log",
    benchmark:
        f"benchmarks/{P}/report/{{table}}.tsv"
    threads: 1
    shell:
        "{PY} workflow_scripts/make_table.py --table {wildcards.table} --preset {P} --summaries {input} "
        "--out {output.csv} > {log} 2>&1"


def figure_runs(fid):
    d = figure_def(fid)
    return [(d["tasks"][0], next(iter(d["backbones"])), e) for e in figure_experiments(fid)]


rule sweep_figure:
    input:
        lambda wc: [summary_file(*r) for r in figure_runs(wc.figure)],
    output:
        png=report(f"{RESULTS}/figures/{{figure}}.png", category="Figures"),
        csv=f"{RESULTS}/figures/{{figure}}.csv",
    wildcard_constraints:
        figure=alternation(cir_figure_defs()),
    log:
        f"logs/{P}/report/{{figure}}.log",
    benchmark:
        f"benchmarks/{P}/report/{{figure}}.tsv"
    params:
        summaries=lambda wc, input: " ".join(f"--summary {e}={f}" for (_, _, e), f in zip(figure_runs(wc.figure), input)),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure {wildcards.figure} {params.summaries} --out {output.png} > {log} 2>&1"


# Efficiency and figures of the preset's Table 2 set (every scale, backbone and experiment that
# Table 2 runs). Not inputs of table2.csv; build them with `snakemake all_figures`.



TABLE2_MODELS = table_runs("table2")


def table2_experiments(task, backbone=None):
    """The experiments Table 2 runs at ``task`` (in the preset's order)."""
    return list(dict.fromkeys(e for t, b, e in TABLE2_MODELS if t == task and backbone in (None, b)))


def trained_experiments(task):
    """Table 2 experiments trained here, i.e. with training logs (imported official teachers have none)."""
    return [e for e in table2_experiments(task)
            if EXPERIMENTS[e]["role"] != "teacher" or PRESET["teacher_init"] == "pretrain"]


FIGURE_SETS = list(dict.fromkeys((t, b) for t, b, _ in TABLE2_MODELS))
VISUAL_SET = PRESET["data"]["test"][0]  # the compared outputs come from the first test set


EFFICIENCY = PRESET["eval"].get("efficiency", {})


rule efficiency:
    """Parameters, FLOPs/MACs (torch's counter, 2 FLOPs per multiply-add) and median inference
    time of every Table 2 model at the LR size of a 1280x720 output."""
    input:
        [model_file(s, b, e) for s, b, e in TABLE2_MODELS],
    output:
        csv=report(f"{RESULTS}/tables/efficiency.csv", category="Tables", subcategory="Efficiency"),
        md=report(f"{RESULTS}/tables/efficiency.md", category="Tables", subcategory="Efficiency"),
    log:
        f"logs/{P}/report/efficiency.log",
    benchmark:
        f"benchmarks/{P}/report/efficiency.tsv"
    params:
        models=lambda wc, input: " ".join(f"--model {e}={f}" for (_, _, e), f in zip(TABLE2_MODELS, input)),
        size="{}x{}".format(*EFFICIENCY.get("output_size", [1280, 720])),
        warmup=EFFICIENCY.get("warmup", 1),
        runs=EFFICIENCY.get("runs", 5),
    threads: res("eval", "threads")
    resources:
        mem_mb=res("eval", "mem_mb"),
        runtime=res("eval", "runtime"),
        gpu=res("eval", "gpu"),
    shell:
        "{PY} workflow_scripts/efficiency.py --preset {P} {params.models} --out {output.csv} "
        "--output-size {params.size} --warmup {params.warmup} --runs {params.runs} --threads {threads} > {log} 2>&1"


rule visual:
    """The same crop of one test image from every method's saved SR output, with HR and bicubic."""
    input:
        summaries=lambda wc: [summary_file(wc.task, wc.backbone, e) for e in table2_experiments(wc.task)],
        test=lambda wc: pairs_dir(VISUAL_SET, wc.task),
    output:
        png=report(f"{RESULTS}/figures/visual_{{task}}_{{backbone}}.png", category="Figures",
                   subcategory="Visual comparison", labels={"task": "{task}", "backbone": "{backbone}",
                                                            "file": "figure"}),
        csv=report(f"{RESULTS}/figures/visual_{{task}}_{{backbone}}.csv", category="Figures",
                   subcategory="Visual comparison", labels={"task": "{task}", "backbone": "{backbone}",
                                                            "file": "panels (CSV)"}),
    log:
        f"logs/{P}/report/visual_{{task}}_{{backbone}}.log",
    benchmark:
        f"benchmarks/{P}/report/visual_{{task}}_{{backbone}}.tsv"
    params:
        summaries=lambda wc, input: " ".join(
            f"--summary {e}={f}" for e, f in zip(table2_experiments(wc.task), input.summaries)),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure visual {params.summaries} "
        "--test-set {VISUAL_SET}={input.test} --out {output.png} > {log} 2>&1"


rule curves:
    """Training loss and validation PSNR against iteration, one line per experiment trained here."""
    input:
        lambda wc: [model_file(wc.task, wc.backbone, e) for e in trained_experiments(wc.task)],
    output:
        report(f"{RESULTS}/figures/curves_{{task}}_{{backbone}}.png", category="Figures",
               subcategory="Training curves", labels={"task": "{task}", "backbone": "{backbone}"}),
    log:
        f"logs/{P}/report/curves_{{task}}_{{backbone}}.log",
    benchmark:
        f"benchmarks/{P}/report/curves_{{task}}_{{backbone}}.tsv"
    params:
        runs=lambda wc, input: " ".join(
            f"--run {e}={os.path.dirname(f)}" for e, f in zip(trained_experiments(wc.task), input)),
        scale=lambda wc: parse_task(wc.task).scale,
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure curves {params.runs} --scale {params.scale} "
        "--backbone {wildcards.backbone} --preset {P} --val-set {VISUAL_SET} --out {output} > {log} 2>&1"


localrules:
    visual,
    curves,


rule all_figures:
    """Efficiency table, visual comparisons and training curves of every scale and backbone."""
    input:
        f"{RESULTS}/tables/efficiency.csv",
        [f"{RESULTS}/figures/{kind}_{t}_{b}.png" for kind in ("visual", "curves") for t, b in FIGURE_SETS],
