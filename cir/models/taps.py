"""Record intermediate features of a network by module name, without editing the network.

``FeatureTaps(model, ["layers.0", "layers.3"])`` puts a forward hook on each named module;
every forward pass of ``model`` inside the ``with`` block records what those modules
return. Hooks are plain PyTorch forward hooks, so they also fire under
``torch.inference_mode()`` (a frozen teacher's features are then inference tensors:
use them only as constant targets, e.g. through ``(a - b).abs().mean()``).

Layouts. RCAN's residual groups return maps ``[B, C, H, W]``. spandrel's SwinIR runs its
residual Swin Transformer blocks (RSTBs, ``layers.i``) on token sequences ``[B, H*W, C]``
(``forward_features`` flattens the map with ``patch_embed`` and each RSTB is called as
``layer(x, x_size)``); the hook reads ``x_size`` from the call, so :meth:`FeatureTaps.feature`
returns every tapped feature as a ``[B, C, H, W]`` map. Tokens are in row-major order
(index ``h * W + w``), the order of ``map.flatten(2)``.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from cir.errors import CirError

if TYPE_CHECKING:
    from typing_extensions import Self

SpatialSize = tuple[int, int]


class LayerNameError(CirError, KeyError):
    """A module name that the network does not have."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


def _top_level_blocks(model: nn.Module) -> list[str]:
    """Children of the network, with containers (ModuleList/Sequential) expanded one level."""
    names = []
    for name, child in model.named_children():
        if isinstance(child, (nn.ModuleList, nn.Sequential)) and len(child) > 0:
            names.extend(f"{name}.{sub}" for sub, _ in child.named_children())
        else:
            names.append(name)
    return names


def check_layer_names(model: nn.Module, names: Iterable[str], *, role: str = "model") -> None:
    """Raise :class:`LayerNameError` for the first of ``names`` that is not a module of ``model``."""
    modules = dict(model.named_modules())
    for name in names:
        if not isinstance(name, str) or name not in modules:
            candidates = [n for n in modules if n]
            close = difflib.get_close_matches(str(name), candidates, n=5, cutoff=0.6)
            raise LayerNameError(
                f"{role} ({type(model).__name__}) has no layer {name!r}; "
                f"close matches: {', '.join(close) or '(none)'}; "
                f"top-level blocks: {', '.join(_top_level_blocks(model))}")


def _spatial_size(args: tuple[Any, ...], output: torch.Tensor) -> SpatialSize | None:
    """The (H, W) of the feature: from a map's shape, or from an ``x_size`` argument of a token block."""
    if output.dim() == 4:
        return int(output.shape[-2]), int(output.shape[-1])
    for arg in args[1:]:
        if isinstance(arg, (tuple, list, torch.Size)) and len(arg) == 2 and all(
                isinstance(v, int) for v in arg):
            return int(arg[0]), int(arg[1])
    return None


def tokens_to_map(tokens: torch.Tensor, size: SpatialSize) -> torch.Tensor:
    """``[B, H*W, C]`` tokens in row-major order -> ``[B, C, H, W]`` map."""
    if tokens.dim() != 3:
        raise ValueError(f"tokens_to_map: expected [B, N, C] tokens, got shape {tuple(tokens.shape)}")
    b, n, c = tokens.shape
    h, w = size
    if h * w != n:
        raise ValueError(f"tokens_to_map: {n} tokens do not form a {h}x{w} map")
    return tokens.transpose(1, 2).reshape(b, c, h, w)


class FeatureTaps:
    """Forward hooks that record the outputs of the modules ``names`` of ``model``.

    Use as a context manager (hooks are removed on exit) or call :meth:`close`. One forward
    pass records each layer once; call :meth:`clear` before running the model again.
    Recorded tensors are the modules' outputs themselves (no copy); if the network later
    modified one in place, :meth:`feature` refuses it (checked for tensors that track a
    version counter, i.e. all but inference tensors).
    """

    def __init__(self, model: nn.Module, names: Sequence[str]):
        names = list(names)
        if not names:
            raise ValueError("FeatureTaps: names is empty; give at least one layer name")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"FeatureTaps: names lists {duplicates} more than once")
        check_layer_names(model, names)
        modules = dict(model.named_modules())
        self.model = model
        self.names = names
        self._outputs: dict[str, torch.Tensor] = {}
        self._sizes: dict[str, SpatialSize | None] = {}
        self._versions: dict[str, int | None] = {}
        self._handles = [modules[n].register_forward_hook(self._make_hook(n)) for n in names]

    def _make_hook(self, name: str):
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                raise TypeError(f"layer {name!r} returned {type(output).__name__}, not a tensor; "
                                "tap a module that returns one tensor")
            if name in self._outputs:
                raise RuntimeError(f"layer {name!r} ran twice without FeatureTaps.clear() in between "
                                   "(a second forward pass, or a module used twice in one pass)")
            self._outputs[name] = output
            self._sizes[name] = _spatial_size(args, output)
            self._versions[name] = None if output.is_inference() else output._version
        return hook

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the hooks and drop the recorded tensors."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self.clear()

    def clear(self) -> None:
        self._outputs.clear()
        self._sizes.clear()
        self._versions.clear()

    # -- access ---------------------------------------------------------------------------
    def raw(self, name: str) -> torch.Tensor:
        """The output of layer ``name`` exactly as the module returned it."""
        if name not in self.names:
            raise KeyError(f"layer {name!r} is not tapped; tapped layers: {', '.join(self.names)}")
        if name not in self._outputs:
            raise RuntimeError(f"layer {name!r} did not run since the last clear(); "
                               "run the model's forward pass inside the taps first")
        out = self._outputs[name]
        version = self._versions[name]
        if version is not None and out._version != version:
            raise RuntimeError(f"layer {name!r}: its output was modified in place after the hook recorded "
                               "it, so it no longer holds the layer's output; tap another layer")
        return out

    def size(self, name: str) -> SpatialSize | None:
        """(H, W) of layer ``name``'s feature, when known."""
        self.raw(name)
        return self._sizes[name]

    def feature(self, name: str) -> torch.Tensor:
        """Layer ``name``'s output as a ``[B, C, H, W]`` map (token sequences are reshaped)."""
        out = self.raw(name)
        if out.dim() == 4:
            return out
        if out.dim() == 3:
            size = self._sizes[name]
            if size is None:
                raise ValueError(f"layer {name!r} returned tokens {tuple(out.shape)} but its call passed no "
                                 "(H, W) size; tap a layer called as layer(x, x_size) or one returning maps")
            return tokens_to_map(out, size)
        raise ValueError(f"layer {name!r} returned shape {tuple(out.shape)}; "
                         "expected [B, C, H, W] or [B, N, C]")

    def features(self) -> dict[str, torch.Tensor]:
        """All tapped layers as maps, in the order of ``names``."""
        return {name: self.feature(name) for name in self.names}


