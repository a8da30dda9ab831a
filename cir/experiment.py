"""Assemble one training job from the validated configuration.

This is the code behind ``workflow_scripts/train.py``: pick the preset, build the
student (and frozen teacher) from the model registry, the method from the method
registry, the patch sampler from the prepared data, and hand all of it to the trainer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from cir import config as cfgmod
from cir.engine import Trainer, TrainSettings
from cir.engine import distributed as ddp
from cir.errors import ConfigError
from cir.eval.evaluate import checkpoint_stand_ins
from cir.methods import METHOD_ASSETS, get_method
from cir.models import build_model, count_parameters, load_model_file


def model_params(preset: dict, backbone: str, role: str) -> dict:
    try:
        return dict(preset["models"][backbone][role])
    except KeyError as exc:
        raise ConfigError(f"presets.{preset['name']}.models.{backbone}.{role}: not defined") from exc


def train_settings(preset: dict, role: str, device: str, seed: int | None = None) -> TrainSettings:
    """The trainer settings of ``preset`` for a ``role`` network; ``seed`` overrides ``train.seed``
    (the seed replicas of a preset's ``seeds`` list)."""
    t = preset["train"]
    return TrainSettings(
        iterations=t["teacher_iterations"] if role == "teacher" else t["student_iterations"],
        batch_size=t["batch_size"], optimizer=t["optimizer"], scheduler=t["scheduler"],
        ema_decay=t["ema_decay"], grad_clip=t["grad_clip"], checkpoint_every=t["checkpoint_every"],
        val_every=t["val_every"], log_every=t["log_every"], seed=t["seed"] if seed is None else int(seed), device=device,
        extra={"lr_patch": t["lr_patch"], "augment": t["augment"]},
    )


PAPER_ITERATIONS = 250_000  # DCKD: "a total of 2.5x10^5 iterations"; method schedules are stated for it


def method_options(exp: dict, preset: dict, encoder_weights: str | os.PathLike | None) -> dict:
    """The experiment's method options with the preset's choice of loss-encoder weights:
    the official file, or an explicit random stand-in (optionally narrower) when
    ``encoder_init`` is ``random``."""
    options = dict(exp["options"])
    if METHOD_ASSETS.get(exp["method"]):
        random_init = preset["encoder_init"] == "random"
        options["encoder_weights"] = None if random_init or not encoder_weights else str(encoder_weights)
        options["encoder_stand_in"] = random_init
        if random_init and preset.get("encoder_stand_in_ch"):
            options["encoder_stand_in_ch"] = preset["encoder_stand_in_ch"]
    if "iteration_scale" in get_method(exp["method"]).defaults and "iteration_scale" not in options:
        options["iteration_scale"] = preset["train"]["student_iterations"] / PAPER_ITERATIONS
    return options


def make_validator(pair_dir: str | os.PathLike, scale: int, device: torch.device):
    """PSNR/SSIM (Y, crop border = scale) of full-image outputs, the evaluation's convention."""
    from cir.data.images import to_tensor
    from cir.data.paired import load_pairs
    from cir.eval.evaluate import quantize
    from cir.eval.infer import restore
    from cir.eval.metrics import build_metrics, sr_metric_specs

    pairs = load_pairs(pair_dir, scale)
    metrics = build_metrics(sr_metric_specs(scale), device)
    tensors = [(to_tensor(p.lr).unsqueeze(0), to_tensor(p.hr).unsqueeze(0)) for p in pairs]

    def validate(model: torch.nn.Module) -> dict[str, float]:
        sums = {name: 0.0 for name in metrics}
        for lr, hr in tensors:
            sr = quantize(restore(model, lr.to(device), scale=scale))
            hr = hr.to(device)
            for name, metric in metrics.items():
                sums[name] += float(metric(sr, hr)[0])
        return {name: v / len(tensors) for name, v in sums.items()}

    return validate


def train_job(*, config_path: str | os.PathLike, preset_name: str, scale: int, backbone: str,
              experiment_name: str, train_dirs: Sequence[str | os.PathLike], val_dir: str | os.PathLike | None,
              out: str | os.PathLike, teacher_file: str | os.PathLike | None = None,
              encoder_weights: str | os.PathLike | None = None, threads: int | None = None,
              device: str | None = None, progress: bool = True, stage_dir: str | None = None) -> Path:
    """Train experiment ``experiment_name`` of ``preset_name`` and write the model file ``out``.

    The run folder (checkpoints, logs) is the folder of ``out``; starting the same job again
    resumes from its last checkpoint. Inside a torchrun launch (``WORLD_SIZE`` > 1) this is one
    rank of a data-parallel job (:mod:`cir.engine.distributed`). With a staging directory
    (``stage_dir``, ``$CIR_STAGE_DIR`` or config.yaml's ``stage_dir``) the pair folders are
    copied there first and read from the copy (:mod:`cir.data.staging`).
    """
    cfg = cfgmod.load_and_validate(config_path)
    preset = cfgmod.preset(cfg, preset_name)
    exp = cfgmod.experiment(cfg, experiment_name)
    parallel, dev = ddp.setup(device or cfg["device"])
    try:
        return _train(cfg, preset, exp, parallel, dev, preset_name=preset_name, scale=scale,
                      backbone=backbone, experiment_name=experiment_name, train_dirs=train_dirs,
                      val_dir=val_dir, out=out, teacher_file=teacher_file, encoder_weights=encoder_weights,
                      threads=threads, device=device, progress=progress, stage_dir=stage_dir)
    finally:
        if parallel is not None:
            ddp.teardown()


def stage_inputs(train_dirs: Sequence[str | os.PathLike], val_dir: str | os.PathLike | None,
                 root: Path, parallel: ddp.DataParallel | None) -> tuple[list[Path], Path | None]:
    """Stage the pair folders under ``root``; in a data-parallel job local rank 0 copies, the
    other ranks wait for it and then find the copy."""
    from cir.data.staging import stage_pair_dir

    def stage() -> tuple[list[Path], Path | None]:
        return ([stage_pair_dir(d, root) for d in train_dirs],
                stage_pair_dir(val_dir, root) if val_dir else None)

    first = parallel is None or parallel.info.local_rank == 0
    staged = stage() if first else None
    if parallel is not None:
        parallel.barrier()
    return staged if staged is not None else stage()


def _train(cfg: dict, preset: dict, exp: dict, parallel: ddp.DataParallel | None, dev: torch.device, *,
           preset_name: str, scale: int, backbone: str, experiment_name: str,
           train_dirs: Sequence[str | os.PathLike], val_dir: str | os.PathLike | None, out: str | os.PathLike,
           teacher_file: str | os.PathLike | None, encoder_weights: str | os.PathLike | None,
           threads: int | None, device: str | None, progress: bool, stage_dir: str | None) -> Path:
    from cir.data.paired import PatchSampler
    from cir.data.staging import stage_root

    world = parallel.world_size if parallel else 1
    is_main = parallel is None or parallel.is_main
    if threads:
        torch.set_num_threads(ddp.per_rank_threads(threads, world))
    settings = train_settings(preset, exp["role"], device or cfg["device"])
    settings.progress = progress
    if is_main and os.environ.get("SLURM_JOB_ID"):
        print(f"[cir] SLURM job {os.environ['SLURM_JOB_ID']} on {os.uname().nodename}", file=sys.stderr, flush=True)

    root = stage_root(stage_dir, cfg.get("stage_dir"))
    read_train, read_val = (stage_inputs(train_dirs, val_dir, root, parallel) if root is not None
                            else (list(train_dirs), val_dir))

    torch.manual_seed(settings.seed)
    student = build_model(backbone, scale, **model_params(preset, backbone, exp["role"]))
    method_cls = get_method(exp["method"])
    teacher = None
    if method_cls.needs_teacher:
        if teacher_file is None:
            raise ConfigError(f"experiments.{experiment_name}: method {exp['method']!r} needs --teacher")
        teacher = load_model_file(teacher_file, expect_arch=backbone, expect_scale=scale)
    elif teacher_file is not None:
        raise ConfigError(f"experiments.{experiment_name}: method {exp['method']!r} takes no teacher, "
                          f"but --teacher {teacher_file} was given")
    options = method_options(exp, preset, encoder_weights)
    method = method_cls(student, teacher, options, where=f"experiments.{experiment_name}.options")

    t = preset["train"]
    if t["batch_size"] % world:
        raise ConfigError(f"presets.{preset_name}.train.batch_size: {t['batch_size']} is not divisible by "
                          f"the {world} data-parallel processes (resources.train.gpu)")
    sampler = PatchSampler(list(read_train), scale, t["lr_patch"], t["batch_size"], t["seed"], t["augment"])
    validate = make_validator(read_val, scale, dev) if (read_val and is_main) else None

    stand_ins = [f"teacher: {s}" for s in checkpoint_stand_ins(teacher_file)] if teacher_file else []
    stand_ins += method.stand_ins
    meta = {
        "name": f"{preset_name}/x{scale}/{backbone}/{experiment_name}",
        "preset": preset_name, "scale": scale, "backbone": backbone, "experiment": experiment_name,
        "role": exp["role"], "teacher_file": str(teacher_file) if teacher_file else None,
        "parameters": count_parameters(student), "train_sets": [str(d) for d in train_dirs],
        "stand_ins": stand_ins, "world_size": world,
    }
    out = Path(out)
    trainer = Trainer(method, sampler, settings, out.parent, validate=validate, meta=meta,
                      parallel=parallel, device=dev)
    return trainer.fit(out)
