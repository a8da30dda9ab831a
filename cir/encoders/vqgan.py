"""Frozen VQGAN f16 encoder used by DCKD's contrastive and distribution-matching losses.

The network is the encoder half of the taming-transformers VQGAN released as
``vqgan_imagenet_f16_1024`` (ImageNet, downsampling factor 16, 1024 codes of size 256),
plus its ``quant_conv`` and codebook. Module names follow that release so that the
``state_dict`` of its Lightning checkpoint (``last.ckpt``) loads with ``strict=True``
once the decoder, ``post_quant_conv`` and loss entries are dropped.

DCKD uses two things from it:

* the output of the first ResnetBlock of each of the five resolution levels
  (128, 128, 256, 256, 512 channels at strides 1, 2, 4, 8, 16): :meth:`VQGANEncoder.features`;
* ``quant_conv(encoder(x))``, the pre-quantisation latent it compares with the
  codebook: :meth:`VQGANEncoder.latent` and :attr:`VQGANEncoder.codebook`.

:meth:`VQGANEncoder.forward` gives both from one pass over the images.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import re
import sys
import types
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cir.data.download import MissingDataError
from cir.data.registry import get_asset
from cir.errors import CirError, ConfigError
from cir.models.weights import check_state_dict, expected_shapes

WEIGHTS_NAME = "vqgan_imagenet_f16_1024.ckpt"
"""Registry asset name (and file name under ``data/weights/``) of the official checkpoint."""

DEFAULT_WEIGHTS_PATH = Path("data") / "weights" / WEIGHTS_NAME

InputRange = Literal["0_1", "-1_1"]
INPUT_RANGES: tuple[str, ...] = ("0_1", "-1_1")

# Top-level names of the checkpoint entries this module holds; the rest of the VQGAN
# (decoder, post_quant_conv, loss with LPIPS and discriminator) is not needed.
KEPT_PREFIXES: tuple[str, ...] = ("encoder", "quant_conv", "quantize")


@dataclass(frozen=True)
class VQGANConfig:
    """Encoder hyper-parameters; the defaults are those of ``vqgan_imagenet_f16_1024``.

    ``attn_resolutions`` are feature-map sizes for an input of ``resolution`` pixels
    (as in the release's config): with 256 and (16,), attention sits at the last level.
    Dropout is 0 and ``double_z`` is false in the release, so neither is a parameter.
    """

    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 1, 2, 2, 4)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    in_channels: int = 3
    resolution: int = 256
    z_channels: int = 256
    embed_dim: int = 256
    n_embed: int = 1024

    @property
    def level_channels(self) -> tuple[int, ...]:
        """Output channels of each resolution level (and of its feature)."""
        return tuple(self.ch * m for m in self.ch_mult)


F16_1024 = VQGANConfig()


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)


class ResnetBlock(nn.Module):
    """norm-swish-conv3x3 twice, plus the input (through a 1x1 conv when channels change)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)
        else:
            self.nin_shortcut = None

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        skip = x if self.nin_shortcut is None else self.nin_shortcut(x)
        return skip + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all pixels, with 1x1 q/k/v/output projections."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        n = self.norm(x)

        def tokens(t: Tensor) -> Tensor:  # (B, C, H, W) -> (B, 1, HW, C)
            return t.flatten(2).transpose(1, 2).unsqueeze(1)

        # softmax(q k^T / sqrt(C)) v; the default scale of the fused kernel is 1/sqrt(C)
        out = F.scaled_dot_product_attention(tokens(self.q(n)), tokens(self.k(n)), tokens(self.v(n)))
        out = out.squeeze(1).transpose(1, 2).reshape(b, c, h, w)
        return x + self.proj_out(out)


