"""The resolved spec of one training job, and the run identity built from it.

A job is (preset, task, backbone, experiment). :func:`job_spec` resolves everything the job
computes with from the validated configuration: the method and its options, the student's
architecture and size, its teachers by name, how it starts, the data it reads, the metric
convention and the trainer settings. ``workflow_scripts/write_spec.py`` writes it to
``<run folder>/spec.json`` (a rule of its own, so Snakemake and DVC rerun it when the config values
it reads change); the training job reads that file and never config.yaml.

The **run identity** is the hash of the spec plus the digests of the job's input files (teacher
model files, data manifests, initial weights, encoder weights). The trainer resumes a checkpoint
only when it carries the same identity: a new teacher, new data or a changed option trains again
from step 0, an unchanged rerun resumes. Torch-free: the Snakefile imports it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cir import config as cfgmod
from cir.errors import ConfigError
from cir.tasks import parse_task

FORMAT = 1
PAPER_ITERATIONS = 250_000  # DCKD: "a total of 2.5x10^5 iterations"; method schedules are stated for it

# The trainer settings a spec carries (cir.engine.TrainSettings fields).
_TRAIN_KEYS = ("batch_size", "optimizer", "scheduler", "ema_decay", "grad_clip", "checkpoint_every",
               "val_every", "log_every", "seed")


def model_params(preset: dict, backbone: str, role: str) -> dict:
    try:
        return copy.deepcopy(dict(preset["models"][backbone][role]))
    except KeyError as exc:
        raise ConfigError(f"presets.{preset['name']}.models.{backbone}.{role}: not defined") from exc


def method_options(exp: dict, preset: dict, train: dict | None = None) -> dict:
    """The experiment's method options with what the preset decides: the loss encoder's weights
    (official file, or an explicit random stand-in, optionally narrower) and the iteration scale
    of methods whose schedules the paper states for 2.5e5 iterations."""
    from cir.methods.catalog import ITERATION_SCALED, METHOD_ASSETS, METHOD_OPTIONS

    # the preset's settings for every experiment of a method (e.g. a short demo's SPN step scale),
    # under the experiment's own options
    # the preset's settings for every experiment of a method, then the recipe's (DRCNet's loss weight
    # per data set), under the experiment's own options
    options = {**copy.deepcopy(preset.get("method_options", {}).get(exp["method"], {})),
               **copy.deepcopy((train or {}).get("method_options", {}).get(exp["method"], {})),
               **copy.deepcopy(dict(exp["options"]))}
    if METHOD_ASSETS.get(exp["method"]):
        random_init = preset["encoder_init"] == "random"
        options["encoder_stand_in"] = random_init
        narrowed = "encoder_stand_in_ch" in METHOD_OPTIONS[exp["method"]]  # the VQGAN encoder's width
        if random_init and narrowed and preset.get("encoder_stand_in_ch"):
            options["encoder_stand_in_ch"] = preset["encoder_stand_in_ch"]
    if exp["method"] in ITERATION_SCALED and "iteration_scale" not in options:
        options["iteration_scale"] = (train or preset["train"])["student_iterations"] / PAPER_ITERATIONS
    return options


def job_spec(cfg: dict, preset_name: str, task: str, backbone: str, experiment: str) -> dict[str, Any]:
    """The resolved spec of one training job (plain JSON data)."""
    preset = cfgmod.preset(cfg, preset_name)
    exp = cfgmod.experiment(cfg, experiment)
    t = parse_task(task)
    if backbone not in preset["backbones"]:
        raise ConfigError(f"presets.{preset_name}.backbones: {backbone!r} is not one of {preset['backbones']}")
    role = exp["role"]
    arch = cfgmod.backbone_arch(preset, backbone)
    train = cfgmod.train_settings(preset, t.name, backbone, experiment)
    sets = cfgmod.task_data(preset, t.name)
    init: Any = exp.get("init", "random")
    if role == "teacher" and "init" not in exp:
        init = "official" if preset["teacher_init"] == "official" else "random"
    elif "init" not in exp and train.get("init") and \
            train["init"].get("experiment") != cfgmod.split_replica(experiment)[0]:
        init = copy.deepcopy(train["init"])   # the recipe's start (Cria-CL: a PSNR-oriented RRDB's trunk)
    _, seed = cfgmod.split_replica(experiment)
    if seed is not None and isinstance(init, dict) and init.get("experiment") in preset["experiments"] and \
            cfgmod.experiment(cfg, init["experiment"])["role"] == "student":
        # a seed replica starts from the same seed's replica of its start (Uni-Removal: ur_da_seed1 from ur_kt_seed1)
        init = {**init, "experiment": cfgmod.replica_name(init["experiment"], seed, preset)}
    groups = copy.deepcopy(exp.get("groups", {}))
    kind = exp.get("data", "paired")
    adapt = None
    if kind == "unpaired":   # domain adaptation: real degraded and clear images, no pairs (Uni-Removal)
        adapt = cfgmod.task_adapt_data(preset, t.name)
        if adapt is None:
            raise ConfigError(f"experiments.{experiment}.data: unpaired needs presets.{preset_name}.data.per_task."
                              f"{t.name}.adapt (its degraded and clear sets)")
    return {
        "format": FORMAT,
        "preset": preset_name,
        "task": t.name,
        "scale": t.scale,
        "backbone": backbone,
        "experiment": experiment,
        "replica_of": exp.get("replica_of"),
        "method": exp["method"],
        "role": role,
        "options": method_options(exp, preset, train),
        # the preset's network of the backbone, with what the experiment changes (DRCNet's sweeps)
        "model": {"arch": arch, "scale": t.scale,
                  "params": {**model_params(preset, backbone, role), **copy.deepcopy(exp.get("model", {}))}},
        # a teacher trained at another task (Uni-Removal's haze, rain and blur teachers) says which
        "teachers": {name: {"experiment": texp, "task": ttask or t.name, "model": {"arch": arch, "scale": t.scale}}
                     for name, (texp, ttask) in ((n, cfgmod.teacher_ref(v)) for n, v in exp.get("teachers", {}).items())},
        "init": init,
        "data": {"kind": kind, "source": preset["data"]["source"],
                 "train": adapt["degraded"] if adapt else sets["train"], "val": sets["test"][0],
                 **({"clear": adapt["clear"]} if adapt else {}),
                 "lr_patch": train["lr_patch"], "augment": train["augment"],
                 "patch_schedule": copy.deepcopy(train.get("patch_schedule")),
                 "pad_small": bool(train.get("pad_small", False)),
                 # Impressionism's noise injection (Cria-CL on NTIRE 2020): a pool of noise patches
                 "noise_pool": cfgmod.task_noise_pool(preset, t.name)},
        "convention": exp.get("convention", cfgmod.task_convention(preset, t.name)),
        "encoder_init": preset["encoder_init"],
        "train": {
            "iterations": train["teacher_iterations"] if role == "teacher" else train["student_iterations"],
            **{k: copy.deepcopy(train[k]) for k in _TRAIN_KEYS},
            "seed": int(exp.get("seed", train["seed"])),
            "rec_loss": train.get("rec_loss", "l1"),
            "autocast": train.get("autocast", "bf16"),
            "groups": groups,
        },
    }


def config_keys_read(cfg: dict, preset_name: str, backbone: str, experiment: str) -> list[str]:
    """The config key paths :func:`job_spec` reads for one job (a DVC stage's ``params``)."""
    base = cfgmod.experiment(cfg, experiment).get("replica_of") or experiment
    at = f"presets.{preset_name}"
    keys = [f"experiments.{base}", f"{at}.backbones", f"{at}.data", f"{at}.encoder_init", f"{at}.teacher_init",
            f"{at}.models.{backbone}", f"{at}.train"]
    # The recipes as a whole (their keys hold a '/'): a spec job whose spec does not change
    # rewrites the same file, which reruns nothing downstream.
    if cfg["presets"][preset_name].get("recipes"):
        keys.append(f"{at}.recipes")
    if "encoder_stand_in_ch" in cfg["presets"][preset_name]:
        keys.append(f"{at}.encoder_stand_in_ch")
    return keys


def canonical(spec: Mapping) -> str:
    return json.dumps(spec, sort_keys=True, indent=1) + "\n"


def spec_hash(spec: Mapping) -> str:
    return hashlib.sha256(canonical(spec).encode()).hexdigest()[:16]


def write_spec(path: str | os.PathLike, spec: Mapping) -> Path:
    from cir.utils.io import write_text

    path = Path(path)
    write_text(path, canonical(spec))
    return path


def load_spec(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    try:
        spec = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the job spec: {exc.strerror} "
                          "(it is written by the workflow's spec rule: workflow_scripts/write_spec.py)") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not a valid job spec (JSON error: {exc})") from exc
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a job spec of format {FORMAT}; write it again with workflow_scripts/write_spec.py")
    return spec


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of a file, or of a prepared pair folder's manifest.json (the folder's content list)."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read an input of the job: {exc.strerror}") from exc
    return h.hexdigest()


def run_identity(spec: Mapping, inputs: Mapping[str, str | os.PathLike | None]) -> str:
    """The spec's hash plus the digests of the job's input files, named by role
    (``{"teacher:teacher": model.pt, "train:0": pair folder, ...}``; ``None`` entries are skipped)."""
    blob = {"spec": spec_hash(spec),
            "inputs": {k: file_digest(v) for k, v in sorted(inputs.items()) if v is not None}}
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]
