"""Tasks: what an experiment restores. Torch-free (the Snakefile and the config check use it).

A task is either a super-resolution factor (``x2``, ``x3``, ``x4``: scale 2-4, SR pairs made by
MATLAB-style bicubic downsampling) or a restoration task at scale 1 (``deblur``, ``derain``,
``dehaze``, ``denoise``, ``realsr``: degraded -> clean pairs). The task fixes the scale, the
default metric convention and the folder level of every path (``runs/<preset>/<task>/...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cir.errors import ConfigError

_SR = re.compile(r"^x([2-8])$")

# scale-1 restoration tasks and the metric convention of the papers' tables for each
RESTORATION_TASKS: dict[str, str] = {
    "deblur": "deblur_rgb",
    "derain": "derain_y",
    "dehaze": "deblur_rgb",
    "denoise": "deblur_rgb",
    "realsr": "criacl_realsr",
}
# task kinds whose training pairs the DAG can prepare (rules/data.smk)
PREPARED_KINDS = ("sr",)
# metric conventions of cir.eval.metrics.CONVENTIONS (a test keeps the two lists equal)
CONVENTION_NAMES = ("dckd_sr", "deblur_rgb", "derain_y", "criacl_realsr", "uniremoval_real")
TASK_PATTERN = r"x[2-8]|" + "|".join(RESTORATION_TASKS)


@dataclass(frozen=True)
class Task:
    name: str
    kind: str      # "sr" or the restoration task's own name
    scale: int     # output size / input size

    @property
    def default_convention(self) -> str:
        return "dckd_sr" if self.kind == "sr" else RESTORATION_TASKS[self.kind]


def parse_task(name: str, where: str = "task") -> Task:
    m = _SR.match(str(name))
    if m:
        return Task(str(name), "sr", int(m.group(1)))
    if name in RESTORATION_TASKS:
        return Task(name, name, 1)
    raise ConfigError(f"{where}: {name!r} is not a task; allowed values: an SR factor x2 ... x8, or one of "
                      f"{', '.join(RESTORATION_TASKS)}")


def sr_task(scale: int) -> str:
    return f"x{int(scale)}"