# -- layer choice -----------------------------------------------------------------------------
def detect_arch(model: nn.Module) -> str:
    """``"swinir"``, ``"rcan"``, ``"nafnet"`` or ``"restormer"``: from the model spec of
    :func:`cir.models.build_model`, else its class."""
    spec = getattr(model, "cir_spec", None)
    if spec is not None:
        return spec["arch"]
    from spandrel.architectures.NAFNet import NAFNet
    from spandrel.architectures.RCAN import RCAN
    from spandrel.architectures.SwinIR import SwinIR

    if isinstance(model, SwinIR):
        return "swinir"
    if isinstance(model, RCAN):
        return "rcan"
    if isinstance(model, NAFNet):
        return "nafnet"
    # a Restormer can only exist once its (optional, slow to import) package has been imported
    restormer = sys.modules.get("spandrel_extra_arches.architectures.Restormer")
    if restormer is not None and isinstance(model, restormer.Restormer):
        return "restormer"
    raise CirError(f"cannot tell the architecture of a {type(model).__name__}; "
                   "build it with cir.models.build_model or name its layers explicitly")


def default_tap_layers(arch: str, model: nn.Module) -> list[str]:
    """The block outputs used for feature distillation, shallow to deep.

    SwinIR: the output of every residual Swin Transformer block, ``layers.0 .. layers.{n-1}``.
    RCAN: the output of every residual group, ``body.0 .. body.{n-1}`` (``body`` ends with a
    convolution that is not a group; it is not tapped).
    NAFNet (a U-Net): the output of every stage, ``encoders.0 .. encoders.{n-1}``,
    ``middle_blks``, ``decoders.0 .. decoders.{n-1}`` (maps at 1, 1/2, ... 1/2**n of the padded
    input and back; encoder stage i and decoder stage n-1-i share a resolution).
    Restormer (a U-Net): the output of every stage, ``encoder_level1``, ``encoder_level2``,
    ``encoder_level3``, ``latent``, ``decoder_level3``, ``decoder_level2``, ``decoder_level1``,
    ``refinement``. A teacher and a student with the same number of levels pair stage with stage.
    """
    if arch == "swinir":
        names = [f"layers.{i}" for i in range(len(model.layers))]
    elif arch == "rcan":
        names = [f"body.{i}" for i, block in enumerate(model.body) if type(block).__name__ == "ResidualGroup"]
    elif arch == "nafnet":
        names = ([f"encoders.{i}" for i in range(len(model.encoders))] + ["middle_blks"]
                 + [f"decoders.{i}" for i in range(len(model.decoders))])
    elif arch == "restormer":
        names = ["encoder_level1", "encoder_level2", "encoder_level3", "latent",
                 "decoder_level3", "decoder_level2", "decoder_level1"]
        if len(model.refinement) > 0:
            names.append("refinement")
    else:
        raise CirError(f"default_tap_layers: no default layers for architecture {arch!r}; "
                       "known: nafnet, rcan, restormer, swinir")
    if not names:
        raise CirError(f"default_tap_layers: the {arch} network has no blocks to tap")
    check_layer_names(model, names, role=arch)
    return names


def match_layers(teacher_names: Sequence[str], student_names: Sequence[str]) -> list[tuple[str, str]]:
    """Pair teacher and student layers at the same relative depth; returns ``(teacher, student)`` pairs.

    Rule: every layer of the shallower list is used once. Its ``j``-th layer (0-based, of
    ``k`` layers) sits at relative depth ``(j + 1) / k`` and is paired with the layer of the
    deeper list (``n`` layers) at index ``floor((j + 1) * n / k) - 1``. The last layers are
    always paired together and the chosen indices are strictly increasing. Examples:
    teacher 6 / student 4 -> teacher indices 0, 2, 3, 5; teacher 10 / student 10 -> identity;
    teacher 20 / student 6 -> 2, 5, 9, 12, 15, 19.
    """
    teacher_names, student_names = list(teacher_names), list(student_names)
    if not teacher_names or not student_names:
        raise ValueError(f"match_layers: empty layer list (teacher {len(teacher_names)}, "
                         f"student {len(student_names)} layers)")

    def spread(short: int, long: int) -> list[int]:
        return [(j + 1) * long // short - 1 for j in range(short)]

    if len(student_names) <= len(teacher_names):
        picks = spread(len(student_names), len(teacher_names))
        return [(teacher_names[i], s) for i, s in zip(picks, student_names)]
    picks = spread(len(teacher_names), len(student_names))
    return [(t, student_names[i]) for t, i in zip(teacher_names, picks)]
