"""Training recipes as plugins.

A method turns one batch into named, already weighted loss terms; the engine sums them,
steps the optimiser and owns everything else. Register a new method by adding its module
path here; the engine is never edited.
"""

from __future__ import annotations

import importlib

from cir.errors import UnknownNameError

_METHODS = {
    "supervised": "cir.methods.supervised:Supervised",
    "logits": "cir.methods.logits:LogitsKD",
    "fakd": "cir.methods.fakd:FAKD",
    "dckd": "cir.methods.dckd:DCKD",
    "dckd_star": "cir.methods.dckd_star:DCKDStar",
    "mipkd": "cir.methods.mipkd:MiPKD",
}
METHOD_NAMES = frozenset(_METHODS)

# Weight files (cir.data.registry ASSETS) a method's frozen loss networks load. Kept here, not
# on the classes, so the Snakefile can list a job's inputs without importing torch.
METHOD_ASSETS: dict[str, tuple[str, ...]] = {
    "dckd": ("vqgan_imagenet_f16_1024.ckpt",),
    "dckd_star": ("vqgan_imagenet_f16_1024.ckpt",),
}


def get_method(name: str):
    """The method class registered under ``name``."""
    if name not in _METHODS:
        raise UnknownNameError("method", name, _METHODS)
    module, attr = _METHODS[name].split(":")
    return getattr(importlib.import_module(module), attr)
