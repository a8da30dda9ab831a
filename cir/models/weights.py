"""Reading official weight files into cir's networks: unwrap what ``torch.load`` returns, check
it against the network's own state dict, and name every key at fault.

Official releases wrap their state dicts in different ways (a plain dict; ``{'model': ...}``,
``{'state_dict': ...}``, BasicSR's ``{'params': ...}`` / ``{'params_ema': ...}``), often with the
``module.`` prefix of ``nn.DataParallel``; each architecture's ``convert_official`` starts from
:func:`unwrap_state_dict` and ends with :func:`check_state_dict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from cir.errors import CirError

WRAPPER_KEYS = ("model", "state_dict", "params", "params_ema")


def unwrap_state_dict(obj: Any, arch: str, key: str | None = None) -> dict[str, Tensor]:
    """The state dict inside what ``torch.load`` returned for a weight file: the object itself
    when it maps names to tensors, else its ``key`` entry, else the one entry among
    :data:`WRAPPER_KEYS` it has. A ``module.`` prefix (``nn.DataParallel``) is removed when every
    key has it. Raises CirError when no state dict is found or the choice is ambiguous."""
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise CirError(f"{arch}: a weight file must hold a dict; got {type(obj).__name__}")
    if key is not None:
        if key not in obj:
            raise CirError(f"{arch}: the weight file has no entry {key!r}; it has {sorted(map(str, obj))}")
        obj = obj[key]
    elif obj and not all(isinstance(v, Tensor) for v in obj.values()):
        found = [k for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)]
        if len(found) != 1:
            what = f"several state dicts {found}: pass key=" if found else "no state dict"
            raise CirError(f"{arch}: the weight file has {what} (entries: {sorted(map(str, obj))})")
        obj = obj[found[0]]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CirError(f"{arch}: the weight file's state dict must map names to tensors")
    sd = {str(k): v.detach() for k, v in obj.items()}
    if sd and all(k.startswith("module.") for k in sd):
        sd = {k[len("module."):]: v for k, v in sd.items()}
    return sd


def _listed(keys: Iterable[str], limit: int = 8) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def check_state_dict(sd: Mapping[str, Tensor], expected: Mapping[str, torch.Size], arch: str) -> None:
    """Raise CirError naming the missing and unexpected keys and the shape mismatches of ``sd``
    against ``expected`` (name -> shape)."""
    missing = set(expected) - set(sd)
    unexpected = set(sd) - set(expected)
    wrong = [f"{k} {tuple(sd[k].shape)} (expected {tuple(expected[k])})"
             for k in sorted(set(sd) & set(expected)) if tuple(sd[k].shape) != tuple(expected[k])]
    problems = []
    if missing:
        problems.append(f"missing keys: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_listed(unexpected)}")
    if wrong:
        more = f" (+{len(wrong) - 8} more)" if len(wrong) > 8 else ""
        problems.append(f"wrong shapes: {'; '.join(wrong[:8])}{more}")
    if problems:
        raise CirError(f"{arch}: the weights do not fit the network; " + "; ".join(problems))


def expected_shapes(model: nn.Module) -> dict[str, torch.Size]:
    """Name -> shape of every state-dict entry of ``model``."""
    return {k: v.shape for k, v in model.state_dict().items()}
