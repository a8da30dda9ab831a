"""The contract between a method and the trainer."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any, ClassVar

import torch
from torch import nn

from cir.errors import ConfigError


def freeze(model: nn.Module) -> nn.Module:
    """Put a network in eval mode with gradients off; frozen networks run under inference_mode."""
    model.eval()
    model.requires_grad_(False)
    return model


class Method(abc.ABC):
    """Base class of training recipes.

    Subclasses set ``name``, ``needs_teacher``, ``loss_names`` and ``defaults`` (every option with its
    default value) and implement :meth:`training_step`. A method that keeps extra models or
    state (e.g. a history model) also overrides :meth:`state_dict`/:meth:`load_state_dict`
    and :meth:`after_step`; the trainer saves that state with every checkpoint.
    """

    name: ClassVar[str] = "base"
    needs_teacher: ClassVar[bool] = False
    loss_names: ClassVar[tuple[str, ...]] = ()  # the keys training_step returns, in log order
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, student: nn.Module, teacher: nn.Module | None = None,
                 options: dict[str, Any] | None = None, *, where: str = "options"):
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ConfigError(f"{where}: unknown option(s) {unknown} for method {self.name!r}; "
                              f"allowed keys: {', '.join(sorted(self.defaults)) or '(none)'}")
        self.options = {**self.defaults, **options}
        if self.needs_teacher and teacher is None:
            raise ConfigError(f"{where}: method {self.name!r} needs a teacher network")
        self.student = student
        self.teacher = freeze(teacher) if teacher is not None else None
        # stand-ins the method had to use (e.g. random encoder weights); recorded with the run
        self.stand_ins: list[str] = []

    # -- what the trainer calls ---------------------------------------------------------
    def trainable_parameters(self) -> Iterable[nn.Parameter]:
        return self.student.parameters()

    @abc.abstractmethod
    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """Named, weighted loss terms for ``batch`` (keys ``lq`` and ``gt``); the trainer sums them."""

    def after_step(self, step: int) -> None:
        """Called after the optimiser step ``step`` (1-based count of finished steps)."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"method {self.name!r} keeps no state but the checkpoint has {sorted(state)}")

    def to(self, device: torch.device) -> Method:
        self.student.to(device)
        if self.teacher is not None:
            self.teacher.to(device)
        return self

    def timed_modules(self) -> dict[str, nn.Module]:
        """Extra frozen networks whose forward time the training-step benchmark reports
        separately (e.g. ``{"history_forward": ..., "encoder_forward": ...}``)."""
        return {}

    # -- helpers for subclasses ---------------------------------------------------------
    def teacher_output(self, lq: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self.teacher(lq)
