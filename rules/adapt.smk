# Stage 4: domain adaptation. A student trained on pairs (its experiment's init) adapts to real
# degraded images without ground truth: unpaired batches of the task's real degraded images, one set
# per degradation type, and of clear images of other scenes (data.per_task.<task>.adapt), with a
# discriminator (Uni-Removal's second stage, method uniremoval_da). Same command as every training
# job: its spec names the data kind, the trainer picks the unpaired sampler.


rule adapt:
    input:
        unpack(train_inputs),
    output:
        model_file("{task}", "{backbone}", "{exp}"),
    wildcard_constraints:
        exp=alternation(ADAPT_EXPS),
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
