"""Optimiser and learning-rate schedule from the preset's ``train`` section."""

from __future__ import annotations

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
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=iterations,
                                                          eta_min=cfg.get("eta_min", 0.0))
    if name == "constant":
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[])
    raise ValueError(f"train.scheduler.name: {name!r} is not allowed; allowed values: "
                     "'multistep', 'cosine', 'constant'")