class Downsample(nn.Module):
    """Zero-pad one pixel on the right and bottom, then a 3x3 convolution with stride 2."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Level(nn.Module):
    """One resolution level: ResnetBlocks (each followed by attention where configured)."""

    def __init__(self, in_channels: int, out_channels: int, blocks: int, attention: bool, downsample: bool):
        super().__init__()
        self.block = nn.ModuleList(
            ResnetBlock(in_channels if i == 0 else out_channels, out_channels) for i in range(blocks))
        self.attn = nn.ModuleList(AttnBlock(out_channels) for _ in range(blocks) if attention)
        self.downsample = Downsample(out_channels) if downsample else None


class Mid(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = ResnetBlock(channels, channels)


class Encoder(nn.Module):
    """Module tree of the taming-transformers encoder (its names are the checkpoint keys)."""

    def __init__(self, cfg: VQGANConfig):
        super().__init__()
        chans = cfg.level_channels
        last = len(chans) - 1
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.ch, 3, padding=1)
        self.down = nn.ModuleList()
        for i, out_c in enumerate(chans):
            in_c = cfg.ch if i == 0 else chans[i - 1]
            size = cfg.resolution // 2**i
            self.down.append(Level(in_c, out_c, cfg.num_res_blocks, size in cfg.attn_resolutions,
                                   downsample=i != last))
        self.mid = Mid(chans[-1])
        self.norm_out = _norm(chans[-1])
        self.conv_out = nn.Conv2d(chans[-1], cfg.z_channels, 3, padding=1)


class Quantize(nn.Module):
    """Holds the codebook (``quantize.embedding.weight``, n_embed x embed_dim)."""

    def __init__(self, n_embed: int, embed_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(n_embed, embed_dim)
        nn.init.uniform_(self.embedding.weight, -1.0 / n_embed, 1.0 / n_embed)


@dataclass
class VQGANOutput:
    """What one :meth:`VQGANEncoder.forward` pass computed (``None`` where not requested)."""

    features: list[Tensor] | None
    latent: Tensor | None


class VQGANEncoder(nn.Module):
    """Frozen VQGAN encoder + ``quant_conv`` + codebook.

    Inputs are RGB images in [0, 1], shape (B, 3, H, W); H and W multiples of 16 give a
    latent of exactly H/16 x W/16. ``input_range`` says what the network is fed:

    * ``"0_1"`` (default): the [0, 1] images as they are. This is what DCKD's public code
      does (its loss passes the restored images straight to the VQGAN), so the paper's
      losses are reproduced with it.
    * ``"-1_1"``: the images rescaled to 2x - 1. taming-transformers trained the VQGAN on
      images in [-1, 1], so this is the input distribution the official weights expect.

    The weights never train: every parameter has ``requires_grad=False`` and the module
    stays in eval mode (``train()`` is a no-op). Gradients still flow to the input, which
    is what the losses need (d features / d student output).
    """

    def __init__(self, config: VQGANConfig = F16_1024, *, input_range: InputRange = "0_1"):
        super().__init__()
        if input_range not in INPUT_RANGES:
            raise ConfigError(f"input_range: {input_range!r} is not one of {', '.join(INPUT_RANGES)}")
        self.config = config
        self.input_range = input_range
        self.encoder = Encoder(config)
        self.quant_conv = nn.Conv2d(config.z_channels, config.embed_dim, 1)
        self.quantize = Quantize(config.n_embed, config.embed_dim)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> VQGANEncoder:
        """Stay in eval mode: the encoder is frozen (it has no dropout or batch statistics)."""
        return super().train(False)

    @property
    def codebook(self) -> Tensor:
        """The code vectors, (n_embed, embed_dim) = (1024, 256)."""
        return self.quantize.embedding.weight

    @property
    def feature_channels(self) -> tuple[int, ...]:
        return self.config.level_channels

    def forward(self, x: Tensor, levels: bool = True, latent: bool = False) -> VQGANOutput:
        """Encode ``x`` once; return the per-level features and/or the latent.

        The pass stops after the last block it needs: with ``latent=False`` the second
        block of the deepest level, its attention, the mid block and the output layers
        are not computed.
        """
        if not (levels or latent):
            raise ValueError("VQGANEncoder.forward: request levels, latent or both")
        self._check_input(x)
        if self.input_range == "-1_1":
            x = x * 2 - 1
        enc = self.encoder
        h = enc.conv_in(x)
        feats: list[Tensor] = []
        last = len(enc.down) - 1
        for i, level in enumerate(enc.down):
            for j, block in enumerate(level.block):
                h = block(h)
                if j == 0:
                    if levels:
                        feats.append(h)
                    if i == last and not latent:
                        return VQGANOutput(features=feats, latent=None)
                if len(level.attn):
                    h = level.attn[j](h)
            if level.downsample is not None:
                h = level.downsample(h)
        h = enc.mid.block_2(enc.mid.attn_1(enc.mid.block_1(h)))
        h = enc.conv_out(F.silu(enc.norm_out(h)))
        return VQGANOutput(features=feats if levels else None, latent=self.quant_conv(h))

    def features(self, x: Tensor) -> list[Tensor]:
        """First-ResnetBlock output of each level: [(B,128,H,W), (B,128,H/2,W/2), (B,256,H/4,W/4),
        (B,256,H/8,W/8), (B,512,H/16,W/16)] for the f16 configuration."""
        return self(x, levels=True, latent=False).features

    def latent(self, x: Tensor) -> Tensor:
        """``quant_conv(encoder(x))``: (B, 256, H/16, W/16), before quantisation."""
        return self(x, levels=False, latent=True).latent

    def _check_input(self, x: Tensor) -> None:
        c = self.config.in_channels
        if x.dim() != 4 or x.shape[1] != c:
            raise CirError(f"VQGANEncoder: expected images of shape (B, {c}, H, W), got {tuple(x.shape)}")
        if x.dtype == torch.float64:
            raise CirError("VQGANEncoder: float64 input; pass float32 (or bf16/fp16) images")


def parameter_counts(model: VQGANEncoder) -> dict[str, int]:
    """Parameters per part: ``encoder``, ``quant_conv``, ``codebook``, ``total`` and
    ``features_path`` (those :meth:`VQGANEncoder.features` uses)."""

    def count(modules: Sequence[nn.Module]) -> int:
        return sum(p.numel() for m in modules for p in m.parameters())

    enc = model.encoder
    last = enc.down[-1]
    used = [enc.conv_in, *enc.down[:-1], last.block[0]]
    counts = {
        "encoder": count([enc]),
        "quant_conv": count([model.quant_conv]),
        "codebook": count([model.quantize]),
        "features_path": count(used),
    }
    counts["total"] = counts["encoder"] + counts["quant_conv"] + counts["codebook"]
    return counts


class MissingEncoderWeightsError(CirError, MissingDataError):
    """The official VQGAN checkpoint is absent and a random stand-in was not allowed."""


def _missing_message(weights: Path | None) -> str:
    source = get_asset(WEIGHTS_NAME).source
    where = weights if weights is not None else DEFAULT_WEIGHTS_PATH
    looked = f"it is not at {weights}" if weights is not None else "no weight file was given"
    urls = "\n".join(f"  {u}" for u in source.urls)
    if source.checksum:
        check = f"It must have {source.hash_algo} {source.checksum}."
    else:
        check = f"No checksum is published for it: {source.checksum_note}"
    return (
        f"the VQGAN feature encoder needs the official weight file {WEIGHTS_NAME} "
        f"(taming-transformers vqgan_imagenet_f16_1024, ckpts/last.ckpt), but {looked}.\n"
        f"Put the file at:\n  {where}\n"
        f"Get it from:\n{urls}\n"
        f"or fetch it with:\n"
        f"  python workflow_scripts/download.py --asset {WEIGHTS_NAME} --out {where}\n"
        f"  snakemake --cores 1 {where}    (rule download_asset)\n"
        f"{check}\n"
        f"To run without it, allow a randomly initialised stand-in encoder."
    )


def build_vqgan_encoder(
    weights: str | os.PathLike | None,
    *,
    allow_random: bool,
    input_range: InputRange = "0_1",
    seed: int = 0,
    device: torch.device | str | None = None,
    stand_in_ch: int | None = None,
) -> tuple[VQGANEncoder, list[str]]:
    """The frozen encoder with the official weights, and the stand-ins used (if any).

    ``weights`` is the official ``last.ckpt`` (or a plain state dict with the same keys).
    When it is ``None`` or the file does not exist, ``allow_random=True`` gives an encoder
    initialised from ``seed`` (same seed, same weights; the global random state is left
    untouched) and one stand-in string; ``allow_random=False`` raises
    :class:`MissingEncoderWeightsError` saying where to put the file and how to fetch it.
    Loading is strict: a key or shape that differs from the architecture is an error
    naming the file and the keys. ``stand_in_ch`` narrows a random stand-in (base width
    ``ch`` instead of 128, a multiple of 32 for GroupNorm) so that small CPU runs stay fast;
    the width is recorded in the stand-in string. It never applies to official weights.
    """
    path = Path(weights) if weights is not None else None
    present = path is not None and path.is_file()
    if not present and not allow_random:
        raise MissingEncoderWeightsError(_missing_message(path))
    config = F16_1024
    if not present and stand_in_ch is not None:
        if stand_in_ch < 32 or stand_in_ch % 32:
            raise CirError(f"encoder stand_in_ch: {stand_in_ch} must be a positive multiple of 32 (GroupNorm groups)")
        config = dataclasses.replace(F16_1024, ch=int(stand_in_ch))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VQGANEncoder(config, input_range=input_range)
    stand_ins: list[str] = []
    if present:
        load_official_weights(model, path)
    else:
        width = "" if config.ch == F16_1024.ch else f", width ch={config.ch} instead of {F16_1024.ch}"
        stand_ins.append(f"VQGAN encoder: random initialisation (official weights {WEIGHTS_NAME} absent{width})")
    if device is not None:
        model.to(device)
    return model, stand_ins


def load_official_weights(model: VQGANEncoder, path: str | os.PathLike) -> None:
    """Copy the encoder, ``quant_conv`` and codebook of the checkpoint at ``path`` into ``model``."""
    path = Path(path)
    state = state_dict_from_checkpoint(read_checkpoint(path), path)
    kept = {k: v for k, v in state.items() if k.split(".", 1)[0] in KEPT_PREFIXES}
    try:
        check_state_dict(kept, expected_shapes(model), "VQGAN f16 encoder")
    except CirError as exc:
        raise CirError(f"{path}: not a {WEIGHTS_NAME}-compatible VQGAN f16 checkpoint: {exc}") from exc
    non_float = sorted(k for k, v in kept.items() if not v.is_floating_point())
    if non_float:
        raise CirError(f"{path}: entries {non_float[:5]} are not floating-point tensors")
    model.load_state_dict({k: v.to(torch.float32) for k, v in kept.items()}, strict=True)


# --- reading the Lightning checkpoint ----------------------------------------------
#
# ``last.ckpt`` is a PyTorch Lightning checkpoint: besides "state_dict" it stores
# training-loop state that refers to Lightning classes (the ModelCheckpoint callback
# class is a dictionary key of "callbacks"). torch.load(weights_only=True) refuses
# such classes, and unpickling them normally would need pytorch_lightning installed.
# They are irrelevant here, so they are replaced by inert stand-ins:
#
# 1. torch.load(weights_only=True);
# 2. if it refuses some classes: again with weights_only=True, the refused names mapped
#    to stand-ins (nothing from the file is executed);
# 3. only if that still fails and a refused name belongs to a training framework
#    (Lightning, OmegaConf): torch.load(weights_only=False) with unimportable classes
#    of those frameworks mapped to stand-ins.

FRAMEWORK_MODULES = frozenset({"pytorch_lightning", "lightning", "lightning_fabric", "omegaconf"})
_GLOBAL_RE = re.compile(r"GLOBAL ([A-Za-z_][\w.]*)")


class _StandIn(dict):
    """Inert substitute for a class named in a checkpoint; keeps whatever state it is given."""

    __hash__ = object.__hash__
    __eq__ = object.__eq__

    def __new__(cls, *args, **kwargs):
        return dict.__new__(cls)

    def __init__(self, *args, **kwargs):
        dict.__init__(self)
        self.__dict__["args"] = args

    def __setstate__(self, state) -> None:
        self.__dict__["state"] = state

    def append(self, item) -> None:
        self.__dict__.setdefault("items", []).append(item)

    def extend(self, items) -> None:
        for item in items:
            self.append(item)


def _stand_in(qualified_name: str) -> type:
    module, _, name = qualified_name.rpartition(".")
    return type(name or qualified_name, (_StandIn,), {"__module__": module, "__qualname__": name})


def _refused_globals(path: Path, exc: Exception) -> set[str]:
    names = set(_GLOBAL_RE.findall(str(exc)))
    if zipfile.is_zipfile(path):
        names.update(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    return names


def _load_restricted(path: Path, stand_ins: dict[str, type]) -> object:
    with torch.serialization.safe_globals([(cls, name) for name, cls in stand_ins.items()]):
        return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))


class _FrameworkUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            if module.split(".", 1)[0] in FRAMEWORK_MODULES:
                return _stand_in(f"{module}.{name}")
            raise


_framework_pickle = types.ModuleType("cir_framework_pickle")
_framework_pickle.Unpickler = _FrameworkUnpickler
_framework_pickle.load = lambda file, **kw: _FrameworkUnpickler(file, **kw).load()
_framework_pickle.__dict__.update({k: getattr(pickle, k) for k in ("UnpicklingError", "HIGHEST_PROTOCOL")})


def read_checkpoint(path: str | os.PathLike) -> object:
    """The object saved in the checkpoint at ``path``, with framework classes as stand-ins."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(path))
    except pickle.UnpicklingError as exc:
        first = exc
    except Exception as exc:
        raise CirError(f"cannot read weight file {path}: {exc}") from exc
    stand_ins: dict[str, type] = {}
    error: Exception = first
    for _ in range(64):  # one more name per round for formats that cannot be scanned up front
        new = _refused_globals(path, error) - set(stand_ins)
        if not new:
            break
        stand_ins.update({name: _stand_in(name) for name in sorted(new)})
        try:
            return _load_restricted(path, stand_ins)
        except pickle.UnpicklingError as exc:
            error = exc
        except Exception as exc:
            raise CirError(f"cannot read weight file {path}: {exc}") from exc
    framework = sorted(n for n in stand_ins if n.split(".", 1)[0] in FRAMEWORK_MODULES)
    if not framework:
        raise CirError(f"cannot read weight file {path} with weights_only=True: {error}") from error
    print(f"warning: {path}: loading with weights_only=False because it holds training-framework "
          f"objects ({', '.join(framework[:3])}) that weights_only=True cannot rebuild", file=sys.stderr)
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_framework_pickle)
    except Exception as exc:
        raise CirError(f"cannot read weight file {path}: {exc}") from exc


def state_dict_from_checkpoint(obj: object, path: Path) -> dict[str, Tensor]:
    """The tensors of a Lightning checkpoint's "state_dict", or of a plain state dict."""
    if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise CirError(f"{path}: expected a Lightning checkpoint with a 'state_dict' or a state dict, "
                       f"got {type(obj).__name__}")
    return {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, Tensor)}
