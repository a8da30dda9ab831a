# Stage 3: students, trained from scratch or distilled from their experiment's teacher.


from cir.methods import METHOD_ASSETS


def teacher_input(wc):
    """The experiment's teacher model file and, at encoder_init: official, its loss-encoder weights."""
    exp = EXPERIMENTS[wc.exp]
    inputs = {"teacher": model_file(wc.scale, wc.backbone, exp["teacher"])} if exp.get("teacher") else {}
    assets = METHOD_ASSETS.get(exp["method"], ())
    if assets and PRESET["encoder_init"] == "official":
        inputs["encoder"] = f"{DATA}/weights/{assets[0]}"
    return inputs


rule train_student:
    input:
        unpack(teacher_input),
        train=train_dirs,
        val=val_dir,
    output:
        model_file("{scale}", "{backbone}", "{exp}"),
    wildcard_constraints:
        exp=alternation(STUDENT_EXPS),
    log:
        f"logs/{P}/train/x{{scale}}_{{backbone}}_{{exp}}.log",
    benchmark:
        f"benchmarks/{P}/train/x{{scale}}_{{backbone}}_{{exp}}.tsv"
    params:
        train=lambda wc, input: " ".join(f"--train-dir {d}" for d in input.train),
        settings=settings_fingerprint,
        # leading space inside the value: an absent teacher leaves no double space in the command
        teacher=lambda wc, input: f" --teacher {input.teacher}" if "teacher" in input.keys() else "",
        encoder=lambda wc, input: f" --encoder-weights {input.encoder}" if "encoder" in input.keys() else "",
    threads: res("train", "threads")
    resources:
        mem_mb=res("train", "mem_mb"),
        runtime=res("train", "runtime"),
        gpu=res("train", "gpu"),
    shell:
        "{PY} workflow_scripts/train.py --preset {P} --scale {wildcards.scale} "
        "--backbone {wildcards.backbone} --experiment {wildcards.exp} {params.train}{params.teacher}{params.encoder} "
        "--val-dir {input.val} --out {output} --threads {threads}{TRAIN_LAUNCH} > {log} 2>&1"
