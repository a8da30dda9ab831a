# Stage 6: paper tables with our numbers beside the paper's. Which runs a table needs is data:
# cir/paper/<paper>/tables.yaml (rows -> experiments, tasks, backbones).

from snakemake.exceptions import WorkflowError


def table_runs(tid):
    """(task, backbone, experiment) of every cell group of table ``tid``. A table whose rows come
    from the preset (Table 2) runs the preset's experiments at the preset's tasks and backbones;
    the others (Tables 3-4, the ablations) run their own rows at their own tasks and backbones in
    any preset that has those tasks and backbones. Reference rows (published models) are never run;
    ``official_rows`` (a backbone's own published weights, imported and evaluated) are built in
    presets that import official weights (teacher_init: official)."""
    d = table_def(tid)
    if d.get("rows_from_preset"):
        tasks = [t for t in TASKS if t in d["tasks"]]
        backbones = [b for b in PRESET["backbones"] if b in d["backbones"]]
        rows = [e for e in PRESET["experiments"] if e in d["rows"]]
    else:
        tasks, backbones, rows = d["tasks"], list(d["backbones"]), list(d["rows"])
        if d.get("from_preset"):  # the table's tasks and backbones that the preset has
            tasks = [t for t in tasks if t in TASKS] or tasks
            backbones = [b for b in backbones if b in PRESET["backbones"]] or backbones
        missing = [t for t in tasks if t not in TASKS] + [b for b in backbones if b not in PRESET["backbones"]]
        if missing:
            raise WorkflowError(f"{tid} needs task(s)/backbone(s) {missing}, which preset {P!r} does not have "
                                f"(its tasks: {TASKS}; backbones: {PRESET['backbones']}); pick a preset that "
                                "has them, e.g. --config preset=demo")
    if PRESET["teacher_init"] == "official":  # the published models, imported and evaluated (MCIR)
        rows += [e for e in d.get("official_rows", {}) if e not in rows]
    rows, tasks = cir_config.table_choice(PRESET, tid, rows, tasks)   # e.g. a demo's three-value sweep
    only = d.get("backbone_tasks", {})
    official = d.get("official_rows", {})
    return [(t, b, r) for t in tasks for b in backbones for e in rows
            if runs_at(e, t) and t in only.get(b, [t]) and (e not in official or has_official_weights(b, t))
            for r in row_runs(e, cir_config.table_runs(PRESET, tid, d.get("runs", 1)))]


def row_runs(exp, runs):
    """The experiments that measure one row: ``exp`` itself, and for a table that reports the mean
    of ``runs`` runs (DRCNet's Table 1) its seed replicas; a teacher is trained once."""
    if EXPERIMENTS[exp]["role"] != "student":
        return [exp]
    return [cir_config.replica_name(exp, s, PRESET) for s in cir_config.table_seeds(PRESET, runs)]


def has_official_weights(backbone, task):
    """Whether a published weight file of ``backbone`` on ``task`` is in the registry."""
    from cir.data.registry import official_teacher_asset
    from cir.errors import UnknownNameError

    try:
        official_teacher_asset(backbone, task, backbone_arch(PRESET, backbone))
    except UnknownNameError:
        return False
    return True


TABLE_IDS = list(cir_table_defs())


def table_inputs(tid):
    """The summaries table ``tid`` is built from: its runs, and the scores of the degraded inputs of
    its ``input_task`` (the Hazy / Rainy / Blurry rows of Uni-Removal's tables)."""
    d = table_def(tid)
    inputs = [summary_file(t, b, e) for t, b, e in table_runs(tid)]
    return inputs + ([input_summary(d["input_task"])] if d.get("input_task") else [])


rule paper_table:
    input:
        lambda wc: table_inputs(wc.table),
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


rule model_specs_table:
    """DCKD Table 1: the printed model specifications beside the parameter counts of the networks
    config.yaml builds (the paper preset's, and the running preset's)."""
    input:
        CONFIG_FILE,
    output:
        csv=report(f"{RESULTS}/tables/table1.csv", category="Tables", caption="report/table.rst"),
        md=report(f"{RESULTS}/tables/table1.md", category="Tables", caption="report/table.rst"),
    log:
        f"logs/{P}/report/table1.log",
    benchmark:
        f"benchmarks/{P}/report/table1.tsv"
    threads: 1
    shell:
        "{PY} workflow_scripts/model_specs.py --paper-key dckd/table1 --config {CONFIG_FILE} --preset {P} "
        "--out {output.csv} > {log} 2>&1"


