# Paths and helpers shared by the rule files. Every rule runs one workflow_scripts CLI;
# dvc.yaml is generated from this DAG (workflow_scripts/export_dvc.py) so both run the
# same command lines.

PY = "python"
# config.yaml's experiments plus the seed replicas (<student>_seed<N>) of the preset's `seeds`.
EXPERIMENTS = cir_config.experiments_with_replicas(config, PRESET)
# Any experiment of config.yaml can be built in any preset (the ablation tables use their own
# rows); a preset's `experiments` list is what Table 2 runs.
TEACHER_EXPS = [e for e, x in EXPERIMENTS.items() if x["role"] == "teacher"]
STUDENT_EXPS = [e for e, x in EXPERIMENTS.items() if x["role"] == "student"]


def res(stage, key):
    """Per-job resources of the preset (threads, mem_mb, runtime in minutes, gpu)."""
    return PRESET["resources"][stage][key]


def pairs_dir(dataset, scale):
    return f"{DATA}/sr/{dataset}/x{scale}"


def model_file(scale, backbone, exp):
    return f"{RUNS}/{P}/x{scale}/{backbone}/{exp}/model.pt"


def summary_file(scale, backbone, exp):
    return f"{RESULTS}/{P}/eval/x{scale}/{backbone}/{exp}/summary.json"


def train_dirs(wc):
    return [pairs_dir(d, wc.scale) for d in PRESET["data"]["train"]]


def val_dir(wc):
    return pairs_dir(PRESET["data"]["test"][0], wc.scale)


def test_dirs(wc):
    return {d: pairs_dir(d, wc.scale) for d in PRESET["data"]["test"]}


def settings_fingerprint(wc):
    """A digest of every config value a training job reads. Declared as a rule param (not part
    of the command line), it makes Snakemake retrain when config.yaml changes those values."""
    import hashlib
    import json

    blob = {"train": PRESET["train"], "models": PRESET["models"][wc.backbone], "data": PRESET["data"],
            "experiment": EXPERIMENTS[wc.exp], "encoder": [PRESET["encoder_init"], PRESET.get("encoder_stand_in_ch")]}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def alternation(names):
    """A wildcard regex matching exactly one of ``names`` (``(?!)`` matches nothing)."""
    import re

    return "|".join(re.escape(n) for n in names) if names else "(?!)"


wildcard_constraints:
    scale="[0-9]+",
    backbone=alternation(PRESET["backbones"]),
