"""Benchmark of one training iteration per experiment at a preset's model sizes."""

from __future__ import annotations

import platform
import statistics
from pathlib import Path

import torch

from cir import config as cfgmod
from cir.engine import resolve_device
from cir.engine.bench import time_iteration
from cir.engine.optim import build_optimizer
from cir.experiment import method_options, model_params
from cir.methods import get_method
from cir.models import build_model, count_parameters
from cir.utils.io import write_json


def bench_experiments(*, config_path: str | Path, preset_name: str, scale: int, backbone: str,
                      experiments: list[str], batch: int | None, patch: int | None, iters: int,
                      warmup: int, device: str, threads: int | None) -> dict:
    cfg = cfgmod.load_and_validate(config_path)
    preset = cfgmod.preset(cfg, preset_name)
    batch = batch or preset["train"]["batch_size"]
    patch = patch or preset["train"]["lr_patch"]
    dev = resolve_device(device)
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    lq = torch.rand(batch, 3, patch, patch, device=dev)
    gt = torch.rand(batch, 3, patch * scale, patch * scale, device=dev)
    results = {}
    for name in experiments:
        exp = cfgmod.experiment(cfg, name)
        student = build_model(backbone, scale, **model_params(preset, backbone, exp["role"])).to(dev)
        cls = get_method(exp["method"])
        teacher = None
        if cls.needs_teacher:
            teacher = build_model(backbone, scale, **model_params(preset, backbone, "teacher")).to(dev)
        # timing only: random encoder weights cost the same as the official ones, so the
        # benchmark never needs the weight file (the preset's stand-in width still applies)
        options = method_options(exp, {**preset, "encoder_init": "random"}, None)
        method = cls(student, teacher, options, where=f"experiments.{name}.options").to(dev)
        opt = build_optimizer(method.trainable_parameters(), preset["train"]["optimizer"])
        runs = [time_iteration(method, {"lq": lq, "gt": gt}, opt, dev) for _ in range(warmup + iters)][warmup:]
        parts = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        share = {k: v / parts["total"] for k, v in parts.items() if k != "total"}
        results[name] = {
            "method": exp["method"], "role": exp["role"], "student_parameters": count_parameters(student),
            "teacher_parameters": count_parameters(teacher) if teacher is not None else None,
            "seconds": parts, "share": share, "stand_ins": method.stand_ins,
        }
        del method, student, teacher, opt
    return {
        "preset": preset_name, "scale": scale, "backbone": backbone, "batch": batch, "lr_patch": patch,
        "iterations_timed": iters, "warmup": warmup, "device": str(dev),
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "experiments": results,
    }


def write_bench(result: dict, out: str | Path) -> None:
    write_json(out, result)
