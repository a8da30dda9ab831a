# Stage 6: paper tables with our numbers beside the paper's.


rule table2:
    input:
        [summary_file(s, b, e) for s in PRESET["scales"] for b in PRESET["backbones"] for e in PRESET["experiments"]],
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
