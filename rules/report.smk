# Stage 6: paper tables with our numbers beside the paper's.


rule table2:
    input:
        [summary_file(s, b, e) for s in PRESET["scales"] for b in PRESET["backbones"] for e in PRESET["experiments"]
         if s in EXPERIMENTS[e].get("scales", PRESET["scales"])],
    output:
        csv=report(f"{RESULTS}/tables/table2.csv", category="Tables", caption="report/table2.rst"),
        md=report(f"{RESULTS}/tables/table2.md", category="Tables", caption="report/table2.rst"),
    log:
        f"logs/{P}/report/table2.log",
    benchmark:
        f"benchmarks/{P}/report/table2.tsv"
    threads: 1
    shell:
        "{PY} workflow_scripts/make_table.py --table table2 --preset {P} --summaries {input} "
        "--out {output.csv} > {log} 2>&1"


# DCKD's SR ablations (RCAN x2; rows are config.yaml experiments, see cir/report/tables.py).
ABLATIONS = {
    "table5": ["logits", "dckd_dcr", "dckd_dmm", "dckd"],
    "table6": ["dckd_blur", "dckd", "dckd_resize", "dckd_mix"],
    "table7": ["dckd_dcl_001", "dckd", "dckd_dcl_1", "dckd_ce_00001", "dckd_ce_001"],
}


rule ablation_table:
    input:
        lambda wc: [summary_file(2, "rcan", e) for e in ABLATIONS[wc.table]],
    output:
        csv=report(f"{RESULTS}/tables/{{table}}.csv", category="Tables"),
        md=report(f"{RESULTS}/tables/{{table}}.md", category="Tables"),
    wildcard_constraints:
        table="|".join(ABLATIONS),
    log:
        f"logs/{P}/report/{{table}}.log",
    benchmark:
        f"benchmarks/{P}/report/{{table}}.tsv"
    threads: 1
    shell:
        "{PY} workflow_scripts/make_table.py --table {wildcards.table} --preset {P} --summaries {input} "
        "--out {output.csv} > {log} 2>&1"


FIG8 = ["dckd_neg1", "dckd_neg3", "dckd", "dckd_neg7", "dckd_step500", "dckd_step2000"]


rule fig8:
    input:
        [summary_file(2, "rcan", e) for e in FIG8],
    output:
        png=report(f"{RESULTS}/figures/fig8.png", category="Figures"),
        csv=f"{RESULTS}/figures/fig8.csv",
    log:
        f"logs/{P}/report/fig8.log",
    benchmark:
        f"benchmarks/{P}/report/fig8.tsv"
    params:
        summaries=lambda wc, input: " ".join(f"--summary {e}={f}" for e, f in zip(FIG8, input)),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure fig8 {params.summaries} --out {output.png} > {log} 2>&1"


# Efficiency and figures of the preset's Table 2 set (every scale, backbone and experiment that
# Table 2 runs). Not inputs of table2.csv; build them with `snakemake all_figures`.

import os


def table2_experiments(scale):
    """The experiments Table 2 runs at ``scale`` (in the preset's order)."""
    return [e for e in PRESET["experiments"] if int(scale) in EXPERIMENTS[e].get("scales", PRESET["scales"])]


def trained_experiments(scale):
    """Table 2 experiments trained here, i.e. with training logs (imported official teachers have none)."""
    return [e for e in table2_experiments(scale)
            if EXPERIMENTS[e]["role"] != "teacher" or PRESET["teacher_init"] == "pretrain"]


TABLE2_MODELS = [(s, b, e) for s in PRESET["scales"] for b in PRESET["backbones"] for e in table2_experiments(s)]
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
        summaries=lambda wc: [summary_file(wc.scale, wc.backbone, e) for e in table2_experiments(wc.scale)],
        test=lambda wc: pairs_dir(VISUAL_SET, wc.scale),
    output:
        png=report(f"{RESULTS}/figures/visual_x{{scale}}_{{backbone}}.png", category="Figures",
                   subcategory="Visual comparison", labels={"scale": "x{scale}", "backbone": "{backbone}",
                                                            "file": "figure"}),
        csv=report(f"{RESULTS}/figures/visual_x{{scale}}_{{backbone}}.csv", category="Figures",
                   subcategory="Visual comparison", labels={"scale": "x{scale}", "backbone": "{backbone}",
                                                            "file": "panels (CSV)"}),
    log:
        f"logs/{P}/report/visual_x{{scale}}_{{backbone}}.log",
    benchmark:
        f"benchmarks/{P}/report/visual_x{{scale}}_{{backbone}}.tsv"
    params:
        summaries=lambda wc, input: " ".join(
            f"--summary {e}={f}" for e, f in zip(table2_experiments(wc.scale), input.summaries)),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure visual {params.summaries} "
        "--test-set {VISUAL_SET}={input.test} --out {output.png} > {log} 2>&1"


rule curves:
    """Training loss and validation PSNR against iteration, one line per experiment trained here."""
    input:
        lambda wc: [model_file(wc.scale, wc.backbone, e) for e in trained_experiments(wc.scale)],
    output:
        report(f"{RESULTS}/figures/curves_x{{scale}}_{{backbone}}.png", category="Figures",
               subcategory="Training curves", labels={"scale": "x{scale}", "backbone": "{backbone}"}),
    log:
        f"logs/{P}/report/curves_x{{scale}}_{{backbone}}.log",
    benchmark:
        f"benchmarks/{P}/report/curves_x{{scale}}_{{backbone}}.tsv"
    params:
        runs=lambda wc, input: " ".join(
            f"--run {e}={os.path.dirname(f)}" for e, f in zip(trained_experiments(wc.scale), input)),
    threads: 1
    shell:
        "{PY} workflow_scripts/make_figure.py --figure curves {params.runs} --scale {wildcards.scale} "
        "--backbone {wildcards.backbone} --preset {P} --val-set {VISUAL_SET} --out {output} > {log} 2>&1"


localrules:
    visual,
    curves,


rule all_figures:
    """Efficiency table, visual comparisons and training curves of every scale and backbone."""
    input:
        f"{RESULTS}/tables/efficiency.csv",
        [f"{RESULTS}/figures/{kind}_x{s}_{b}.png" for kind in ("visual", "curves")
         for s in PRESET["scales"] for b in PRESET["backbones"]],
