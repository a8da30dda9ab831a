# Stage 5: evaluation of every trained (or imported) network on the preset's test sets, with
# the metric convention of its spec.


rule evaluate:
    input:
        unpack(lambda wc: {"model": model_file(wc.task, wc.backbone, wc.exp), **test_dirs(wc)}),
    output:
        report(summary_file("{task}", "{backbone}", "{exp}"), category="Evaluation",
               subcategory="{task}", labels={"backbone": "{backbone}", "experiment": "{exp}"}),
    wildcard_constraints:
        exp=alternation(EXPERIMENTS),
    log:
        f"logs/{P}/eval/{{task}}_{{backbone}}_{{exp}}.log",
    benchmark:
        f"benchmarks/{P}/eval/{{task}}_{{backbone}}_{{exp}}.tsv"
    params:
        sets=lambda wc: " ".join(f"--test-set {n}={d}" for n, d in test_dirs(wc).items()),
        scale=lambda wc: parse_task(wc.task).scale,
        convention=lambda wc: job_spec(wc)["convention"],
        tile=f" --tile {PRESET['eval']['tile']}" if PRESET["eval"]["tile"] else "",
        arch=lambda wc: backbone_arch(PRESET, wc.backbone),
        tlc=lambda wc: (f" --tlc {PRESET['eval']['tlc']}"
                        if PRESET["eval"].get("tlc") and backbone_arch(PRESET, wc.backbone) == "nafnet" else ""),
    threads: res("eval", "threads")
    resources:
        mem_mb=res("eval", "mem_mb"),
        runtime=res("eval", "runtime"),
        gpu=res("eval", "gpu"),
    shell:
        "{PY} workflow_scripts/evaluate.py --model {input.model} --scale {params.scale} {params.sets} "
        "--out {output} --preset {P} --task {wildcards.task} --backbone {wildcards.backbone} --arch {params.arch} --method {wildcards.exp} "
        "--convention {params.convention} --device {config[device]} "
        "--threads {threads}{params.tile}{params.tlc} --save-images > {log} 2>&1"


def input_summary(task):
    """The scores of ``task``'s degraded test images themselves (a table's input row)."""
    return f"{RESULTS}/{P}/eval/{task}/input/input/summary.json"


rule evaluate_inputs:
    """The degraded test images scored as they are, no network (Uni-Removal's Hazy / Rainy / Blurry
    and "Original degraded" rows), with the task's metric convention."""
    input:
        unpack(lambda wc: test_dirs(wc)),
    output:
        input_summary("{task}"),
    log:
        f"logs/{P}/eval/{{task}}_inputs.log",
    benchmark:
        f"benchmarks/{P}/eval/{{task}}_inputs.tsv"
    params:
        sets=lambda wc: " ".join(f"--test-set {n}={d}" for n, d in test_dirs(wc).items()),
        convention=lambda wc: cir_config.task_convention(PRESET, wc.task),
    threads: res("eval", "threads")
    resources:
        mem_mb=res("eval", "mem_mb"),
        runtime=res("eval", "runtime"),
    shell:
        "{PY} workflow_scripts/evaluate.py --inputs --scale 1 {params.sets} --out {output} --preset {P} "
        "--task {wildcards.task} --backbone input --method input --convention {params.convention} "
        "--device {config[device]} --threads {threads} > {log} 2>&1"
