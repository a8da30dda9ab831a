"""Time the trainer's own training step and split it into its parts.

:class:`StepTimer` is handed to a :class:`~cir.engine.trainer.Trainer` (``trainer.step_timer``);
the trainer marks the boundaries of its step (data, forward, backward, optimiser, after-step) and
forward hooks time the student and every frozen network the method declares (teacher, history
model, encoder, ...). ``loss`` is the forward time not spent inside a timed network. On CUDA every
boundary synchronises, so the parts add up to the step. There is no second copy of the loop here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch
from torch import nn

from cir.utils.device import synchronize


class StepTimer:
    """Seconds per part of training steps: ``data``, ``forward`` (split into ``<network>_forward``
    and ``loss``), ``backward``, ``optimizer``, ``after_step``; a second trainable group (a
    critic, group ``d``) adds ``backward_d`` and ``optimizer_d``, its phase's forward time goes into
    the networks' and ``loss`` shares like the generator's."""

    def __init__(self, device: torch.device):
        self.device = device
        self.parts: dict[str, float] = {}
        self._last: float | None = None

    def mark(self, part: str | None = None) -> None:
        """Close the interval since the previous mark as ``part`` (``None``: just restart the clock)."""
        synchronize(self.device)
        now = time.perf_counter()
        if part is not None and self._last is not None:
            self.parts[part] = self.parts.get(part, 0.0) + now - self._last
        self._last = now

    @contextlib.contextmanager
    def networks(self, nets: dict[str, nn.Module]) -> Iterator[None]:
        """Time every top-level forward call of each network into ``<name>_forward``."""
        handles = []
        for name, module in nets.items():
            key, start = f"{name}_forward", []

            def pre(_m, _inp, start=start):
                synchronize(self.device)
                start.append(time.perf_counter())

            def post(_m, _inp, _out, start=start, key=key):
                synchronize(self.device)
                self.parts[key] = self.parts.get(key, 0.0) + time.perf_counter() - start.pop()

            handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
        try:
            yield
        finally:
            for h in handles:
                h.remove()

    def split(self) -> dict[str, float]:
        """The parts with ``forward`` replaced by the networks' shares and ``loss``, plus ``total``."""
        parts = dict(self.parts)
        forward = sum(parts.pop(k) for k in [k for k in parts if k == "forward" or k.startswith("forward_")])
        nets = sum(v for k, v in parts.items() if k.endswith("_forward"))
        parts["loss"] = forward - nets
        parts["total"] = sum(v for k, v in parts.items())
        return parts


def time_steps(trainer, steps: int, warmup: int = 0) -> list[dict[str, float]]:
    """The split of ``steps`` training steps of ``trainer`` (after ``warmup`` untimed ones)."""
    # the student, the frozen networks and the other groups' networks (a critic: "d")
    nets = {"student": trainer.student, **trainer.frozen}
    for g, mods in trainer.networks.items():
        if g != "g":
            nets.update({g if len(mods) == 1 else f"{g}{i}": m for i, m in enumerate(mods)})
    for _ in range(warmup):
        trainer.train_step()
    out = []
    try:
        for _ in range(steps):
            timer = StepTimer(trainer.device)
            trainer.step_timer = timer
            with timer.networks(nets):
                trainer.train_step()
            out.append(timer.split())
    finally:
        trainer.step_timer = None
    return out