def figure_points(fid):
    """The experiments of sweep figure ``fid`` this preset runs (its ``tables.<fid>`` choice)."""
    d = figure_def(fid)
    return cir_config.table_choice(PRESET, fid, figure_experiments(fid), d["tasks"])[0]


def figure_buildable(fid):
    """Whether this preset has the task and backbone of sweep figure ``fid``."""
    d = figure_def(fid)
    return (any(t in TASKS for t in cir_config.table_choice(PRESET, fid, [], d["tasks"])[1])
            and next(iter(d["backbones"])) in PRESET["backbones"])


def figure_runs(fid):
    d = figure_def(fid)
    task = cir_config.table_choice(PRESET, fid, [], d["tasks"])[1][0]
    runs = cir_config.table_runs(PRESET, fid, d.get("runs", 1))
    return [(task, next(iter(d["backbones"])), r) for e in figure_points(fid) for r in row_runs(e, runs)]


rule sweep_figure:
    input:
        lambda wc: [summary_file(*r) for r in figure_runs(wc.figure)],
    output:
        png=report(f"{RESULTS}/figures/{{figure}}.png", category="Figures"),
        csv=f"{RESULTS}/figures/{{figure}}.csv",
        md=f"{RESULTS}/figures/{{figure}}.md",
    wildcard_constraints:
        figure=alternation(cir_figure_defs()),
    log:
        f"logs/{P}/report/{{figure}}.log",
    benchmark:
        f"benchmarks/{P}/report/{{figure}}.tsv"
    params:
        summaries=lambda wc, input: " ".join(f"--summary {e}={f}" for (_, _, e), f in zip(figure_runs(wc.figure), input)),
        only=lambda wc: " ".join(figure_points(wc.figure)),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure {wildcards.figure} {params.summaries} --only {params.only} "
        "--out {output.png} > {log} 2>&1"


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


def visual_table(task, backbone):
    """The table (with ``visual: true`` in tables.yaml) whose rows the visual comparison of
    ``task``/``backbone`` shows: Table 2 for SR (DCKD Figs. 5-6), Table 3 for deblurring (Fig. 4),
    Table 4 for deraining (Fig. 7)."""
    for tid, d in cir_table_defs().items():
        if d.get("visual") and task in d.get("visual_tasks", d["tasks"]) and backbone in d["backbones"]:
            return tid
    raise WorkflowError(f"no table with a visual comparison reports {backbone} at {task}")


def visual_runs(task, backbone):
    """(task, experiment) of every output the visual comparison shows: the table's rows at ``task``,
    or, for a table that names its ``visual_tasks`` (Uni-Removal's Figs. 4-6: the task teacher and
    the unified model), its rows at any task, on ``task``'s visual test set."""
    tid = visual_table(task, backbone)
    any_task = "visual_tasks" in table_def(tid)
    return list(dict.fromkeys((t, e) for t, b, e in table_runs(tid) if (t == task or any_task) and b == backbone))


def visual_experiments(task, backbone):
    return [e for _, e in visual_runs(task, backbone)]


def visual_set(task):
    """The compared outputs come from the task's visual set (data.per_task.<task>.visual), by
    default its first test set."""
    return cir_config.task_visual_set(PRESET, task)


