# Stage 5: evaluation of every trained (or imported) network on the preset's test sets.


rule evaluate:
    input:
        unpack(lambda wc: {"model": model_file(wc.scale, wc.backbone, wc.exp), **test_dirs(wc)}),
    output:
        report(summary_file("{scale}", "{backbone}", "{exp}"), category="Evaluation",
               subcategory="x{scale}", labels={"backbone": "{backbone}", "experiment": "{exp}"}),
    wildcard_constraints:
        exp=alternation(EXPERIMENTS),
    log:
        f"logs/{P}/eval/x{{scale}}_{{backbone}}_{{exp}}.log",
    benchmark:
        f"benchmarks/{P}/eval/x{{scale}}_{{backbone}}_{{exp}}.tsv"
    params:
        sets=lambda wc: " ".join(f"--test-set {n}={d}" for n, d in test_dirs(wc).items()),
        tile=f" --tile {PRESET['eval']['tile']}" if PRESET["eval"]["tile"] else "",
    threads: res("eval", "threads")
    resources:
        mem_mb=res("eval", "mem_mb"),
        runtime=res("eval", "runtime"),
        gpu=res("eval", "gpu"),
    shell:
        "{PY} workflow_scripts/evaluate.py --model {input.model} --scale {wildcards.scale} {params.sets} "
        "--out {output} --preset {P} --backbone {wildcards.backbone} --method {wildcards.exp} "
        "--threads {threads}{params.tile} --save-images > {log} 2>&1"
