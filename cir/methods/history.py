"""A frozen, slowly updated copy of the student: DCKD's history model (eq. 6), MCIR's negative models.

``theta_his <- alpha * theta_his + (1 - alpha) * theta_src`` at the steps chosen by an interval
schedule. DCKD's public code uses alpha = 0.1 with the student's EMA copy as the source and
intervals 1000 / 2000 / 3000 (iterations up to 100k / up to 200k / after); MCIR's uses
alpha = 0.1 with the live student weights and one constant interval per negative model.

Step convention
---------------
``step`` is the 1-based count of finished optimiser steps -- the value ``Method.after_step``
receives (and BasicSR's ``current_iter``). The schedule is a list of ``(start, interval)`` pairs
with increasing starts, the first 0. The interval in force at step ``t`` is that of the last
pair whose ``start < t`` (the pair covering the 0-based index ``t - 1`` of the step just taken),
and the model is updated when ``t % interval == 0``. With DCKD's schedule
``[(0, 1000), (100000, 2000), (200000, 3000)]`` steps 1..100000 use 1000 (so 100000 itself
updates), 100001..200000 use 2000 and later steps 3000, which is the public code's
``step[(current_iter - 1) // 100000]``.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

INITS = ("copy", "mix_random")
DCKD_SCHEDULE: tuple[tuple[int, int], ...] = ((0, 1000), (100000, 2000), (200000, 3000))


def _check_schedule(schedule: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    pairs = [tuple(int(v) for v in pair) for pair in schedule]
    if not pairs:
        raise ValueError("HistoryModel: schedule is empty; give at least one (start, interval) pair")
    if any(len(p) != 2 for p in pairs):
        raise ValueError(f"HistoryModel: schedule={list(schedule)} must hold (start, interval) pairs")
    if pairs[0][0] != 0:
        raise ValueError(f"HistoryModel: schedule={pairs} must start at step 0")
    for (s0, _), (s1, _) in itertools.pairwise(pairs):
        if s1 <= s0:
            raise ValueError(f"HistoryModel: schedule={pairs} needs strictly increasing starts ({s0} then {s1})")
    for start, interval in pairs:
        if interval < 1:
            raise ValueError(f"HistoryModel: schedule entry ({start}, {interval}) has interval < 1")
    return [(s, i) for s, i in pairs]


class HistoryModel:
    """A frozen copy of ``source`` updated by :meth:`update` at the steps of its schedule.

    Args:
        source: the network to copy (the student).
        alpha: weight of the old history weights in an update (0.1 in DCKD and MCIR).
        schedule: ``(start, interval)`` pairs; see the module docstring.
        init: ``"copy"`` (an exact copy; DCKD) or ``"mix_random"``
            (``init_weight * random + (1 - init_weight) * source``; MCIR's negative models).
        init_weight: weight of the random weights for ``init="mix_random"`` (0.1 in MCIR).
        generator: seeds the random weights for ``init="mix_random"``.
        random_model: a freshly initialised network of the same architecture to use as the
            random weights; without it every submodule's ``reset_parameters`` re-draws them.
    """

    def __init__(self, source: nn.Module, *, alpha: float = 0.1,
                 schedule: Sequence[Sequence[int]] = DCKD_SCHEDULE, init: str = "copy",
                 init_weight: float = 0.1, generator: torch.Generator | None = None,
                 random_model: nn.Module | None = None):
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"HistoryModel: alpha={alpha} must be in [0, 1)")
        if init not in INITS:
            raise ValueError(f"HistoryModel: init={init!r}; valid: {', '.join(INITS)}")
        self.alpha = float(alpha)
        self.schedule = _check_schedule(schedule)
        self.model = copy.deepcopy(source).eval().requires_grad_(False)
        self.num_updates = 0
        self.last_update_step = 0
        if init == "mix_random":
            if not 0.0 <= init_weight <= 1.0:
                raise ValueError(f"HistoryModel: init_weight={init_weight} must be in [0, 1]")
            if random_model is None:
                if generator is None:
                    raise ValueError("HistoryModel: init='mix_random' needs a generator "
                                     "(or a random_model) for the random weights")
                random_model = _reinitialised(source, generator)
            self._mix_in(random_model, init_weight, copy_buffers=False)  # buffers stay the source's

    # -- schedule -------------------------------------------------------------------------------
    def update_steps(self, schedule: Sequence[Sequence[int]]) -> None:
        """Replace the ``(start, interval)`` schedule."""
        self.schedule = _check_schedule(schedule)

    def interval_at(self, step: int) -> int:
        """The update interval in force at 1-based step ``step``."""
        if step < 1:
            raise ValueError(f"HistoryModel: step={step} must be >= 1 (count of finished optimiser steps)")
        interval = self.schedule[0][1]
        for start, every in self.schedule:
            if start < step:
                interval = every
            else:
                break
        return interval

    def should_update(self, step: int) -> bool:
        """True when ``step % interval_at(step) == 0``."""
        return step % self.interval_at(step) == 0

    def steps_between(self, first: int, last: int) -> list[int]:
        """The steps in ``first..last`` (inclusive) at which the model is updated."""
        return [t for t in range(max(first, 1), last + 1) if self.should_update(t)]

    # -- weights -------------------------------------------------------------------------------
    @torch.no_grad()
    def update(self, source: nn.Module, step: int | None = None) -> None:
        """``his <- alpha * his + (1 - alpha) * source`` for parameters; buffers are copied."""
        self._mix_in(source, 1.0 - self.alpha)
        self.num_updates += 1
        if step is not None:
            self.last_update_step = int(step)

    def maybe_update(self, step: int, source: nn.Module) -> bool:
        """Update from ``source`` if the schedule says so at ``step``; returns whether it did."""
        if not self.should_update(step):
            return False
        self.update(source, step)
        return True

    @torch.no_grad()
    def _mix_in(self, source: nn.Module, weight: float, *, copy_buffers: bool = True) -> None:
        """``his <- (1 - weight) * his + weight * source`` (parameters); buffers copied from source."""
        his = list(self.model.parameters())
        src = [p.detach() for p in source.parameters()]
        if len(his) != len(src) or any(a.shape != b.shape for a, b in zip(his, src)):
            raise ValueError("HistoryModel: source network's parameters do not match the history copy's")
        torch._foreach_mul_(his, 1.0 - weight)
        torch._foreach_add_(his, src, alpha=weight)
        if copy_buffers:
            for b_his, b_src in zip(self.model.buffers(), source.buffers()):
                b_his.copy_(b_src)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Run the frozen copy under ``torch.inference_mode`` (the output is an inference tensor)."""
        with torch.inference_mode():
            return self.model(x)

    def to(self, *args: Any, **kwargs: Any) -> HistoryModel:
        self.model.to(*args, **kwargs)
        return self

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "num_updates": self.num_updates,
                "last_update_step": self.last_update_step, "alpha": self.alpha,
                "schedule": [list(p) for p in self.schedule]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = sorted({"model", "num_updates", "last_update_step"} - set(state))
        if missing:
            raise ValueError(f"HistoryModel.load_state_dict: state lacks {missing}")
        if "alpha" in state and float(state["alpha"]) != self.alpha:
            raise ValueError(f"HistoryModel.load_state_dict: checkpoint alpha={state['alpha']} "
                             f"but this history model has alpha={self.alpha}")
        if "schedule" in state and _check_schedule(state["schedule"]) != self.schedule:
            raise ValueError(f"HistoryModel.load_state_dict: checkpoint schedule={state['schedule']} "
                             f"but this history model has schedule={self.schedule}")
        self.model.load_state_dict(state["model"])
        self.num_updates = int(state["num_updates"])
        self.last_update_step = int(state["last_update_step"])


def _reinitialised(source: nn.Module, generator: torch.Generator) -> nn.Module:
    """A CPU copy of ``source`` whose parameters are re-drawn by each submodule's ``reset_parameters``.

    The global RNG is forked and seeded from ``generator``, so the result depends only on the
    generator's state. A parameter owned by a module without ``reset_parameters`` could not be
    re-drawn: that is an error (pass ``random_model`` instead).
    """
    fresh = copy.deepcopy(source).to("cpu")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    covered: set[int] = set()
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)  # CPU only: the copy is re-drawn on the CPU
        for module in fresh.modules():
            reset = getattr(module, "reset_parameters", None)
            if callable(reset):
                reset()
                covered.update(id(p) for p in module.parameters(recurse=False))
    uncovered = [name for name, p in fresh.named_parameters() if id(p) not in covered]
    if uncovered:
        raise ValueError(f"HistoryModel: init='mix_random' cannot re-draw parameters {uncovered[:5]}"
                         f"{' ...' if len(uncovered) > 5 else ''} (their modules have no reset_parameters); "
                         "pass random_model=<a freshly built network>")
    return fresh.to(next(source.parameters(), torch.empty(0)).device)
