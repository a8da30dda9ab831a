"""Frozen VGG feature encoder for perceptual and contrastive losses (torchvision's VGG16/VGG19).

One encoder serves every paper that measures distances in VGG space:

* MCIR's SPN loss: VGG16, relu1_2 / relu2_2 / relu3_3, ImageNet normalisation (BasicSR's
  ``PerceptualLoss`` as the public MCLIR code configures it);
* DRCNet's Intra-CR and AECR-Net's CR: VGG19, relu1_1 / relu2_1 / relu3_1, no normalisation;
* Cria-CL's perceptual loss: VGG19 conv5_4 (before its ReLU);
* Uni-Removal's feature-grained contrastive loss.

Layers are named as in the VGG paper: ``conv<block>_<k>``, ``relu<block>_<k>``, ``pool<block>``
(VGG16 blocks hold 2, 2, 3, 3, 3 convolutions, VGG19 2, 2, 4, 4, 4). The network is cut after
the deepest tapped layer and its ReLUs do not work in place, so a ``conv`` tap is the
convolution's output before the ReLU.

Inputs: ``input_range`` says what the caller passes (``"0_1"`` images in [0, 1], or ``"-1_1"``
for networks that work in [-1, 1], such as DehazeFormer), and the encoder maps them to [0, 1]
first; ``input_norm`` then applies ImageNet's mean/std, as torchvision's weights expect.

Weights: torchvision's ImageNet files (registry assets ``vgg16-397923af.pth`` and
``vgg19-dcbb9e9d.pth``). Offline, a randomly initialised encoder may stand in when the caller
allows it; the returned stand-in string records it (and any narrowing of the widths).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from cir.data.download import MissingDataError
from cir.data.registry import get_asset
from cir.errors import CirError

BLOCKS: dict[str, tuple[int, ...]] = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS: tuple[int, ...] = (64, 128, 256, 512, 512)
WEIGHT_FILES: dict[str, str] = {"vgg16": "vgg16-397923af.pth", "vgg19": "vgg19-dcbb9e9d.pth"}
INPUT_RANGES: tuple[str, ...] = ("0_1", "-1_1")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def layer_names(arch: str) -> list[str]:
    """The names of ``torchvision.models.<arch>().features`` in order (index = position)."""
    if arch not in BLOCKS:
        raise CirError(f"VGG encoder: arch {arch!r} is not one of {sorted(BLOCKS)}")
    names: list[str] = []
    for block, n in enumerate(BLOCKS[arch], start=1):
        for k in range(1, n + 1):
            names += [f"conv{block}_{k}", f"relu{block}_{k}"]
        names.append(f"pool{block}")
    return names


class VGGFeatures(nn.Module):
    """The features of a torchvision VGG at the named ``layers`` (returned in that order).

    ``width_divisor`` narrows every convolution (a cheaper random stand-in for CPU runs); the
    official weights need 1.
    """

    def __init__(self, arch: str = "vgg16", layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3"), *,
                 input_norm: bool = True, input_range: str = "0_1", width_divisor: int = 1):
        super().__init__()
        names = layer_names(arch)
        layers = list(layers)
        unknown = [name for name in layers if name not in names]
        if not layers or unknown:
            raise CirError(f"VGG encoder ({arch}): unknown layer(s) {unknown or '(none given)'}; "
                           f"valid: {', '.join(names)}")
        if input_range not in INPUT_RANGES:
            raise CirError(f"VGG encoder: input_range {input_range!r} is not one of {INPUT_RANGES}")
        if width_divisor < 1 or any(w % width_divisor for w in WIDTHS):
            raise CirError(f"VGG encoder: width_divisor {width_divisor} must divide {WIDTHS}")
        self.arch, self.layers = arch, layers
        self.input_norm, self.input_range, self.width_divisor = bool(input_norm), input_range, int(width_divisor)
        depth = max(names.index(name) for name in layers) + 1
        # module indices as torchvision's ``features`` (so its state dict keys "features.<i>.*" map 1:1)
        modules: list[nn.Module] = []
        channels = 3
        for name in names[:depth]:
            block = int(name[4] if name.startswith("pool") else name[-3])
            if name.startswith("conv"):
                width = WIDTHS[block - 1] // self.width_divisor
                modules.append(nn.Conv2d(channels, width, 3, padding=1))
                channels = width
            elif name.startswith("relu"):
                modules.append(nn.ReLU(inplace=False))
            else:
                modules.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*modules)
        self._taps = {names.index(name): name for name in layers}
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> list[Tensor]:
        if self.input_range == "-1_1":
            x = (x + 1) * 0.5
        if self.input_norm:
            x = (x - self.mean) / self.std
        found: dict[str, Tensor] = {}
        for i, module in enumerate(self.features):
            x = module(x)
            if i in self._taps:
                found[self._taps[i]] = x
        return [found[name] for name in self.layers]

    def load_torchvision(self, path: str | os.PathLike) -> None:
        """Load torchvision's ImageNet weight file for this arch (``features.*`` entries only)."""
        path = Path(path)
        if self.width_divisor != 1:
            raise CirError(f"VGG encoder: official weights {path} need width_divisor 1, not {self.width_divisor}")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise CirError(f"cannot read VGG weight file {path}: {exc}") from exc
        if not isinstance(state, dict):
            raise CirError(f"{path}: a torchvision VGG weight file holds a state dict; got {type(state).__name__}")
        expected = self.state_dict()
        kept = {k: v for k, v in state.items() if k in expected}
        missing = sorted(set(expected) - set(kept))
        wrong = sorted(k for k in kept if kept[k].shape != expected[k].shape)
        if missing or wrong:
            detail = (f"missing {missing[:4]}" if missing else
                      "shape mismatch: " + ", ".join(f"{k} {tuple(kept[k].shape)} != {tuple(expected[k].shape)}"
                                                     for k in wrong[:4]))
            raise CirError(f"{path}: not torchvision's {self.arch} weights ({WEIGHT_FILES[self.arch]}): {detail}")
        self.load_state_dict(kept, strict=True)


