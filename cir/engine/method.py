"""The contract between a method and the trainer.

A method declares its networks and computes losses; the engine (:mod:`cir.engine.trainer`) does
everything else. Networks come in two kinds:

* **trainable groups** (:meth:`Method.trainable`): ``{"g": [student, ...]}``, plus e.g. ``"d"`` for
  a critic. Each group gets its own optimiser, scheduler and gradient clipping from the job's spec,
  its own gradient averaging and sync check under data parallelism, and its state in the checkpoint.
  A training step runs one *phase* per group, in the order of :attr:`Method.groups`
  (generator, then critic): :meth:`Method.phase` returns the loss terms that this group's optimiser
  minimises, and may return values that are only logged.
* **frozen networks** (:meth:`Method.frozen`): teachers by name, loss encoders, history models.
  The engine moves them to the device, keeps them in eval mode without gradients, times their
  forward passes in the benchmark and leaves them out of the trainable state; the method runs them
  under ``torch.inference_mode()`` (:meth:`Method.teacher_output`).
"""

from __future__ import annotations

import abc
import copy
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from cir.errors import CirError, ConfigError
from cir.losses.pixel import l1


class TrainingDiverged(CirError, FloatingPointError):
    """Training went wrong beyond repair (a non-finite loss, a collapsing validation score); the
    message says at which step and what to change. The last checkpoint is kept."""


def freeze(model: nn.Module) -> nn.Module:
    """Put a network in eval mode with gradients off; frozen networks run under inference_mode."""
    model.eval()
    model.requires_grad_(False)
    return model


@dataclass
class PhaseOutput:
    """What one phase returns: ``losses`` (weighted terms, summed and minimised by the phase's
    group) and ``logs`` (values that are logged but not optimised)."""

    losses: dict[str, torch.Tensor]
    logs: dict[str, torch.Tensor] = field(default_factory=dict)


class Method(abc.ABC):
    """Base class of training recipes.

    Subclasses set ``name``, ``teacher_names`` (the teachers the method needs, by name; most KD
    methods need one called ``"teacher"``), ``loss_names`` (every logged name, in log order),
    ``defaults`` (every option with its default; kept in :mod:`cir.methods.catalog`) and, for
    several trainable groups, ``groups``; they implement :meth:`training_step` (one phase, group
    ``g``) or :meth:`phase`. A method that keeps state of its own (a history model) overrides
    :meth:`state_dict`/:meth:`load_state_dict` and :meth:`after_step`.
    """

    name: ClassVar[str] = "base"
    teacher_names: ClassVar[tuple[str, ...]] = ()
    groups: ClassVar[tuple[str, ...]] = ("g",)
    loss_names: ClassVar[tuple[str, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, student: nn.Module, teachers: Mapping[str, nn.Module] | nn.Module | None = None,
                 options: dict[str, Any] | None = None, *, where: str = "options"):
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise ConfigError(f"{where}: unknown option(s) {unknown} for method {self.name!r}; "
                              f"allowed keys: {', '.join(sorted(self.defaults)) or '(none)'}")
        self.options = {**copy.deepcopy(self.defaults), **options}
        if isinstance(teachers, nn.Module):
            teachers = {"teacher": teachers}
        teachers = dict(teachers or {})
        missing = [t for t in self.teacher_names if t not in teachers]
        extra = [t for t in teachers if t not in self.teacher_names]
        if missing:
            raise ConfigError(f"{where}: method {self.name!r} needs teacher network(s) {missing}")
        if extra:
            raise ConfigError(f"{where}: method {self.name!r} takes no teacher(s) {extra}; "
                              f"it takes: {list(self.teacher_names) or 'none'}")
        self.student = student
        self.teachers: dict[str, nn.Module] = {k: freeze(v) for k, v in teachers.items()}
        # stand-ins the method had to use (e.g. random encoder weights); recorded with the run
        self.stand_ins: list[str] = []
        # the reconstruction loss to ground truth: the backbone recipe's (train.rec_loss: L1, or
        # NAFNet's PSNR loss); the job sets it from the spec, methods use it for their GT term
        self.rec_loss = l1

    @property
    def needs_teacher(self) -> bool:
        return bool(self.teacher_names)

    @property
    def teacher(self) -> nn.Module | None:
        """The teacher of a one-teacher method (``None`` for methods without)."""
        if len(self.teachers) > 1:
            raise AttributeError(f"method {self.name!r} has several teachers; use .teachers[name]")
        return next(iter(self.teachers.values()), None)

    # -- networks (the engine moves, freezes, checkpoints and times them) ------------------------
    def trainable(self) -> dict[str, list[nn.Module]]:
        """Trainable networks per group, group ``g`` first with the student first in it."""
        return {"g": [self.student]}

    def frozen(self) -> dict[str, nn.Module]:
        """Frozen networks by name: the teachers, plus loss encoders and history models."""
        return dict(self.teachers)

    def trainable_parameters(self, group: str = "g") -> Iterable[nn.Parameter]:
        return itertools.chain.from_iterable(m.parameters() for m in self.trainable()[group])

    # -- the step ----------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        """Named, weighted loss terms for ``batch`` (keys ``lq`` and ``gt``) of a one-group method."""
        raise NotImplementedError(f"method {self.name!r} defines neither training_step nor phase")

    def phase(self, group: str, batch: dict[str, torch.Tensor], step: int,
              context: dict[str, Any]) -> PhaseOutput | dict[str, torch.Tensor]:
        """The loss terms of ``group`` for this step. ``context`` is shared by the phases of one
        step (a generator phase leaves its outputs there for the critic phase)."""
        if group != "g":
            raise NotImplementedError(f"method {self.name!r} has no phase for group {group!r}")
        return self.training_step(batch, step)

    def after_step(self, step: int) -> None:
        """Called after the optimiser steps of ``step`` (1-based count of finished steps)."""

    def after_validation(self, step: int, values: dict[str, float]) -> None:
        """Called with each validation's results (on the process that validates); a method whose
        loss can run away raises :class:`TrainingDiverged` here to stop a collapsing run."""

    def divergence_hint(self) -> str:
        """What to change when the loss becomes non-finite (added to the trainer's error)."""
        return ""

    def state_dict(self) -> dict[str, Any]:
        """Method state that is not a trainable network (history models, ...)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            raise ValueError(f"method {self.name!r} keeps no state but the checkpoint has {sorted(state)}")

    def to(self, device: torch.device) -> Method:
        """Move every declared network (what the engine does at set-up)."""
        for modules in self.trainable().values():
            for m in modules:
                m.to(device)
        for m in self.frozen().values():
            m.to(device)
        return self

    # -- helpers for subclasses ---------------------------------------------------------
    def teacher_output(self, lq: torch.Tensor, name: str | None = None) -> torch.Tensor:
        teacher = self.teachers[name] if name is not None else self.teacher
        with torch.inference_mode():
            return teacher(lq)
