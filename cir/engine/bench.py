"""Time one training iteration of a method and split it into its parts.

The split needs no help from the method: forward hooks time the student's and the
teacher's forward passes, and the rest of ``training_step`` is the loss computation.
Backward and the optimiser step are timed around their calls. On CUDA every boundary
synchronises, so the parts add up to the step.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from cir.engine.method import Method


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def forward_timer(module: nn.Module, device: torch.device, acc: dict, key: str) -> Iterator[None]:
    """Add the wall time of every top-level forward call of ``module`` to ``acc[key]``."""
    start: list[float] = []

    def pre(_m, _inp):
        _sync(device)
        start.append(time.perf_counter())

    def post(_m, _inp, _out):
        _sync(device)
        acc[key] = acc.get(key, 0.0) + time.perf_counter() - start.pop()

    handles = [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def time_iteration(method: Method, batch: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer,
                   device: torch.device, *, amp_bf16: bool = True) -> dict[str, float]:
    """Seconds spent in each part of one optimiser step of ``method`` on ``batch``.

    Parts: ``student_forward``, ``teacher_forward``, one entry per
    :meth:`Method.timed_modules` (history model, encoder, ...), ``loss`` (the rest of
    ``training_step``), ``backward``, ``optimizer`` and ``after_step`` (e.g. history updates).
    """
    timed = {"student_forward": method.student}
    if method.teacher is not None:
        timed["teacher_forward"] = method.teacher
    timed.update(method.timed_modules())
    parts: dict[str, float] = {"student_forward": 0.0, "teacher_forward": 0.0, **{k: 0.0 for k in timed}}
    cuda = device.type == "cuda"
    method.student.train()
    with contextlib.ExitStack() as stack:
        for key, module in timed.items():
            stack.enter_context(forward_timer(module, device, parts, key))
        _sync(device)
        t0 = time.perf_counter()
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=cuda and amp_bf16):
            terms = method.training_step(batch, 0)
        total = sum(terms.values())
        _sync(device)
        t1 = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    total.backward()
    _sync(device)
    t2 = time.perf_counter()
    optimizer.step()
    _sync(device)
    t3 = time.perf_counter()
    method.after_step(1)
    _sync(device)
    t4 = time.perf_counter()
    parts["loss"] = (t1 - t0) - sum(parts[k] for k in timed)
    parts["backward"] = t2 - t1
    parts["optimizer"] = t3 - t2
    parts["after_step"] = t4 - t3
    parts["total"] = t4 - t0
    return parts