# (task, backbone) of the visual comparisons of the other visual tables this preset can build
VISUAL_SETS = FIGURE_SETS + [
    (t, b) for tid, d in cir_table_defs().items() if d.get("visual") and not d.get("rows_from_preset")
    for t in cir_config.table_choice(PRESET, tid, [], d.get("visual_tasks", d["tasks"]))[1] for b in d["backbones"]
    if t in TASKS and b in PRESET["backbones"]]


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
    """The same crop of one test image from every method's saved output, with HR and bicubic (SR) or
    the degraded input (scale-1 tasks)."""
    input:
        summaries=lambda wc: [summary_file(t, wc.backbone, e) for t, e in visual_runs(wc.task, wc.backbone)],
        test=lambda wc: pairs_dir(visual_set(wc.task), wc.task),
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
            f"--summary {e}={f}" for e, f in zip(visual_experiments(wc.task, wc.backbone), input.summaries)),
        test_set=lambda wc: visual_set(wc.task),
        table=lambda wc: visual_table(wc.task, wc.backbone),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure visual --table {params.table} {params.summaries} "
        "--test-set {params.test_set}={input.test} --out {output.png} > {log} 2>&1"


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
        val_set=lambda wc: visual_set(wc.task),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure curves {params.runs} --scale {params.scale} "
        "--backbone {wildcards.backbone} --preset {P} --val-set {params.val_set} --out {output} > {log} 2>&1"


localrules:
    visual,
    curves,


rule all_figures:
    """Efficiency table, visual comparisons and training curves of every scale and backbone."""
    input:
        f"{RESULTS}/tables/efficiency.csv",
        [f"{RESULTS}/figures/{kind}_{t}_{b}.png" for kind in ("visual", "curves") for t, b in FIGURE_SETS],
        [f"{RESULTS}/figures/visual_{t}_{b}.png" for t, b in VISUAL_SETS[len(FIGURE_SETS):]],


# the visual comparisons of MCIR's tables (one per task and backbone), inputs of mcir_all
MCIR_VISUAL_SETS = [(t, b) for t, b in dict.fromkeys(VISUAL_SETS) if visual_table(t, b).startswith("mcir_")]


def buildable(tid):
    """Whether this preset has the tasks and backbones table ``tid`` needs."""
    try:
        return bool(table_runs(tid))
    except WorkflowError:
        return False


rule mcir_all:
    """Every MCIR table this preset can build (results/tables/mcir_table1.csv ... mcir_table9.csv)
    and the visual comparison of each task and backbone, indexed in results/tables/mcir_all.md."""
    input:
        tables=[f"{RESULTS}/tables/{tid}.csv" for tid in TABLE_IDS if tid.startswith("mcir_") and buildable(tid)],
        figures=[f"{RESULTS}/figures/visual_{t}_{b}.png" for t, b in MCIR_VISUAL_SETS],
    output:
        f"{RESULTS}/tables/mcir_all.md",
    log:
        f"logs/{P}/report/mcir_all.log",
    threads: 1
    shell:
        "{PY} workflow_scripts/index_tables.py --title 'MCIR tables (preset {P})' --tables {input.tables} "
        "--figures {input.figures} --out {output} > {log} 2>&1"


COMPLEXITY_IDS = list(cir_complexity_defs())


rule complexity_table:
    """A printed complexity table (DRCNet's supplement Tables 3-5, "FLOPs (G)" at 256x256) beside the
    parameters, MACs and FLOPs of the network config.yaml builds (paper preset, and the running one)."""
    input:
        CONFIG_FILE,
    output:
        csv=report(f"{RESULTS}/tables/{{ctable}}.csv", category="Tables", caption="report/table.rst"),
        md=report(f"{RESULTS}/tables/{{ctable}}.md", category="Tables", caption="report/table.rst"),
    wildcard_constraints:
        ctable=alternation(COMPLEXITY_IDS),
    log:
        f"logs/{P}/report/{{ctable}}.log",
    benchmark:
        f"benchmarks/{P}/report/{{ctable}}.tsv"
    params:
        key=lambda wc: cir_complexity_defs()[wc.ctable]["paper_key"],
        backbone=lambda wc: cir_complexity_defs()[wc.ctable]["backbone"],
        title=lambda wc: cir_complexity_defs()[wc.ctable]["title"],
    threads: 1
    shell:
        "{PY} workflow_scripts/complexity_table.py --paper-key {params.key} --backbone {params.backbone} "
        "--config {CONFIG_FILE} --preset {P} --title '{params.title}' --out {output.csv} > {log} 2>&1"


