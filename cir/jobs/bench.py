"""Benchmark of the trainer's training step per experiment at a preset's model sizes."""

from __future__ import annotations

import copy
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from cir import config as cfgmod
from cir.engine import Trainer, resolve_device
from cir.engine.bench import time_steps
from cir.jobs.train import method_options, train_settings
from cir.methods import get_method
from cir.models import build_model, count_parameters
from cir.spec import job_spec, model_params
from cir.tasks import parse_task
from cir.utils.device import synchronize
from cir.utils.io import write_json


class _FixedBatch:
    """A sampler that serves the same random batch at every step (timing only)."""

    def __init__(self, lq: torch.Tensor, gt: torch.Tensor):
        self.lq, self.gt = lq, gt

    def batch(self, step: int, rank: int = 0, world_size: int = 1) -> dict[str, torch.Tensor]:
        return {"lq": self.lq, "gt": self.gt}


def bench_experiments(*, config_path: str | Path, preset_name: str, task: str, backbone: str,
                      experiments: list[str], batch: int | None, patch: int | None, iters: int,
                      warmup: int, device: str, threads: int | None) -> dict:
    """Time ``iters`` steps of the trainer for each experiment at the preset's network sizes, with
    random data and random weights (the loss encoder too: the official file costs the same)."""
    cfg = copy.deepcopy(cfgmod.load_and_validate(config_path))
    cfg["presets"][preset_name]["encoder_init"] = "random"
    preset = cfgmod.preset(cfg, preset_name)
    batch = batch or preset["train"]["batch_size"]
    patch = patch or preset["train"]["lr_patch"]
    scale = parse_task(task, "--task").scale
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    lq = torch.rand(batch, 3, patch, patch, device=dev)
    gt = torch.rand(batch, 3, patch * scale, patch * scale, device=dev)
    results = {}
    for name in experiments:
        spec = job_spec(cfg, preset_name, task, backbone, name)
        spec["train"]["batch_size"] = batch
        m = spec["model"]
        student = build_model(m["arch"], m["scale"], **m["params"])
        teachers = {t: build_model(m["arch"], scale, **model_params(preset, backbone, "teacher"))
                    for t in spec["teachers"]}
        method = get_method(spec["method"])(student, teachers, method_options(spec, None),
                                            where=f"experiments.{name}.options")
        with tempfile.TemporaryDirectory() as run_dir:
            trainer = Trainer(method, _FixedBatch(lq, gt), train_settings(spec, device), run_dir, device=dev)
            runs = time_steps(trainer, iters, warmup)
        parts = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in runs[0]}
        share = {k: v / parts["total"] for k, v in parts.items() if k != "total"}
        results[name] = {
            "method": spec["method"], "role": spec["role"], "student_parameters": count_parameters(student),
            "teacher_parameters": sum(count_parameters(t) for t in teachers.values()) if teachers else None,
            "seconds": parts, "share": share, "stand_ins": method.stand_ins,
        }
        if spec["method"] == "dckd":
            alone = dckd_parts_alone(method, lq, gt, trainer.optimizers["g"], dev, reps=max(iters, 1))
            results[name]["parts_alone"] = alone
            results[name]["step_over_parts_alone"] = parts["total"] / alone["sum"]
        del method, student, teachers, trainer
    return {
        "preset": preset_name, "task": task, "scale": scale, "backbone": backbone, "batch": batch, "lr_patch": patch,
        "iterations_timed": iters, "warmup": warmup, "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "experiments": results,
    }


def write_bench(result: dict, out: str | Path) -> None:
    write_json(out, result)


def _median_seconds(fn, device: torch.device, reps: int) -> float:
    times = []
    for _ in range(reps):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def dckd_parts_alone(method, lq: torch.Tensor, gt: torch.Tensor, optimizer, device: torch.device,
                     reps: int = 3) -> dict[str, float]:
    """Each part of a DCKD iteration timed on its own, with tensors of the shapes the step uses:
    what the step would cost with no waste (one batched history call for all N negatives, one
    encoder pass per image, frozen networks in inference mode)."""
    from cir.losses.contrastive import ratio_contrastive
    from cir.losses.distribution import dmm_cross_entropy

    o, enc = method.options, method.encoder
    n, dcr, dmm = o["num_negatives"], bool(o["dcr"]), bool(o["dmm"])
    sr_like = torch.rand_like(gt)
    neg_inputs = lq.repeat(n, 1, 1, 1)
    neg_outputs = torch.rand(n * lq.shape[0], *gt.shape[1:], device=device)
    g = torch.Generator(device="cpu").manual_seed(0)

    def student_forward_backward():
        optimizer.zero_grad(set_to_none=True)
        method.student(lq).mean().backward()

    def frozen(fn):
        def run():
            with torch.inference_mode():
                fn()
        return run

    def encoder_anchor_forward_backward():
        x = sr_like.clone().requires_grad_(True)
        out = enc(x, levels=dcr, latent=dmm)
        terms = [f.mean() for f in (out.features or [])] + ([out.latent.mean()] if dmm else [])
        sum(terms).backward()

    parts = {
        "student_forward_backward": _median_seconds(student_forward_backward, device, reps),
        "teacher_forward": _median_seconds(frozen(lambda: method.teacher(lq)), device, reps),
        "optimizer": _median_seconds(optimizer.step, device, reps),
    }
    if enc is not None:
        parts["encoder_anchor_forward_backward"] = _median_seconds(encoder_anchor_forward_backward, device, reps)
        parts["encoder_positive"] = _median_seconds(frozen(lambda: enc(sr_like, levels=dcr, latent=dmm)),
                                                    device, reps)
    if dcr:
        if method.degrader is not None:
            parts["degradation"] = _median_seconds(
                frozen(lambda: method.degrader(lq, method.n_degraded, g)), device, reps)
        parts["history_forward"] = _median_seconds(frozen(lambda: method.history(neg_inputs)), device, reps)
        parts["encoder_negatives"] = _median_seconds(frozen(lambda: enc.features(neg_outputs)), device, reps)
    with torch.inference_mode():
        a = enc(sr_like, levels=dcr, latent=dmm) if enc is not None else None
        p = enc(torch.rand_like(gt), levels=dcr, latent=dmm) if enc is not None else None
        negs = [f.view(n, -1, *f.shape[1:]) for f in enc.features(neg_outputs)] if dcr else None
    t_out = torch.rand_like(gt)

    def losses_forward_backward():
        # every loss term on leaf tensors that require grad (the step's anchor output and
        # features), then backward through the losses alone: the autograd tape and the loss
        # gradients the step pays for, without the networks under them
        sr = sr_like.clone().requires_grad_(True)
        feats = [f.clone().requires_grad_(True) for f in a.features] if dcr else []
        latent = a.latent.clone().requires_grad_(True) if dmm else None
        total = (sr - gt).abs().mean() + (sr - t_out).abs().mean()
        if dcr:
            total = total + ratio_contrastive(feats, p.features, negs, o["level_weights"])
        if dmm:
            total = total + dmm_cross_entropy(latent, p.latent, enc.codebook, double_softmax=o["double_softmax"])
        total.backward()

    parts["losses_forward_backward"] = _median_seconds(losses_forward_backward, device, reps)
    # the per-step bookkeeping the step also pays: the source EMA update and the (periodic)
    # history update, exactly as the trainer calls it
    parts["after_step"] = _median_seconds(lambda: method.after_step(1), device, reps)
    parts["sum"] = sum(parts.values())
    return parts
