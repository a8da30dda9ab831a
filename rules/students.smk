# Stage 3: students, trained from scratch, from another run's weights, or distilled from their
# experiment's teachers; what each trains is its spec file (rule job_spec in common.smk).


rule train_student:
    input:
        unpack(train_inputs),
    output:
        model_file("{task}", "{backbone}", "{exp}"),
    wildcard_constraints:
        exp=alternation(STUDENT_EXPS),
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
