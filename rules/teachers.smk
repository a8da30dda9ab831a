# Stage 2: teachers. Either pretrained here (teacher_init: pretrain, or a teacher experiment with an
# init of its own) or imported from the official release (teacher_init: official: the weight file
# comes from rule download_asset in data.smk and is converted into a cir model file that records
# its provenance).


def official_asset(wc):
    from cir.data.registry import official_teacher_asset

    return official_teacher_asset(wc.backbone, wc.task, backbone_arch(PRESET, wc.backbone))


if TRAINED_TEACHERS:

    rule train_teacher:
        input:
            unpack(train_inputs),
        output:
            model_file("{task}", "{backbone}", "{exp}"),
        wildcard_constraints:
            exp=alternation(TRAINED_TEACHERS),
        log:
            f"logs/{P}/train/{{task}}_{{backbone}}_{{exp}}.log",
        benchmark:
            f"benchmarks/{P}/train/{{task}}_{{backbone}}_{{exp}}.tsv"
        params:
            inputs=train_args,
        threads: res("train", "threads")
        resources:
            mem_mb=res("train", "mem_mb"),
            runtime=res("train", "runtime"),
            gpu=res("train", "gpu"),
        shell:
            TRAIN_CMD


if IMPORTED_TEACHERS:

    rule import_teacher:
        input:
            weights=lambda wc: f"{DATA}/weights/{official_asset(wc)}",
        output:
            model_file("{task}", "{backbone}", "{exp}"),
        wildcard_constraints:
            exp=alternation(IMPORTED_TEACHERS),
        log:
            f"logs/{P}/train/{{task}}_{{backbone}}_{{exp}}.log",
        benchmark:
            f"benchmarks/{P}/train/{{task}}_{{backbone}}_{{exp}}.tsv"
        threads: 1
        resources:
            mem_mb=res("data", "mem_mb"),
            runtime=res("data", "runtime"),
        params:
            arch=lambda wc: backbone_arch(PRESET, wc.backbone),
            # the preset's teacher network with the experiment's own changes (an official release's width
            # and value range: Uni-Removal's MPRNet teachers)
            model=lambda wc: json.dumps({**PRESET["models"][wc.backbone]["teacher"], **EXPERIMENTS[wc.exp].get("model", {})},
                                        sort_keys=True),
        shell:
            "{PY} workflow_scripts/import_teacher.py --weights {input.weights} --backbone {wildcards.backbone} "
            "--task {wildcards.task} --arch {params.arch} --params '{params.model}' --out {output} > {log} 2>&1"
