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
