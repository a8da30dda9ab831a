# Stage 2: teachers. Either pretrained here (teacher_init: pretrain) or imported from the
# official release (teacher_init: official: the weight file comes from rule download_asset
# in data.smk and is converted into a cir model file that records its provenance).


def launch_args():
    """Options of how a training job runs, not of what it computes: data-parallel processes (one
    per GPU of the preset's resources.train.gpu, when more than one) and the node-local staging
    directory (config key stage_dir, expanded on the compute node). A global in the command, not
    a rule param, so that changing them does not make Snakemake retrain finished models.
    Leading space: no option leaves no double space."""
    k = res("train", "gpu")
    args = f" --nproc-per-node {k}" if k > 1 else ""
    if config.get("stage_dir"):
        args += f" --stage-dir '{config['stage_dir']}'"
    return args


TRAIN_LAUNCH = launch_args()


def official_asset(wc):
    from cir.data.registry import official_teacher_asset

    return official_teacher_asset(wc.backbone, int(wc.scale))


if PRESET["teacher_init"] == "pretrain":

    rule train_teacher:
        input:
            train=train_dirs,
            val=val_dir,
        output:
            model_file("{scale}", "{backbone}", "{exp}"),
        wildcard_constraints:
            exp=alternation(TEACHER_EXPS),
        log:
            f"logs/{P}/train/x{{scale}}_{{backbone}}_{{exp}}.log",
        benchmark:
            f"benchmarks/{P}/train/x{{scale}}_{{backbone}}_{{exp}}.tsv"
        params:
            train=lambda wc, input: " ".join(f"--train-dir {d}" for d in input.train),
            settings=settings_fingerprint,
        threads: res("train", "threads")
        resources:
            mem_mb=res("train", "mem_mb"),
            runtime=res("train", "runtime"),
            gpu=res("train", "gpu"),
        shell:
            "{PY} workflow_scripts/train.py --preset {P} --scale {wildcards.scale} "
            "--backbone {wildcards.backbone} --experiment {wildcards.exp} {params.train} "
            "--val-dir {input.val} --out {output} --threads {threads}{TRAIN_LAUNCH} > {log} 2>&1"

else:

    rule import_teacher:
        input:
            weights=lambda wc: f"{DATA}/weights/{official_asset(wc)}",
        output:
            model_file("{scale}", "{backbone}", "{exp}"),
        wildcard_constraints:
            exp=alternation(TEACHER_EXPS),
        log:
            f"logs/{P}/train/x{{scale}}_{{backbone}}_{{exp}}.log",
        benchmark:
            f"benchmarks/{P}/train/x{{scale}}_{{backbone}}_{{exp}}.tsv"
        threads: 1
        resources:
            mem_mb=res("data", "mem_mb"),
            runtime=res("data", "runtime"),
        shell:
            "{PY} workflow_scripts/import_teacher.py --weights {input.weights} --backbone {wildcards.backbone} "
            "--scale {wildcards.scale} --out {output} > {log} 2>&1"
