# Stage 1: data. Raw HR images (built-in photos or downloaded archives), then LR/HR pairs
# per scale (mod-crop + MATLAB-compatible bicubic); for scale-1 tasks, degraded -> clean pairs
# (downloaded paired sets, or synthetic degradations of the built-in photos).

from cir.data.registry import ASSETS, DATASETS, PAIRED_DATASETS
from cir.tasks import FAMILY_SUFFIX, RESTORATION_TASKS
from cir.eval import assets as metric_assets

# Weight files of the image-quality metrics live where pyiqa and torchvision read them
# ($TORCH_HOME/hub, by default .cache/torch/hub: the same default every job computes).
METRIC_HUB = metric_assets.shown_path(metric_assets.hub_dir())
METRIC_FILES = [metric_assets.shown_path(metric_assets.asset_path(n)) for n in metric_assets.metric_asset_names()]
_PYIQA_ASSETS = [n for n in metric_assets.metric_asset_names() if metric_assets.asset_path(n).parent.name == "pyiqa"]
_TORCHVISION_ASSETS = [n for n in metric_assets.metric_asset_names() if n not in _PYIQA_ASSETS]
_PACKAGE_ONLY = [n for n in metric_assets.PACKAGE_FILES if n not in metric_assets.metric_asset_names()]

from cir.config import BUILTIN_SETS

BUILTIN = list(BUILTIN_SETS)
# synthetic set suffix (blur, blur_real, ...) -> (degradation, family)
SYNTH_KINDS = {f"{t.degradation}{suffix}": (t.degradation, family)
               for t in RESTORATION_TASKS.values() if t.degradation for family, suffix in FAMILY_SUFFIX.items()}


rule builtin_photos:
    output:
        directory(f"{DATA}/raw/skimage_{{split}}"),
    wildcard_constraints:
        split=alternation(s.removeprefix("skimage_") for s in BUILTIN),
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
    wildcard_constraints:
        scale="[2-8]",
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


rule download_pairs:
    """A paired data set of the registry (degraded -> clean, scale 1): LR/ (input), HR/ (target)."""
    output:
        directory(f"{DATA}/pairs/{{dataset}}"),
    wildcard_constraints:
        dataset=alternation(PAIRED_DATASETS),
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


rule synth_pairs:
    """Synthetic pairs of a scale-1 task from clean photographs (cir/data/synthetic.py): the set
    <clean>_<degradation> (family 'synthetic') or <clean>_<degradation>_real ('real_like'); every
    random parameter is in the folder's manifest."""
    input:
        f"{DATA}/raw/{{clean}}",
    output:
        directory(f"{DATA}/pairs/{{clean}}_{{degradation}}"),
    wildcard_constraints:
        clean=alternation(BUILTIN),
        degradation=alternation(SYNTH_KINDS),
    log:
        f"logs/{P}/data/synth_{{clean}}_{{degradation}}.log",
    benchmark:
        f"benchmarks/{P}/data/synth_{{clean}}_{{degradation}}.tsv"
    params:
        kind=lambda wc: SYNTH_KINDS[wc.degradation][0],
        family=lambda wc: SYNTH_KINDS[wc.degradation][1],
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    shell:
        "{PY} workflow_scripts/synth_pairs.py --clean-dir {input} --kind {params.kind} "
        "--family {params.family} --seed 0 --out {output} > {log} 2>&1"


# The Impressionism recipe (cir/data/impressionism.py) that Cria-CL's public training config uses
# for NTIRE 2020 track 1: x4 pairs made from unpaired source/target training images (pair set ->
# its (source, target) HR-style registry sets), and noise pools whose patches the training sampler
# adds to its LR patches (PatchSampler(noise_pool=<DATA>/noise/<pool>)).
from cir.data.registry import IMPRESSIONISM_PAIRS
# A noise pool <DATA>/noise/<set> is cut from <DATA>/raw/<set> when <set> is a raw image set (a
# registry HR set such as NTIRE2020_T1_source, as the authors do with the track's source images,
# or a built-in photo set), else from the LR (degraded) side of the pair folder <DATA>/pairs/<set>.
# Patches are 256 pixels (the authors' DF2K/NTIRE setting); <set>-p<N> uses N-pixel patches (for
# small images such as the demo's). Variance < 20 and mean > 0 always (their setting).
_NOISE_RAW = [*DATASETS, *BUILTIN]
_NOISE_PAIRS = [*PAIRED_DATASETS, *IMPRESSIONISM_PAIRS, *(f"{c}_{d}" for c in BUILTIN for d in SYNTH_KINDS)]
_NOISE_PATCH = 256


def _noise_set(pool):
    """(set, patch) of a noise pool name <set> or <set>-p<patch>."""
    name, sep, patch = pool.rpartition("-p")
    return (name, int(patch)) if sep and patch.isdigit() else (pool, _NOISE_PATCH)


