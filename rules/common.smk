# Paths and helpers shared by the rule files. Every rule runs one workflow_scripts CLI;
# dvc.yaml is generated from this DAG (workflow_scripts/export_dvc.py) so both run the
# same command lines.

import json
import os

from snakemake.exceptions import WorkflowError

from cir import spec as cir_spec
from cir.config import backbone_arch
from cir.methods.catalog import METHOD_ASSETS
from cir.paper.defs import figure_def, figure_defs as cir_figure_defs, figure_experiments, table_def
from cir.paper.defs import table_defs as cir_table_defs, complexity_defs as cir_complexity_defs
from cir.paper.defs import curve_defs as cir_curve_defs, efficiency_defs as cir_efficiency_defs
from cir.tasks import TASK_PATTERN, parse_task

PY = "python"
# config.yaml's experiments plus the seed replicas (<student>_seed<N>) of the preset's `seeds`.
# (and the replicas of the tables that report a mean of several runs per row: DRCNet's Table 1)
from cir.paper.defs import averaged_rows

EXPERIMENTS = cir_config.experiments_with_replicas(
    config, PRESET, {e: cir_config.table_seeds(PRESET, n) for e, n in averaged_rows().items()})
# Any experiment of config.yaml can be built in any preset (the ablation tables use their own
# rows); a preset's `experiments` list is what Table 2 runs.
TEACHER_EXPS = [e for e, x in EXPERIMENTS.items() if x["role"] == "teacher"]
# students trained on pairs (rules/students.smk) and by domain adaptation on unpaired images (rules/adapt.smk)
STUDENT_EXPS = [e for e, x in EXPERIMENTS.items() if x["role"] == "student" and x.get("data") != "unpaired"]
ADAPT_EXPS = [e for e, x in EXPERIMENTS.items() if x["role"] == "student" and x.get("data") == "unpaired"]
# teachers trained here: all of them at teacher_init: pretrain, else those with an init of their own
# (Uni-Removal's dehazing MPRNet: no published one); the others are imported (rules/teachers.smk)
TRAINED_TEACHERS = [e for e in TEACHER_EXPS if PRESET["teacher_init"] == "pretrain" or "init" in EXPERIMENTS[e]]
IMPORTED_TEACHERS = [e for e in TEACHER_EXPS if e not in TRAINED_TEACHERS]
TASKS = PRESET["tasks"]


def res(stage, key):
    """Per-job resources of the preset (threads, mem_mb, runtime in minutes, gpu)."""
    return PRESET["resources"][stage][key]


def pairs_dir(dataset, task):
    """The pair folder of ``dataset`` for ``task``: bicubic SR pairs per factor, or the degraded ->
    clean pairs of a scale-1 task (downloaded, or synthetic from clean photographs)."""
    if parse_task(task).kind == "sr":
        return f"{DATA}/sr/{dataset}/{task}"
    return f"{DATA}/pairs/{dataset}"


def task_sets(task):
    """``{"train": [...], "test": [...]}``: the preset's data sets of ``task``."""
    return cir_config.task_data(PRESET, task)


def run_dir(task, backbone, exp):
    return f"{RUNS}/{P}/{task}/{backbone}/{exp}"


def model_file(task, backbone, exp):
    return f"{run_dir(task, backbone, exp)}/model.pt"


def spec_file(task, backbone, exp):
    return f"{run_dir(task, backbone, exp)}/spec.json"


def summary_file(task, backbone, exp):
    return f"{RESULTS}/{P}/eval/{task}/{backbone}/{exp}/summary.json"


def train_dirs(wc):
    """The training folders: the task's pair folders, or, for domain adaptation (data: unpaired), the
    folders of its real degraded images (the adapt sets' LR/ images)."""
    if EXPERIMENTS[wc.exp].get("data") == "unpaired":
        return [pairs_dir(d, wc.task) for d in adapt_sets(wc.task)["degraded"]]
    return [pairs_dir(d, wc.task) for d in task_sets(wc.task)["train"]]


def adapt_sets(task):
    sets = cir_config.task_adapt_data(PRESET, task)
    if sets is None:
        raise WorkflowError(f"presets.{P}.data.per_task.{task}.adapt: not set; the domain adaptation of {task} "
                            "needs its degraded and clear sets")
    return sets


def clear_dir(dataset, task):
    """A clear-image folder of domain adaptation: a raw image set (built-in photos, a registry HR
    set) as downloaded, else a pair folder (its HR/ images)."""
    from cir.config import BUILTIN_SETS
    from cir.data.registry import DATASETS

    return f"{DATA}/raw/{dataset}" if dataset in BUILTIN_SETS or dataset in DATASETS else pairs_dir(dataset, task)


def val_dir(wc):
    return pairs_dir(task_sets(wc.task)["test"][0], wc.task)


def test_dirs(wc):
    return {d: pairs_dir(d, wc.task) for d in task_sets(wc.task)["test"]}


def job_spec(wc):
    return cir_spec.job_spec(config, P, wc.task, wc.backbone, wc.exp)


