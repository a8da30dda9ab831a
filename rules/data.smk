# Stage 1: data. Raw HR images (built-in photos or downloaded archives), then LR/HR pairs
# per scale (mod-crop + MATLAB-compatible bicubic).

from cir.data.registry import ASSETS, DATASETS

BUILTIN = ["skimage_train", "skimage_test"]


rule builtin_photos:
    output:
        directory(f"{DATA}/raw/skimage_{{split}}"),
    wildcard_constraints:
        split="train|test",
    log:
        f"logs/{P}/data/builtin_{{split}}.log",
    benchmark:
        f"benchmarks/{P}/data/builtin_{{split}}.tsv"
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    shell:
        "{PY} workflow_scripts/builtin_photos.py --split {wildcards.split} --out {output} > {log} 2>&1"


rule download_dataset:
    output:
        directory(f"{DATA}/raw/{{dataset}}"),
    wildcard_constraints:
        dataset=alternation(DATASETS),
    log:
        f"logs/{P}/data/download_{{dataset}}.log",
    benchmark:
        f"benchmarks/{P}/data/download_{{dataset}}.tsv"
    threads: 1
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    shell:
        "{PY} workflow_scripts/download.py --dataset {wildcards.dataset} --out {output} "
        "--cache {DATA}/downloads > {log} 2>&1"


rule prepare_sr:
    input:
        f"{DATA}/raw/{{dataset}}",
    output:
        directory(f"{DATA}/sr/{{dataset}}/x{{scale}}"),
    log:
        f"logs/{P}/data/prepare_{{dataset}}_x{{scale}}.log",
    benchmark:
        f"benchmarks/{P}/data/prepare_{{dataset}}_x{{scale}}.tsv"
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    shell:
        "{PY} workflow_scripts/prepare_sr.py --hr-dir {input} --scale {wildcards.scale} --out {output} > {log} 2>&1"


rule download_asset:
    """Pretrained weight files: official teachers, frozen loss encoders."""
    output:
        f"{DATA}/weights/{{asset}}",
    wildcard_constraints:
        asset=alternation(ASSETS),
    log:
        f"logs/{P}/data/asset_{{asset}}.log",
    benchmark:
        f"benchmarks/{P}/data/asset_{{asset}}.tsv"
    threads: 1
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    shell:
        "{PY} workflow_scripts/download.py --asset {wildcards.asset} --out {output} "
        "--cache {DATA}/downloads > {log} 2>&1"