class MissingVGGWeightsError(CirError, MissingDataError):
    """torchvision's VGG weights are absent and a random stand-in was not allowed."""


def _missing_message(arch: str, weights: Path | None) -> str:
    name = WEIGHT_FILES[arch]
    source = get_asset(name).source
    where = weights if weights is not None else Path("data") / "weights" / name
    looked = f"it is not at {weights}" if weights is not None else "no weight file was given"
    check = (f"It must have {source.hash_algo} {source.checksum}." if source.checksum
             else f"No full checksum is published for it: {source.checksum_note}")
    urls = "\n".join(f"  {u}" for u in source.urls)
    return (f"the {arch.upper()} feature encoder needs torchvision's ImageNet weights {name}, but {looked}.\n"
            f"Put the file at:\n  {where}\nGet it from:\n{urls}\nor fetch it with:\n"
            f"  python workflow_scripts/download.py --asset {name} --out {where}\n"
            f"  snakemake --cores 1 {where}    (rule download_asset)\n{check}\n"
            f"To run without it, allow a randomly initialised stand-in encoder.")


def build_vgg_encoder(weights: str | os.PathLike | None, *, arch: str = "vgg16",
                      layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3"), input_norm: bool = True,
                      input_range: str = "0_1", allow_random: bool = False, seed: int = 0,
                      stand_in_divisor: int = 1) -> tuple[VGGFeatures, list[str]]:
    """The frozen encoder with torchvision's weights, and the stand-ins used (if any).

    Without the file (``weights`` None or absent), ``allow_random`` gives an encoder initialised
    from ``seed`` (the global random state is left as it was), narrowed by ``stand_in_divisor``,
    and one stand-in string; otherwise :class:`MissingVGGWeightsError` says where to put the file.
    """
    path = Path(weights) if weights is not None else None
    present = path is not None and path.is_file()
    if arch not in WEIGHT_FILES:
        raise CirError(f"VGG encoder: arch {arch!r} is not one of {sorted(WEIGHT_FILES)}")
    if not present and not allow_random:
        raise MissingVGGWeightsError(_missing_message(arch, path))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VGGFeatures(arch, layers, input_norm=input_norm, input_range=input_range,
                            width_divisor=1 if present else stand_in_divisor)
    stand_ins: list[str] = []
    if present:
        model.load_torchvision(path)
    else:
        narrow = f", widths divided by {stand_in_divisor}" if stand_in_divisor != 1 else ""
        stand_ins.append(f"{arch.upper()} encoder: random initialisation "
                         f"(torchvision weights {WEIGHT_FILES[arch]} absent{narrow})")
    model.eval().requires_grad_(False)
    return model, stand_ins
