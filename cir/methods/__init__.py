"""Training recipes as plugins.

A method declares its networks and turns one batch into named, already weighted loss terms per
trainable group (cir/engine/method.py); the engine owns everything else. A new method is a module
in this package, one line in ``_METHODS`` and its option table in cir/methods/catalog.py; the
engine is never edited.
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
    "spn": "cir.methods.spn:SPN",
    "drcnet_cr": "cir.methods.drcnet_cr:DRCNetCR",
    "criacl": "cir.methods.criacl:CriaCL",
    "uniremoval_kt": "cir.methods.uniremoval:UniRemovalKT",
    "uniremoval_da": "cir.methods.uniremoval:UniRemovalDA",
}
METHOD_NAMES = set(_METHODS)


def get_method(name: str):
    """The method class registered under ``name``."""
    if name not in _METHODS:
        raise UnknownNameError("method", name, _METHODS)
    module, attr = _METHODS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def register_method(name: str, target: str, options: dict, groups: tuple[str, ...] = ("g",),
                    assets: tuple[str, ...] = ()) -> None:
    """Make method ``name`` (class at ``"module:Class"``) known to the configuration check and the
    trainer, with its option table (``{key: (default, JSON schema)}``) and trainable groups. The
    package's own methods are listed above; this is for methods that live elsewhere."""
    from cir.methods import catalog

    _METHODS[name] = target
    METHOD_NAMES.add(name)
    catalog.register(name, options, groups, assets)