# the visual comparisons of DRCNet's main table (one per task: with / without energy attention, the CR variants)
DRCNET_VISUAL_SETS = [(t, b) for t, b in dict.fromkeys(VISUAL_SETS) if visual_table(t, b).startswith("drcnet_")]


rule drcnet_all:
    """Every DRCNet table this preset can build (results/tables/drcnet_main, drcnet_table1 ...
    drcnet_table5), the sensitivity figure and the visual comparisons, indexed in
    results/tables/drcnet_all.md."""
    input:
        tables=[f"{RESULTS}/tables/{tid}.csv" for tid in TABLE_IDS if tid.startswith("drcnet_") and buildable(tid)]
        + [f"{RESULTS}/tables/{tid}.csv" for tid in COMPLEXITY_IDS if tid.startswith("drcnet_")],
        figures=[f"{RESULTS}/figures/{fid}.png" for fid in cir_figure_defs()
                 if fid.startswith("drcnet_") and figure_buildable(fid)]
        + [f"{RESULTS}/figures/visual_{t}_{b}.png" for t, b in DRCNET_VISUAL_SETS],
    output:
        f"{RESULTS}/tables/drcnet_all.md",
    log:
        f"logs/{P}/report/drcnet_all.log",
    threads: 1
    shell:
        "{PY} workflow_scripts/index_tables.py --title 'DRCNet tables (preset {P})' --tables {input.tables} "
        "--figures {input.figures} --out {output} > {log} 2>&1"


def first_task(d):
    """The first of an entry's tasks that this preset has (the paper's data set, else the demo's)."""
    tasks = [t for t in cir_config.table_choice(PRESET, d["id"], [], d["tasks"])[1] if t in TASKS]
    if not tasks or d["backbone"] not in PRESET["backbones"]:
        raise WorkflowError(f"{d['id']} needs one of the tasks {d['tasks']} and backbone {d['backbone']!r}, which "
                            f"preset {P!r} does not have; pick a preset that has them, e.g. --config preset=demo")
    return tasks[0]


def efficiency_runs(tid):
    """(task, backbone, experiment) of every measured line of timing table ``tid``."""
    d = cir_efficiency_defs()[tid]
    rows = cir_config.table_choice(PRESET, tid, list(d["rows"]), [])[0]
    return [(first_task(d), d["backbone"], e) for e in rows]


rule timing_table:
    """A printed inference-time table (Cria-CL's Table VII) beside the parameters, MACs and median
    inference time of our trained models at the printed input size, and the paper preset's counts."""
    input:
        lambda wc: [model_file(*r) for r in efficiency_runs(wc.etable)],
    output:
        csv=report(f"{RESULTS}/tables/{{etable}}.csv", category="Tables", caption="report/table.rst"),
        md=report(f"{RESULTS}/tables/{{etable}}.md", category="Tables", caption="report/table.rst"),
    wildcard_constraints:
        etable=alternation(cir_efficiency_defs()),
    log:
        f"logs/{P}/report/{{etable}}.log",
    benchmark:
        f"benchmarks/{P}/report/{{etable}}.tsv"
    params:
        models=lambda wc, input: " ".join(f"--model {e}={f}" for (_, _, e), f in zip(efficiency_runs(wc.etable), input)),
        warmup=EFFICIENCY.get("warmup", 1),
        runs=EFFICIENCY.get("runs", 5),
    threads: res("eval", "threads")
    resources:
        mem_mb=res("eval", "mem_mb"),
        runtime=res("eval", "runtime"),
        gpu=res("eval", "gpu"),
    shell:
        "{PY} workflow_scripts/timing_table.py --table {wildcards.etable} --config {CONFIG_FILE} --preset {P} "
        "{params.models} --warmup {params.warmup} --runs {params.runs} --threads {threads} --out {output.csv} "
        "> {log} 2>&1"


def curve_runs(fid):
    """(task, backbone, experiment, label) of every line of training-curve figure ``fid``."""
    d = cir_curve_defs()[fid]
    rows = cir_config.table_choice(PRESET, fid, list(d["runs"]), [])[0]
    return [(first_task(d), d["backbone"], e, d["runs"][e]) for e in rows]


