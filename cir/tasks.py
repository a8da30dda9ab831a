"""Tasks: what an experiment restores. Torch-free (the Snakefile and the config check use it).

A task is either a super-resolution factor (``x2``, ``x3``, ``x4``: scale 2-4, SR pairs made by
MATLAB-style bicubic downsampling) or a restoration task with pairs of its own (``deblur``,
``derain``, ``dehaze``, ``denoise``, ``camerasr``: degraded -> clean pairs at scale 1; ``realsr``:
real-world x4 SR, real LR -> HR pairs). The task fixes the scale, the default metric
convention, the degradation that makes offline pairs from clean photographs, and the folder level
of every path (``runs/<preset>/<task>/...``).

A paired task may carry a *variant* tag, ``<task>_<tag>`` (``dehaze_its``, ``derain_rain200h``):
the same restoration trained on another data set (MCIR trains FFA-Net once on RESIDE ITS and
once on RESIDE-6K, IDT once per rain set). The variant is a task of its own (own runs, own
``data.per_task`` entry, which may name another metric convention) with the kind's degradation.

Adding a task is one entry in :data:`RESTORATION_TASKS` (its convention and synthetic degradation),
the degradation in :mod:`cir.data.synthetic` and, for the paper presets, its data sets in
:mod:`cir.data.registry`; the rules need no change.

Pair folders: an SR task reads ``<data>/sr/<set>/<task>`` (bicubic pairs of a set of clean images);
a paired task reads ``<data>/pairs/<set>``, a downloaded paired set of the registry or a
synthetic set named ``<clean set>_<degradation>`` (``skimage_test_blur``) or
``<clean set>_<degradation>_real`` (the "real-like" family of the same degradation), made from the
clean photographs by :mod:`cir.data.synthetic` with every random parameter in its manifest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cir.errors import ConfigError

_SR = re.compile(r"^x([2-8])$")


@dataclass(frozen=True)
class RestorationTask:
    convention: str     # metric convention of the papers' tables for the task
    degradation: str | None   # cir.data.synthetic kind that makes offline pairs for it (None: a mixture)
    scale: int = 1      # output size / input size of its pairs (real-world SR: 4)
    mixes: tuple[str, ...] = ()   # a mixture of tasks: the kinds whose data sets it trains and tests on


# restoration tasks with pairs of their own: the metric convention of the papers' tables and the synthetic
# degradation of the offline presets
RESTORATION_TASKS: dict[str, RestorationTask] = {
    "deblur": RestorationTask("deblur_rgb", "blur"),      # DCKD Table 3: PSNR/SSIM on RGB
    "derain": RestorationTask("derain_y", "rain"),        # DCKD Table 4: Y of YCbCr
    "dehaze": RestorationTask("dehaze_rgb", "haze"),      # DehazeFormer's RGB PSNR/pooled SSIM (MCIR)
    "denoise": RestorationTask("deblur_rgb", "noise"),    # RGB, no border (DRCNet SIDD)
    # real-world SR (Cria-CL): paired real LR -> HR photographs at x4 (RealSR V3, NTIRE 2020 track 1),
    # not bicubic pairs; offline, "real-like" pairs (blur, bicubic x4, sensor noise, JPEG)
    "realsr": RestorationTask("criacl_realsr", "realsr", 4),
    # CameraSR (City100): a camera's wide shot aligned to its zoomed shot, same size (Cria-CL Table IV, x1)
    "camerasr": RestorationTask("criacl_realsr", "camera", 1),
    # one network for several degradations (Uni-Removal: haze, rain and blur): its training folders are
    # the three tasks' pair sets, one per task, the sampler labels each sample with its folder
    "unified": RestorationTask("uniremoval", None, 1, ("dehaze", "derain", "deblur")),
}
# metric conventions of cir.eval.metrics.CONVENTIONS (a test keeps the two lists equal)
CONVENTION_NAMES = ("dckd_sr", "deblur_rgb", "derain_y", "derain_y_matlab", "dehaze_rgb", "criacl_realsr",
                    "criacl_realsr_y", "uniremoval", "uniremoval_real")
_KINDS = "|".join(RESTORATION_TASKS)
TASK_PATTERN = rf"x[2-8]|(?:{_KINDS})(?:_[a-z0-9]+)?"
_VARIANT = re.compile(rf"^({_KINDS})(?:_([a-z0-9]+))?$")
# families of synthetic degradations (cir.data.synthetic); the suffix a set name carries for each
FAMILY_SUFFIX = {"synthetic": "", "real_like": "_real"}


@dataclass(frozen=True)
class Task:
    name: str
    kind: str      # "sr" or the restoration task's own name
    scale: int     # output size / input size

    @property
    def default_convention(self) -> str:
        return "dckd_sr" if self.kind == "sr" else RESTORATION_TASKS[self.kind].convention

    @property
    def degradation(self) -> str | None:
        """The synthetic degradation of a paired task (None for SR: its pairs are bicubic)."""
        return None if self.kind == "sr" else RESTORATION_TASKS[self.kind].degradation


def parse_task(name: str, where: str = "task") -> Task:
    m = _SR.match(str(name))
    if m:
        return Task(str(name), "sr", int(m.group(1)))
    m = _VARIANT.match(str(name))
    if m:
        return Task(str(name), m.group(1), RESTORATION_TASKS[m.group(1)].scale)
    raise ConfigError(f"{where}: {name!r} is not a task; allowed values: an SR factor x2 ... x8, or one of "
                      f"{', '.join(RESTORATION_TASKS)} (optionally with a data variant, e.g. dehaze_its)")


def sr_task(scale: int) -> str:
    return f"x{int(scale)}"


def synthetic_set_name(clean_set: str, task: str, family: str = "synthetic") -> str:
    """The name of the synthetic pair set of ``task`` made from ``clean_set``."""
    t = parse_task(task)
    if t.kind == "sr":
        raise ConfigError(f"{task}: SR pairs are bicubic, not a synthetic degradation")
    if t.degradation is None:
        raise ConfigError(f"{task}: a mixture of tasks ({', '.join(RESTORATION_TASKS[t.kind].mixes)}) has no "
                          "degradation of its own; name its tasks' sets")
    if family not in FAMILY_SUFFIX:
        raise ConfigError(f"family {family!r} is not allowed; allowed values: {', '.join(FAMILY_SUFFIX)}")
    return f"{clean_set}_{t.degradation}{FAMILY_SUFFIX[family]}"


def parse_synthetic_set(name: str, clean_sets) -> tuple[str, str, str] | None:
    """``(clean set, degradation, family)`` of a synthetic set name, or None if it is not one."""
    kinds = {r.degradation for r in RESTORATION_TASKS.values() if r.degradation}
    for clean in clean_sets:
        for kind in kinds:
            for family, suffix in FAMILY_SUFFIX.items():
                if name == f"{clean}_{kind}{suffix}":
                    return clean, kind, family
    return None


def task_of_degradation(kind: str) -> str:
    for task, r in RESTORATION_TASKS.items():
        if r.degradation == kind:
            return task
    raise ConfigError(f"degradation {kind!r} belongs to no task; allowed values: "
                      f"{', '.join(r.degradation for r in RESTORATION_TASKS.values())}")
