"""Build SR networks by name through spandrel and record how they were built.

A *model spec* is the plain dict ``{"arch": name, "scale": s, "params": {...}}``; it is
stored in every checkpoint so that a checkpoint file alone rebuilds its network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cir.errors import CirError, UnknownNameError


def _swinir(scale: int, **params: Any) -> nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    kwargs = dict(
        upscale=scale,
        img_size=48,
        window_size=8,
        img_range=1.0,
        mlp_ratio=2.0,
        upsampler="pixelshuffle",
        resi_connection="1conv",
    )
    kwargs.update(params)
    return SwinIR(**kwargs)


def _rcan(scale: int, **params: Any) -> nn.Module:
    from spandrel.architectures.RCAN import RCAN

    class CopyingRCAN(RCAN):
        """spandrel's RCAN scales its input in place (``x *= rgb_range``); give it a copy.

        Subclassing keeps the state-dict keys identical to the official checkpoints.
        """

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x.clone())

    kwargs = dict(scale=scale, rgb_range=255)
    kwargs.update(params)
    return CopyingRCAN(**kwargs)


@dataclass(frozen=True)
class Architecture:
    name: str
    builder: Callable[..., nn.Module]
    spandrel_name: str  # the architecture id spandrel reports for an official weight file
    citation: str


ARCHITECTURES: dict[str, Architecture] = {
    "swinir": Architecture("swinir", _swinir, "SwinIR", "Liang et al., SwinIR, ICCVW 2021"),
    "rcan": Architecture("rcan", _rcan, "RCAN", "Zhang et al., RCAN, ECCV 2018"),
}


def build_model(arch: str, scale: int, **params: Any) -> nn.Module:
    """Build ``arch`` for upscaling factor ``scale``; ``params`` are the constructor's keywords."""
    if arch not in ARCHITECTURES:
        raise UnknownNameError("architecture", arch, ARCHITECTURES)
    try:
        model = ARCHITECTURES[arch].builder(int(scale), **params)
    except TypeError as exc:  # an unknown keyword for the constructor
        raise CirError(f"architecture {arch!r}: bad parameters {sorted(params)}: {exc}") from exc
    model.cir_spec = {"arch": arch, "scale": int(scale), "params": dict(params)}
    return model


def model_spec(model: nn.Module) -> dict:
    spec = getattr(model, "cir_spec", None)
    if spec is None:
        raise CirError("model was not built by cir.models.build_model; it has no spec to record")
    return spec


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_model_file(path: str | Path, *, expect_arch: str | None = None, expect_scale: int | None = None,
                    weights: str = "auto") -> nn.Module:
    """Load a network from a cir checkpoint or from an official weight file.

    cir checkpoints carry their model spec; ``weights`` picks ``"ema"``, ``"model"`` or
    ``"auto"`` (EMA weights when the checkpoint has them). Any other file is handed to
    spandrel, which recognises the official SwinIR/RCAN releases; its architecture and
    scale must match ``expect_arch``/``expect_scale`` when given.
    """
    path = Path(path)
    if not path.is_file():
        raise CirError(f"weight file not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CirError(f"cannot read weight file {path}: {exc}") from exc
    if isinstance(obj, dict) and "model_spec" in obj:
        spec = obj["model_spec"]
        model = build_model(spec["arch"], spec["scale"], **spec["params"])
        key = weights
        if weights == "auto":
            key = "ema" if obj.get("ema") is not None else "model"
        if obj.get(key) is None:
            raise CirError(f"checkpoint {path} has no {key!r} weights")
        model.load_state_dict(obj[key])
        _check_expectations(path, spec["arch"], spec["scale"], expect_arch, expect_scale)
        return model
    return _load_official(path, expect_arch, expect_scale)


def _check_expectations(path: Path, arch: str, scale: int, expect_arch: str | None,
                        expect_scale: int | None) -> None:
    if expect_arch is not None and arch != expect_arch:
        raise CirError(f"{path}: holds a {arch!r} network, expected {expect_arch!r}")
    if expect_scale is not None and int(scale) != int(expect_scale):
        raise CirError(f"{path}: holds a x{scale} network, expected x{expect_scale}")


def _plain(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float, str))


def _load_official(path: Path, expect_arch: str | None, expect_scale: int | None) -> nn.Module:
    import spandrel

    try:
        descriptor = spandrel.ModelLoader(device="cpu").load_from_file(path)
    except Exception as exc:
        raise CirError(f"{path}: not a cir checkpoint and not a weight file spandrel recognises: {exc}") from exc
    by_spandrel = {a.spandrel_name: a.name for a in ARCHITECTURES.values()}
    arch = by_spandrel.get(descriptor.architecture.id)
    if arch is None:
        raise CirError(f"{path}: architecture {descriptor.architecture.id!r} is not one of "
                       f"{sorted(by_spandrel)}")
    _check_expectations(path, arch, descriptor.scale, expect_arch, expect_scale)
    # Rebuild through the registry so that training uses the same module classes as ours.
    # Only plain values go into the spec (it is stored in checkpoints read with
    # weights_only=True); callables such as norm_layer/conv are the constructors' defaults.
    params = {k: v for k, v in descriptor.model.hyperparameters.items()
              if k not in ("upscale", "scale") and _plain(v)}
    model = build_model(arch, descriptor.scale, **params)
    model.load_state_dict(descriptor.model.state_dict())
    return model