rule val_curves:
    """Validation metrics against training iteration (Cria-CL's Fig. 1), one line per run."""
    input:
        lambda wc: [model_file(t, b, e) for t, b, e, _ in curve_runs(wc.cfigure)],
    output:
        png=report(f"{RESULTS}/figures/{{cfigure}}.png", category="Figures", subcategory="Training curves"),
        csv=f"{RESULTS}/figures/{{cfigure}}.csv",
        md=f"{RESULTS}/figures/{{cfigure}}.md",
    wildcard_constraints:
        cfigure=alternation(cir_curve_defs()),
    log:
        f"logs/{P}/report/{{cfigure}}.log",
    params:
        runs=lambda wc, input: " ".join(f"--run '{label}={os.path.dirname(f)}'"
                                        for (_, _, _, label), f in zip(curve_runs(wc.cfigure), input)),
        metrics=lambda wc: " ".join(cir_curve_defs()[wc.cfigure]["metrics"]),
        title=lambda wc: cir_curve_defs()[wc.cfigure]["title"].replace("'", ""),
        note=lambda wc: cir_curve_defs()[wc.cfigure].get("note", "").replace("'", ""),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_val_curves.py {params.runs} --metrics {params.metrics} --title '{params.title}' "
        "--note '{params.note}' --out {output.png} > {log} 2>&1"


# the visual comparisons of Cria-CL's tables (the ablation's and CameraSR's)
CRIACL_VISUAL_SETS = [(t, b) for t, b in dict.fromkeys(VISUAL_SETS) if visual_table(t, b).startswith("criacl_")]


def criacl_buildable(entry_id, kind):
    try:
        return bool(efficiency_runs(entry_id) if kind == "efficiency" else curve_runs(entry_id))
    except WorkflowError:
        return False


rule criacl_all:
    """Every Cria-CL table this preset can build (results/tables/criacl_table1 ... criacl_table7), the
    Fig. 1 curves and the visual comparisons, indexed in results/tables/criacl_all.md."""
    input:
        tables=[f"{RESULTS}/tables/{tid}.csv" for tid in TABLE_IDS if tid.startswith("criacl_") and buildable(tid)]
        + [f"{RESULTS}/tables/{tid}.csv" for tid in cir_efficiency_defs()
           if tid.startswith("criacl_") and criacl_buildable(tid, "efficiency")],
        figures=[f"{RESULTS}/figures/{fid}.png" for fid in cir_curve_defs()
                 if fid.startswith("criacl_") and criacl_buildable(fid, "curves")]
        + [f"{RESULTS}/figures/visual_{t}_{b}.png" for t, b in CRIACL_VISUAL_SETS],
    output:
        f"{RESULTS}/tables/criacl_all.md",
    log:
        f"logs/{P}/report/criacl_all.log",
    threads: 1
    shell:
        "{PY} workflow_scripts/index_tables.py --title 'Cria-CL tables (preset {P})' --tables {input.tables} "
        "--figures {input.figures} --out {output} > {log} 2>&1"


# the visual comparisons of Uni-Removal's Tables I-III (Figs. 4-6: dehazing, deraining, deblurring)
UNIREMOVAL_VISUAL_SETS = [(t, b) for t, b in dict.fromkeys(VISUAL_SETS) if visual_table(t, b).startswith("uniremoval_")]


rule uniremoval_all:
    """Every Uni-Removal table this preset can build (results/tables/uniremoval_table1 ...
    uniremoval_table5) and the visual comparisons of Figs. 4-6, indexed in results/tables/uniremoval_all.md."""
    input:
        tables=[f"{RESULTS}/tables/{tid}.csv" for tid in TABLE_IDS if tid.startswith("uniremoval_") and buildable(tid)],
        figures=[f"{RESULTS}/figures/visual_{t}_{b}.png" for t, b in UNIREMOVAL_VISUAL_SETS],
    output:
        f"{RESULTS}/tables/uniremoval_all.md",
    log:
        f"logs/{P}/report/uniremoval_all.log",
    threads: 1
    shell:
        "{PY} workflow_scripts/index_tables.py --title 'Uni-Removal tables (preset {P})' --tables {input.tables} "
        "--figures {input.figures} --out {output} > {log} 2>&1"