def runs_at(exp, task):
    """Whether the paper reports experiment ``exp`` at ``task`` (its `tasks`, default: all)."""
    return task in EXPERIMENTS[exp].get("tasks", TASKS)


def alternation(names):
    """A wildcard regex matching exactly one of ``names`` (``(?!)`` matches nothing)."""
    import re

    return "|".join(re.escape(n) for n in names) if names else "(?!)"


def resolved_config_file():
    """The configuration file the spec jobs read: config.yaml itself, or, when --config /
    --configfile changed anything, the resolved configuration written once (content-addressed)
    under .snakemake/cir/, so that the jobs see exactly the values this workflow validated."""
    import hashlib
    import json

    import yaml

    if config == cir_config.load_yaml("config.yaml"):
        return "config.yaml"
    text = yaml.safe_dump(dict(config), sort_keys=True)
    path = f".snakemake/cir/config-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    if not os.path.exists(path):
        from cir.utils.io import write_text

        write_text(path, text)
    return path


CONFIG_FILE = resolved_config_file()


wildcard_constraints:
    task=TASK_PATTERN,
    backbone=alternation(PRESET["backbones"]),


rule job_spec:
    """The resolved spec of one training job (cir/spec.py); the job reads it, never config.yaml.
    Its digest is a param: Snakemake rewrites the file, and so retrains, exactly when it changes."""
    output:
        spec_file("{task}", "{backbone}", "{exp}"),
    wildcard_constraints:
        exp=alternation(EXPERIMENTS),
    log:
        f"logs/{P}/spec/{{task}}_{{backbone}}_{{exp}}.log",
    params:
        digest=lambda wc: cir_spec.spec_hash(job_spec(wc)),
    threads: 1
    shell:
        "{PY} workflow_scripts/write_spec.py --config {CONFIG_FILE} --preset {P} --task {wildcards.task} "
        "--backbone {wildcards.backbone} --experiment {wildcards.exp} --expect {params.digest} --out {output} "
        "> {log} 2>&1"


def launch_args():
    """Options of how a training job runs, not of what it computes: the device, data-parallel
    processes (one per GPU of the preset's resources.train.gpu, when more than one) and the
    node-local staging directory (config key stage_dir, expanded on the compute node). Part of
    the command, not of the spec, so that changing them does not retrain finished models.
    Leading space: no option leaves no double space."""
    args = f" --device {config['device']}"
    k = res("train", "gpu")
    args += f" --nproc-per-node {k}" if k > 1 else ""
    if config.get("stage_dir"):
        args += f" --stage-dir '{config['stage_dir']}'"
    return args


TRAIN_LAUNCH = launch_args()


def train_inputs(wc):
    """A training job's inputs: its spec, the pair folders, its teachers' model files, the model it
    starts from, and, at encoder_init: official, its loss encoder's weights."""
    exp = EXPERIMENTS[wc.exp]
    inputs = {"spec": spec_file(wc.task, wc.backbone, wc.exp), "train": train_dirs(wc), "val": val_dir(wc)}
    for name, tref in exp.get("teachers", {}).items():   # a teacher may be trained at another task
        texp, ttask = cir_config.teacher_ref(tref)
        inputs[f"teacher_{name}"] = model_file(ttask or wc.task, wc.backbone, texp)
    init = job_spec(wc)["init"]   # the experiment's own, else its recipe's (Cria-CL: a PSNR-oriented RRDB)
    if isinstance(init, dict):
        inputs["init"] = (model_file(wc.task, wc.backbone, init["experiment"]) if "experiment" in init
                          else f"{DATA}/weights/{init['asset']}" if "asset" in init else init["file"])
    if exp.get("data") == "unpaired":
        inputs["clear_images"] = [clear_dir(d, wc.task) for d in adapt_sets(wc.task)["clear"]]
    pool = cir_config.task_noise_pool(PRESET, wc.task)
    if pool:   # Impressionism's noise patches, added to the LR patches (Cria-CL on NTIRE 2020)
        inputs["noise"] = f"{DATA}/noise/{pool}"
    assets = METHOD_ASSETS.get(exp["method"], ())
    if assets and PRESET["encoder_init"] == "official":
        inputs["encoder"] = f"{DATA}/weights/{assets[0]}"
    return inputs


def train_args(wc, input):
    """The command-line options naming a training job's input files."""
    args = " ".join(f"--train-dir {d}" for d in input.train)
    args += "".join(f" --teacher {k[len('teacher_'):]}={input[k]}" for k in input.keys() if k.startswith("teacher_"))
    args += f" --init {input.init}" if "init" in input.keys() else ""
    args += f" --encoder-weights {input.encoder}" if "encoder" in input.keys() else ""
    args += f" --noise-pool {input.noise}" if "noise" in input.keys() else ""
    args += "".join(f" --clear-dir {d}" for d in input.clear_images) if "clear_images" in input.keys() else ""
    return args


TRAIN_CMD = ("{PY} workflow_scripts/train.py --spec {input.spec} {params.inputs} --val-dir {input.val} "
             "--out {output} --threads {threads}{TRAIN_LAUNCH} > {log} 2>&1")
