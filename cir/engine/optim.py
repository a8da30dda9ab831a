"""Optimiser and learning-rate schedule from the preset's ``train`` section."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: dict) -> torch.optim.Optimizer:
    kwargs = {"lr": cfg["lr"], "betas": tuple(cfg.get("betas", (0.9, 0.999))), "eps": cfg.get("eps", 1e-8),
              "weight_decay": cfg.get("weight_decay", 0.0)}
    name = cfg["name"]
    if name == "adam":
        return torch.optim.Adam(params, **kwargs)
    if name == "adamw":
        return torch.optim.AdamW(params, **kwargs)
    raise ValueError(f"train.optimizer.name: {name!r} is not allowed; allowed values: 'adam', 'adamw'")


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: dict, iterations: int):
    """Stepped once per iteration. ``constant`` is a MultiStepLR without milestones."""
    name = cfg["name"]
    if name == "multistep":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(cfg.get("milestones", [])),
                                                    gamma=cfg.get("gamma", 0.1))
    if name == "cosine" and cfg.get("warmup"):
        return warmup_cosine(optimizer, int(cfg["warmup"]), cfg.get("t_max", iterations), cfg.get("eta_min", 0.0))
    if name == "cosine":
        # t_max: the cosine's own period (NAFNet: 200k, its iteration count); default the run's length
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.get("t_max", iterations),
                                                          eta_min=cfg.get("eta_min", 0.0))
    if name == "cosine_restart":
        return cosine_restart(optimizer, cfg["periods"], cfg["eta_mins"])
    if name == "constant":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[])
    raise ValueError(f"train.scheduler.name: {name!r} is not allowed; allowed values: "
                     "'multistep', 'cosine', 'cosine_restart', 'constant'")


def warmup_cosine_factor(step: int, base_lr: float, warmup: int, t_max: int, eta_min: float) -> float:
    """The learning rate at ``step`` (0-based) of a cosine from ``base_lr`` to ``eta_min`` over
    ``t_max`` steps, multiplied by ``(step + 1) / warmup`` during the first ``warmup`` steps: BasicSR's
    ``warmup_iter`` (DRCNet's Rain13K configuration: 1000), whose warm-up rate ``lr * iter / warmup``
    (iterations counted from 1) equals this up to the cosine's factor, within 1e-5 of 1 there."""
    cos = eta_min + (base_lr - eta_min) * 0.5 * (1 + math.cos(math.pi * min(step, t_max) / t_max))
    return cos * min(1.0, (step + 1) / warmup)


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup: int, t_max: int, eta_min: float):
    bases = [g["lr"] for g in optimizer.param_groups]
    lambdas = [lambda step, b=b: warmup_cosine_factor(step, b, warmup, t_max, eta_min) / b for b in bases]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def cosine_restart_factor(step: int, base_lr: float, periods: list[int], eta_mins: list[float]) -> float:
    """The learning rate at ``step`` of cyclic cosine annealing: cycle ``i`` (``periods[i]`` steps)
    goes from ``base_lr`` (the first cycle) or the previous cycle's floor down to ``eta_mins[i]``.

    This is Restormer's schedule (periods [92k, 208k], floors [3e-4, 1e-6] for lr 3e-4: constant
    for 92k steps, then one cosine from 3e-4 to 1e-6): every cycle restarts at ``base_lr``, as in
    the restart schedule of its public code (restart weights 1)."""
    start = 0
    for period, floor in zip(periods, eta_mins):
        if step < start + period:
            t = (step - start) / period
            return floor + (base_lr - floor) * 0.5 * (1 + math.cos(math.pi * t))
        start += period
    return eta_mins[-1]


def cosine_restart(optimizer: torch.optim.Optimizer, periods: list[int], eta_mins: list[float]):
    if len(periods) != len(eta_mins) or not periods:
        raise ValueError(f"train.scheduler: cosine_restart needs periods and eta_mins of one length; got "
                         f"{periods} and {eta_mins}")
    bases = [g["lr"] for g in optimizer.param_groups]
    lambdas = [lambda step, b=b: cosine_restart_factor(step, b, list(periods), list(eta_mins)) / b for b in bases]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)