def _noise_input(wc):
    name = _noise_set(wc.pool)[0]
    return f"{DATA}/raw/{name}" if name in _NOISE_RAW else f"{DATA}/pairs/{name}"


rule impressionism_pairs:
    """x4 training pairs of NTIRE 2020 track 1 by the Impressionism recipe: source images cleaned up
    by a bicubic x1/2 downscale (src_*), target images as they are (tgt_*), LR = bicubic x1/4."""
    input:
        source=lambda wc: f"{DATA}/raw/{IMPRESSIONISM_PAIRS[wc.dataset][0]}",
        target=lambda wc: f"{DATA}/raw/{IMPRESSIONISM_PAIRS[wc.dataset][1]}",
    output:
        directory(f"{DATA}/pairs/{{dataset}}"),
    wildcard_constraints:
        dataset=alternation(IMPRESSIONISM_PAIRS),
    log:
        f"logs/{P}/data/impressionism_{{dataset}}.log",
    benchmark:
        f"benchmarks/{P}/data/impressionism_{{dataset}}.tsv"
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    shell:
        "{PY} workflow_scripts/prepare_impressionism.py --source-dir {input.source} --target-dir {input.target} "
        "--scale 4 --out {output} > {log} 2>&1"


rule noise_pool:
    """Impressionism noise pool: the flat (gray variance < 20) patches of a raw image set or of a pair
    set's LR images, injected into LR training patches by the sampler."""
    input:
        _noise_input,
    output:
        directory(f"{DATA}/noise/{{pool}}"),
    wildcard_constraints:
        pool=f"(?:{alternation(_NOISE_RAW + _NOISE_PAIRS)})(?:-p[0-9]+)?",
    log:
        f"logs/{P}/data/noise_{{pool}}.log",
    benchmark:
        f"benchmarks/{P}/data/noise_{{pool}}.tsv"
    params:
        image_dir=lambda wc, input: input[0] if _noise_set(wc.pool)[0] in _NOISE_RAW else f"{input[0]}/LR",
        patch=lambda wc: _noise_set(wc.pool)[1],
    threads: res("data", "threads")
    resources:
        mem_mb=res("data", "mem_mb"),
        runtime=res("data", "runtime"),
    shell:
        "{PY} workflow_scripts/prepare_impressionism.py --noise-pool --image-dir {params.image_dir} "
        "--patch {params.patch} --max-variance 20 --min-mean 0 --out {output} > {log} 2>&1"


rule download_asset:
    """Pretrained weight files: official teachers, frozen loss encoders."""
    output:
        f"{DATA}/weights/{{asset}}",
    wildcard_constraints:
        asset=alternation([n for n, e in ASSETS.items() if e.kind != "metric"]),
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


# Metric weights: `snakemake --cores 1 assets` fetches every file the metrics can use
# (pyiqa never downloads by itself); `metric_assets_from_packages` takes the files that PyPI
# packages ship (LPIPS heads from lpips, the LIVE NIQE model from BasicSR) and needs no download
# except `pip download`.

localrules:
    metric_asset,
    torchvision_asset,
    metric_package_file,
    assets,
    metric_assets_from_packages,


rule metric_asset:
    """A weight file pyiqa would download (LPIPS heads, NIQE and BRISQUE models)."""
    output:
        f"{METRIC_HUB}/pyiqa/{{asset}}",
    wildcard_constraints:
        asset=alternation(_PYIQA_ASSETS),
    log:
        f"logs/{P}/data/metric_asset_{{asset}}.log",
    threads: 1
    shell:
        "{PY} workflow_scripts/metric_assets.py --asset {wildcards.asset} --out {output} > {log} 2>&1"


rule torchvision_asset:
    """A torchvision weight file a metric builds on (the AlexNet backbone of LPIPS)."""
    output:
        f"{METRIC_HUB}/checkpoints/{{asset}}",
    wildcard_constraints:
        asset=alternation(_TORCHVISION_ASSETS),
    log:
        f"logs/{P}/data/metric_asset_{{asset}}.log",
    threads: 1
    shell:
        "{PY} workflow_scripts/metric_assets.py --asset {wildcards.asset} --out {output} > {log} 2>&1"


rule metric_package_file:
    """A metric weight file shipped inside a PyPI package (checked against its pinned sha256)."""
    output:
        f"{METRIC_HUB}/pyiqa/{{pkgfile}}",
    wildcard_constraints:
        pkgfile=alternation(_PACKAGE_ONLY),
    log:
        f"logs/{P}/data/metric_package_{{pkgfile}}.log",
    threads: 1
    shell:
        "{PY} workflow_scripts/metric_assets.py --package-file {wildcards.pkgfile} --out {output} > {log} 2>&1"


rule assets:
    """Every metric weight file (download stage)."""
    input:
        METRIC_FILES,


rule metric_assets_from_packages:
    """The metric weight files available from PyPI packages alone."""
    input:
        [metric_assets.shown_path(metric_assets.asset_path(n)) for n in metric_assets.PACKAGE_FILES],
