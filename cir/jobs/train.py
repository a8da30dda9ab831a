"""Assemble one training job from the validated configuration.

This is the code behind ``workflow_scripts/train.py``: read the job's spec (cir/spec.py), build the
student (and its frozen teachers) from the model registry, the method from the method registry,
the patch sampler from the prepared data, and hand all of it to the trainer.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from cir import spec as spec_mod
from cir.engine import Trainer, TrainSettings
from cir.engine import distributed as ddp
from cir.errors import CirError, ConfigError
from cir.eval.evaluate import checkpoint_stand_ins
from cir.losses import reconstruction_loss
from cir.methods import get_method
from cir.methods.catalog import METHOD_ASSETS
from cir.models import build_model, count_parameters, load_model_file


def train_settings(spec: dict, device: str) -> TrainSettings:
    """The trainer settings of a job spec (cir/spec.py)."""
    t = spec["train"]
    return TrainSettings(
        iterations=t["iterations"], batch_size=t["batch_size"], optimizer=t["optimizer"],
        scheduler=t["scheduler"], ema_decay=t["ema_decay"], grad_clip=t["grad_clip"],
        checkpoint_every=t["checkpoint_every"], val_every=t["val_every"], log_every=t["log_every"],
        seed=t["seed"], device=device, groups=t.get("groups", {}), amp_bf16=t.get("autocast", "bf16") == "bf16",
        extra={"lr_patch": spec["data"]["lr_patch"], "augment": spec["data"]["augment"],
               "patch_schedule": spec["data"].get("patch_schedule"), "rec_loss": t.get("rec_loss", "l1")},
    )


def method_options(spec: dict, encoder_weights: str | os.PathLike | None) -> dict:
    """The spec's method options plus the job's loss-encoder weight file (methods that load one)."""
    options = dict(spec["options"])
    if METHOD_ASSETS.get(spec["method"]):
        official = spec["encoder_init"] == "official"
        if official and not encoder_weights:
            raise ConfigError(f"method {spec['method']!r} with encoder_init: official needs --encoder-weights")
        options["encoder_weights"] = str(encoder_weights) if official else None
    return options


def load_teacher(path: str | os.PathLike, name: str, spec: dict) -> torch.nn.Module:
    """Teacher ``name`` of ``spec`` from its model file, checked: a teacher's file (not a student's),
    of the spec's architecture and scale, trained by the spec's teacher experiment."""
    from cir.engine import checkpoint as ckpt

    want = spec["teachers"][name]
    obj = ckpt.load(path)
    meta = (obj.get("meta") or {}) if isinstance(obj, dict) else {}
    if name == "teacher" and meta.get("role", "teacher") != "teacher":
        raise ConfigError(f"--teacher {name}={path}: a {meta.get('role')} model file "
                          f"(experiment {meta.get('experiment')!r}), not a teacher's")
    if meta.get("experiment") not in (None, want["experiment"]):
        raise ConfigError(f"--teacher {name}={path}: trained by experiment {meta['experiment']!r}; the spec's "
                          f"teacher {name!r} is experiment {want['experiment']!r}")
    return load_model_file(path, expect_arch=want["model"]["arch"], expect_scale=want["model"]["scale"])


def make_validator(pair_dir: str | os.PathLike, scale: int, device: torch.device, convention: str = "dckd_sr"):
    """The full-reference metrics of ``convention`` (the evaluation's: PSNR/SSIM on Y with crop
    border = scale for SR, on RGB for deblurring, ...) on full-image outputs; LPIPS too where the
    convention has it and its weights are present (Cria-CL's Fig. 1 plots it over training).
    No-reference metrics of a convention are left out: validation compares with ground truth.
    The returned function's ``names`` are the metrics it reports (the validation log's columns)."""
    from cir.data.images import to_tensor
    from cir.data.paired import load_pairs
    from cir.eval.evaluate import scored_output
    from cir.eval.infer import restore
    from cir.eval.metrics import UnavailableMetric, build_metrics, convention_specs, rounds_output

    pairs = load_pairs(pair_dir, scale)
    specs = [s for s in convention_specs(convention, scale) if s.name in ("psnr", "ssim", "lpips")]
    metrics = build_metrics(specs, device, allow_unavailable=True)
    unavailable = [name for name, m in metrics.items() if isinstance(m, UnavailableMetric)]
    if unavailable:
        print(f"[cir] validation leaves out {', '.join(unavailable)}: its weights are missing", file=sys.stderr)
    metrics = {name: m for name, m in metrics.items() if name not in unavailable}
    round_output = rounds_output(convention)
    tensors = [(to_tensor(p.lr).unsqueeze(0), to_tensor(p.hr).unsqueeze(0)) for p in pairs]

    def validate(model: torch.nn.Module) -> dict[str, float]:
        sums = {name: 0.0 for name in metrics}
        for lr, hr in tensors:
            sr = scored_output(restore(model, lr.to(device), scale=scale), round_output)
            hr = hr.to(device)
            for name, metric in metrics.items():
                sums[name] += float(metric(sr, hr)[0])
        return {name: v / len(tensors) for name, v in sums.items()}

    validate.names = tuple(metrics)
    return validate


def train_job(*, spec_path: str | os.PathLike, train_dirs: Sequence[str | os.PathLike],
              val_dir: str | os.PathLike | None, out: str | os.PathLike,
              teachers: dict[str, str | os.PathLike] | None = None, init_file: str | os.PathLike | None = None,
              encoder_weights: str | os.PathLike | None = None, threads: int | None = None,
              device: str = "auto", progress: bool = True, stage_dir: str | None = None,
              noise_pool: str | os.PathLike | None = None,
              clear_dirs: Sequence[str | os.PathLike] = ()) -> Path:
    """Train the job described by ``spec_path`` and write the model file ``out``.

    The run folder (checkpoints, logs) is the folder of ``out``; starting the same job again
    resumes from its last checkpoint when the run identity (spec + input files) is unchanged.
    Inside a torchrun launch (``WORLD_SIZE`` > 1) this is one rank of a data-parallel job
    (:mod:`cir.engine.distributed`). With a staging directory (``stage_dir`` or ``$CIR_STAGE_DIR``)
    the pair folders are copied there first and read from the copy (:mod:`cir.data.staging`).
    """
    job = spec_mod.load_spec(spec_path)
    parallel, dev = ddp.setup(device)
    try:
        return _train(job, parallel, dev, train_dirs=train_dirs, val_dir=val_dir, out=out,
                      teachers=dict(teachers or {}), init_file=init_file, encoder_weights=encoder_weights,
                      threads=threads, device=device, progress=progress, stage_dir=stage_dir,
                      noise_pool=noise_pool, clear_dirs=list(clear_dirs))
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


def _train(spec: dict, parallel: ddp.DataParallel | None, dev: torch.device, *,
           train_dirs: Sequence[str | os.PathLike], val_dir: str | os.PathLike | None, out: str | os.PathLike,
           teachers: dict[str, str | os.PathLike], init_file: str | os.PathLike | None,
           encoder_weights: str | os.PathLike | None, threads: int | None, device: str, progress: bool,
           stage_dir: str | None, noise_pool: str | os.PathLike | None = None,
           clear_dirs: Sequence[str | os.PathLike] = ()) -> Path:
    from cir.data.paired import PatchSampler
    from cir.data.staging import stage_root

    world = parallel.world_size if parallel else 1
    is_main = parallel is None or parallel.is_main
    if threads:
        torch.set_num_threads(ddp.per_rank_threads(threads, world))
    where = f"experiments.{spec['experiment']}"
    settings = train_settings(spec, device)
    settings.progress = progress
    if is_main and os.environ.get("SLURM_JOB_ID"):
        print(f"[cir] SLURM job {os.environ['SLURM_JOB_ID']} on {os.uname().nodename}", file=sys.stderr, flush=True)
    scale = int(spec["scale"])
    if sorted(teachers) != sorted(spec["teachers"]):
        raise ConfigError(f"{where}: the spec's teachers are {sorted(spec['teachers']) or 'none'}; "
                          f"given: {sorted(teachers) or 'none'} (--teacher NAME=FILE)")
    init = spec["init"]
    if isinstance(init, dict) and init_file is None:
        raise ConfigError(f"{where}.init: {init} needs --init FILE (the model file to start from)")
    if init_file is not None and not isinstance(init, dict):
        raise ConfigError(f"{where}.init: {init!r} starts from {init} weights, but --init {init_file} was given")
    t = spec["train"]
    if t["batch_size"] % world:
        raise ConfigError(f"presets.{spec['preset']}.train.batch_size: {t['batch_size']} is not divisible by "
                          f"the {world} data-parallel processes (resources.train.gpu)")

    pool = spec["data"].get("noise_pool")
    if bool(pool) != bool(noise_pool):
        raise ConfigError(f"presets.{spec['preset']}.data.per_task.{spec['task']}.noise_pool: the spec's noise pool is "
                          f"{pool!r}, but --noise-pool {noise_pool!r} was given" if noise_pool else
                          f"presets.{spec['preset']}.data.per_task.{spec['task']}.noise_pool: {pool!r} needs "
                          f"--noise-pool FOLDER (the pool's patches)")
    kind = spec["data"].get("kind", "paired")
    if (kind == "unpaired") != bool(clear_dirs):
        raise ConfigError(f"{where}.data: {kind} training data " + ("needs --clear-dir FOLDER (the clear images of "
                          "its domain adaptation)" if kind == "unpaired" else f"takes no --clear-dir (given {list(clear_dirs)})"))
    if kind == "labelled" and len(train_dirs) != len(spec["data"]["train"]):
        raise ConfigError(f"{where}.data: labelled training data takes one folder per training set "
                          f"({spec['data']['train']}); given {len(train_dirs)}")
    inputs = {f"train:{i}": d for i, d in enumerate(train_dirs)}
    inputs.update({f"clear:{i}": d for i, d in enumerate(clear_dirs)})
    inputs.update({"val": val_dir, "init": init_file, "encoder": encoder_weights, "noise": noise_pool})
    inputs.update({f"teacher:{k}": v for k, v in teachers.items()})
    identity = spec_mod.run_identity(spec, inputs)

    root = stage_root(stage_dir)
    read_train, read_val = (stage_inputs(train_dirs, val_dir, root, parallel) if root is not None
                            else (list(train_dirs), val_dir))

    torch.manual_seed(settings.seed)
    m = spec["model"]
    student = build_model(m["arch"], m["scale"], **m["params"])
    if init_file is not None and m["arch"] == "criacl" and isinstance(init, dict) and "file" not in init:
        # Cria-CL starts from a PSNR-oriented RRDB (ESRGAN's released model; the demo's own): its trunk,
        # the head keeps its initialisation (the public configuration's RRDB_PSNR_x4.pth, strict_load: false)
        from cir.models.criacl import load_esrgan_trunk

        try:
            start = (load_model_file(init_file, expect_arch="criacl", expect_scale=m["scale"]).state_dict()
                     if "experiment" in init else torch.load(init_file, map_location="cpu", weights_only=True))
            load_esrgan_trunk(student, start)
        except (CirError, RuntimeError, ValueError, KeyError) as exc:
            raise ConfigError(f"{where}.init: {init_file} does not fit the student's RRDB trunk "
                              f"({str(exc).splitlines()[0]})") from exc
    elif init_file is not None:
        start = load_model_file(init_file, expect_arch=m["arch"], expect_scale=m["scale"])
        try:
            student.load_state_dict(start.state_dict())
        except RuntimeError as exc:
            raise ConfigError(f"{where}.init: {init_file} does not fit the student "
                              f"({str(exc).splitlines()[0]})") from exc
    teacher_nets = {name: load_teacher(path, name, spec) for name, path in teachers.items()}
    method_cls = get_method(spec["method"])
    method = method_cls(student, teacher_nets, method_options(spec, encoder_weights), where=f"{where}.options")
    method.rec_loss = reconstruction_loss(t.get("rec_loss", "l1"))

    schedule = spec["data"].get("patch_schedule")
    if kind == "unpaired":   # real degraded images per type + clear images (Uni-Removal's adaptation)
        from cir.data.unpaired import UnpairedSampler

        sampler = UnpairedSampler(list(read_train), list(clear_dirs), spec["data"]["lr_patch"], t["batch_size"],
                                  t["seed"], spec["data"]["augment"])
    else:
        sampler = PatchSampler(list(read_train), scale, spec["data"]["lr_patch"], t["batch_size"], t["seed"],
                               spec["data"]["augment"], **({"schedule": [tuple(r) for r in schedule]} if schedule else {}),
                               pad_small=spec["data"].get("pad_small", False), noise_pool=noise_pool,
                               labelled=kind == "labelled")
    if getattr(sampler, "storage", "memory") == "disk":  # decode each rank's share into the shared cache once, before step 0
        sampler.fill_cache(parallel.rank if parallel else 0, world)
        if parallel is not None:
            parallel.barrier()
    validate = make_validator(read_val, scale, dev, spec["convention"]) if (read_val and is_main) else None

    stand_ins = [f"{name}: {s}" for name, path in teachers.items() for s in checkpoint_stand_ins(path)]
    stand_ins += method.stand_ins
    meta = {
        "name": f"{spec['preset']}/{spec['task']}/{spec['backbone']}/{spec['experiment']}",
        "preset": spec["preset"], "task": spec["task"], "scale": scale, "backbone": spec["backbone"],
        "experiment": spec["experiment"], "role": spec["role"],
        "teacher_files": {k: str(v) for k, v in teachers.items()},
        "init_file": str(init_file) if init_file else None, "convention": spec["convention"],
        "parameters": count_parameters(student), "train_sets": [str(d) for d in train_dirs],
        "clear_sets": [str(d) for d in clear_dirs],
        "stand_ins": stand_ins, "world_size": world, "spec_hash": spec_mod.spec_hash(spec),
    }
    out = Path(out)
    trainer = Trainer(method, sampler, settings, out.parent, validate=validate, meta=meta,
                      parallel=parallel, device=dev, identity=identity)
    return trainer.fit(out)
